// The conversations around the chat: the sidebar (list, search, phone menu) and
// the open conversation's title, system prompt, rename, delete and download.

import { _, api, el, fmt, showNotice, titleFrom } from "./util.js";

const root = document.getElementById("chat");
const list = document.querySelector(".conversation-list");
const search = document.getElementById("search");
const titleEl = document.getElementById("title");
const renameBtn = document.getElementById("rename");
const deleteBtn = document.getElementById("delete");
const download = document.getElementById("download");
const dialog = document.getElementById("delete-dialog");
const menuBtn = document.getElementById("menu");
const suffix = ` · ${_("Reasoning chat")}`;

const apiUrl = (id) => `${root.dataset.api}${id ? `${id}/` : ""}`;
const pageUrl = (id) => `${root.dataset.pagePrefix}${id}/`;
const conversationId = () => root.dataset.conversation || "";

function link(id, title) {
  const a = el("a", "conversation-link", title || _("New chat"));
  a.href = pageUrl(id);
  a.dataset.conversation = id;
  if (id === conversationId()) a.classList.add("active");
  return a;
}

// --- the list and its search ------------------------------------------------

let serverList = [...list.children]; // as rendered; shown again when the search is cleared

export function addToSidebar(id, title) {
  for (const a of list.querySelectorAll(".active")) a.classList.remove("active");
  const a = link(id, titleFrom(title));
  serverList = [a, ...serverList.filter((n) => n.tagName === "A")];
  if (!search.value.trim()) list.replaceChildren(...serverList);
}

let searchTimer = null;
let searchSeq = 0;

async function runSearch() {
  const q = search.value.trim();
  if (!q) { list.replaceChildren(...serverList); return; }
  const mine = ++searchSeq;
  const resp = await fetch(`${apiUrl()}?q=${encodeURIComponent(q)}`, { headers: { Accept: "application/json" } });
  if (mine !== searchSeq) return; // a later search has been typed
  if (!resp.ok) { showNotice(fmt(_("Search failed (HTTP %(status)s)."), { status: resp.status })); return; }
  const rows = (await resp.json()).conversations;
  list.replaceChildren(...(rows.length ? rows.map((c) => link(c.id, c.title)) : [el("p", "muted small", _("No conversation matches."))]));
}

search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, 200);
});
search.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && search.value) { e.stopPropagation(); search.value = ""; runSearch(); }
});

// --- the open conversation --------------------------------------------------

export function setTitle(title) {
  const shown = title || _("New chat");
  titleEl.textContent = shown;
  document.title = shown + suffix;
  const a = list.querySelector(`[data-conversation="${CSS.escape(conversationId())}"]`) || list.querySelector(".active");
  if (a && title) a.textContent = title;
}

export function conversationOpened(id, title) {
  root.dataset.conversation = id;
  history.replaceState(null, "", pageUrl(id));
  addToSidebar(id, title);
  setTitle(titleFrom(title));
  showTools(true);
}

// The page was left on the home URL with nothing stored (the first message was refused).
export function conversationAbandoned() {
  const id = conversationId();
  if (!id) return;
  api(apiUrl(id), "DELETE");
  root.dataset.conversation = "";
  history.replaceState(null, "", "/");
  serverList = serverList.filter((n) => n.dataset.conversation !== id);
  list.replaceChildren(...(serverList.length ? serverList : [el("p", "muted small", _("No conversations yet."))]));
  setTitle("");
  showTools(false);
}

// Download follows the branch on screen.
export function setDownloadTurn(turnId) {
  const id = conversationId();
  if (!id) return;
  download.href = `${pageUrl(id)}download.md${turnId ? `?turn=${encodeURIComponent(turnId)}` : ""}`;
}

function showTools(shown) {
  for (const b of [renameBtn, deleteBtn, download]) b.hidden = !shown;
}

function startRename() {
  if (!conversationId() || titleEl.querySelector("input")) return;
  const before = titleEl.textContent;
  const box = el("input", "title-input");
  box.value = before === _("New chat") ? "" : before;
  box.maxLength = 200;
  box.setAttribute("aria-label", _("Conversation title"));
  titleEl.replaceChildren(box);
  box.focus();
  box.select();
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const title = box.value.trim().split(/\s+/).join(" ");
    if (!save || title === before) { setTitle(before === _("New chat") ? "" : before); return; }
    const resp = await api(apiUrl(conversationId()), "PATCH", { title });
    if (!resp.ok) { showNotice(fmt(_("Could not rename the conversation (HTTP %(status)s)."), { status: resp.status })); setTitle(before); return; }
    setTitle((await resp.json()).title);
  };
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter") { e.preventDefault(); finish(true); }
    if (e.key === "Escape") { e.preventDefault(); e.stopPropagation(); finish(false); }
  });
  box.addEventListener("blur", () => finish(true));
}

