"""What the renderer's main thread did in its long tasks, from a Chromium trace.

`chatpage --trace` records the stream with Chromium's tracing (the categories DevTools'
Performance panel uses) and this module reads the file: for each main-thread task over
50 ms, its wall and thread-clock durations (a task whose thread time is far below its wall
time was waiting for a core, not working) and the events directly inside it, summed by name.

    python -m tests.bench.chatpage_trace var/bench-logs/chatpage-stream.trace.json
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

CATEGORIES = [
    "devtools.timeline",
    "disabled-by-default-devtools.timeline",
    "v8.execute",
    "v8",
    "blink.user_timing",
]
LONG_MS = 50.0


def _main_thread(events: list[dict[str, Any]]) -> tuple[int, int] | None:
    """(pid, tid) of the page's renderer main thread: the CrRendererMain with most tasks."""
    mains = {
        (e["pid"], e["tid"])
        for e in events
        if e.get("ph") == "M"
        and e.get("name") == "thread_name"
        and e.get("args", {}).get("name") == "CrRendererMain"
    }
    counts: dict[tuple[int, int], int] = defaultdict(int)
    for e in events:
        key = (e.get("pid"), e.get("tid"))
        if key in mains and e.get("ph") == "X":
            counts[key] += 1  # type: ignore[index]
    return max(counts, key=counts.__getitem__) if counts else None


def _longest(children: dict[str, list[float]], n: int = 8) -> list[tuple[str, list[float]]]:
    return sorted(children.items(), key=lambda kv: -kv[1][0])[:n]


def summarize(path: Path, long_ms: float = LONG_MS) -> dict[str, Any]:
    raw = json.loads(path.read_text())
    events: list[dict[str, Any]] = raw["traceEvents"] if isinstance(raw, dict) else raw
    main = _main_thread(events)
    if main is None:
        return {"tasks": [], "error": "no renderer main thread in the trace"}
    spans = sorted(
        (
            e
            for e in events
            if (e.get("pid"), e.get("tid")) == main and e.get("ph") == "X" and "dur" in e
        ),
        key=lambda e: (e["ts"], -e["dur"]),
    )
    first_ts = spans[0]["ts"] if spans else 0
    tasks: list[dict[str, Any]] = []
    all_task_ms: list[float] = []
    i = 0
    while i < len(spans):
        top = spans[i]
        end = top["ts"] + top["dur"]
        j = i + 1
        children: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
        child_end = -1
        while j < len(spans) and spans[j]["ts"] < end:
            e = spans[j]
            if e["ts"] >= child_end:  # a direct child (not inside the previous one)
                item = children[e["name"]]
                item[0] += e["dur"] / 1000
                item[1] += e.get("tdur", 0) / 1000
                item[2] += 1
                child_end = e["ts"] + e["dur"]
            j += 1
        all_task_ms.append(top["dur"] / 1000)
        if top["dur"] / 1000 > long_ms:
            tasks.append(
                {
                    "at_s": round((top["ts"] - first_ts) / 1e6, 2),
                    "name": top["name"],
                    "wall_ms": round(top["dur"] / 1000, 1),
                    "thread_ms": round(top.get("tdur", 0) / 1000, 1),
                    "inside": {
                        name: {"wall_ms": round(w, 1), "thread_ms": round(t, 1), "n": n}
                        for name, (w, t, n) in _longest(children)
                    },
                }
            )
        i = j
    ordered = sorted(all_task_ms)
    return {
        "tasks_over_ms": long_ms,
        "top_level_tasks": len(all_task_ms),
        "p99_task_ms": round(ordered[int(0.99 * (len(ordered) - 1))], 1) if ordered else None,
        "tasks": tasks,
    }


def main(argv: list[str]) -> int:
    print(json.dumps(summarize(Path(argv[0])), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
