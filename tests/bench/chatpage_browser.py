"""The chat page in Chromium (Playwright): opening conversations, the sidebar, the bytes the
page loads, and a long answer streaming in. Each measurement is bounded in time."""

from __future__ import annotations

import gzip
import itertools
import re
import shutil
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page, Response, sync_playwright

from tests.bench.chatpage_trace import CATEGORIES, summarize

PROBE = (Path(__file__).parent / "chatpage_probe.js").read_text()
VIEWPORT = {"width": 1280, "height": 800}

COLLECT = """() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const paint = Object.fromEntries(performance.getEntriesByType("paint").map((e) => [e.name, e.startTime]));
  const api = performance.getEntriesByType("resource").find((e) => e.name.includes("/api/conversations/"));
  return {
    ...window.__bench,
    ttfb: nav.responseStart, server: nav.responseStart - nav.requestStart,
    dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
    fcp: paint["first-contentful-paint"] ?? null, api: api ? api.responseEnd : null,
    turns: document.querySelectorAll("#messages [data-turn]").length,
    links: document.querySelectorAll(".conversation-link").length,
  };
}"""


@dataclass
class Site:
    url: str
    cookies: dict[str, str]
    pages: dict[str, str]


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, started as the browser tests start it."""
    path = shutil.which("chromium")
    if not path:
        raise RuntimeError("chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=path,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
            + ["--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        try:
            yield browser
        finally:
            browser.close()


def signed_in(browser: Browser, site: Site, user: str) -> BrowserContext:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.add_cookies([{"name": "sessionid", "value": site.cookies[user], "url": site.url}])
    return context


def new_tab(context: BrowserContext, errors: list[str]) -> Page:
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.add_init_script(PROBE)
    return page


_runs = itertools.count()


def navigate(page: Page, url: str, turns: int = -1) -> None:
    """Load `url` in `page` (a full navigation, even to the same page: the query differs) and
    wait until the probe has seen it settle with `turns` turns shown (-1: until first paint)."""
    address = f"{url}?run={next(_runs)}" + (f"#bench-turns={turns}" if turns >= 0 else "")
    page.goto(address, wait_until="commit" if turns >= 0 else "load")
    if turns >= 0:
        page.wait_for_function(
            "() => window.__bench && window.__bench.done", polling=50, timeout=60_000
        )
    else:
        page.wait_for_function(
            "() => performance.getEntriesByName('first-contentful-paint').length"
        )
    page.wait_for_timeout(100)  # long tasks reach the observer a moment after they end


def measure(page: Page, url: str, turns: int = -1) -> dict[str, Any]:
    navigate(page, url, turns)
    result: dict[str, Any] = page.evaluate(COLLECT)
    return result


def median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def spread(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(values, 0.5),
        "p95": percentile(values, 0.95),
        "max": percentile(values, 1),
    }


def _summary(samples: list[dict[str, Any]]) -> dict[str, Any]:
    def med(key: str) -> float | None:
        return median([s[key] for s in samples if s.get(key) is not None])

    def mark(name: str) -> float | None:
        return median([s["marks"][name] for s in samples if name in s["marks"]])

    longest = [max((d for _, d in s["longtasks"]), default=0) for s in samples]
    return {
        "runs": len(samples),
        "painted_ms": mark("painted"),
        "settled_ms": mark("settled"),
        "ready_ms": mark("ready"),
        "api_ms": med("api"),
        "ttfb_ms": med("ttfb"),
        "dcl_ms": med("dcl"),
        "fcp_ms": med("fcp"),
        "longest_task_ms": median([float(x) for x in longest]),
        "painted_all_ms": [s["marks"].get("painted") for s in samples],
        "turns_shown": samples[-1]["turns"] if samples else None,
        "links_shown": samples[-1]["links"] if samples else None,
    }


def _interleaved(page: Page, cases: dict[str, tuple[str, int]], runs: int) -> dict[str, Any]:
    """`runs` rounds over `cases` (name -> (url, turns)) in one tab, after one warm-up round
    (the cache then holds the static files, as for anyone who has opened the page before)."""
    samples: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    for round_ in range(runs + 1):
        for name, (url, turns) in cases.items():
            result = measure(page, url, turns)
            if round_:
                samples[name].append(result)
    return {name: _summary(s) for name, s in samples.items()}


def _first_visit(
    browser: Browser, site: Site, user: str, url: str, turns: int, errors: list[str]
) -> dict[str, Any]:
    """A new tab of a new context: nothing cached, a renderer process started for it."""
    context = signed_in(browser, site, user)
    result = _summary([measure(new_tab(context, errors), url, turns)])
    context.close()
    return result


# --- 1. opening a conversation --------------------------------------------------------------


def opening(browser: Browser, site: Site, runs: int, n_turns: int) -> dict[str, Any]:
    """The long conversation against a one-exchange and an empty one, as a click in the sidebar
    opens them (same tab, warm cache); and the long one's first visit."""
    errors: list[str] = []
    context = signed_in(browser, site, "reader")
    page = new_tab(context, errors)
    url = lambda what: f"{site.url}/c/{site.pages[what]}/"  # noqa: E731
    out = _interleaved(
        page,
        {"long": (url("long"), n_turns), "short": (url("short"), 2), "empty": (url("empty"), 0)},
        runs,
    )
    context.close()
    out["long"]["first_visit"] = _first_visit(browser, site, "reader", url("long"), n_turns, errors)
    out["empty"]["first_visit"] = _first_visit(browser, site, "reader", url("empty"), 0, errors)
    out["errors"] = errors[:10]
    return out


