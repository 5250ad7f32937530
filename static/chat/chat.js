// The chat page: renders stored turns, streams live ones over the websocket.
// Text is always inserted as text (textContent / Text nodes), never as HTML.

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
const turns = new Map(); // turn id -> view state
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

function setRunning(turnId) {
  runningTurn = turnId;
  stopBtn.hidden = !turnId;
  sendBtn.disabled = Boolean(turnId);
}

// --- model options ---------------------------------------------------------

function fillSelect(select, values, label) {
  select.replaceChildren();
  if (!values.length) { select.hidden = true; return; }
  select.hidden = false;
  select.append(new Option(`${label}: default`, ""));
  for (const v of values) select.append(new Option(`${label}: ${v}`, v));
}

function updateOptions() {
  const opt = modelSel.selectedOptions[0];
  const split = (s) => (s ? s.split(",").filter(Boolean) : []);
  fillSelect(thinkingSel, split(opt && opt.dataset.thinking), "Thinking");
  fillSelect(effortSel, split(opt && opt.dataset.efforts), "Effort");
  localStorage.setItem("chat.model", modelSel.value);
}

const savedModel = localStorage.getItem("chat.model");
if (savedModel && [...modelSel.options].some((o) => o.value === savedModel)) modelSel.value = savedModel;
modelSel.addEventListener("change", updateOptions);
updateOptions();

// --- rendering -------------------------------------------------------------

function formatSeconds(ms) {
  return `${(ms / 1000).toFixed(1)} s`;
}

function renderUser(text) {
  const wrap = el("article", "turn turn-user");
  wrap.append(el("div", "bubble", text));
  messagesEl.append(wrap);
  return wrap;
}

function renderAssistant(id, model) {
  const wrap = el("article", "turn turn-assistant");
  wrap.dataset.turn = id;
  const meta = el("div", "turn-meta small muted", model || "");
  const details = el("details", "reasoning");
  details.hidden = true;
  const summary = el("summary", "reasoning-summary");
  const label = el("span", "reasoning-label", "Thinking…");
  const timer = el("span", "reasoning-timer muted", "");
  summary.append(label, " ", timer);
  const reasoningText = el("div", "reasoning-text");
  const reasoningNode = document.createTextNode("");
  reasoningText.append(reasoningNode);
  details.append(summary, reasoningText);
  const answer = el("div", "answer");
  const answerNode = document.createTextNode("");
  answer.append(answerNode);
  const status = el("div", "turn-status small muted");
  wrap.append(meta, details, answer, status);
  messagesEl.append(wrap);
  const view = {
    id, wrap, details, label, timer, reasoningNode, answerNode, answer, status,
    seq: 0, startedAt: performance.now(), contentStarted: false, userToggled: false, tick: null,
  };
  details.addEventListener("toggle", () => { if (view.autoToggle) view.autoToggle = false; else view.userToggled = true; });
  turns.set(id, view);
  return view;
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
      view.label.textContent = "Thought";
      view.timer.textContent = `for ${formatSeconds(performance.now() - view.startedAt)}`;
      if (!view.userToggled && view.details.open) { view.autoToggle = true; view.details.open = false; }
    }
  }
  view.answerNode.appendData(text);
}

function describeUsage(usage, timings) {
  const parts = [];
  if (usage) {
    if (usage.reasoning_tokens != null) parts.push(`${usage.reasoning_tokens} reasoning tokens`);
    if (usage.completion_tokens != null) parts.push(`${usage.completion_tokens} output tokens`);
    if (usage.prompt_tokens != null) parts.push(`${usage.prompt_tokens} prompt tokens`);
  }
  if (timings && timings.total != null) parts.push(formatSeconds(timings.total));
  return parts.join(" · ");
}

function finishView(view, status, data) {
  stopTimer(view);
  view.wrap.dataset.status = status;
  if (!view.contentStarted && !view.details.hidden) {
    view.label.textContent = "Thought";
    const t = data.timings && data.timings.reasoning_duration;
    view.timer.textContent = t != null ? `for ${formatSeconds(t)}` : "";
  }
  view.status.replaceChildren();
  if (status === "stopped") view.status.append(el("span", "badge", "Stopped"), " ");
  if (status === "incomplete") view.status.append(el("span", "badge badge-warn", "Incomplete"), " ");
  if (status === "failed") view.status.append(el("span", "badge badge-error", "Failed"), " ");
  if (data.error) view.status.append(el("div", "turn-error", data.error.message || data.error.code));
  const usage = describeUsage(data.usage, data.timings);
  if (usage) view.status.append(el("span", "", usage));
}

