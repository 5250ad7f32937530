"""The results as a table: each figure beside its baseline and its goal."""

from __future__ import annotations

from typing import Any

Row = tuple[str, str, str, str, str, str]
HEADER: Row = ("figure", "product", "baseline", "added", "goal", "")


def _f(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("ok" if ok else "MISSED")


def _below(value: Any, limit: float) -> bool | None:
    return None if value is None else bool(value < limit)


def table(rows: list[Row], header: Row = HEADER) -> str:
    """Rows under a header, the first column left-aligned, the others right."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for i, row in enumerate([header, *rows]):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _latency_rows(latency: dict[str, Any], goals: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for variant, label in (("coalesce_default", "coalesce on"), ("coalesce_0", "coalesce 0")):
        data = latency.get(variant) or {}
        if "error" in data:
            rows.append((f"latency ({label})", "error", "", "", "", data["error"][:60]))
            continue
        if not data:
            continue
        for key, name in (
            ("ttft_reasoning_ms", "1st reasoning"),
            ("ttft_content_ms", "1st answer"),
        ):
            fig = data[key]
            for q in ("p50", "p95", "p99"):
                goal = {"p50": goals["ttft_added_p50_ms"], "p99": goals["ttft_added_p99_ms"]}.get(q)
                add = fig["added"][q]
                rows.append(
                    (
                        f"{name} token {q} ms ({label}, n={fig['product']['n']})",
                        _f(fig["product"][q], 2),
                        _f(fig["baseline"][q], 2),
                        _f(add, 2),
                        f"< {goal:g}" if goal is not None else "",
                        _verdict(_below(add, goal) if goal is not None else None),
                    )
                )
        started = data.get("turn_started_ms") or {}
        rows.append(
            (
                f"  turn.started p50 / p99 ms ({label})",
                f"{_f(started.get('p50'), 2)} / {_f(started.get('p99'), 2)}",
                "",
                "",
                "",
                "",
            )
        )
        transit = data.get("first_reasoning_transit_ms") or {}
        if transit:
            p, b, a = transit["product"], transit["baseline"], transit["added"]
            rows.append(
                (
                    f"  1st reasoning upstream->reader p50 / p99 ms ({label})",
                    f"{_f(p['p50'], 2)} / {_f(p['p99'], 2)}",
                    f"{_f(b['p50'], 2)} / {_f(b['p99'], 2)}",
                    f"{_f(a['p50'], 2)} / {_f(a['p99'], 2)}",
                    "",
                    "",
                )
            )
        lost = data.get("tokens_lost")
        if lost:
            rows.append((f"tokens lost ({label})", _f(lost), "", "", "0", "MISSED"))
    return rows


def _throughput_rows(throughput: dict[str, Any], goals: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for variant, label in (("coalesce_default", "coalesce on"), ("coalesce_0", "coalesce 0")):
        data = throughput.get(variant) or {}
        if "error" in data:
            rows.append((f"throughput ({label})", "error", "", "", "", data["error"][:60]))
            continue
        if not data:
            continue
        ratio = data.get("ratio")
        rows.append(
            (
                f"1 stream tokens/s ({label})",
                _f(data.get("product_tokens_per_s")),
                _f(data.get("baseline_tokens_per_s")),
                f"x{ratio:.2f}" if ratio is not None else "-",
                f">= x{goals['throughput_ratio']}",
                _verdict(None if ratio is None else ratio >= goals["throughput_ratio"]),
            )
        )
    return rows


def _pair(httpx: Any, raw: Any, digits: int = 1) -> str:
    return f"{_f(httpx, digits)} / {_f(raw, digits)}"


def _q(data: dict[str, Any] | None, key: str, q: str) -> Any:
    if not data or "error" in data:
        return None
    return (data.get(key) or {}).get(q)


def _cpu(data: dict[str, Any] | None, name: str) -> Any:
    if not data or "error" in data:
        return None
    return data.get("cpu_steady", {}).get(name, {}).get("cpu_cores")


def _sweep_rows(
    sweep: list[dict[str, Any]], direct: dict[str, Any], goals: dict[str, Any]
) -> list[Row]:
    """Product beside both direct readers ("httpx / raw socket")."""
    rows: list[Row] = []
    for level in sweep:
        n = level.get("streams")
        if "product" not in level:
            why = level.get("skipped") or level.get("error", "")
            rows.append(
                (f"{n} streams", "skipped" if "skipped" in level else "error", "", "", "", why[:70])
            )
            continue
        p = level["product"]
        d = direct.get(str(n), {})
        h, r = d.get("httpx"), d.get("raw")
        best = [
            v
            for v in (_q(h, "steady_delay_ms", "p99"), _q(r, "steady_delay_ms", "p99"))
            if v is not None
        ]
        p99 = _q(p, "steady_delay_ms", "p99")
        added = None if p99 is None or not best else round(p99 - min(best), 1)
        all_running = p["streaming_in_steady_window"] == n
        clean = (
            p["tokens_lost"] == 0 and p.get("tokens_undelivered", 0) == 0 and p["completed"] == n
        )
        ok = None
        if added is not None and n is not None and n <= goals["sweep_streams"]:
            ok = added < goals["sweep_added_p99_ms"] and all_running and clean
        rows.append(
            (
                f"{n} streams: steady token delay p99 ms",
                _f(p99),
                _pair(_q(h, "steady_delay_ms", "p99"), _q(r, "steady_delay_ms", "p99")),
                _f(added),
                f"< {goals['sweep_added_p99_ms']:g}",
                _verdict(ok),
            )
        )
        rows.append(
            (
                f"{n} streams: steady token delay p50 ms",
                _f(_q(p, "steady_delay_ms", "p50")),
                _pair(_q(h, "steady_delay_ms", "p50"), _q(r, "steady_delay_ms", "p50")),
                "",
                "",
                "",
            )
        )
        rows.append(
            (
                f"{n} streams: all tokens (start included) delay p99 ms",
                _f(_q(p, "delay_ms", "p99")),
                _pair(_q(h, "delay_ms", "p99"), _q(r, "delay_ms", "p99")),
                "",
                "",
                "",
            )
        )

        def lost(data: dict[str, Any] | None) -> str:
            if not data or "error" in data:
                return "-"
            late = data.get("tokens_undelivered", 0)
            return f"{data['tokens_lost']:,}/{late:,}/{data['completed']:,}"

        rows.append(
            (
                f"{n} streams: tokens lost/undelivered, streams done",
                lost(p),
                f"{lost(h)} / {lost(r)}",
                "",
                "0 lost",
                _verdict(clean),
            )
        )

        def running(data: dict[str, Any] | None, upstream: bool = False) -> str:
            if not data or "error" in data:
                return "-"
            text = f"{data['streaming_in_steady_window']:,} after {data['start_phase_s']:.1f}s"
            active = data.get("upstream_active_in_steady_window")
            return f"{text} (upstream {active:,})" if upstream and active is not None else text

        rows.append(
            (
                f"{n} streams: streaming together / start phase",
                running(p, upstream=True),
                f"{running(h)} / {running(r)}",
                "",
                f"{n}",
                _verdict(all_running),
            )
        )
        rows.append(
            (
                f"{n} streams: CPU cores daphne / upstream / client",
                f"{_f(_cpu(p, 'daphne'), 2)} / {_f(_cpu(p, 'upstream'), 2)} / "
                f"{_f(_cpu(p, 'bench_client'), 2)}",
                f"- / {_f(_cpu(h, 'upstream'), 2)} / {_f(_cpu(h, 'bench_client'), 2)}"
                f" ; raw - / {_f(_cpu(r, 'upstream'), 2)} / {_f(_cpu(r, 'bench_client'), 2)}",
                "",
                "",
                "",
            )
        )
        frames, received = p.get("frames"), p.get("tokens_received")
        rows.append(
            (
                f"{n} streams: tokens per websocket frame (wider when busy)",
                _f(received / frames, 2) if frames and received else "-",
                "",
                "",
                "",
                "",
            )
        )
        whole = p.get("usage_whole", {}).get("daphne", {})
        rows.append(
            (
                f"{n} streams: daphne RSS MiB idle / connected / peak",
                f"{_f(p.get('rss_idle_mib'))} / {_f(p.get('rss_connected_mib'))} / "
                f"{_f(whole.get('rss_peak_mib'))}",
                "",
                "",
                "",
                "",
            )
        )
        rows.append(
            (
                f"{n} streams: connect s / turn.started p99 ms",
                f"{_f(p.get('connect_seconds'))} / {_f(_q(p, 'turn_started_ms', 'p99'))}",
                "",
                "",
                "",
                "",
            )
        )
    return rows


def _db_rows(db: dict[str, Any]) -> list[Row]:
    if not db:
        return []
    if "error" in db:
        return [("db writes", "error", "", "", "", db["error"][:60])]
    rows: list[Row] = []
    goal = db.get("goal", {})
    for label in ("short", "long"):
        fig = db.get(label) or {}
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(fig.get("by_kind", {}).items()))
        pg = fig.get("pg_stat_turn_rows")
        rows.append(
            (
                f"db rows written, {label} turn ({fig.get('tokens'):,} tokens, "
                f"{fig.get('turn_seconds')} s)",
                _f(fig.get("total")),
                "",
                f"{fig.get('checkpoints')} ckpt",
                f"<= {goal.get('long_allowed')}" if label == "long" else "",
                _verdict(goal.get("met")) if label == "long" else "",
            )
        )
        rows.append(
            (
                f"  by kind: {kinds}" + (f"; pg_stat turn rows {pg}" if pg is not None else ""),
                "",
                "",
                "",
                "",
                "",
            )
        )
    return rows


def _memory_rows(mem: dict[str, Any]) -> list[Row]:
    if not mem:
        return []
    if "error" in mem:
        return [("memory per idle socket", "error", "", "", "", mem["error"][:60])]
    return [
        (
            f"memory per idle socket KiB ({mem['opened']} sockets)",
            _f(mem["kib_per_socket"]),
            "",
            "",
            "",
            "",
        ),
        (
            "  daphne RSS MiB before / with sockets / closed",
            f"{_f(mem['rss_before_mib'])} / {_f(mem['rss_with_sockets_mib'])} / "
            f"{_f(mem['rss_after_close_mib'])}",
            "",
            "",
            "",
            "",
        ),
    ]


def render(results: dict[str, Any]) -> str:
    machine = results["machine"]
    goals = results["goals"]
    out = [
        f"Relay benchmark ({results['mode']}, {results.get('wall_seconds')} s): "
        f"{machine['cpu_count']} cores {machine['cpu_model']}, Python {machine['python']}.",
        "daphne, the bench upstream and the bench client share those cores; "
        "'added' = product minus direct baseline",
        "(sweep: baseline 'httpx / raw socket', added over the faster of the two; "
        "'steady' = tokens written while all streams ran).",
    ]
    for name, data in results["backends"].items():
        out.append("")
        if "skipped" in data:
            out.append(f"[{name}] skipped: {data['skipped']}")
            continue
        settings = data.get("settings", {})
        out.append(
            f"[{name}] {settings.get('database')}, events {settings.get('events')}, turn log "
            f"{settings.get('turn_log')}, CHAT_COALESCE_SECONDS={settings.get('CHAT_COALESCE_SECONDS')}"
            f" (busy: {settings.get('CHAT_COALESCE_MAX_SECONDS')})"
            f", CHAT_CHECKPOINT_SECONDS={settings.get('CHAT_CHECKPOINT_SECONDS')}"
        )
        if "error" in data and "latency" not in data:
            out.append(f"  error: {data['error']}")
            continue
        rows = _latency_rows(data.get("latency", {}), goals)
        rows += _throughput_rows(data.get("throughput", {}), goals)
        rows += _sweep_rows(data.get("sweep", []), results.get("direct_sweep") or {}, goals)
        rows += _db_rows(data.get("db_writes", {}))
        rows += _memory_rows(data.get("idle_memory", {}))
        out.append(table(rows))
        logged = [("main", data.get("daphne_log_problems"))]
        logged += [("coalesce 0", data.get("daphne_log_problems_coalesce0"))]
        logged += [
            (
                f"sweep {level.get('streams')}",
                (level.get("product") or {}).get("daphne_log_problems"),
            )
            for level in data.get("sweep", [])
        ]
        if any(lines for _, lines in logged):
            out.append(
                "  daphne logged (count x line, most frequent first; logs in var/bench-logs/):"
            )
            for name, lines in logged:
                for line in (lines or [])[:4]:
                    out.append(f"    [{name}] {line}")
    return "\n".join(out)
