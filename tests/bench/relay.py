"""The relay benchmark: what the path model -> daphne -> browser adds over reading the model directly.

    python -m tests.bench.relay [--quick] [--backend sqlite|postgres|both]
                                [--out var/bench-results.json] [--streams 100,250,500,1000]

One upstream (`tests.bench.upstream`: the fake upstream's chat-completions bytes,
every token stamped with its send time) is read two ways in the same run, on the
same machine: through the product (websocket clients on a real daphne with
production settings, sending `user_message` and reading until `turn.completed`)
and directly (a plain httpx client). Each backend (SQLite + in-memory layer;
PostgreSQL + Redis) runs in a child process of its own, because Django's settings
are per process. Figures, each beside its baseline and goal:

- added time to first reasoning / answer token (p50/p95/p99), with the product's
  coalescing (CHAT_COALESCE_SECONDS, default 0.03 s) and without it (0);
- single-stream throughput, product / direct;
- a sweep of simultaneous streams at 50 tokens/s on one daphne process: added p99
  delay of every token, tokens lost, CPU and memory of daphne (and of the
  upstream and the bench client, which share the same cores);
- database rows written per turn, short and very long answer;
- daphne's memory per idle connected socket.

Loopback only, bounded in time and count, stops by itself. `--quick` (SQLite
only unless --backend says otherwise, small sizes) takes under a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.bench.report import render
from tests.bench.scenarios import Plan, plan_for
from tests.bench.stack import ROOT, _child_setup, services_reachable
from tests.bench.upstream import raise_nofile

log = logging.getLogger("bench")

GOALS = {
    "ttft_added_p50_ms": 5.0,
    "ttft_added_p99_ms": 25.0,
    "throughput_ratio": 0.9,
    "sweep_streams": 1000,
    "sweep_added_p99_ms": 100.0,
    "tokens_lost": 0,
    "db_writes": "a fixed number per turn plus at most one checkpoint a second",
}


def machine_info() -> dict[str, Any]:
    import psutil

    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "note": "daphne, the bench upstream and the bench clients all share these cores",
        "product_code_sha256": code_fingerprint(),
    }


def code_fingerprint() -> str:
    """Which product code was measured (the tree changes between runs; no git needed)."""
    import hashlib

    digest = hashlib.sha256()
    for folder in ("chatsite", "conversations", "providers"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            digest.update(path.relative_to(ROOT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.relay",
        description="Measure the relay (upstream -> daphne -> websocket) against a direct read.",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, under a minute")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default=None)
    parser.add_argument("--out", default="var/bench-results.json", help="the JSON results file")
    parser.add_argument(
        "--streams", default=None, help="sweep sizes, comma-separated (default 100,250,500,1000)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy on daphne during the sweep (needs py-spy)"
    )
    # Internal: run one backend in this process and write its results to a file.
    parser.add_argument("--backend-child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def streams_of(args: argparse.Namespace) -> tuple[int, ...] | None:
    if not args.streams:
        return None
    return tuple(int(s) for s in args.streams.split(",") if s.strip())


# --- the parent: one child per backend, then the report ------------------------------------------


def run_parent(args: argparse.Namespace) -> int:
    plan = plan_for(args.quick, streams_of(args))
    backend = args.backend or ("sqlite" if args.quick else "both")
    backends = ["sqlite", "postgres"] if backend == "both" else [backend]
    started = time.monotonic()
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if args.quick else "full",
        "machine": machine_info(),
        "goals": GOALS,
        "plan": _plan_dict(plan),
        "backends": {},
    }
    out = Path(args.out)
    if not out.is_absolute():
        out = ROOT / out
    out.parent.mkdir(parents=True, exist_ok=True)
    # The sweep's direct baselines need no backend: once per run, before the products.
    log.info("direct baselines of the sweep")
    results["direct_sweep"] = run_direct_sweep(plan)
    for name in backends:
        log.info("backend %s", name)
        if name == "postgres" and (why := services_reachable()):
            results["backends"][name] = {"skipped": f"PostgreSQL/Redis not reachable: {why}"}
            continue
        results["backends"][name] = run_child(args, name, plan, out.parent)
    results["wall_seconds"] = round(time.monotonic() - started, 1)
    out.write_text(json.dumps(results, indent=2))
    print(render(results))
    print(f"\nResults: {out}")
    failed = [n for n, r in results["backends"].items() if "error" in r]
    return 1 if failed else 0


def _plan_dict(plan: Plan) -> dict[str, Any]:
    return {k: (v.__dict__ if hasattr(v, "__dict__") else v) for k, v in plan.__dict__.items()}


def run_direct_sweep(plan: Plan) -> dict[str, Any]:
    from tests.bench.scenarios import direct_sweep
    from tests.bench.stack import UpstreamProcess

    bound = len(plan.sweep) * 2 * (plan.sweep_start_limit + plan.sweep_steady + plan.slack)
    upstream = UpstreamProcess(dict(os.environ), max_seconds=bound + 60)
    try:
        return asyncio.run(asyncio.wait_for(direct_sweep(plan, upstream), bound))
    except Exception as exc:
        log.exception("the direct sweep failed")
        return {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        upstream.stop()


def run_child(args: argparse.Namespace, backend: str, plan: Plan, var: Path) -> dict[str, Any]:
    result_file = var / f"bench-{backend}.partial.json"
    result_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "tests.bench.relay", "--backend-child", backend]
    cmd += ["--result-file", str(result_file)]
    if args.quick:
        cmd.append("--quick")
    if args.streams:
        cmd += ["--streams", args.streams]
    if args.profile:
        cmd.append("--profile")
    try:
        # Setup (migrations, fixtures) comes on top of the plan's own bound.
        subprocess.run(cmd, cwd=ROOT, timeout=plan.child_timeout + 60, preexec_fn=_child_setup)
    except subprocess.TimeoutExpired:
        log.error("backend %s: over its time bound, stopped", backend)
    if not result_file.exists():
        return {"error": "the backend's run produced no results (see the log above)"}
    data: dict[str, Any] = json.loads(result_file.read_text())
    result_file.unlink()
    return data


# --- the child: one backend -------------------------------------------------------------------


def run_backend_child(args: argparse.Namespace) -> int:
    from tests.bench import stack
    from tests.bench.scenarios import Context, Conversations, run_backend

    backend: str = args.backend_child
    plan = plan_for(args.quick, streams_of(args))
    deadline = time.monotonic() + plan.child_timeout
    logs = ROOT / "var" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    upstream = None
    with stack.scratch_dir() as work:
        env = stack.backend_env(backend, work)
        try:
            t0 = time.monotonic()
            stack.setup_django(backend, env)
            upstream = stack.UpstreamProcess(env, max_seconds=plan.child_timeout + 120)
            fixtures = stack.make_fixtures(upstream.port, plan.conversations_needed())
            log.info("  setup done in %.1fs", time.monotonic() - t0)
            ctx = Context(
                backend=backend,
                env=env,
                plan=plan,
                cookie=fixtures.cookie,
                model_ref=fixtures.model_ref,
                conversations=Conversations(fixtures.conversations),
                upstream=upstream,
                logs=logs,
                deadline=deadline,
                profile=args.profile,
            )
            result = asyncio.run(run_backend(ctx))
            result["settings"] = _settings_summary(backend)
        except Exception as exc:
            log.exception("backend %s failed", backend)
            result["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            if upstream is not None:
                upstream.stop()
            stack.teardown_django(backend)
    Path(args.result_file).write_text(json.dumps(result, indent=2))
    return 0


def _settings_summary(backend: str) -> dict[str, Any]:
    from django.conf import settings

    return {
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        # How turn events travel: in process only, or also over Redis to other processes.
        "events": "Redis pub/sub" if settings.REDIS_URL else "in process",
        "turn_log": "redis stream" if settings.REDIS_URL else "memory",
        "debug": settings.DEBUG,
        "CHAT_COALESCE_SECONDS": settings.CHAT_COALESCE_SECONDS,
        "CHAT_COALESCE_MAX_SECONDS": settings.CHAT_COALESCE_MAX_SECONDS,
        "CHAT_CHECKPOINT_SECONDS": settings.CHAT_CHECKPOINT_SECONDS,
        "CONN_MAX_AGE": settings.DATABASES["default"].get("CONN_MAX_AGE"),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s bench %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # Django's LOGGING (LOG_LEVEL=WARNING) would silence the progress lines.
    log.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request otherwise
    raise_nofile()  # a thousand sockets and more
    if args.backend_child:
        return run_backend_child(args)
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