# --- 2. the sidebar ---------------------------------------------------------------------------


def sidebar(browser: Browser, site: Site, runs: int) -> dict[str, Any]:
    """The home page of the user with 1,000 conversations against the user with one, and the
    sign-in page (no script: what the browser takes for any page of this site)."""
    errors: list[str] = []
    out: dict[str, Any] = {}
    for user in ("hoarder", "single"):
        context = signed_in(browser, site, user)
        out[user] = _interleaved(new_tab(context, errors), {"home": (site.url + "/", -1)}, runs)[
            "home"
        ]
        context.close()
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    out["sign_in"] = _interleaved(
        new_tab(context, errors), {"page": (site.url + "/accounts/login/", -1)}, runs
    )["page"]
    context.close()
    out["errors"] = errors[:10]
    return out


# --- 3. bytes ---------------------------------------------------------------------------------


def recorded(context: BrowserContext) -> list[Response]:
    """The responses of every page of `context`, as they come."""
    responses: list[Response] = []
    context.on("response", lambda r: responses.append(r))
    return responses


_HASHED = re.compile(r"\.[0-9a-f]{12}(\.\w+)$")  # ManifestStaticFilesStorage's name.<hash>.ext


def _name(url: str) -> str:
    path = url.split("://", 1)[-1].split("/", 1)[-1].split("?", 1)[0]
    return _HASHED.sub(r"\1", "/" + path)


def loaded_files(responses: list[Response]) -> dict[str, Any]:
    """Each script and stylesheet the page fetched: size, gzip -6 size, and what was sent."""
    files: dict[str, dict[str, int]] = {}
    for r in responses:
        if r.request.resource_type not in ("script", "stylesheet") or r.status != 200:
            continue
        body = r.body()
        files[_name(r.url)] = {
            "bytes": len(body),
            "gzip6": len(gzip.compress(body, 6)),
            "sent": r.request.sizes()["responseBodySize"],
        }
    total = sum(f["gzip6"] for f in files.values())
    return {"files": dict(sorted(files.items())), "gzip6_total": total, "count": len(files)}


