"""The person bench's figures as tables: each with its goal, or beside a saved baseline."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# (key, label, goal or None, unit); the key's value is read by `figures`.
FIGURES: tuple[tuple[str, str, float | None, str], ...] = (
    ("ttft_added_p50_1", "added time to 1st token, 1 stream, p50", 2.0, "ms"),
    ("ttft_added_p99_1", "added time to 1st token, 1 stream, p99", None, "ms"),
    ("cpu_turn_1", "daphne CPU per 40-token turn, 1 stream", 25.0, "ms"),
    ("cpu_new_1", "  of which the new conversation (POST)", None, "ms"),
    ("cpu_socket_1", "  of which its socket", None, "ms"),
    ("cpu_start_1", "  of which the turn's start", None, "ms"),
    ("cpu_tokens_1", "  of which tokens and end", None, "ms"),
    ("ttft_added_p50_40", "added time to 1st token, 40 streams, p50", 25.0, "ms"),
    ("ttft_added_p99_40", "added time to 1st token, 40 streams, p99", None, "ms"),
    ("delay_added_p99_40", "added token delay p99, 40 streams", None, "ms"),
    ("cpu_turn_40", "daphne CPU per turn, 40 streams", None, "ms"),
    ("sweep_errors", "sweep: streams with an error", 0.0, ""),
    ("sweep_delay_added_p99", "sweep: added token delay p99 (all running)", 100.0, "ms"),
    ("sweep_ttft_added_p50", "sweep: added time to 1st token p50", None, "ms"),
    ("sweep_cpu_turn", "sweep: daphne CPU per stream", None, "ms"),
)


def _get(data: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def figures(backend: dict[str, Any]) -> dict[str, float | None]:
    one, many, sweep = backend.get("one_stream"), backend.get("concurrent"), backend.get("sweep")
    errors = _get(sweep, "product", "errors")
    return {
        "ttft_added_p50_1": _get(one, "ttft_ms", "added", "p50"),
        "ttft_added_p99_1": _get(one, "ttft_ms", "added", "p99"),
        "cpu_turn_1": _get(one, "cpu_ms", "total", "median"),
        "cpu_new_1": _get(one, "cpu_ms", "new_conversation", "median"),
        "cpu_socket_1": _get(one, "cpu_ms", "socket", "median"),
        "cpu_start_1": _get(one, "cpu_ms", "start", "median"),
        "cpu_tokens_1": _get(one, "cpu_ms", "tokens_and_end", "median"),
        "ttft_added_p50_40": _get(many, "ttft_ms", "added", "p50"),
        "ttft_added_p99_40": _get(many, "ttft_ms", "added", "p99"),
        "delay_added_p99_40": _get(many, "token_delay_ms", "added", "p99"),
        "cpu_turn_40": _get(many, "cpu_ms_per_turn"),
        "sweep_errors": None if errors is None else float(sum(errors.values())),
        "sweep_delay_added_p99": _get(sweep, "token_delay_added_ms", "p99"),
        "sweep_ttft_added_p50": _get(sweep, "ttft_added_ms", "p50"),
        "sweep_cpu_turn": _get(sweep, "cpu_ms_per_turn"),
    }


def _fmt(value: float | None, unit: str = "") -> str:
    return "-" if value is None else f"{value:.1f}"


def _met(value: float | None, goal: float | None) -> str:
    if goal is None or value is None:
        return ""
    return "met" if value <= goal else "NOT MET"


def _table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render(results: dict[str, Any]) -> str:
    out = [
        f"A person's turn ({results['mode']} run, {results['started']}), added = product - direct"
    ]
    for name, backend in results["backends"].items():
        out.append(f"\n{name}" + (f" ({backend['people']} people)" if "people" in backend else ""))
        if "skipped" in backend or "error" in backend:
            out.append("  " + str(backend.get("skipped") or backend.get("error")))
            continue
        values = figures(backend)
        rows = [("figure", "value", "goal", "")]
        for key, label, goal, unit in FIGURES:
            goal_text = "" if goal is None else f"<= {goal:g} {unit}".strip()
            rows.append((label, _fmt(values[key], unit), goal_text, _met(values[key], goal)))
        out.append(_table(rows))
        problems = backend.get("daphne_log_problems", []) + backend.get(
            "daphne_log_problems_sweep", []
        )
        if problems:
            out.append("daphne logged: " + "; ".join(problems[:4]))
    return "\n".join(out)


def baseline(results: dict[str, Any]) -> dict[str, Any]:
    """What a later run is compared with: the figures per backend, and what measured them."""
    return {
        "started": results["started"],
        "mode": results["mode"],
        "code": results.get("code"),
        "machine": {k: results["machine"].get(k) for k in ("cpu_count", "cpu_model", "python")},
        "figures": {
            name: figures(backend)
            for name, backend in results["backends"].items()
            if "skipped" not in backend and "error" not in backend
        },
    }


def compare(results: dict[str, Any], saved: dict[str, Any]) -> str:
    """Each figure beside the baseline's: the ratio now / then (above 1: slower)."""
    out = [f"Against the baseline of {saved.get('started')} ({saved.get('mode')} run)"]
    for name, backend in results["backends"].items():
        then = saved.get("figures", {}).get(name)
        if then is None or "skipped" in backend or "error" in backend:
            continue
        now = figures(backend)
        rows = [(f"{name}: figure", "baseline", "now", "ratio")]
        for key, label, _goal, unit in FIGURES:
            a, b = then.get(key), now.get(key)
            ratio = "-" if a is None or b is None or a == 0 else f"x{b / a:.2f}"
            rows.append((label, _fmt(a, unit), _fmt(b, unit), ratio))
        out.append(_table(rows))
    return "\n".join(out)


def markdown(results: dict[str, Any]) -> str:
    """The README's performance table: every figure of this run, both backends side by side."""
    names = [n for n, b in results["backends"].items() if "skipped" not in b and "error" not in b]
    values = {name: figures(results["backends"][name]) for name in names}
    head = "| figure (added: product minus direct) | " + " | ".join(names) + " | goal |"
    lines = [head, "|" + "---|" * (len(names) + 2)]
    for key, label, goal, unit in FIGURES:
        cells = [
            "-" if (v := values[n][key]) is None else f"{v:.1f}{' ' + unit if unit else ''}"
            for n in names
        ]
        goal_text = "" if goal is None else f"≤ {goal:g}{' ' + unit if unit else ''}"
        lines.append(f"| {label.strip()} | " + " | ".join(cells) + f" | {goal_text} |")
    machine = results["machine"]
    lines.append("")
    lines.append(
        f"`make bench`, {results['mode']} run of {results['started'][:10]}: "
        f"{machine.get('cpu_count')} cores ({machine.get('cpu_model')}), daphne pinned to one."
    )
    return "\n".join(lines)
