"""CPU per token of the upstream reader: aiohttp, httpx over httpx-aiohttp's transport, plain httpx.

    python -m tests.bench.clientcpu [--streams 100] [--tokens 100] [--rate 50] [--rounds 7]
                                    [--loop uvloop|asyncio] [--out var/bench-clientcpu.json]

The question (the product brief names httpx; the upstream streams moved to
aiohttp for its CPU per token): does httpx's own `AsyncClient` interface over
`httpx_aiohttp.AiohttpTransport` (the openai SDK's aiohttp client) keep
aiohttp's cost? Three readers, in the same run, of the same bench upstream
(`tests.bench.upstream`, in a process of its own so only the reader's CPU is
counted), all through the product's `ChatCompletionsClient` so the SSE parser,
`json.loads` and the event objects cost the same in each:

- `aiohttp`: the product's client as it is, on `providers.clients.http.new_session()`;
- `httpx+aiohttp`: the same client with its request half (`open_stream`) done with
  `httpx.AsyncClient(transport=AiohttpTransport(client=new_session()))`,
  `client.stream("POST", ...)` and `response.aiter_bytes()`, as a port would;
- `httpx`: that request half on httpx's default transport (httpcore, h11, anyio).

A round is N simultaneous streams of M tokens at `rate` tokens/s each (the
upstream writes each token in its own packet, as real providers do). Before each
timed round the reader opens its N connections with a short stream on each
(untimed: the figure is the streaming cost, not connecting), then the process's
CPU time (`time.process_time()`, all threads) over the round is divided by the
tokens read. The readers alternate round by round, in a rotating order, so drift
of the machine hits all three alike; the figure is the median over rounds, and
the ratio is to `aiohttp` measured in the same run. Every stream must deliver
all its tokens and end with `Done`, or the round counts as failed.

Needs `httpx-aiohttp`, which the product does not depend on (it cost 14-38% more
CPU per token than aiohttp here, so aiohttp stayed: docs/architecture.md):
`.venv/bin/pip install httpx-aiohttp`.
Loopback only, bounded (each round has a deadline, the upstream stops by itself),
about 50 s with the defaults. Never run by `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("bench")

READERS = ("aiohttp", "httpx+aiohttp", "httpx")
IDLE_TIMEOUT = 60.0  # the readers' idle limit (seconds without a byte); never reached here


def configure_django() -> None:
    """The two settings `providers.clients.http.new_session` reads; nothing else is needed."""
    from django.conf import settings

    if not settings.configured:
        settings.configure(UPSTREAM_CONNECT_TIMEOUT=10.0, UPSTREAM_IDLE_TIMEOUT=IDLE_TIMEOUT)


# --- the httpx request half -----------------------------------------------------------------


@contextlib.asynccontextmanager
async def httpx_open_stream(client: Any, payload: dict[str, Any]) -> AsyncIterator[Any]:
    """`providers.clients.streaming.open_stream` on httpx's interface (`client.http`).

    The success path as the product's (one POST, no redirects, the body chunk by
    chunk as it arrives); errors are only mapped as far as the bench needs.
    """
    from providers.wire import error_from_response

    async with client.http.stream(
        "POST",
        client.url,
        content=json.dumps(payload).encode(),
        headers=client.headers(),
        follow_redirects=False,
    ) as response:
        if not 200 <= response.status_code < 300:
            body = await response.aread()
            raise error_from_response(response.status_code, body, client.scrub)
        yield response.aiter_bytes()


@contextlib.contextmanager
def request_half(reader: str) -> Any:
    """The product's client, its `open_stream` swapped for the httpx one while in this block.

    `ChatCompletionsClient.stream` looks `open_stream` up in its module at each
    call; rounds run one reader at a time, so the swap never mixes readers.
    """
    from providers.clients import chat_completions

    if reader == "aiohttp":
        yield
        return
    original = chat_completions.open_stream
    chat_completions.open_stream = httpx_open_stream
    try:
        yield
    finally:
        chat_completions.open_stream = original


def new_http(reader: str) -> Any:
    """The reader's HTTP client: what `BaseClient.http` holds for it."""
    from providers.clients.http import new_session

    if reader == "aiohttp":
        return new_session(IDLE_TIMEOUT)
    import httpx

    timeout = httpx.Timeout(connect=10.0, read=IDLE_TIMEOUT, write=None, pool=None)
    if reader == "httpx+aiohttp":
        from httpx_aiohttp import AiohttpTransport

        # The product's own session (its connector, timeouts, trust_env=False) underneath.
        transport = AiohttpTransport(client=new_session(IDLE_TIMEOUT))
        return httpx.AsyncClient(transport=transport, timeout=timeout, trust_env=False)
    # Pool as large as the product's connector, so all N streams keep their connections.
    limits = httpx.Limits(max_connections=2000, max_keepalive_connections=2000)
    return httpx.AsyncClient(limits=limits, timeout=timeout, trust_env=False)


