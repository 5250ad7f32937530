"""The trace review at scale: the list, its filters, sorts and search, page 500, the export.

    python -m tests.bench.review [--turns 100000] [--runs 20] [--quick] [--reseed]
                                 [--database URL] [--out var/bench-review.json]

Seeds a PostgreSQL database of its own (default `rc_benchdata`, `rc_benchdata_quick`
with `--quick`; dropped and created by the bench) with `--turns` assistant turns (review_seed.py) once: later runs reuse
it while it holds that many turns (`--reseed` rebuilds it). Every request goes
through the real views with Django's test client, signed in as the superuser (all
turns) and as a team's reviewer (a tenth of a percent of the people, 5 % of the turns);
each is sent once cold, then `--runs` times (once more only if the cold one took
over 2 s: enough to show how far off it is). Baselines in the same run: `GET
/healthz` (one `SELECT 1`) through the same client, and a bare `SELECT 1`.

The export runs in a child process per size (fresh RSS): `/review/export.jsonl` for
1,000 and 10,000 turns, the response's iterator consumed; time and RSS growth on one
pass, tracemalloc's peak on a second.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/rc_benchdata"
GOAL_MS = 200.0
SLOW_MS = 2000.0  # a request this slow when cold is timed once more, not `--runs` times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.review")
    parser.add_argument("--turns", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--quick", action="store_true", help="5,000 turns, 5 runs")
    parser.add_argument("--reseed", action="store_true")
    parser.add_argument("--database", default=os.environ.get("BENCH_REVIEW_DATABASE", DEFAULT_DB))
    parser.add_argument("--out", default="var/bench-review.json")
    parser.add_argument("--export-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.turns, args.runs = min(args.turns, 5000), 5
        if args.database == DEFAULT_DB:  # leave the full run's data where it is
            args.database += "_quick"
    os.environ.update(
        DATABASE_URL=args.database, DEMO_PROVIDER="0", DJANGO_SETTINGS_MODULE="chatsite.settings"
    )
    if args.export_child:
        _setup()
        print(json.dumps(_export_once(args.export_child)))
        return
    from tests.bench import review_seed

    reseed = args.reseed or _seeded(args.database) != args.turns
    if reseed:
        print(f"seeding {args.turns:,} turns into {args.database} ...", flush=True)
        review_seed.fresh_database(args.database)
    _setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    seed_path = "var/bench-review-seed.json"
    if reseed:
        seed_times = review_seed.seed(args.turns, log=lambda m: print(m, flush=True))
        os.makedirs("var", exist_ok=True)
        with open(seed_path, "w") as f:
            json.dump(seed_times, f)
    results: dict[str, Any] = {"turns": args.turns, "runs": args.runs, "load": os.getloadavg()}
    if os.path.exists(seed_path):
        with open(seed_path) as f:
            results["seed"] = json.load(f)
    results["data"] = _data_sizes()
    print(_describe(results))
    results["baseline"] = _baselines(args.runs)
    print(
        f"baseline: GET /healthz p50 {results['baseline']['healthz']['p50']:.2f} ms, "
        f"SELECT 1 p50 {results['baseline']['select1']['p50']:.3f} ms"
    )
    results["list"] = _lists(args.runs, results["baseline"]["healthz"]["p50"])
    results["chinese"] = _chinese(args.runs)
    sizes = (200, 1000) if args.quick else (1000, 10_000)
    results["export"] = [_export_child(args, n) for n in sizes]
    for e in results["export"]:
        print(
            f"export {e['turns']:>6,} turns: {e['seconds']:.1f} s, {e['mb']:.0f} MB, "
            f"tracemalloc peak {e['tracemalloc_peak_mb']:.1f} MB, "
            f"RSS growth {e['rss_growth_mb']:.1f} MB"
        )
    results["load_after"] = os.getloadavg()
    with open(args.out, "w") as f:
        json.dump(results, f, indent=1, default=str)
    print(f"load average (1/5/15 min) before {results['load']}, after {results['load_after']}")
    print(f"everything in {args.out}")


def _setup() -> None:
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log: it would grow with every query measured
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]


def _seeded(url: str) -> int:
    """Assistant turns in the bench's database (0: none, or no database yet)."""
    import psycopg

    try:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM conversations_turn WHERE role = 'assistant'"
            ).fetchone()
    except psycopg.Error:
        return 0
    return int(row[0]) if row else 0


def _data_sizes() -> dict[str, Any]:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(
            "SELECT count(*), avg(octet_length(reasoning_content)),"
            " avg(octet_length(content)), avg(length(reasoning_content)),"
            " avg(length(content)) FROM conversations_turn WHERE role = 'assistant'"
        )
        n, rb, ab, rc, ac = cur.fetchone()
        sizes = {}
        for name in ("conversations_turn", "turn_search_words", "turn_search_cjk"):
            cur.execute("SELECT pg_total_relation_size(to_regclass(%s))", [name])
            sizes[name] = (cur.fetchone()[0] or 0) / 2**20
    return {
        "assistant_turns": n,
        "reasoning_bytes_avg": float(rb),
        "answer_bytes_avg": float(ab),
        "reasoning_chars_avg": float(rc),
        "answer_chars_avg": float(ac),
        "sizes_mb": sizes,
    }


