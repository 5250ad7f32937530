// The chat page: renders stored turns, streams live ones over the websocket.
// Text is always inserted as text (textContent / Text nodes), never as HTML.

// Strings go through Django's JavaScript catalog (loaded before this module).
const _ = (s) => (window.gettext ? window.gettext(s) : s);
// fmt(_("… %(name)s …"), {name}): the translated pattern, filled in.
const fmt = (s, values) => s.replace(/%\((\w+)\)s/g, (m, k) => String(values[k]));

import { createMarkdownView, preload } from "./markdown.js";

const root = document.getElementById("chat");
const messagesEl = document.getElementById("messages");
const form = document.getElementById("composer");
const input = document.getElementById("message");
const sendBtn = document.getElementById("send");
const stopBtn = document.getElementById("stop");
const modelSel = document.getElementById("model");
const thinkingSel = document.getElementById("thinking");
const effortSel = document.getElementById("effort");
const notice = document.getElementById("notice");
const connectionEl = document.getElementById("connection");

let conversationId = root.dataset.conversation || null;
let socket = null;
let reconnectDelay = 500;
let runningTurn = null; // id of the turn streaming now, if any
const pendingFrames = [];

function csrfToken() {
  const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function showNotice(message) {
  notice.textContent = message;
  notice.hidden = false;
  clearTimeout(showNotice.timer);
  showNotice.timer = setTimeout(() => { notice.hidden = true; }, 8000);
}

const PENDING = "pending"; // a turn was asked for; its id is not known yet

function setRunning(turnId) {
  runningTurn = turnId;
  stopBtn.hidden = !turnId || turnId === PENDING;
  sendBtn.disabled = Boolean(turnId);
}

// --- model options ---------------------------------------------------------

const CHOICE_NAMES = {
  enabled: _("on"), disabled: _("off"), auto: _("auto"),
  minimal: _("minimal"), low: _("low"), medium: _("medium"), high: _("high"), max: _("max"),
};
const choiceName = (v) => CHOICE_NAMES[v] || v;

function fillSelect(select, values, label, fallback) {
  select.replaceChildren();
  if (!values.length) { select.hidden = true; return; }
  select.hidden = false;
  // Say what the default is: DeepSeek V4 models, say, think unless told not to.
  select.append(new Option(fallback ? fmt(_("%(label)s: default (%(value)s)"), { label, value: choiceName(fallback) }) : fmt(_("%(label)s: default"), { label }), ""));
  for (const v of values) select.append(new Option(fmt(_("%(label)s: %(value)s"), { label, value: choiceName(v) }), v));
}

function updateOptions() {
  const opt = modelSel.selectedOptions[0];
  const split = (s) => (s ? s.split(",").filter(Boolean) : []);
  fillSelect(thinkingSel, split(opt && opt.dataset.thinking), _("Thinking"), opt && opt.dataset.defaultThinking);
  fillSelect(effortSel, split(opt && opt.dataset.efforts), _("Effort"), opt && opt.dataset.defaultEffort);
  localStorage.setItem("chat.model", modelSel.value);
}

const savedModel = localStorage.getItem("chat.model");
if (savedModel && [...modelSel.options].some((o) => o.value === savedModel)) modelSel.value = savedModel;
modelSel.addEventListener("change", updateOptions);
updateOptions();

// --- the turn tree ---------------------------------------------------------
// A conversation is a tree (each turn has a parent); the page shows one path,
// the active branch, with a pager wherever turns have siblings.

const nodes = new Map(); // turn id -> {id, parent, role, order, ...stored fields}
const chosen = new Map(); // parent key -> chosen child id
let order = 0;

const keyOf = (parent) => parent || "root";

function addNode(turn) {
  const node = nodes.get(turn.id) || { order: order++ };
  Object.assign(node, turn);
  nodes.set(turn.id, node);
  return node;
}

function childrenOf(key) {
  return [...nodes.values()].filter((n) => keyOf(n.parent) === key).sort((a, b) => a.order - b.order);
}

// Make `id` and its ancestors the chosen path.
function choose(id) {
  for (let node = nodes.get(id); node; node = nodes.get(node.parent)) chosen.set(keyOf(node.parent), node.id);
}

function activePath() {
  const path = [];
  for (let key = "root"; ;) {
    const kids = childrenOf(key);
    if (!kids.length) return path;
    const pick = kids.find((k) => k.id === chosen.get(key)) || kids[kids.length - 1];
    path.push(pick);
    key = pick.id;
  }
}

function modelLabel(ref) {
  const option = [...modelSel.options].find((o) => o.value === ref);
  return option ? option.textContent : ref || "";
}

// --- rendering -------------------------------------------------------------

function formatSeconds(ms) {
  return fmt(_("%(seconds)s s"), { seconds: (ms / 1000).toFixed(1) });
}

const views = new Map(); // turn id -> view (its DOM, kept across re-renders)

function button(label, onClick, className = "link small") {
  const b = el("button", className, label);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

function pager(node) {
  const siblings = childrenOf(keyOf(node.parent)).filter((n) => n.role === node.role);
  const box = el("span", "pager small muted");
  if (siblings.length < 2) return box;
  const at = siblings.findIndex((n) => n.id === node.id);
  const go = (step) => () => {
    const next = siblings[at + step];
    if (!next || runningTurn) return;
    chosen.set(keyOf(node.parent), next.id);
    renderPath();
  };
  const prev = button("‹", go(-1));
  prev.setAttribute("aria-label", _("Previous version"));
  prev.disabled = at === 0;
  const next = button("›", go(1));
  next.setAttribute("aria-label", _("Next version"));
  next.disabled = at === siblings.length - 1;
  box.append(prev, el("span", "pager-text", `${at + 1} / ${siblings.length}`), next);
  return box;
}

function userView(node) {
  const wrap = el("article", "turn turn-user");
  wrap.dataset.turn = node.id;
  wrap.dataset.role = "user";
  const bubble = el("div", "bubble", node.content);
  const tools = el("div", "turn-tools");
  wrap.append(bubble, tools);
  return { wrap, tools, node, extra: () => [button(_("Edit"), () => startEdit(node))] };
}

function assistantView(node) {
  const wrap = el("article", "turn turn-assistant");
  wrap.dataset.turn = node.id;
  wrap.dataset.role = "assistant";
  wrap.dataset.status = node.status || "streaming";
  const meta = el("div", "turn-meta small muted", modelLabel(node.model));
  const details = el("details", "reasoning");
  details.dataset.part = "reasoning";
  details.hidden = true;
  const summary = el("summary", "reasoning-summary");
  const label = el("span", "reasoning-label", _("Thinking…"));
  const timer = el("span", "reasoning-timer muted", "");
  summary.append(label, " ", timer);
  const reasoningText = el("div", "reasoning-text");
  const reasoningNode = markdownText(reasoningText, { breaks: true });
  details.append(summary, reasoningText);
  const answer = el("div", "answer");
  answer.dataset.part = "content";
  const answerNode = markdownText(answer);
  const status = el("div", "turn-status small muted");
  const tools = el("div", "turn-tools");
  wrap.append(meta, details, answer, status, tools);
  const view = {
    id: node.id, node, wrap, details, label, timer, reasoningNode, answerNode, answer, status, tools,
    seq: 0, startedAt: performance.now(), contentStarted: false, userToggled: false, tick: null,
  };
  view.extra = () => [
    button(_("Copy"), () => navigator.clipboard && navigator.clipboard.writeText(view.answerNode.data)),
    button(_("Regenerate"), () => regenerate(node)),
  ];
  details.addEventListener("toggle", () => { if (view.autoToggle) view.autoToggle = false; else view.userToggled = true; });
  return view;
}

// The text of a part, rendered as Markdown as it grows (markdown.js re-renders only
// the last block, once a frame); `data` is the source, for Copy and resume.
function markdownText(container, options) {
  const md = createMarkdownView(container, options);
  let text = "";
  return {
    get data() { return text; },
    set data(value) { text = value; md.set(value); },
    appendData(more) { text += more; md.append(more); },
    finish() { return md.finish(); },
  };
}

function viewFor(node) {
  let view = views.get(node.id);
  if (!view) {
    view = node.role === "user" ? userView(node) : assistantView(node);
    views.set(node.id, view);
    if (node.role === "assistant") fillStored(view, node);
  }
  return view;
}

function renderPath() {
  const path = activePath();
  const shown = path.map((node) => {
    const view = viewFor(node);
    view.tools.replaceChildren(pager(node), ...view.extra());
    for (const b of view.tools.querySelectorAll("button")) b.disabled ||= Boolean(runningTurn) && b.textContent !== _("Copy");
    return view.wrap;
  });
  const empty = messagesEl.querySelector(".empty-state");
  messagesEl.replaceChildren(...(path.length || !empty ? [] : [empty]), ...shown);
}

function scrollToEnd() {
  const nearBottom = messagesEl.scrollHeight - messagesEl.scrollTop - messagesEl.clientHeight < 120;
  if (nearBottom) messagesEl.scrollTop = messagesEl.scrollHeight;
}

function startTimer(view, startedAt) {
  view.startedAt = startedAt;
  stopTimer(view);
  view.tick = setInterval(() => {
    view.timer.textContent = formatSeconds(performance.now() - view.startedAt);
  }, 100);
}

function stopTimer(view) {
  if (view.tick) clearInterval(view.tick);
  view.tick = null;
}

function showReasoning(view) {
  if (!view.details.hidden) return;
  view.details.hidden = false;
  view.autoToggle = true;
  view.details.open = true;
}

function appendReasoning(view, text) {
  showReasoning(view);
  view.reasoningNode.appendData(text);
}

function appendContent(view, text) {
  if (!view.contentStarted) {
    view.contentStarted = true;
    stopTimer(view);
    if (!view.reasoningNode.data) view.details.hidden = true;
    if (!view.details.hidden) {
      view.label.textContent = _("Thought");
      view.timer.textContent = fmt(_("for %(duration)s"), { duration: formatSeconds(performance.now() - view.startedAt) });
      if (!view.userToggled && view.details.open) { view.autoToggle = true; view.details.open = false; }
    }
  }
  view.answerNode.appendData(text);
}

function describeUsage(usage, timings) {
  const parts = [];
  if (usage) {
    if (usage.reasoning_tokens != null) parts.push(fmt(_("%(count)s reasoning tokens"), { count: usage.reasoning_tokens.toLocaleString() }));
    if (usage.completion_tokens != null) parts.push(fmt(_("%(count)s output tokens"), { count: usage.completion_tokens.toLocaleString() }));
    if (usage.prompt_tokens != null) parts.push(fmt(_("%(count)s prompt tokens"), { count: usage.prompt_tokens.toLocaleString() }));
  }
  if (timings && timings.total != null) parts.push(formatSeconds(timings.total));
  return parts.join(" · ");
}

function finishView(view, status, data) {
  stopTimer(view);
  view.reasoningNode.finish();
  view.answerNode.finish();
  view.wrap.dataset.status = status;
  Object.assign(view.node, { status, usage: data.usage, timings: data.timings, error: data.error });
  const thought = data.timings && data.timings.reasoning_duration;
  if (!view.details.hidden) {
    view.label.textContent = _("Thought");
    // The stored duration, not the page's clock: a reloaded or resumed turn shows
    // what the server measured.
    if (thought != null) view.timer.textContent = fmt(_("for %(duration)s"), { duration: formatSeconds(thought) });
    else if (!view.contentStarted) view.timer.textContent = "";
  }
  view.status.replaceChildren();
  if (status === "stopped") view.status.append(el("span", "badge", _("Stopped")), " ");
  if (status === "incomplete") view.status.append(el("span", "badge badge-warn", _("Incomplete")), " ");
  if (status === "failed") view.status.append(el("span", "badge badge-error", _("Failed")), " ");
  if (data.error) view.status.append(el("div", "turn-error", data.error.message || data.error.code));
  const usage = describeUsage(data.usage, data.timings);
  if (usage) view.status.append(el("span", "", usage));
}

function fillStored(view, node) {
  view.seq = node.seq || 0;
  if (node.reasoning_content) appendReasoning(view, node.reasoning_content);
  if (node.content) appendContent(view, node.content);
  if (view.details.open && node.status !== "streaming") { view.autoToggle = true; view.details.open = false; }
  if (node.status === "streaming") {
    const started = performance.now() - (Date.now() - Date.parse(node.created || new Date().toISOString()));
    if (!node.content) { showReasoning(view); startTimer(view, started); }
    view.startedAt = started;
    setRunning(node.id);
  } else if (node.status) {
    finishView(view, node.status, node);
  }
}

// --- events from the server ------------------------------------------------

let pendingMessage = null; // {content, parent, bubble} sent, not yet started

function dropPending(restore) {
  if (!pendingMessage) return;
  pendingMessage.bubble.remove();
  if (restore && !input.value) input.value = pendingMessage.content;
  pendingMessage = null;
}

function onEvent(event) {
  if (event.type === "error") {
    showNotice(event.message || event.code);
    if (event.code === "not_running") return;
    dropPending(true); // what they typed is not lost
    if (!runningTurn || runningTurn === PENDING) { setRunning(null); renderPath(); }
    return;
  }
  if (event.type === "turn.snapshot") {
    const view = views.get(event.turn);
    if (!view) return;
    view.reasoningNode.data = "";
    view.answerNode.data = "";
    view.contentStarted = false;
    if (event.reasoning_content) appendReasoning(view, event.reasoning_content);
    if (event.content) appendContent(view, event.content);
    view.seq = event.seq;
    if (event.status !== "streaming") { finishView(view, event.status, event); if (runningTurn === event.turn) setRunning(null); }
    return;
  }
  if (!event.turn) return;
  if (event.type === "turn.started") { onStarted(event); return; }
  const view = views.get(event.turn);
  if (!view || event.seq <= view.seq) return; // already shown
  view.seq = event.seq;
  switch (event.type) {
    case "reasoning.delta": appendReasoning(view, event.text); break;
    case "content.delta": appendContent(view, event.text); break;
    case "turn.completed": finishView(view, "completed", event); setRunning(null); break;
    case "turn.stopped": finishView(view, "stopped", event); setRunning(null); break;
    case "turn.failed": finishView(view, event.error && event.error.code === "cut" ? "incomplete" : "failed", event); setRunning(null); break;
    default: break;
  }
  if (event.type.startsWith("turn.")) {
    if (!view.reasoningNode.data) view.details.hidden = true;
    renderPath(); // tools enabled again
  }
  scrollToEnd();
}

function onStarted(event) {
  if (views.has(event.turn)) return;
  let unknownQuestion = false;
  if (!nodes.has(event.user_turn)) {
    if (pendingMessage) {
      addNode({ id: event.user_turn, parent: pendingMessage.parent, role: "user", content: pendingMessage.content });
      dropPending(false);
      input.value = "";
    } else {
      unknownQuestion = true; // another tab asked: its question comes from the server
    }
  }
  const node = addNode({ id: event.turn, parent: event.user_turn, role: "assistant", status: "streaming", model: event.model });
  setRunning(event.turn);
  const view = viewFor(node);
  view.seq = 1;
  showReasoning(view);
  startTimer(view, performance.now());
  const show = () => { choose(event.turn); renderPath(); scrollToEnd(); };
  if (unknownQuestion) loadTree().then(show);
  else show();
}

async function loadTree() {
  const data = await fetchConversation();
  if (!data) return;
  for (const turn of data.turns) if (!nodes.has(turn.id)) addNode(turn);
}

// --- turn controls ---------------------------------------------------------

let editParent; // undefined: not editing; else the parent the edited message follows
const editBanner = document.getElementById("editing");

function startEdit(node) {
  if (runningTurn) return;
  editParent = node.parent || null;
  input.value = node.content;
  editBanner.hidden = false;
  input.focus();
}

function cancelEdit() {
  editParent = undefined;
  editBanner.hidden = true;
}

function chosenOptions() {
  const options = {};
  if (thinkingSel.value) options.thinking = thinkingSel.value;
  if (effortSel.value) options.effort = effortSel.value;
  return options;
}

function regenerate(node) {
  if (runningTurn) return;
  setRunning(PENDING);
  send({ type: "regenerate", turn: node.id, model: modelSel.value, options: chosenOptions() });
}

// --- socket ----------------------------------------------------------------

function wsUrl() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}/ws/conversations/${conversationId}/`;
}

function send(frame) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame));
  else pendingFrames.push(frame);
}

function connect() {
  if (!conversationId) return;
  socket = new WebSocket(wsUrl());
  connectionEl.textContent = _("connecting…");
  socket.addEventListener("open", () => {
    connectionEl.textContent = "";
    reconnectDelay = 500;
    if (runningTurn && runningTurn !== PENDING) {
      const view = views.get(runningTurn);
      socket.send(JSON.stringify({ type: "resume", turn: runningTurn, after_seq: view ? view.seq : 0 }));
    }
    while (pendingFrames.length) socket.send(JSON.stringify(pendingFrames.shift()));
  });
  socket.addEventListener("message", (msg) => {
    let event;
    try { event = JSON.parse(msg.data); } catch { return; }
    onEvent(event);
  });
  socket.addEventListener("close", () => {
    connectionEl.textContent = _("reconnecting…");
    setTimeout(connect, reconnectDelay);
    reconnectDelay = Math.min(reconnectDelay * 2, 10000);
  });
}

async function fetchConversation() {
  const resp = await fetch(`${root.dataset.api}${conversationId}/`, { headers: { Accept: "application/json" } });
  if (!resp.ok) { showNotice(fmt(_("Could not load the conversation (HTTP %(status)s)."), { status: resp.status })); return null; }
  return resp.json();
}

async function createConversation() {
  const resp = await fetch(root.dataset.api, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: "{}",
  });
  if (!resp.ok) throw new Error(fmt(_("Could not create a conversation (HTTP %(status)s)."), { status: resp.status }));
  const data = await resp.json();
  conversationId = data.id;
  root.dataset.conversation = data.id;
  history.replaceState(null, "", `${root.dataset.pagePrefix}${data.id}/`);
  addToSidebar(data.id, input.value);
  connect();
}

function addToSidebar(id, title) {
  const list = document.querySelector(".conversation-list");
  if (!list) return;
  const empty = list.querySelector("p");
  if (empty) empty.remove();
  for (const link of list.querySelectorAll(".active")) link.classList.remove("active");
  const link = el("a", "conversation-link active", title.trim().split(/\s+/).join(" ").slice(0, 80) || _("New chat"));
  link.href = `${root.dataset.pagePrefix}${id}/`;
  list.prepend(link);
}

// --- composer --------------------------------------------------------------

async function submit() {
  const content = input.value;
  if (!content.trim() || runningTurn) return;
  if (!modelSel.value) { showNotice(_("No model is configured yet: an admin adds one in the admin.")); return; }
  setRunning(PENDING);
  preload(); // code highlighting and math, fetched while the model thinks
  try {
    if (!conversationId) await createConversation();
  } catch (err) {
    showNotice(String(err.message || err));
    setRunning(null);
    return;
  }
  const empty = messagesEl.querySelector(".empty-state");
  if (empty) empty.remove();
  const path = activePath();
  const frame = { type: "user_message", content, model: modelSel.value, options: chosenOptions() };
  // Edited: follow the edited message's parent; else the turn shown last.
  if (editParent !== undefined) frame.parent = editParent;
  else if (path.length) frame.parent = path[path.length - 1].id;
  // Shown at once; kept in the box until the server starts the turn.
  const bubble = el("article", "turn turn-user pending");
  bubble.append(el("div", "bubble", content));
  messagesEl.append(bubble);
  pendingMessage = { content, parent: frame.parent ?? null, bubble };
  // The first message names the conversation (as the server does): the tab follows.
  if (!nodes.size) document.title = `${content.trim().split(/\s+/).join(" ").slice(0, 80)} · ${document.title.split(" · ").pop()}`;
  cancelEdit();
  send(frame);
  scrollToEnd();
}

form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
});
stopBtn.addEventListener("click", () => { if (runningTurn) send({ type: "stop", turn: runningTurn }); });
const menuBtn = document.getElementById("menu");
function toggleSidebar(open) {
  document.body.classList.toggle("sidebar-open", open);
  menuBtn.setAttribute("aria-expanded", String(open));
}
menuBtn.addEventListener("click", () => toggleSidebar(!document.body.classList.contains("sidebar-open")));
document.addEventListener("keydown", (e) => { if (e.key === "Escape") toggleSidebar(false); });
root.addEventListener("click", (e) => { if (!menuBtn.contains(e.target)) toggleSidebar(false); });
document.getElementById("new-chat").addEventListener("click", () => { location.href = "/"; });
document.getElementById("cancel-edit").addEventListener("click", () => { cancelEdit(); input.value = ""; });

async function init() {
  if (!conversationId) { input.focus(); return; }
  await loadTree();
  // The active branch: the path to the newest turn, as the server follows it.
  const newest = [...nodes.values()].pop();
  if (newest) choose(newest.id);
  renderPath();
  messagesEl.scrollTop = messagesEl.scrollHeight;
  connect();
  input.focus();
}

root.dataset.ready = "1"; // listeners attached (tests wait for it)
init();
