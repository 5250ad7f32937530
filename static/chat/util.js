// Small helpers shared by the chat page's modules.

// Strings go through Django's JavaScript catalog (loaded before the modules).
export const _ = (s) => (window.gettext ? window.gettext(s) : s);
// fmt(_("… %(name)s …"), {name}): the translated pattern, filled in.
export const fmt = (s, values) => s.replace(/%\((\w+)\)s/g, (m, k) => String(values[k]));

// Text is always inserted as text (textContent), never as HTML.
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

export function csrfToken() {
  const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

const notice = document.getElementById("notice");

export function showNotice(message) {
  notice.textContent = message;
  notice.hidden = false;
  clearTimeout(showNotice.timer);
  showNotice.timer = setTimeout(() => { notice.hidden = true; }, 8000);
}

// A conversation's title as the server makes it from the first message.
export const titleFrom = (text) => text.trim().split(/\s+/).join(" ").slice(0, 80);

export function api(url, method, body) {
  return fetch(url, {
    method,
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken(), Accept: "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
