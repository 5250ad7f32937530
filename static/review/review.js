// The trace and compare pages: Markdown views of the reasoning and the answer (the raw text stays one
// click away, and is what the server shows without script), a selection in either
// filling the redaction form, and the keyboard shortcuts (shortcuts.js). The list:
// its sort menu applies at once (the Filter button does the same without script).

import { renderMarkdown } from "../chat/markdown.js";
import { bindShortcuts } from "./shortcuts.js";

const _ = (s) => (window.gettext ? window.gettext(s) : s);

function formatted(pre) {
  const view = document.createElement("div");
  view.className = "md rendered";
  view.dataset.view = pre.dataset.part;
  if (pre.textContent.trim()) {
    // Reasoning is prose written as it came: keep its single line breaks.
    view.replaceChildren(renderMarkdown(pre.textContent, { breaks: pre.dataset.part === "reasoning" }));
  } else {
    const empty = document.createElement("p");
    empty.className = "muted";
    empty.textContent = _("(empty)");
    view.replaceChildren(empty);
  }
  pre.hidden = true;
  pre.after(view);

  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "link small";
  toggle.textContent = _("Show source");
  toggle.addEventListener("click", () => {
    const showSource = pre.hidden;
    pre.hidden = !showSource;
    view.hidden = showSource;
    toggle.textContent = showSource ? _("Show formatted") : _("Show source");
  });
  pre.closest("[data-pane]")?.querySelector("h2, h3")?.append(" ", toggle);
}

function paneOf(node) {
  const el = node && (node.nodeType === Node.ELEMENT_NODE ? node : node.parentElement);
  return el ? el.closest("[data-pane]") : null;
}

function followSelection() {
  const part = document.getElementById("id_part");
  const passage = document.getElementById("id_passage");
  if (!part || !passage) return;
  document.addEventListener("mouseup", () => {
    const selection = window.getSelection();
    const text = selection ? selection.toString() : "";
    if (!text.trim()) return;
    const pane = paneOf(selection.anchorNode);
    if (!pane || pane !== paneOf(selection.focusNode)) return;
    part.value = pane.dataset.pane;
    passage.value = text;
  });
}

for (const pre of document.querySelectorAll("pre.source[data-part]")) formatted(pre);
followSelection();
bindShortcuts();
for (const select of document.querySelectorAll("select[data-autosubmit]")) {
  select.addEventListener("change", () => select.form?.requestSubmit());
}