async def close_http(http: Any) -> None:
    if hasattr(http, "aclose"):
        await http.aclose()  # httpx (and the aiohttp session under the transport)
    else:
        await http.close()


# --- one round ------------------------------------------------------------------------------


@dataclass
class Round:
    reader: str
    index: int
    streams: int
    tokens_expected: int
    tokens: int = 0
    cpu_s: float = 0.0
    wall_s: float = 0.0
    warmup_cpu_s: float = 0.0
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and self.tokens == self.tokens_expected

    @property
    def us_per_token(self) -> float | None:
        return self.cpu_s / self.tokens * 1e6 if self.ok and self.tokens else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "reader": self.reader,
            "round": self.index,
            "streams": self.streams,
            "tokens": self.tokens,
            "tokens_expected": self.tokens_expected,
            "cpu_s": round(self.cpu_s, 4),
            "wall_s": round(self.wall_s, 3),
            "us_per_token": _r(self.us_per_token),
            "warmup_us_per_stream": round(self.warmup_cpu_s / self.streams * 1e6, 1),
            "errors": self.errors[:5],
        }


async def read_one(http: Any, base_url: str, prompt: str) -> tuple[int, bool]:
    """One stream through the product's client: (text deltas read, ended with Done)."""
    from providers.clients import (
        ChatCompletionsClient,
        ClientConfig,
        ContentDelta,
        Done,
        Message,
        ReasoningDelta,
        StreamRequest,
    )

    client = ChatCompletionsClient(ClientConfig(base_url, api_key="sk-bench"), http)
    request = StreamRequest(model="bench", messages=[Message("user", prompt)])
    deltas, done = 0, False
    async for event in client.stream(request):
        if isinstance(event, ReasoningDelta | ContentDelta):
            deltas += 1
        elif isinstance(event, Done):
            done = True
    return deltas, done


async def gather_streams(
    http: Any, base_url: str, n: int, prompt: str, deadline: float
) -> tuple[int, list[str]]:
    results = await asyncio.wait_for(
        asyncio.gather(
            *(read_one(http, base_url, prompt) for _ in range(n)), return_exceptions=True
        ),
        deadline,
    )
    tokens, errors = 0, []
    for result in results:
        if isinstance(result, BaseException):
            errors.append(f"{type(result).__name__}: {result}")
        else:
            tokens += result[0]
            if not result[1]:
                errors.append("stream ended without Done")
    return tokens, errors


async def run_round(reader: str, index: int, args: argparse.Namespace, base_url: str) -> Round:
    from tests.bench.upstream import Spec, spec_text

    n_reasoning = args.tokens // 3
    spec = Spec(n_reasoning, args.tokens - n_reasoning, args.rate)
    result = Round(reader, index, args.streams, args.streams * args.tokens)
    deadline = spec.duration * 3 + 20
    http = new_http(reader)
    try:
        with request_half(reader):
            # Untimed: N connections opened and one short stream on each, kept in the pool.
            cpu0 = time.process_time()
            _, errors = await gather_streams(
                http, base_url, args.streams, spec_text(Spec(1, 1, 0.0)), 30
            )
            result.warmup_cpu_s = time.process_time() - cpu0
            if errors:
                result.errors = ["warm-up: " + e for e in errors]
                return result
            gc.collect()
            wall0, cpu0 = time.monotonic(), time.process_time()
            result.tokens, result.errors = await gather_streams(
                http, base_url, args.streams, spec_text(spec), deadline
            )
            result.cpu_s = time.process_time() - cpu0
            result.wall_s = time.monotonic() - wall0
    except TimeoutError:
        result.errors.append(f"round over its {deadline:.0f} s deadline")
    finally:
        await close_http(http)
    return result


