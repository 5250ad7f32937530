// Runs before the chat page's scripts (Playwright's add_init_script). The address says what to
// wait for: "#bench-turns=N", N turns (none: nothing, the probe only records). Collects in
// window.__bench:
//   marks     ms since navigation start at which each milestone was first painted:
//             ready (#chat[data-ready]), api (the conversation's JSON received), turns (the
//             expected number of [data-turn] in the DOM), painted (the last turn rendered), settled
//             (every answer rendered, no code or formula waiting for its library)
//   longtasks [start, duration] of each main-thread task over 50 ms
//   events    Event Timing entries over 16 ms: [name, start, input delay, duration to next paint]
//   keys      keystrokes in #message: [start, ms until its handler ran, ms until painted]
// A milestone is checked after each frame is painted (a task posted from requestAnimationFrame
// runs after that frame's rendering), so a mark is when the page showed it, not when the DOM had it.
(() => {
  const expected = Number(/[#&]bench-turns=(\d+)/.exec(location.hash)?.[1] ?? -1);
  const bench = (window.__bench = { marks: {}, longtasks: [], events: [], keys: [], done: false });
  const now = () => Math.round(performance.now() * 10) / 10;
  const observe = (type, onEntry, options = {}) => {
    try {
      new PerformanceObserver((list) => list.getEntries().forEach(onEntry))
        .observe({ type, buffered: true, ...options });
    } catch { /* an entry type this browser lacks */ }
  };
  observe("longtask", (e) => bench.longtasks.push([Math.round(e.startTime), Math.round(e.duration)]));
  observe("event", (e) => bench.events.push(
    [e.name, Math.round(e.startTime), Math.round(e.processingStart - e.startTime), e.duration],
  ), { durationThreshold: 16 });

  const afterPaint = (fn) => requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = fn;
    channel.port2.postMessage(0);
  });
  const mark = (name) => { if (!(name in bench.marks)) bench.marks[name] = now(); };
  const rendered = (turn) => turn.dataset.role === "user" ||
    Boolean(turn.querySelector(".answer")?.childElementCount);

  function check() {
    if (document.querySelector("#chat[data-ready]")) mark("ready");
    if (performance.getEntriesByType("resource").some((e) => e.name.includes("/api/conversations/"))) mark("api");
    const turns = document.querySelectorAll("#messages [data-turn]");
    if (expected >= 0 && turns.length >= expected && "ready" in bench.marks) {
      mark("turns");
      const last = turns[turns.length - 1];
      if (expected === 0 ? "api" in bench.marks : rendered(last)) mark("painted");
      const waiting = document.querySelector(".md-hl-pending, .md-math-pending");
      if ("painted" in bench.marks && !waiting && [...turns].every(rendered)) mark("settled");
    }
    if (expected < 0 || "settled" in bench.marks) bench.done = true;
    else afterPaint(check);
  }
  afterPaint(check);

  document.addEventListener("keydown", (e) => {
    if (!e.isTrusted || e.target.id !== "message") return;
    const start = e.timeStamp;
    const handled = performance.now() - start;
    afterPaint(() => bench.keys.push([Math.round(start), +handled.toFixed(1), +(performance.now() - start).toFixed(1)]));
  }, true);
})();
