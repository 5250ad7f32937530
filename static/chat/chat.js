// The chat page: renders stored turns, streams live ones over the websocket.
// Text is always inserted as text (textContent / Text nodes) or through the
// sanitizing Markdown renderer, never as raw HTML.

import { copyWithFeedback, createMarkdownView, preload } from "./markdown.js";
import { _, api, el, fmt, showNotice, titleFrom } from "./util.js";
import { conversationAbandoned, conversationOpened, setDownloadTurn, setSystemPrompt, setTitle, systemPromptForNew } from "./conversations.js";

const root = document.getElementById("chat");
const messagesEl = document.getElementById("messages");
const form = document.getElementById("composer");
const input = document.getElementById("message");
const sendBtn = document.getElementById("send");
const stopBtn = document.getElementById("stop");
const modelSel = document.getElementById("model");
const thinkingSel = document.getElementById("thinking");
const effortSel = document.getElementById("effort");
const connectionEl = document.getElementById("connection");
const titleEl = document.getElementById("title");

let conversationId = root.dataset.conversation || null;
let socket = null;
let reconnectDelay = 500;
let runningTurn = null; // id of the turn streaming now, if any
const pendingFrames = [];

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

const split = (s) => (s ? s.split(",").filter(Boolean) : []);

function updateThinking() {
  const opt = modelSel.selectedOptions[0];
  fillSelect(thinkingSel, split(opt && opt.dataset.thinking), _("Thinking"), opt && opt.dataset.defaultThinking);
}

// Effort follows thinking: with thinking off a model takes no effort, or only
// "minimal" (Ark); offering another would be a request the provider refuses.
function updateEffort() {
  const opt = modelSel.selectedOptions[0];
  const thinking = thinkingSel.value || (opt && opt.dataset.defaultThinking);
  let efforts = split(opt && opt.dataset.efforts);
  let fallback = opt && opt.dataset.defaultEffort;
  if (thinking === "disabled") {
    efforts = efforts.filter((e) => e === "minimal");
    fallback = efforts[0] || "";
  }
  const was = effortSel.value;
  fillSelect(effortSel, efforts, _("Effort"), fallback);
  if (efforts.includes(was)) effortSel.value = was;
}

// The choice is remembered per conversation (and the last one used for a new chat).
const optionsKey = () => `chat.options.${conversationId || "new"}`;

function saveOptions() {
  const choice = JSON.stringify({ model: modelSel.value, thinking: thinkingSel.value, effort: effortSel.value });
  localStorage.setItem(optionsKey(), choice);
  localStorage.setItem("chat.options.new", choice);
}

// A conversation's model the person may no longer use stays chosen, marked, so
// the next turn is refused by the server naming it, never sent to another model
// unasked (the picker would otherwise fall back to its first entry).
function keepUnavailable(ref) {
  const option = new Option(fmt(_("%(model)s (not available to you)"), { model: ref }), ref);
  option.dataset.unavailable = "1";
  modelSel.append(option);
}

function restoreOptions(fallbackModel) {
  let saved = {};
  try { saved = JSON.parse(localStorage.getItem(optionsKey()) || "{}") || {}; } catch { saved = {}; }
  const has = (select, v) => v && [...select.options].some((o) => o.value === v);
  const wanted = saved.model || fallbackModel;
  if (conversationId && wanted && !has(modelSel, wanted)) keepUnavailable(wanted);
  const model = has(modelSel, saved.model) ? saved.model : fallbackModel;
  if (has(modelSel, model)) modelSel.value = model;
  updateThinking();
  if (has(thinkingSel, saved.thinking)) thinkingSel.value = saved.thinking;
  updateEffort();
  if (has(effortSel, saved.effort)) effortSel.value = saved.effort;
}

modelSel.addEventListener("change", () => { updateThinking(); updateEffort(); saveOptions(); });
thinkingSel.addEventListener("change", () => { updateEffort(); saveOptions(); });
effortSel.addEventListener("change", saveOptions);
restoreOptions();

// --- the turn tree ---------------------------------------------------------
// A conversation is a tree (each turn has a parent); the page shows one path,
// the active branch, with a pager wherever turns have siblings.

const nodes = new Map(); // turn id -> {id, parent, role, ...stored fields}
const children = new Map(); // parent key -> its children, oldest first
const chosen = new Map(); // parent key -> chosen child id

const keyOf = (parent) => parent || "root";