function renderStored(turn) {
  if (turn.role === "user") { renderUser(turn.content); return; }
  const view = renderAssistant(turn.id, turn.model);
  view.seq = turn.seq;
  if (turn.reasoning_content) appendReasoning(view, turn.reasoning_content);
  if (turn.content) appendContent(view, turn.content);
  if (view.details.open && turn.status !== "streaming") { view.autoToggle = true; view.details.open = false; }
  if (turn.status === "streaming") {
    const started = performance.now() - (Date.now() - Date.parse(turn.created));
    if (!turn.content) { showReasoning(view); startTimer(view, started); }
    view.startedAt = started;
    setRunning(turn.id);
  } else {
    finishView(view, turn.status, turn);
  }
}

// --- events from the server ------------------------------------------------

function onEvent(event) {
  if (event.type === "error") {
    showNotice(event.message || event.code);
    if (event.code === "busy" || event.code === "not_running") return;
    if (!runningTurn) sendBtn.disabled = false;
    return;
  }
  if (event.type === "turn.snapshot") {
    let view = turns.get(event.turn) || renderAssistant(event.turn, "");
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
  let view = turns.get(event.turn);
  if (event.type === "turn.started") {
    if (!view) {
      if (!pendingFrames.sentByMe) loadUserTurn(event.user_turn);
      view = renderAssistant(event.turn, event.model);
    }
    pendingFrames.sentByMe = false;
    view.seq = 1;
    showReasoning(view);
    startTimer(view, performance.now());
    setRunning(event.turn);
    scrollToEnd();
    return;
  }
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
  if (event.type.startsWith("turn.") && !view.reasoningNode.data) view.details.hidden = true;
  scrollToEnd();
}

async function loadUserTurn(userTurnId) {
  // Another tab started this turn: show its question too.
  const data = await fetchConversation();
  const turn = data && data.turns.find((t) => t.id === userTurnId);
  if (!turn) return;
  const assistant = data.turns[data.turns.indexOf(turn) + 1];
  const view = assistant && turns.get(assistant.id);
  const userEl = renderUser(turn.content);
  if (view) messagesEl.insertBefore(userEl, view.wrap);
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
  connectionEl.textContent = "connecting…";
  socket.addEventListener("open", () => {
    connectionEl.textContent = "";
    reconnectDelay = 500;
    if (runningTurn) {
      const view = turns.get(runningTurn);
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
    connectionEl.textContent = "reconnecting…";
    setTimeout(connect, reconnectDelay);
    reconnectDelay = Math.min(reconnectDelay * 2, 10000);
  });
}

async function fetchConversation() {
  const resp = await fetch(`${root.dataset.api}${conversationId}/`, { headers: { Accept: "application/json" } });
  if (!resp.ok) { showNotice(`Could not load the conversation (${resp.status}).`); return null; }
  return resp.json();
}

async function createConversation() {
  const resp = await fetch(root.dataset.api, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: "{}",
  });
  if (!resp.ok) throw new Error(`could not create a conversation (${resp.status})`);
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
  const link = el("a", "conversation-link active", title.trim().split(/\s+/).join(" ").slice(0, 80) || "New chat");
  link.href = `${root.dataset.pagePrefix}${id}/`;
  list.prepend(link);
}

// --- composer --------------------------------------------------------------

async function submit() {
  const content = input.value;
  if (!content.trim() || runningTurn) return;
  if (!modelSel.value) { showNotice("No model is configured yet: an admin adds one in the admin."); return; }
  sendBtn.disabled = true;
  try {
    if (!conversationId) await createConversation();
  } catch (err) {
    showNotice(String(err.message || err));
    sendBtn.disabled = false;
    return;
  }
  const empty = messagesEl.querySelector(".empty-state");
  if (empty) empty.remove();
  const options = {};
  if (thinkingSel.value) options.thinking = thinkingSel.value;
  if (effortSel.value) options.effort = effortSel.value;
  renderUser(content);
  pendingFrames.sentByMe = true;
  send({ type: "user_message", content, model: modelSel.value, options });
  input.value = "";
  scrollToEnd();
}

form.addEventListener("submit", (e) => { e.preventDefault(); submit(); });
input.addEventListener("keydown", (e) => {
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); submit(); }
});
stopBtn.addEventListener("click", () => { if (runningTurn) send({ type: "stop", turn: runningTurn }); });
document.getElementById("new-chat").addEventListener("click", () => { location.href = "/"; });

async function init() {
  if (!conversationId) { input.focus(); return; }
  const data = await fetchConversation();
  if (data) for (const turn of data.turns) renderStored(turn);
  messagesEl.scrollTop = messagesEl.scrollHeight;
  connect();
  input.focus();
}

init();