def _describe(r: dict[str, Any]) -> str:
    d = r["data"]
    out = [
        f"{d['assistant_turns']:,} assistant turns: reasoning {d['reasoning_bytes_avg'] / 1024:.1f}"
        f" KB ({d['reasoning_chars_avg']:,.0f} chars) and answer "
        f"{d['answer_bytes_avg'] / 1024:.1f} KB on average",
        "sizes (MB, with TOAST for the table): "
        + ", ".join(f"{k} {v:,.0f}" for k, v in d["sizes_mb"].items()),
    ]
    if "seed" in r:
        out.append("seed (s): " + ", ".join(f"{k} {v:.0f}" for k, v in r["seed"].items()))
    return "\n".join(out)


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * len(ordered) + 0.5) - 1)]
    return {"p50": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


class _Sql:
    """Queries and their time, through Django's execute wrapper."""

    def __init__(self) -> None:
        self.count, self.seconds = 0, 0.0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1


def _timed_get(client: Any, path: str, params: dict[str, str], runs: int) -> dict[str, Any]:
    from django.db import connection

    walls, dbs, queries = [], [], 0
    cold = 0.0
    i = 0
    while i <= runs:
        sql = _Sql()
        with connection.execute_wrapper(sql):
            started = time.perf_counter()
            response = client.get(path, params)
            wall = (time.perf_counter() - started) * 1000
        assert response.status_code == 200, (path, params, response.status_code)
        i += 1
        if i == 1:
            cold = wall
            if wall > SLOW_MS:  # one more sample is enough to say how far off it is
                runs = 1
            continue
        walls.append(wall)
        dbs.append(sql.seconds * 1000)
        queries = sql.count
    return {
        **_stats(walls),
        "cold": cold,
        "db_p50": statistics.median(dbs),
        "queries": queries,
        "samples": len(walls),
    }


def _baselines(runs: int) -> dict[str, Any]:
    from django.db import connection
    from django.test import Client

    samples = []
    with connection.cursor() as cur:
        for _ in range(runs * 10):
            started = time.perf_counter()
            cur.execute("SELECT 1")
            cur.fetchone()
            samples.append((time.perf_counter() - started) * 1000)
    return {"select1": _stats(samples), "healthz": _timed_get(Client(), "/healthz", {}, runs)}


def _people() -> list[tuple[str, Any]]:
    from django.contrib.auth import get_user_model

    users = get_user_model().objects
    return [("superuser", users.get(username="root")), ("reviewer", users.get(username="u000"))]


def _cases() -> list[tuple[str, dict[str, str]]]:
    from tests.bench.review_text import RARE_EN, RARE_ZH

    cases: list[tuple[str, dict[str, str]]] = [
        ("unfiltered", {}),
        ("model", {"model": "deepseek/deepseek-v4-pro"}),
        ("provider", {"provider": "ark"}),
        ("user", {"user": "u005"}),
        ("team", {"team": "team-00"}),
        ("status=failed", {"status": "failed"}),
        ("rating=good", {"rating": "good"}),
        ("rating=none", {"rating": "none"}),
        ("tag", {"tag": "hallucination"}),
        ("since/until (a week)", {"since": "2026-06-01", "until": "2026-06-07"}),
        ("signal=looping", {"signal": "looping"}),
        ("signal=empty_answer", {"signal": "empty_answer"}),
        ("reasoning tokens 5000-5200", {"min_reasoning": "5000", "max_reasoning": "5200"}),
        ("thinking >= 100 s", {"min_thinking": "100"}),
        ("q= common English", {"q": "gradient"}),
        ("q= two English words", {"q": "gradient lemma"}),
        ("q= rare English", {"q": RARE_EN}),
        ("q= common Chinese (2 chars)", {"q": "推理"}),
        ("q= Chinese (4 chars)", {"q": "机器学习"}),
        ("q= rare Chinese", {"q": RARE_ZH}),
        ("q= Chinese + English", {"q": "推理 gradient"}),
        ("q= rare Chinese + team", {"q": RARE_ZH, "team": "team-03"}),
        ("model + status + rating", {"model": "ark/deepseek-r1", "status": "completed",
                                     "rating": "bad"}),
    ]  # fmt: skip
    try:
        from conversations.review import sorting
    except ImportError:  # the sort orders are not in this tree
        return cases
    return cases + [(f"sort={name}", {"sort": name}) for name in sorting.SORTS]


def _lists(runs: int, healthz_ms: float) -> list[dict[str, Any]]:
    from django.test import Client

    rows = []
    print(
        f"\n{'GET /review/':<36}{'who':>10}{'p50':>8}{'p95':>8}{'max':>8}{'cold':>8}"
        f"{'db p50':>8}{'SQL':>5}{'x healthz':>10}  (ms)"
    )
    for who, user in _people():
        client = Client()
        client.force_login(user)
        cases = [*_cases(), _deep_page(client)]
        for label, params in cases:
            r = _timed_get(client, "/review/", params, runs)
            r.update(label=label, who=who, ratio=r["p50"] / healthz_ms)
            rows.append(r)
            flag = "" if r["p95"] < GOAL_MS else f"  over 200 ms ({r['samples']} samples)"
            print(
                f"{label:<36}{who:>10}{r['p50']:8.1f}{r['p95']:8.1f}{r['max']:8.1f}"
                f"{r['cold']:8.1f}{r['db_p50']:8.1f}{r['queries']:5}{r['ratio']:10.1f}{flag}"
            )
    return rows


def _deep_page(client: Any, pages: int = 500) -> tuple[str, dict[str, str]]:
    """Follows the list's next links to page `pages` (or the last page there is)."""
    import re
    from urllib.parse import parse_qsl

    params: dict[str, str] = {}
    number = 1
    while number < pages:
        html = client.get("/review/", params).content.decode()
        found = re.search(r'href="\?([^"]*)" rel="next"', html)
        if not found:
            break
        params = dict(parse_qsl(found.group(1).replace("&amp;", "&")))
        number += 1
    return f"page {number}", params


def _chinese(runs: int) -> list[dict[str, Any]]:
    """The Chinese search's page query alone (superuser), as searched now (bigram index,
    then the substring) and before (the substring alone), with its plan."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.db.models import Q

    from conversations.review.filters import page, search
    from conversations.review.visibility import visible_turns
    from tests.bench.review_text import RARE_ZH

    root = get_user_model().objects.get(username="root")
    out = []
    print(f"\n{'Chinese search, page query':<36}{'p50':>9}{'p95':>9}{'rows':>6}  index used")
    for word in ("推理", "机器学习", RARE_ZH):
        turns = visible_turns(root)
        before = turns.filter(Q(reasoning_content__icontains=word) | Q(content__icontains=word))
        after = search(turns, word)
        entry: dict[str, Any] = {"q": word}
        for label, qs, n in (("before", before, 3), ("now", after, runs)):
            samples: list[float] = []
            while len(samples) < n + 1:
                started = time.perf_counter()
                rows, _cursor = page(qs, None)
                samples.append((time.perf_counter() - started) * 1000)
                if samples[0] > SLOW_MS:
                    n = 1
            entry[label] = {**_stats(samples[1:]), "rows": len(rows)}
        sql, params = after.order_by("-created", "-id")[:51].query.sql_with_params()
        with connection.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            entry["plan"] = "\n".join(r[0] for r in cur.fetchall())
        entry["uses_bigram_index"] = "turn_search_cjk" in entry["plan"]
        out.append(entry)
        for label in ("before", "now"):
            s = entry[label]
            used = entry["uses_bigram_index"] if label == "now" else ""
            print(f"{word + ' ' + label:<36}{s['p50']:9.1f}{s['p95']:9.1f}{s['rows']:6}  {used}")
    return out


def _export_child(args: Any, turns: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.bench.review", "--database", args.database,
         "--export-child", str(turns)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _export_once(turns: int) -> dict[str, Any]:
    """`turns` turns exported by the view (the newest, by a `since` on the oldest's
    time), the streaming iterator consumed twice: timed with RSS, then traced."""
    import tracemalloc

    from django.contrib.auth import get_user_model
    from django.test import Client

    from conversations.review.visibility import all_traces

    root = get_user_model().objects.get(username="root")
    oldest = all_traces().order_by("-created", "-id")[turns - 1]
    params = {"since": oldest.created.isoformat()}
    client = Client()
    client.force_login(root)

    def consume() -> tuple[int, int, float]:
        lines = size = 0
        top = 0.0
        response = client.get("/review/export.jsonl", params)
        for i, chunk in enumerate(response.streaming_content):  # type: ignore[attr-defined]
            lines += chunk.count(b"\n")
            size += len(chunk)
            if i % 100 == 0:
                top = max(top, _rss_mb())
        return lines, size, top

    start_rss = _rss_mb()
    started = time.perf_counter()
    lines, size, top = consume()
    seconds = time.perf_counter() - started
    tracemalloc.start()
    consume()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {
        "turns": lines,
        "seconds": seconds,
        "mb": size / 2**20,
        "rss_start_mb": start_rss,
        "rss_growth_mb": max(top, _rss_mb()) - start_rss,
        "tracemalloc_peak_mb": peak / 2**20,
    }


if __name__ == "__main__":
    main()