function addNode(turn) {
  let node = nodes.get(turn.id);
  if (!node) {
    node = {};
    nodes.set(turn.id, node);
    const key = keyOf(turn.parent);
    if (!children.has(key)) children.set(key, []);
    children.get(key).push(node);
  }
  Object.assign(node, turn);
  return node;
}

const childrenOf = (key) => children.get(key) || [];

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
  const option = [...modelSel.options].find((o) => o.value === ref && !o.dataset.unavailable);
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
  // A web-search bot's sources, under the answer (turn.references, or stored).
  const references = el("section", "references");
  references.dataset.part = "references";
  references.hidden = true;
  const note = el("div", "turn-note small");
  const tools = el("div", "turn-tools");
  wrap.append(meta, details, answer, references, note, status, tools);
  const view = {
    id: node.id, node, wrap, details, label, timer, reasoningNode, answerNode, answer, references, note, status, tools,
    seq: 0, startedAt: performance.now(), contentStarted: false, userToggled: false, tick: null,
  };
  view.extra = () => [
    ...(view.answerNode.data || node.status === "streaming" || !node.status
      ? copyAnswer(view)
      : []),
    button(_("Regenerate"), () => regenerate(node)),
  ];
  details.addEventListener("toggle", () => { if (view.autoToggle) view.autoToggle = false; else view.userToggled = true; });
  return view;
}

