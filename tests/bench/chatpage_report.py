"""The chat page bench's results as tables: each figure beside its baseline and goal."""

from __future__ import annotations

from typing import Any

from tests.bench.report import _f, table

Row = tuple[str, str, str, str, str, str]
HEADER: Row = ("figure", "product", "baseline", "ratio", "goal", "")


def _table(rows: list[Row]) -> str:
    return table(rows, HEADER)


def _verdict(value: Any, limit: float) -> str:
    return "" if value is None else ("ok" if value < limit else "MISSED")


def _ratio(a: Any, b: Any) -> str:
    return f"x{a / b:.2f}" if a and b else "-"


def _row(name: str, value: Any, base: Any = None, goal: float | None = None, note: str = "") -> Row:
    ratio = _ratio(value, base) if base is not None else ""
    return (
        name,
        _f(value),
        _f(base),
        ratio,
        f"< {goal:.0f}" if goal else "",
        _verdict(value, goal) if goal else note,
    )


def _opening_rows(o: dict[str, Any], goal: float) -> list[Row]:
    long, empty, short = o["long"], o["empty"], o["short"]
    render = (long["painted_ms"] or 0) - (long["api_ms"] or 0)
    return [
        _row(
            f"open {long['turns_shown']} turns: last turn painted",
            long["painted_ms"],
            empty["painted_ms"],
            goal,
        ),
        _row("  against one exchange", long["painted_ms"], short["painted_ms"]),
        _row("  every answer highlighted", long["settled_ms"], short["settled_ms"]),
        _row("  its JSON received", long["api_ms"], empty["api_ms"]),
        _row(
            "  JSON received to painted",
            round(render, 1),
            (short["painted_ms"] or 0) - (short["api_ms"] or 0),
        ),
        _row("  longest task", long["longest_task_ms"], empty["longest_task_ms"]),
        _row("  page script ready / DOMContentLoaded", long["ready_ms"], empty["ready_ms"]),
        _row(
            "  first visit, new tab, cold cache",
            long["first_visit"]["painted_ms"],
            empty["first_visit"]["painted_ms"],
            goal,
        ),
    ]


def _sidebar_rows(r: dict[str, Any], goal: float) -> list[Row]:
    s, http, proc = r["sidebar"], r["server_http"], r["server_in_process"]
    many, one = "home, 1,000 conversations", "home, 1 conversation"
    h, b, floor = s["hoarder"], s["single"], s["sign_in"]
    rows: list[Row] = [
        _row(
            "sidebar of 1,000: GET / over HTTP",
            http[many]["median_ms"],
            http[one]["median_ms"],
            goal,
        ),
        _row("  the view in process", proc[many]["median_ms"], proc[one]["median_ms"]),
        _row("  SQL queries", proc[many]["queries"], proc[one]["queries"]),
        _row("  DOMContentLoaded", h["dcl_ms"], b["dcl_ms"], goal),
        _row("  first contentful paint", h["fcp_ms"], b["fcp_ms"], goal),
        _text(
            "  sign-in page (no script): DCL / FCP",
            f"{_f(floor['dcl_ms'])} / {_f(floor['fcp_ms'])}",
        ),
        ("  links in the sidebar", _f(h["links_shown"]), _f(b["links_shown"]), "", "", "of 1,000"),
    ]
    for name, base in (
        ("/c/ of one of 1,000", "/c/ of 0 turns"),
        ("/c/ of 200 turns", "/c/ of 0 turns"),
        ("API of 200 turns", "API of 0 turns"),
    ):
        value, against = http[name]["median_ms"], http[base]["median_ms"]
        rows.append(
            (
                f"  {name} over HTTP (queries)",
                f"{_f(value)} ({proc[name]['queries']})",
                f"{_f(against)} ({proc[base]['queries']})",
                _ratio(value, against),
                "",
                "",
            )
        )
    return rows


def _bytes_rows(r: dict[str, Any], goal: float) -> list[Row]:
    rows: list[Row] = []
    pages = [("plain answer", r["bytes"]["plain"]), ("code + math", r["bytes"]["code+math"])]
    if "loaded" in r.get("streaming", {}):
        pages.append(("new chat after Send", r["streaming"]["loaded"]))
    base = pages[0][1]["gzip6_total"]
    for name, page in pages:
        kb = page["gzip6_total"] / 1000
        rows.append(
            (
                f"JS+CSS gzip -6, {name} (KB)",
                f"{kb:.1f}",
                f"{base / 1000:.1f}",
                f"+{kb - base / 1000:.1f}",
                f"< {goal:.0f}",
                _verdict(kb, goal),
            )
        )
    return rows


def _text(name: str, value: str, base: str = "", goal: str = "", verdict: str = "") -> Row:
    return (name, value, base, "", goal, verdict)


def _three(d: dict[str, Any]) -> str:
    return "/".join(_f(d[q]) for q in ("p50", "p95", "max"))


