"""The chat page benchmark: what a person waits for in Chromium, on a real daphne.

    python -m tests.bench.chatpage [--quick] [--runs N] [--out var/bench-chatpage.json]

Production settings (DEBUG=0, static files collected, served by WhiteNoise) on a
scratch SQLite database seeded through the ORM; the provider is the scripted fake
upstream in this process. Figures, each beside a baseline from the same run:

1. opening a conversation of 200 turns: navigation start to its last turn painted
   (median), against an empty and a one-exchange conversation;
2. the sidebar of a user with 1,000 conversations: server time and queries of the
   page, DOMContentLoaded and first paint, against a user with one;
3. the JavaScript and CSS the page loads (gzip -6 of each file): a plain answer,
   one with code and math, and a new chat after Send;
4. a 100,000-character answer streamed at 200 tokens/s: long main-thread tasks and
   how long a keystroke in the message box takes to show.

`--quick` (3 runs, a 12,000-character stream) takes under a minute.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bench.chatpage_report import render
from tests.bench.relay import machine_info
from tests.bench.stack import ROOT, backend_env, migrate, scratch_dir

log = logging.getLogger("bench")

TOKENS_PER_SECOND = 200
GOALS = {"open_ms": 1000, "sidebar_ms": 200, "page_kb_gzip": 150, "long_task_ms": 50}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.chatpage", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--quick", action="store_true", help="3 runs and a short stream: under a minute"
    )
    parser.add_argument(
        "--runs", type=int, default=None, help="page opens per figure (default 5, quick 3)"
    )
    parser.add_argument("--out", default="var/bench-chatpage.json", help="the JSON results file")
    parser.add_argument(
        "--only-stream", action="store_true", help="measure the stream alone (skip 1 to 3)"
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="record the stream with Chromium's tracing (var/bench-logs/chatpage-stream.trace.json)"
        " and break its long tasks down",
    )
    return parser.parse_args(argv)


def prepare(work: Path) -> dict[str, str]:
    """The server's environment; its database migrated and its static files collected."""
    env = backend_env("sqlite", work)
    env.update(
        DJANGO_SETTINGS_MODULE="tests.bench.chatpage_settings",
        BENCH_STATIC_ROOT=str(work / "static"),
    )
    migrate(env)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=180,
    )
    # This process reads and writes the same database through the ORM.
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()
    return env


def attempt(measure: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """One measurement; a failure is reported in its place and the others still run."""
    try:
        return measure(*args)
    except Exception as exc:
        log.exception("%s failed", measure.__name__)
        return {"failed": f"{type(exc).__name__}: {exc}"[:500]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    from providers.fake_upstream import FakeUpstream, chat_stream
    from tests.bench import chatpage_browser as browser_side
    from tests.bench import chatpage_server as server_side
    from tests.bench.chatpage_data import API_KEY, long_answer, reasoning, seed, tokens
    from tests.bench.stack import Daphne

    runs = args.runs or (3 if args.quick else 5)
    stream_chars = 12_000 if args.quick else 100_000
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if args.quick else "full",
        "machine": machine_info(),
        "goals": GOALS,
        "runs": runs,
    }
    logs = ROOT / "var" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    upstream = FakeUpstream(api_key=API_KEY)
    upstream.start()
    daphne = None
    try:
        with scratch_dir() as work:
            t0 = time.monotonic()
            env = prepare(work)
            seeded = seed(upstream.base_url, n_turn_pairs=100, n_sidebar=1000)
            results["seeded"] = seeded.counts
            log.info("setup done in %.1fs; server side, in process", time.monotonic() - t0)
            cases = server_side.cases(seeded.pages)
            results["server_in_process"] = server_side.in_process(cases, runs=runs * 4)
            daphne = Daphne(env, logs / "chatpage-daphne.log")
            log.info("over HTTP")
            results["server_http"] = server_side.over_http(
                daphne.url, seeded.cookies, cases, runs * 4
            )
            site = browser_side.Site(daphne.url, seeded.cookies, seeded.pages)
            answer_tokens = tokens(long_answer(stream_chars))
            upstream.enqueue(
                chat_stream(tokens(reasoning(0)), answer_tokens, delay=1 / TOKENS_PER_SECOND)
            )
            seconds = len(answer_tokens) / TOKENS_PER_SECOND
            with browser_side.chromium() as browser:
                if not args.only_stream:
                    log.info("1. opening conversations (%d runs each)", runs)
                    results["opening"] = attempt(
                        browser_side.opening, browser, site, runs, seeded.counts["turns"]
                    )
                    log.info("2. the sidebar")
                    results["sidebar"] = attempt(browser_side.sidebar, browser, site, runs)
                    log.info("3. bytes the page loads")
                    results["bytes"] = attempt(browser_side.page_bytes, browser, site)
                log.info(
                    "4. streaming %d characters at %d tokens/s (~%.0f s)",
                    stream_chars,
                    TOKENS_PER_SECOND,
                    seconds,
                )
                trace = logs / "chatpage-stream.trace.json" if args.trace else None
                results["streaming"] = attempt(
                    browser_side.streaming, browser, site, seconds, 0.2, trace
                )
                results["streaming"].update(
                    chars=stream_chars, tokens=len(answer_tokens), rate=TOKENS_PER_SECOND
                )
            results["server_problems"] = daphne.problems()
    finally:
        if daphne is not None:
            daphne.stop()
        upstream.stop()
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s bench %(message)s", datefmt="%H:%M:%S"
    )
    log.setLevel(logging.INFO)
    out = Path(args.out)
    if not out.is_absolute():
        out = ROOT / out
    started = time.monotonic()
    results = run(args)
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    # Other work on the machine shows here (and in every figure): the cores are shared.
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(render(results))
    print(f"\nResults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
