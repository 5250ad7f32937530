"""A person's turn, measured the way a person starts it, against a direct read.

    python -m tests.bench.person [--quick] [--backend sqlite|postgres|both]
        [--out var/bench-person.json] [--compare tests/bench/baseline.json]
        [--save-baseline tests/bench/baseline.json]

Each turn is what the chat page does for "New chat": `POST /api/conversations/`
(session cookie, CSRF), a websocket on the new conversation, one `user_message`.
The people are many signed-in users in two teams, with model grants and daily
quotas and the default per-person limits; the provider has two keys. Daphne runs
as in production (`python -m chatsite.serve`, `DEBUG=0`), pinned to one core; the
bench client and the upstream share the others. The direct reader asks the same
upstream for the same stream with httpx; samples are interleaved.

Figures (added = through the product minus direct, quantile by quantile):
- added time to the first reasoning token, one stream and 40 at once (p50/p99);
- daphne's CPU per 40-token turn at one stream, apart: opening the chat (the POST
  and the socket), the turn's start (`user_message` to `turn.started`), and its
  tokens and end; and per turn at 40 streams;
- 200 streams at 50 tokens/s through one process (50 with `--quick`): errors,
  added token delay p99 while every stream runs, added first-token p50.

`--compare` prints each figure beside a saved run's (`make bench-baseline` writes
`tests/bench/baseline.json`; `make bench-quick` compares against it).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tests.bench import person_people, person_report, stack
from tests.bench.person_turns import Run, measure

log = logging.getLogger("bench")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.person", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, about a minute")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default=None)
    parser.add_argument("--out", default="var/bench-person.json")
    parser.add_argument("--compare", help="a saved run (baseline JSON) to print ratios against")
    parser.add_argument("--save-baseline", help="write this run's figures as the baseline here")
    parser.add_argument(
        "--profile", action="store_true", help="py-spy on daphne during the CPU turns"
    )
    parser.add_argument("--backend-child", choices=["sqlite", "postgres"], help=argparse.SUPPRESS)
    parser.add_argument("--result-file", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def run_parent(args: argparse.Namespace) -> int:
    from tests.bench.relay import code_fingerprint, machine_info

    backend = args.backend or ("sqlite" if args.quick else "both")
    backends = ["sqlite", "postgres"] if backend == "both" else [backend]
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "mode": "quick" if args.quick else "full",
        "machine": machine_info(),
        "code": code_fingerprint(),
        "backends": {},
    }
    out = _path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for name in backends:
        log.info("backend %s", name)
        if name == "postgres" and (why := stack.services_reachable()):
            results["backends"][name] = {"skipped": f"PostgreSQL/Redis not reachable: {why}"}
            continue
        results["backends"][name] = run_child(args, name, out.parent)
    out.write_text(json.dumps(results, indent=2))
    print(person_report.render(results))
    print("\nFor the README:\n")
    print(person_report.markdown(results))
    if args.compare:
        print()
        print(person_report.compare(results, json.loads(_path(args.compare).read_text())))
    if args.save_baseline:
        _path(args.save_baseline).write_text(json.dumps(person_report.baseline(results), indent=2))
        print(f"\nBaseline: {args.save_baseline}")
    print(f"\nResults: {out}")
    return 1 if any("error" in r for r in results["backends"].values()) else 0


def _path(name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else stack.ROOT / path


def run_child(args: argparse.Namespace, backend: str, var: Path) -> dict[str, Any]:
    result_file = var / f"bench-person-{backend}.partial.json"
    result_file.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "tests.bench.person", "--backend-child", backend]
    cmd += ["--result-file", str(result_file)] + (["--quick"] if args.quick else [])
    cmd += ["--profile"] if args.profile else []
    try:
        subprocess.run(cmd, cwd=stack.ROOT, timeout=900, preexec_fn=stack._child_setup)
    except subprocess.TimeoutExpired:
        log.error("backend %s: over its time bound, stopped", backend)
    if not result_file.exists():
        return {"error": "the backend's run produced no results (see the log above)"}
    data: dict[str, Any] = json.loads(result_file.read_text())
    result_file.unlink()
    return data


def run_backend_child(args: argparse.Namespace) -> int:
    backend: str = args.backend_child
    logs = stack.ROOT / "var" / "bench-logs"
    logs.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    upstream = None
    with stack.scratch_dir() as work:
        env = stack.backend_env(backend, work)
        # People here are many, each held to the default limits (running turns, messages
        # a minute), as in production: the relay bench's single user lifts them.
        for name in ("CHAT_MAX_RUNNING_TURNS_PER_USER", "CHAT_MESSAGES_PER_MINUTE"):
            env.pop(name, None)
        try:
            stack.setup_django(backend, env)
            run = Run.sized(args.quick)
            if args.profile:
                run = dataclasses.replace(run, profile=logs / f"person-{backend}.pyspy.txt")
            upstream = stack.UpstreamProcess(env, max_seconds=900)
            people = person_people.make(upstream.port, run.people)
            result = asyncio.run(measure(run, env, people, upstream, logs / f"person-{backend}"))
        except Exception as exc:
            log.exception("backend %s failed", backend)
            result["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            if upstream is not None:
                upstream.stop()
            stack.teardown_django(backend)
    Path(args.result_file).write_text(json.dumps(result, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s bench %(message)s", datefmt="%H:%M:%S"
    )
    log.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    stack.raise_nofile()
    if args.backend_child:
        return run_backend_child(args)
    return run_parent(args)


if __name__ == "__main__":
    sys.exit(main())