def _streaming_rows(s: dict[str, Any], goal: float) -> list[Row]:
    over, paint = s["tasks_over_50ms"], s["key_to_paint_ms"]
    head = f"stream {s['chars']:,} chars at {s['rate']} tok/s: longest task"
    return [
        _text(
            head, _f(s["longest_task_ms"]), "", f"<= {goal:.0f}", "ok" if over == 0 else "MISSED"
        ),
        _text("  tasks over 50 ms (total blocking ms)", f"{over} ({s['total_blocking_ms']})"),
        _text(
            f"  key: handler delay p50/p95/max ({s['keys']} keys)",
            _three(s["key_handler_delay_ms"]),
        ),
        _text(
            "  key: until painted p50/p95/max",
            _three(paint),
            "",
            "< 100",
            _verdict(paint["max"], 100),
        ),
        _text("  key: CDP round trip p50/p95/max", _three(s["key_round_trip_ms"])),
        _text(
            "  streamed for (s)", _f(s["streamed_s"]), _f(s["tokens"] / s["rate"]), "", s["status"]
        ),
    ]


def _files(r: dict[str, Any]) -> list[str]:
    pages = {"plain": r["bytes"]["plain"], "code+math": r["bytes"]["code+math"]}
    if "loaded" in r.get("streaming", {}):
        pages["after Send"] = r["streaming"]["loaded"]
    names = sorted({n for p in pages.values() for n in p["files"]})
    width = max(len(n) for n in names)
    head = "file".ljust(width) + "".join(f"{p:>12}" for p in pages) + "   bytes"
    lines = [head, "-" * len(head)]
    for n in names:
        cells = [
            f"{p['files'][n]['gzip6'] / 1000:12.1f}" if n in p["files"] else f"{'':>12}"
            for p in pages.values()
        ]
        size = next(p["files"][n]["bytes"] for p in pages.values() if n in p["files"])
        lines.append(n.ljust(width) + "".join(cells) + f"   {size:,}")
    lines.append(
        "total (KB gzip -6)".ljust(width)
        + "".join(f"{p['gzip6_total'] / 1000:12.1f}" for p in pages.values())
    )
    return lines


def _trace(t: dict[str, Any] | None) -> list[str]:
    """The stream's long tasks as the trace saw them: wall and thread time, what ran inside."""
    if not t:
        return []
    out = [
        "",
        f"Trace of the stream ({t['top_level_tasks']} main-thread tasks, p99 {t['p99_task_ms']} ms;"
        f" {t['file']}): tasks over {t['tasks_over_ms']:.0f} ms",
    ]
    for task in t["tasks"]:
        inside = ", ".join(
            f"{name} {v['wall_ms']}/{v['thread_ms']} ms x{v['n']}"
            for name, v in list(task["inside"].items())[:4]
        )
        out.append(
            f"  at {task['at_s']} s: {task['wall_ms']} ms wall, {task['thread_ms']} ms on the thread;"
            f" inside (wall/thread): {inside}"
        )
    return out


def render(r: dict[str, Any]) -> str:
    m, goals = r["machine"], r["goals"]
    rows: list[Row] = []
    for key, rows_of in (
        ("opening", lambda: _opening_rows(r["opening"], goals["open_ms"])),
        ("sidebar", lambda: _sidebar_rows(r, goals["sidebar_ms"])),
        ("bytes", lambda: _bytes_rows(r, goals["page_kb_gzip"])),
        ("streaming", lambda: _streaming_rows(r["streaming"], goals["long_task_ms"])),
    ):
        if key not in r:  # not measured in this run (--only-stream)
            continue
        try:
            rows += rows_of()
        except (KeyError, TypeError):  # that measurement failed: its reason is in the JSON
            rows.append(
                (f"{key}: failed", "-", "", "", "", str(r.get(key, {}).get("failed", ""))[:80])
            )
    out = [
        f"Chat page benchmark ({r['mode']}, {r.get('wall_seconds')} s, median of {r['runs']} runs): "
        f"{m['cpu_count']} cores {m['cpu_model']}; Chromium headless, daphne DEBUG=0 on SQLite.",
        "Times in ms from navigation start unless said; the baseline is measured in the same run."
        f" Load average at start {m['load_average_at_start'][0]}, at end {r.get('load_average_at_end', ['-'])[0]}.",
        "",
        _table(rows),
        "",
    ]
    if "files" in r.get("bytes", {}).get("plain", {}):
        out += _files(r)
    out += _trace(r.get("streaming", {}).get("trace"))
    problems = [
        f"{k}: {e}"
        for k in ("opening", "sidebar", "bytes", "streaming")
        for e in r.get(k, {}).get("errors", [])
    ]
    problems += r.get("server_problems", [])
    if problems:
        out += ["", "Problems seen:", *(f"  {p}" for p in problems)]
    return "\n".join(out)