// Copy's feedback, as a code block's (markdown.js), also said to screen readers.
function copyAnswer(view) {
  const note = el("span", "visually-hidden");
  note.setAttribute("role", "status");
  const copy = button(_("Copy"), () => copyWithFeedback(copy, view.answerNode.data, view.answer, note));
  copy.dataset.copy = "";
  return [copy, note];
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

// Only what changed is touched: re-inserting or re-tooling every turn of a long
// conversation forces a layout of all of it (hundreds of ms at the end of a long answer).
function renderPath() {
  const path = activePath();
  const shown = path.map((node) => {
    const view = viewFor(node);
    const siblings = childrenOf(keyOf(node.parent)).length;
    const state = `${siblings}|${chosen.get(keyOf(node.parent)) || ""}|${node.status || ""}|${Boolean(view.answerNode && view.answerNode.data)}`;
    if (view.toolState !== state) {
      view.toolState = state;
      view.tools.replaceChildren(pager(node), ...view.extra());
      view.running = undefined;
    }
    // While a turn runs, nothing but Copy may start another (the pager's own limits kept).
    const running = Boolean(runningTurn);
    if (view.running !== running) {
      view.running = running;
      for (const b of view.tools.querySelectorAll("button")) {
        if (b.dataset.edge === undefined) b.dataset.edge = b.disabled ? "1" : "";
        b.disabled = b.dataset.edge === "1" || (running && b.dataset.copy === undefined);
      }
    }
    return view.wrap;
  });
  const wanted = path.length ? shown : [...messagesEl.querySelectorAll(".empty-state")];
  const current = [...messagesEl.children];
  let same = 0;
  while (same < current.length && same < wanted.length && current[same] === wanted[same]) same++;
  for (const node of current.slice(same)) node.remove();
  if (same < wanted.length) messagesEl.append(...wanted.slice(same));
  for (const wrap of shown.slice(same)) grown.observe(wrap);
  setDownloadTurn(path.length ? path[path.length - 1].id : "");
}

// --- following the stream ------------------------------------------------------
// The view stays pinned to the newest text until the person scrolls up; then a
// "Jump to latest" button appears. Text grows after the frame that added it
// (Markdown renders once a frame, code and math load later), so a ResizeObserver
// on the shown turns re-pins rather than the code that appends.

const jumpBtn = document.getElementById("jump");
let following = true;

const distanceFromEnd = () => messagesEl.scrollHeight - messagesEl.scrollTop - messagesEl.clientHeight;

function pin() {
  messagesEl.scrollTop = messagesEl.scrollHeight;
}

function follow(yes) {
  following = yes;
  jumpBtn.hidden = yes || distanceFromEnd() < 40;
}

function scrollToEnd() {
  if (following) pin();
}

const grown = new ResizeObserver(() => { if (following) pin(); });

// Pinning scrolls to the end, so any scroll that leaves the end is the person's.
messagesEl.addEventListener("scroll", () => follow(distanceFromEnd() < 40));
// A wheel or key up is the person too, even before the view has moved far.
messagesEl.addEventListener("wheel", (e) => { if (e.deltaY < 0) follow(false); }, { passive: true });
messagesEl.addEventListener("keydown", (e) => { if (["ArrowUp", "PageUp", "Home"].includes(e.key)) follow(false); });
jumpBtn.addEventListener("click", () => { follow(true); pin(); });

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

// A turn's error in plain words. errors.js (its sentences in every language) loads
// only when a page first shows an error: most pages never do, and the page's
// scripts stay within their byte budget.
let errorsModule = null;
function errorBox(error) {
  const box = el("div", "turn-error");
  errorsModule ||= import("./errors.js");
  errorsModule.then(({ describeError }) => { box.textContent = describeError(error); })
    .catch(() => { box.textContent = error.message || String(error.code || ""); });
  return box;
}

function describeUsage(usage, timings) {
  const parts = [];
  if (usage) {
    if (usage.reasoning_tokens != null) parts.push(fmt(_("%(count)s reasoning tokens"), { count: usage.reasoning_tokens.toLocaleString() }));
    if (usage.completion_tokens != null) parts.push(fmt(_("%(count)s output tokens"), { count: usage.completion_tokens.toLocaleString() }));
    if (usage.prompt_tokens != null) parts.push(fmt(_("%(count)s prompt tokens"), { count: usage.prompt_tokens.toLocaleString() }));
  }
  if (timings) {
    if (timings.reasoning_first_token != null) parts.push(fmt(_("first thought %(time)s"), { time: formatSeconds(timings.reasoning_first_token) }));
    if (timings.content_first_token != null) parts.push(fmt(_("first answer %(time)s"), { time: formatSeconds(timings.content_first_token) }));
    const first = timings.reasoning_first_token ?? timings.content_first_token;
    const streamed = timings.total != null && first != null ? (timings.total - first) / 1000 : 0;
    if (usage && usage.completion_tokens && streamed > 0.05) {
      parts.push(fmt(_("%(rate)s tokens/s"), { rate: Math.round(usage.completion_tokens / streamed).toLocaleString() }));
    }
    if (timings.total != null) parts.push(fmt(_("total %(time)s"), { time: formatSeconds(timings.total) }));
  }
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
  if (data.error) view.status.append(errorBox(data.error));
  const usage = describeUsage(data.usage, data.timings);
  if (usage) view.status.append(el("span", "", usage));
}

// Only an absolute http(s) URL becomes a link: `javascript:`, `data:` and the rest
// (or a relative one) leave the title as text.
function httpUrl(value) {
  if (typeof value !== "string" || !value) return null;
  try {
    const url = new URL(value);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

// Ark gives "2025-01-15 09:30:00" (or a Unix time): a string is shown as sent.
function referenceDate(value) {
  if (typeof value === "number" && Number.isFinite(value) && value > 0) {
    return new Date(value < 1e12 ? value * 1000 : value).toLocaleDateString();
  }
  return typeof value === "string" ? value.trim() : "";
}

// The numbered sources, every value inserted as text (textContent), never as HTML.
function showReferences(view, items) {
  if (!Array.isArray(items) || !items.length) return;
  view.node.references = items;
  const list = el("ol", "references-list");
  for (const item of items) {
    if (!item || typeof item !== "object") continue;
    const text = (k) => (typeof item[k] === "string" ? item[k].trim() : "");
    const href = httpUrl(item.url);
    const title = text("title") || text("site_name") || (href || "") || _("Untitled source");
    const li = el("li", "reference");
    let head;
    if (href) {
      head = el("a", "reference-link", title);
      head.href = href;
      head.target = "_blank";
      head.rel = "noopener noreferrer";
    } else {
      head = el("span", "reference-title", title);
    }
    if (text("summary")) head.title = text("summary");
    li.append(head);
    const meta = [text("site_name"), referenceDate(item.publish_time)].filter(Boolean).join(" · ");
    if (meta) li.append(el("span", "reference-meta small muted", meta));
    list.append(li);
  }
  view.references.replaceChildren(el("div", "references-title small", _("Sources")), list);
  view.references.hidden = false;
}

function fillStored(view, node) {
  view.seq = node.seq || 0;
  if (node.reasoning_content) appendReasoning(view, node.reasoning_content);
  if (node.content) appendContent(view, node.content);
  if (node.references) showReferences(view, node.references);
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

let pendingMessage = null; // {content, parent, bubble, first} sent, not yet started
const INCOMPLETE_CODES = new Set(["cut", "stalled", "interrupted"]);

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
    // A refused first message leaves nothing behind: no empty conversation.
    if (pendingMessage && pendingMessage.first) conversationAbandoned();
    dropPending(true); // what they typed is not lost
    if (!runningTurn || runningTurn === PENDING) { setRunning(null); renderPath(); }
    return;
  }
  if (event.type === "turn.snapshot") {
    const view = views.get(event.turn);
    if (!view) return;
    heard(view);
    view.reasoningNode.data = "";
    view.answerNode.data = "";
    view.contentStarted = false;
    if (event.reasoning_content) appendReasoning(view, event.reasoning_content);
    if (event.content) appendContent(view, event.content);
    if (event.references) showReferences(view, event.references);
    view.seq = event.seq;
    if (event.status !== "streaming") { finishView(view, event.status, event); if (runningTurn === event.turn) setRunning(null); }
    return;
  }
  if (!event.turn) return;
  if (event.type === "turn.started") { onStarted(event); return; }
  const view = views.get(event.turn);
  if (!view || event.seq <= view.seq) return; // already shown
  view.seq = event.seq;
  heard(view);
  switch (event.type) {
    case "reasoning.delta": appendReasoning(view, event.text); break;
    case "content.delta": appendContent(view, event.text); break;
    case "turn.references": showReferences(view, event.items); break;
    case "turn.completed": finishView(view, "completed", event); setRunning(null); break;
    case "turn.stopped": finishView(view, "stopped", event); setRunning(null); break;
    // The codes the server stores as `incomplete` (partial kept), so a reload agrees.
    case "turn.failed": finishView(view, INCOMPLETE_CODES.has(event.error && event.error.code) ? "incomplete" : "failed", event); setRunning(null); break;
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

// --- connection state ----------------------------------------------------------
// The indicator says whether the page is live; the running turn says what a drop
// means for it (the server goes on writing; the page catches up on reconnect).

const CONNECTION_TEXT = {
  connecting: () => _("Connecting…"),
  open: () => _("Connected"),
  reconnecting: () => _("Reconnecting…"),
  offline: () => _("Offline: reconnects when the network is back"),
};

function setConnection(state) {
  connectionEl.dataset.state = state;
  connectionEl.textContent = CONNECTION_TEXT[state]();
}

function noteRunning(text) {
  const view = runningTurn && views.get(runningTurn);
  if (view) view.note.textContent = text;
}

let quietTimer = null;

// Something arrived for the turn: it is live again.
function heard(view) {
  clearTimeout(quietTimer);
  view.note.textContent = "";
}

let connectTimer = null;

function scheduleConnect(delay) {
  clearTimeout(connectTimer);
  connectTimer = setTimeout(connect, delay);
}

function connect() {
  clearTimeout(connectTimer);
  if (!conversationId || (socket && socket.readyState <= WebSocket.OPEN)) return;
  if (!navigator.onLine) { setConnection("offline"); return; }
  const ws = new WebSocket(wsUrl());
  socket = ws;
  if (connectionEl.dataset.state === "idle") setConnection("connecting");
  ws.addEventListener("open", () => {
    setConnection("open");
    reconnectDelay = 500;
    if (runningTurn && runningTurn !== PENDING) {
      const view = views.get(runningTurn);
      ws.send(JSON.stringify({ type: "resume", turn: runningTurn, after_seq: view ? view.seq : 0 }));
      // Silence after a resume: the process writing the turn may have stopped;
      // another one marks it incomplete once its lease runs out.
      clearTimeout(quietTimer);
      quietTimer = setTimeout(() => noteRunning(_("Waiting for the server to continue this answer. If the process writing it stopped, the answer is kept as far as it got and marked incomplete within a minute.")), 5000);
    }
    while (pendingFrames.length) ws.send(JSON.stringify(pendingFrames.shift()));
  });
  ws.addEventListener("message", (msg) => {
    let event;
    try { event = JSON.parse(msg.data); } catch { return; }
    onEvent(event);
  });
  ws.addEventListener("close", () => {
    if (socket !== ws) return;
    setConnection(navigator.onLine ? "reconnecting" : "offline");
    noteRunning(_("Connection lost. The server goes on writing this answer; it shows here when the page reconnects."));
    // Backoff with jitter, so a restarted server is not met by every tab at once.
    if (navigator.onLine) scheduleConnect(reconnectDelay * (0.75 + Math.random() / 2));
    reconnectDelay = Math.min(reconnectDelay * 2, 10000);
  });
}

window.addEventListener("online", () => { reconnectDelay = 500; connect(); });
window.addEventListener("offline", () => setConnection("offline"));
// Back from sleep or a background tab: try now rather than at the end of a backoff.
document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") connect(); });

async function fetchConversation() {
  const resp = await fetch(`${root.dataset.api}${conversationId}/`, { headers: { Accept: "application/json" } });
  if (!resp.ok) { showNotice(fmt(_("Could not load the conversation (HTTP %(status)s)."), { status: resp.status })); return null; }
  const data = await resp.json();
  setSystemPrompt(data.system_prompt);
  return data;
}

async function createConversation() {
  // A system prompt chosen before the first message is stored with the conversation.
  const systemPrompt = systemPromptForNew();
  const resp = await api(root.dataset.api, "POST", systemPrompt ? { system_prompt: systemPrompt } : {});
  if (!resp.ok) throw new Error(fmt(_("Could not create a conversation (HTTP %(status)s)."), { status: resp.status }));
  const data = await resp.json();
  conversationId = data.id;
  conversationOpened(data.id, input.value);
  saveOptions();
  connect();
}

// --- composer --------------------------------------------------------------

const maxChars = Number(root.dataset.maxChars) || 100000;
// The server's websocket frame limit (daphne's default): a bigger frame is not
// answered, the connection is dropped.
const MAX_FRAME_BYTES = 1024 * 1024;
const MB = 1024 * 1024;

// Characters as the server counts them (code points: an emoji is one).
function charCount(text) {
  let n = 0;
  for (const _c of text) n++;
  return n;
}

// What the message cannot be sent as, in plain words; null when it can.
function refusal(frame) {
  const length = charCount(frame.content);
  if (length > maxChars) {
    return fmt(_("This message is %(length)s characters long; the limit is %(limit)s. Shorten it or send it in parts."), { length: length.toLocaleString(), limit: maxChars.toLocaleString() });
  }
  // The bytes actually sent: UTF-8 of the JSON text, escapes included.
  const bytes = new TextEncoder().encode(JSON.stringify(frame)).length;
  if (bytes > MAX_FRAME_BYTES) {
    const size = (bytes / MB).toLocaleString(undefined, { maximumFractionDigits: 1 });
    return fmt(_("This message is too large to send: %(size)s MB once encoded, and the limit is %(limit)s MB. Shorten it or send it in parts."), { size, limit: (MAX_FRAME_BYTES / MB).toLocaleString() });
  }
  return null;
}

async function submit() {
  const content = input.value;
  if (!content.trim() || runningTurn) return;
  if (!modelSel.value) { showNotice(_("No model is configured yet: an admin adds one in the admin.")); return; }
  const path = activePath();
  const frame = { type: "user_message", content, model: modelSel.value, options: chosenOptions() };
  // Edited: follow the edited message's parent; else the turn shown last.
  if (editParent !== undefined) frame.parent = editParent;
  else if (path.length) frame.parent = path[path.length - 1].id;
  const refused = refusal(frame);
  if (refused) { showNotice(refused); return; } // the text stays in the box
  const first = !conversationId;
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
  // Shown at once; kept in the box until the server starts the turn.
  const bubble = el("article", "turn turn-user pending");
  bubble.append(el("div", "bubble", content));
  messagesEl.append(bubble);
  pendingMessage = { content, parent: frame.parent ?? null, bubble, first };
  // The first message names the conversation (as the server does): the title follows.
  if (!nodes.size && !first && titleEl.textContent === _("New chat")) setTitle(titleFrom(content));
  cancelEdit();
  send(frame);
  follow(true);
  pin();
}

form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
});
// The box grows with its text (CSS field-sizing where the browser has it).
if (!CSS.supports("field-sizing", "content")) {
  input.addEventListener("input", () => {
    input.style.height = "auto";
    input.style.height = `${input.scrollHeight + 2}px`;
  });
}
stopBtn.addEventListener("click", () => { if (runningTurn) send({ type: "stop", turn: runningTurn }); });
document.getElementById("cancel-edit").addEventListener("click", () => { cancelEdit(); input.value = ""; });

async function init() {
  if (!conversationId) { input.focus(); return; }
  await loadTree();
  // The active branch: the path to the newest turn, as the server follows it.
  const newest = [...nodes.values()].pop();
  if (newest) choose(newest.id);
  const answered = [...nodes.values()].filter((n) => n.role === "assistant" && n.model).pop();
  if (!localStorage.getItem(optionsKey()) && answered) restoreOptions(answered.model);
  renderPath();
  pin();
  connect();
  input.focus();
}

sendBtn.disabled = false;
root.dataset.ready = "1"; // listeners attached (tests wait for it)
init();