# --- the run --------------------------------------------------------------------------------


def summarize(rounds: list[Round]) -> dict[str, Any]:
    by_reader: dict[str, dict[str, Any]] = {}
    for reader in READERS:
        mine = [r for r in rounds if r.reader == reader]
        figures = [r.us_per_token for r in mine if r.us_per_token is not None]
        warm = [r.warmup_cpu_s / r.streams * 1e6 for r in mine]
        by_reader[reader] = {
            "us_per_token_median": _r(statistics.median(figures)) if figures else None,
            "us_per_token_min": _r(min(figures)) if figures else None,
            "us_per_token_max": _r(max(figures)) if figures else None,
            "rounds_ok": len(figures),
            "rounds": len(mine),
            "warmup_us_per_stream_median": _r(statistics.median(warm)) if warm else None,
        }
    base = by_reader["aiohttp"]["us_per_token_median"]
    baseline = {r.index: r.us_per_token for r in rounds if r.reader == "aiohttp"}
    for reader, row in by_reader.items():
        median = row["us_per_token_median"]
        row["ratio_to_aiohttp"] = round(median / base, 3) if median and base else None
        # Each round against aiohttp's of the same round (run seconds apart).
        pairs = [
            r.us_per_token / b
            for r in rounds
            if r.reader == reader and r.us_per_token and (b := baseline.get(r.index))
        ]
        row["paired_ratio_median"] = round(statistics.median(pairs), 3) if pairs else None
    return by_reader


def render(summary: dict[str, Any], args: argparse.Namespace, machine: dict[str, Any]) -> str:
    lines = [
        f"CPU per token of the reader: {args.streams} streams x {args.tokens} tokens"
        f" at {args.rate:g} tokens/s, {args.rounds} rounds each, loop {args.loop},"
        f" {machine['cpu_count']} cores ({machine['cpu_model'] or 'unknown CPU'})",
        "",
        f"{'reader':<16}{'µs/token (median)':>19}{'min-max':>16}{'x aiohttp':>11}"
        f"{'paired':>9}{'rounds ok':>11}{'connect+short µs':>18}",
    ]
    for reader, f in summary.items():
        spread = (
            f"{f['us_per_token_min']:.1f}-{f['us_per_token_max']:.1f}"
            if f["us_per_token_min"] is not None
            else "-"
        )
        median = f["us_per_token_median"]
        ratio, paired = f["ratio_to_aiohttp"], f["paired_ratio_median"]
        lines.append(
            f"{reader:<16}{(f'{median:.1f}' if median is not None else '-'):>19}{spread:>16}"
            f"{(f'x{ratio:.2f}' if ratio is not None else '-'):>11}"
            f"{(f'x{paired:.2f}' if paired is not None else '-'):>9}"
            f"{f['rounds_ok']:>8}/{f['rounds']:<2}"
            f"{(f['warmup_us_per_stream_median'] or 0):>18.0f}"
        )
    ratio = summary["httpx+aiohttp"]["ratio_to_aiohttp"]
    paired = summary["httpx+aiohttp"]["paired_ratio_median"]
    if ratio is not None and paired is not None:
        verdict = "within" if max(ratio, paired) <= 1.10 else "over"
        lines += [
            "",
            f"httpx+aiohttp / aiohttp = {ratio:.2f} (medians), {paired:.2f} (paired rounds):"
            f" {verdict} the 1.10 bound",
            "paired: median over rounds of the reader's figure / aiohttp's in the same round",
        ]
    return "\n".join(lines)