def page_bytes(browser: Browser, site: Site) -> dict[str, Any]:
    """A stored plain answer, and one with code and math (highlight.js and KaTeX load on use)."""
    out: dict[str, Any] = {}
    errors: list[str] = []
    for what in ("plain", "code+math"):
        context = signed_in(browser, site, "reader")
        responses = recorded(context)
        page = new_tab(context, errors)
        navigate(page, f"{site.url}/c/{site.pages[what]}/", 2)
        page.wait_for_load_state("networkidle")
        out[what] = loaded_files(responses)
        context.close()
    out["errors"] = errors[:10]
    return out


# --- 4. a long answer streaming in -------------------------------------------------------------

STATUS = "document.querySelector('[data-role=assistant]')?.dataset.status || ''"
RENDERED = """() => {
  const a = document.querySelector("[data-role=assistant] .answer");
  return { chars: a.textContent.length, math: a.querySelectorAll("math").length,
           code: a.querySelectorAll("code.hljs").length, tables: a.querySelectorAll("table").length };
}"""


def streaming(
    browser: Browser, site: Site, seconds: float, key_every: float, trace: Path | None = None
) -> dict[str, Any]:
    """Send a message from a new chat; while the answer streams, type into the message box every
    `key_every` seconds. The upstream already holds the scripted answer (`seconds` long).
    `trace`: record the stream with Chromium's tracing into this file and summarize its long
    tasks (tests/bench/chatpage_trace.py); tracing itself slows the page a little."""
    errors: list[str] = []
    context = signed_in(browser, site, "reader")
    responses = recorded(context)
    page = new_tab(context, errors)
    page.goto(site.url + "/")
    page.wait_for_selector("#chat[data-ready]")
    page.fill("#message", "Write the long answer.")
    if trace is not None:
        browser.start_tracing(page=page, path=str(trace), categories=CATEGORIES)
    start = float(page.evaluate("performance.now()"))
    page.keyboard.press("Enter")
    page.wait_for_function(f"() => ({STATUS}) === 'streaming'", timeout=30_000)
    round_trips: list[float] = []
    deadline = time.monotonic() + seconds * 2 + 60
    status = "streaming"
    while status == "streaming" and time.monotonic() < deadline:
        if len(round_trips) % 100 == 99:
            page.fill("#message", "")  # a message of a few lines, not an ever-growing box
        t0 = time.perf_counter()
        page.keyboard.press("x")
        round_trips.append((time.perf_counter() - t0) * 1000)
        page.wait_for_timeout(key_every * 1000)
        status = str(page.evaluate(STATUS))
    ended = float(page.evaluate("performance.now()"))
    page.wait_for_timeout(1000)  # the final render, then the observers' last entries
    if trace is not None:
        browser.stop_tracing()
    data = page.evaluate("window.__bench")
    rendered = page.evaluate(RENDERED)
    loaded = loaded_files(responses)
    page.close()
    context.close()
    timeline = [[round((s - start) / 1000, 2), d] for s, d in data["longtasks"] if s >= start]
    tasks = [d for _, d in timeline]
    keys = [k for k in data["keys"] if k[0] >= start]
    events = [
        e for e in data["events"] if e[1] >= start and e[0] in ("keydown", "keypress", "input")
    ]
    return {
        "status": status,
        "streamed_s": round((ended - start) / 1000, 1),
        "longest_task_ms": max(tasks, default=0),
        "long_tasks": len(tasks),
        "tasks_over_50ms": sum(1 for d in tasks if d > 50),
        "long_task_timeline": timeline[:100],  # [seconds after Send, ms]
        "total_blocking_ms": sum(d - 50 for d in tasks if d > 50),
        "keys": len(keys),
        "key_handler_delay_ms": spread([k[1] for k in keys]),
        "key_to_paint_ms": spread([k[2] for k in keys]),
        "key_round_trip_ms": spread(round_trips),
        "slow_key_events": len(events),
        "slowest_key_event_ms": max((e[3] for e in events), default=None),
        "rendered": rendered,
        "loaded": loaded,
        "errors": errors[:10],
        **({"trace": {"file": str(trace), **summarize(trace)}} if trace is not None else {}),
    }