async function confirmDelete() {
  if (dialog.returnValue !== "delete") return;
  const resp = await api(apiUrl(conversationId()), "DELETE");
  if (resp.status === 409) { showNotice(_("Stop the running answer before deleting this conversation.")); return; }
  if (!resp.ok && resp.status !== 404) { showNotice(fmt(_("Could not delete the conversation (HTTP %(status)s)."), { status: resp.status })); return; }
  location.href = "/";
}

// --- the system prompt ------------------------------------------------------
// Stored with the conversation (PATCH); for a new chat it is kept here until the
// first message creates the conversation with it (systemPromptForNew).

const systemBtn = document.getElementById("system-prompt-open");
const systemDialog = document.getElementById("system-dialog");
const systemForm = document.getElementById("system-form");
const systemBox = document.getElementById("system-prompt");
const systemNote = document.getElementById("system-note");
const systemError = document.getElementById("system-error");
const systemMax = Number(systemBox.dataset.maxChars) || 20000;
let systemPrompt = "";

export function setSystemPrompt(text) {
  systemPrompt = text || "";
  systemBtn.classList.toggle("is-set", Boolean(systemPrompt));
  systemBtn.title = systemPrompt ? _("A system prompt is set for this conversation.") : "";
}

export const systemPromptForNew = () => systemPrompt;

function showSystemError(text) {
  systemError.textContent = text;
  systemError.hidden = !text;
}

function openSystemPrompt() {
  systemBox.value = systemPrompt;
  showSystemError("");
  // A model that takes no system prompt (DeepSeek R1) gets it in the first message.
  const model = document.getElementById("model").selectedOptions[0];
  systemNote.hidden = !(model && model.dataset.noSystemPrompt);
  systemDialog.showModal();
  systemBox.focus();
}

async function saveSystemPrompt() {
  const text = systemBox.value.trim();
  if (text.length > systemMax) {
    showSystemError(fmt(_("This system prompt is %(length)s characters long; the limit is %(limit)s."), { length: text.length.toLocaleString(), limit: systemMax.toLocaleString() }));
    return;
  }
  if (conversationId()) {
    const resp = await api(apiUrl(conversationId()), "PATCH", { system_prompt: text });
    if (!resp.ok) { showSystemError(fmt(_("Could not save the system prompt (HTTP %(status)s)."), { status: resp.status })); return; }
    setSystemPrompt((await resp.json()).system_prompt);
  } else {
    setSystemPrompt(text);
  }
  systemDialog.close("saved");
}

systemBtn.addEventListener("click", openSystemPrompt);
systemForm.addEventListener("submit", (e) => {
  // Save stays open until the server has it; Cancel closes as a plain dialog form.
  if (e.submitter && e.submitter.value === "save") { e.preventDefault(); saveSystemPrompt(); }
});

renameBtn.addEventListener("click", startRename);
titleEl.addEventListener("dblclick", startRename);
deleteBtn.addEventListener("click", () => { dialog.returnValue = ""; dialog.showModal(); });
dialog.addEventListener("close", confirmDelete);
showTools(Boolean(conversationId()));

// --- phone-width menu and the new-chat shortcut -------------------------------

function toggleSidebar(open) {
  document.body.classList.toggle("sidebar-open", open);
  menuBtn.setAttribute("aria-expanded", String(open));
}
menuBtn.addEventListener("click", () => toggleSidebar(!document.body.classList.contains("sidebar-open")));
root.addEventListener("click", (e) => { if (!menuBtn.contains(e.target)) toggleSidebar(false); });
document.getElementById("new-chat").addEventListener("click", () => { location.href = "/"; });
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") toggleSidebar(false);
  // Ctrl+Shift+O (⌘⇧O on a Mac), as in other chat apps: a new chat.
  if ((e.ctrlKey || e.metaKey) && e.shiftKey && e.key.toLowerCase() === "o") { e.preventDefault(); location.href = "/"; }
  // Ctrl+K: search the conversations.
  if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === "k") {
    e.preventDefault();
    toggleSidebar(true);
    search.focus();
  }
});