def order_of(index: int) -> list[str]:
    """Round `index`'s reader order: rotated each round, so none always goes first."""
    shift = index % len(READERS)
    return list(READERS[shift:] + READERS[:shift])


async def run(
    args: argparse.Namespace, base_url: str, progress: Callable[[Round], None]
) -> list[Round]:
    rounds: list[Round] = []
    for reader in READERS:  # one untimed round each: imports, caches, the allocator
        await run_round(reader, -1, argparse.Namespace(**{**vars(args), "tokens": 10}), base_url)
    for index in range(args.rounds):
        for reader in order_of(index):
            result = await run_round(reader, index, args, base_url)
            progress(result)
            rounds.append(result)
    return rounds


def loop_runner(name: str) -> Callable[[Awaitable[Any]], Any]:
    if name == "uvloop":
        import uvloop

        return lambda main: uvloop.run(main)  # type: ignore[arg-type]
    return lambda main: asyncio.run(main)  # type: ignore[arg-type]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench.clientcpu",
        description="CPU per token: aiohttp vs httpx over httpx-aiohttp vs plain httpx.",
    )
    parser.add_argument("--streams", type=int, default=100, help="simultaneous streams per round")
    parser.add_argument("--tokens", type=int, default=100, help="tokens per stream")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens/s per stream (0: unpaced)")
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per reader")
    # The product runs on uvloop (`python -m chatsite.serve`).
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--out", default="var/bench-clientcpu.json", help="the JSON results file")
    args = parser.parse_args(argv)
    if not (1 <= args.streams <= 1000 and 1 <= args.tokens <= 100_000 and 1 <= args.rounds <= 50):
        parser.error("streams 1-1000, tokens 1-100000, rounds 1-50")
    return args


def progress(r: Round) -> None:
    figure = f"{r.us_per_token:.1f} µs/token" if r.us_per_token is not None else "FAILED"
    errors = "; ".join(r.errors[:2])
    log.info("round %d %-14s %s (%.1f s) %s", r.index, r.reader, figure, r.wall_s, errors)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        import httpx_aiohttp  # noqa: F401
    except ImportError:
        print("needs httpx-aiohttp: .venv/bin/pip install httpx-aiohttp", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s bench %(message)s", datefmt="%H:%M:%S"
    )
    # httpx logs every request at INFO: that would be CPU only the httpx readers pay.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    configure_django()
    from tests.bench.relay import machine_info
    from tests.bench.stack import ROOT, UpstreamProcess
    from tests.bench.upstream import raise_nofile

    raise_nofile()
    machine = machine_info()
    started = time.monotonic()
    upstream = UpstreamProcess(dict(os.environ), max_seconds=600)
    try:
        rounds = loop_runner(args.loop)(run(args, upstream.base_url, progress))
    finally:
        upstream.stop()
    summary = summarize(rounds)
    print(render(summary, args, machine))
    out = Path(args.out)
    if not out.is_absolute():
        out = ROOT / out
    out.parent.mkdir(parents=True, exist_ok=True)
    versions = {}
    for package in ("aiohttp", "httpx", "httpcore", "httpx-aiohttp", "uvloop"):
        with contextlib.suppress(Exception):
            from importlib.metadata import version

            versions[package] = version(package)
    out.write_text(
        json.dumps(
            {
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "seconds": round(time.monotonic() - started, 1),
                "machine": machine,
                "versions": versions,
                "plan": {
                    k: getattr(args, k) for k in ("streams", "tokens", "rate", "rounds", "loop")
                },
                "summary": summary,
                "rounds": [r.as_dict() for r in rounds],
            },
            indent=2,
        )
    )
    log.info("results in %s (%.0f s)", out, time.monotonic() - started)
    failed = [r for r in rounds if not r.ok]
    return 1 if failed else 0


def _r(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


if __name__ == "__main__":
    sys.exit(main())
