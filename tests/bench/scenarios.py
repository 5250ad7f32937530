"""What the benchmark measures, for one backend, each figure beside its direct baseline.

Runs inside the backend child (`relay.py --backend-child`), with Django set up on
that backend. Every wait is bounded; a scenario that breaks records its error and
the next one runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import os
import time
import traceback
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from statistics import median
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection

from tests.bench import dbwrites
from tests.bench.clients import (
    Site,
    StreamResult,
    added,
    http_client,
    http_stream,
    ms_quantiles,
    open_socket,
    raw_stream,
    summarize,
    ws_turn,
)
from tests.bench.profile import Profiler
from tests.bench.stack import Daphne, UpstreamProcess, mib, rss, watching
from tests.bench.upstream import Spec

T = TypeVar("T")
log = logging.getLogger("bench")


@dataclass(frozen=True)
class Plan:
    """Sizes and bounds of one run (`--quick` or full)."""

    quick: bool
    latency_samples: int
    latency_spec: Spec
    throughput_spec: Spec
    throughput_reps: int
    sweep: tuple[int, ...]
    sweep_spec: Spec  # open-ended: every stream of a round ends together
    sweep_ramp: float  # turns start spread over this many seconds
    sweep_start_limit: float  # how long the product may take to get all N streaming
    sweep_steady: float  # seconds measured with every stream running
    db_short: Spec
    db_long: Spec
    idle_sockets: int
    slack: float  # per-stream timeout beyond the stream's own length
    child_timeout: float

    def conversations_needed(self) -> int:
        # Every turn gets a fresh conversation: a context that grows would skew later samples.
        latency = 2 * (self.latency_samples + 2)
        throughput = 2 * self.throughput_reps
        sweep = sum(n + 1 for n in self.sweep)
        return latency + throughput + sweep + self.idle_sockets + 2 + 8


def plan_for(quick: bool, streams: tuple[int, ...] | None) -> Plan:
    if quick:
        return Plan(
            quick=True,
            latency_samples=30,
            latency_spec=Spec(4, 10, 200.0),
            throughput_spec=Spec(4000, 4000, 0.0),
            throughput_reps=2,
            sweep=streams or (50,),
            sweep_spec=Spec(25, 50 * 60, 50.0, open_ended=True),
            sweep_ramp=0.5,
            sweep_start_limit=10.0,
            sweep_steady=2.0,
            db_short=Spec(10, 10, 200.0),
            db_long=Spec(1000, 1000, 1000.0),
            idle_sockets=100,
            slack=15.0,
            child_timeout=75.0,
        )
    return Plan(
        quick=False,
        latency_samples=100,
        latency_spec=Spec(4, 10, 200.0),
        throughput_spec=Spec(10000, 10000, 0.0),
        throughput_reps=5,
        sweep=streams or (100, 250, 500, 1000),
        sweep_spec=Spec(50, 50 * 180, 50.0, open_ended=True),
        sweep_ramp=2.0,
        sweep_start_limit=15.0,
        sweep_steady=5.0,
        db_short=Spec(10, 10, 200.0),
        db_long=Spec(2500, 2500, 1000.0),
        idle_sockets=300,
        slack=10.0,
        child_timeout=600.0,
    )


class Conversations:
    """Hands out the fixtures' empty conversations, each once."""

    def __init__(self, ids: list[str]) -> None:
        self._ids: Iterator[str] = iter(ids)

    def take(self) -> str:
        return next(self._ids)

    def take_many(self, n: int) -> list[str]:
        return [self.take() for _ in range(n)]


@dataclass
class Context:
    backend: str
    env: dict[str, str]
    plan: Plan
    cookie: str
    model_ref: str
    conversations: Conversations
    upstream: UpstreamProcess
    logs: Path
    deadline: float  # time.monotonic() by which the child must be done
    profile: bool = False  # py-spy on daphne during each sweep level

    def site(self, daphne: Daphne) -> Site:
        return Site(daphne.port, self.cookie, self.model_ref)

    def daphne(self, name: str, **extra: str) -> Daphne:
        # Started from the main thread: the parent-death signal is tied to the forking thread.
        return Daphne({**self.env, **extra}, self.logs / f"{self.backend}-{name}.log")

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


async def one_turn(ctx: Context, site: Site, spec: Spec, within: float) -> StreamResult:
    ws = await open_socket(site, ctx.conversations.take())
    try:
        return await ws_turn(ws, site, spec, within)
    finally:
        await ws.close()


async def guarded(name: str, coro: Awaitable[T], within: float) -> T | dict[str, Any]:
    """Run one scenario, bounded; a failure becomes `{"error": ...}` in the results."""
    log.info("  %s ...", name)
    started = time.monotonic()
    try:
        async with asyncio.timeout(max(within, 1.0)):
            result = await coro
    except Exception as exc:
        log.warning("  %s failed: %s", name, exc)
        return {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()[-2000:]}
    log.info("  %s done in %.1fs", name, time.monotonic() - started)
    return result


# --- scenarios -----------------------------------------------------------------------------------


async def warm_up(ctx: Context, site: Site) -> None:
    """First turn of a process: imports, connection pools, the JSON encoder."""
    result = await one_turn(ctx, site, Spec(2, 2, 0.0), 20.0)
    if not result.ok:
        raise RuntimeError(f"warm-up turn failed: {result.error}")


async def latency(ctx: Context, site: Site) -> dict[str, Any]:
    """Time to first reasoning / answer token, product and direct, samples interleaved."""
    plan = ctx.plan
    spec = plan.latency_spec
    product: list[StreamResult] = []
    baseline: list[StreamResult] = []
    async with http_client() as client:
        await http_stream(client, ctx.upstream.base_url, spec, 10.0)  # warm the pool too
        for _ in range(plan.latency_samples):
            product.append(await one_turn(ctx, site, spec, 10.0))
            baseline.append(await http_stream(client, ctx.upstream.base_url, spec, 10.0))
            await asyncio.sleep(0.005)  # let the finished turn's bookkeeping settle

    def figures(kind: str) -> dict[str, Any]:
        p = ms_quantiles([t for r in product if (t := r.ttft(kind)) is not None])
        b = ms_quantiles([t for r in baseline if (t := r.ttft(kind)) is not None])
        return {"product": p, "baseline": b, "added": added(p, b)}

    def transit(kind: str) -> dict[str, Any]:
        p = ms_quantiles([t for r in product if (t := r.first_delay(kind)) is not None])
        b = ms_quantiles([t for r in baseline if (t := r.first_delay(kind)) is not None])
        return {"product": p, "baseline": b, "added": added(p, b)}

    delays_p = ms_quantiles([d for r in product for d in r.tracker.delays])
    delays_b = ms_quantiles([d for r in baseline for d in r.tracker.delays])
    return {
        "spec": spec.__dict__,
        "samples": plan.latency_samples,
        "ttft_reasoning_ms": figures("r"),
        "ttft_content_ms": figures("c"),
        # Where the added time is: until turn.started (preparing and storing the turn,
        # while the upstream is asked), and on the way back (first token's upstream write -> read).
        "turn_started_ms": ms_quantiles(
            [r.t_started - r.t_send for r in product if r.t_started is not None]
        ),
        "first_reasoning_transit_ms": transit("r"),
        "first_content_transit_ms": transit("c"),
        "token_delay_ms": {
            "product": delays_p,
            "baseline": delays_b,
            "added": added(delays_p, delays_b),
        },
        "product_errors": [r.error for r in product if not r.ok][:5],
        "baseline_errors": [r.error for r in baseline if not r.ok][:5],
        "tokens_lost": sum(r.lost for r in product),
    }


async def throughput(ctx: Context, site: Site) -> dict[str, Any]:
    """One unpaced stream: tokens per second through the product against direct."""
    plan = ctx.plan
    spec = plan.throughput_spec
    product: list[StreamResult] = []
    baseline: list[StreamResult] = []
    async with http_client() as client:
        for _ in range(plan.throughput_reps):
            baseline.append(await http_stream(client, ctx.upstream.base_url, spec, 60.0))
            product.append(await one_turn(ctx, site, spec, 60.0))
    p = [t for r in product if r.ok and (t := r.throughput) is not None]
    b = [t for r in baseline if r.ok and (t := r.throughput) is not None]
    ratio = round(median(p) / median(b), 3) if p and b else None
    return {
        "spec": spec.__dict__,
        "reps": plan.throughput_reps,
        "product_tokens_per_s": round(median(p)) if p else None,
        "baseline_tokens_per_s": round(median(b)) if b else None,
        "ratio": ratio,
        "product_frames": [r.frames for r in product],
        "tokens_lost": sum(r.lost for r in product),
        "product_errors": [r.error for r in product if not r.ok],
        "baseline_errors": [r.error for r in baseline if not r.ok],
    }


async def open_many(
    site: Site, conversation_ids: list[str], concurrency: int = 50
) -> tuple[list[ClientConnection | None], list[str]]:
    """Connect one socket per conversation; failed ones are None (their errors returned)."""
    gate = asyncio.Semaphore(concurrency)
    errors: list[str] = []

    async def one(cid: str) -> ClientConnection | None:
        async with gate:
            try:
                return await open_socket(site, cid, within=60.0)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
                return None

    sockets = await asyncio.gather(*(one(cid) for cid in conversation_ids))
    return list(sockets), errors


async def close_all(sockets: list[ClientConnection | None]) -> None:
    async def close(ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            await ws.close()

    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(20):
            await asyncio.gather(*(close(ws) for ws in sockets if ws is not None))


async def idle_memory(ctx: Context, daphne: Daphne, site: Site) -> dict[str, Any]:
    """RSS of daphne before and after N idle, accepted sockets."""
    n = ctx.plan.idle_sockets
    await asyncio.sleep(1.0)
    before = rss(daphne.pid)
    started = time.monotonic()
    sockets, errors = await open_many(site, ctx.conversations.take_many(n))
    connect_s = time.monotonic() - started
    await asyncio.sleep(2.0)
    after = rss(daphne.pid)
    opened = sum(ws is not None for ws in sockets)
    await close_all(sockets)
    await asyncio.sleep(1.0)
    closed = rss(daphne.pid)
    return {
        "sockets": n,
        "opened": opened,
        "connect_errors": errors[:5],
        "connect_seconds": round(connect_s, 2),
        "rss_before_mib": mib(before),
        "rss_with_sockets_mib": mib(after),
        "rss_after_close_mib": mib(closed),
        "kib_per_socket": round((after - before) / max(opened, 1) / 1024, 1),
    }


async def db_writes(ctx: Context, site: Site) -> dict[str, Any]:
    """Rows written per turn, short and very long answer, counted by triggers."""
    await asyncio.to_thread(dbwrites.install)
    out: dict[str, Any] = {}
    try:
        for label, spec in (("short", ctx.plan.db_short), ("long", ctx.plan.db_long)):
            conversation = ctx.conversations.take()
            stat_before = await asyncio.to_thread(dbwrites.pg_stat_turn_writes)
            ws = await open_socket(site, conversation)
            try:
                result = await ws_turn(ws, site, spec, spec.duration + ctx.plan.slack)
            finally:
                await ws.close()
            await asyncio.sleep(0.3)
            writes = await asyncio.to_thread(dbwrites.writes_of, conversation)
            stat_after = await asyncio.to_thread(dbwrites.pg_stat_turn_writes)
            figures = dbwrites.summarize_writes(writes, result.t_end)
            figures.update(
                tokens=spec.n_reasoning + spec.n_content,
                turn_seconds=round((result.t_end or time.time()) - result.t_send, 2),
                ok=result.ok,
                error=result.error,
            )
            if stat_before is not None and stat_after is not None:
                figures["pg_stat_turn_rows"] = stat_after - stat_before
            out[label] = figures
    finally:
        await asyncio.to_thread(dbwrites.uninstall)
    short, long = out["short"], out["long"]
    # The goal: a fixed number (the short turn's) plus at most one checkpoint a second.
    allowed = short["total"] + int(long["turn_seconds"]) + 1
    out["goal"] = {
        "fixed": short["total"],
        "long_allowed": allowed,
        "met": long["total"] <= allowed and long["max_checkpoints_in_1s"] <= 1,
    }
    return out


async def staggered(n: int, ramp: float, start: Callable[[int], Awaitable[T]]) -> list[T]:
    """`start(i)` for i < n, the starts spread evenly over `ramp` seconds."""

    async def one(i: int) -> T:
        await asyncio.sleep(ramp * i / n)
        return await start(i)

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def upstream_control(port: int, action: str, body: Any = None) -> Any:
    """`POST /bench/<open|end|stats|sent>` to the bench upstream; returns its JSON answer."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = b"" if body is None else json.dumps(body).encode()
    try:
        writer.write(
            f"POST /bench/{action} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        await writer.drain()
        async with asyncio.timeout(10):
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            return json.loads(await reader.readexactly(length))
    finally:
        writer.close()


Starter = Callable[[int, StreamResult], Awaitable[StreamResult]]


async def sweep_round(
    plan: Plan, n: int, upstream: UpstreamProcess, start: Starter, pids: dict[str, int]
) -> dict[str, Any]:
    """N open-ended streams: start them all, measure while all run, end them together.

    The steady window opens once every stream delivers (or the start limit passes);
    CPU is measured over that window, delays reported for all tokens and for the
    tokens written inside it.
    """
    await upstream_control(upstream.port, "open")
    results = [StreamResult(plan.sweep_spec) for _ in range(n)]
    t0 = time.monotonic()
    task = asyncio.ensure_future(staggered(n, plan.sweep_ramp, lambda i: start(i, results[i])))
    async with watching(pids) as whole:
        deadline = t0 + plan.sweep_ramp + plan.sweep_start_limit
        while time.monotonic() < deadline and not task.done():
            if all(r.tracker.first or r.error for r in results):
                break
            await asyncio.sleep(0.05)
        start_phase = time.monotonic() - t0
        streaming = sum(1 for r in results if r.tracker.first and r.t_end is None)
        upstream_active = (await upstream_control(upstream.port, "stats"))["active"]
        steady_from = time.time()
        async with watching(pids) as steady:
            await asyncio.sleep(plan.sweep_steady)
        steady_to = time.time()
        await upstream_control(upstream.port, "end")
        try:
            async with asyncio.timeout(plan.slack):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
            with contextlib.suppress(BaseException):
                await task
    # What the upstream wrote, per stream: the count even an unfinished stream is held to.
    sent = await upstream_control(upstream.port, "sent", [r.stream_id for r in results])
    for r in results:
        if r.stream_id in sent and r.tracker.reported is None:
            r.tracker.reported = (sent[r.stream_id][0], sent[r.stream_id][1])
        if not r.ok and r.error is None:
            r.error = "cut at the round's time bound"
    figures = summarize(results, (steady_from, steady_to))
    figures.update(
        start_phase_s=round(start_phase, 2),
        streaming_in_steady_window=streaming,
        # Streams the upstream was sending then: fewer than N means starting is the
        # bottleneck; N here but fewer above means delivery is.
        upstream_active_in_steady_window=upstream_active,
        cpu_steady=steady,
        usage_whole=whole,
    )
    return figures


def _stream_bound(plan: Plan) -> float:
    return plan.sweep_ramp + plan.sweep_start_limit + plan.sweep_steady + plan.slack


async def sweep_level(ctx: Context, n: int) -> dict[str, Any]:
    """N simultaneous streams through one fresh daphne process."""
    plan = ctx.plan
    daphne = ctx.daphne(f"sweep-{n}")
    try:
        site = ctx.site(daphne)
        await warm_up(ctx, site)
        rss_idle = rss(daphne.pid)
        started = time.monotonic()
        sockets, errors = await open_many(site, ctx.conversations.take_many(n))
        connect_seconds = round(time.monotonic() - started, 2)
        rss_connected = rss(daphne.pid)
        gc.collect()

        async def run(i: int, result: StreamResult) -> StreamResult:
            ws = sockets[i]
            if ws is None:
                result.error = "not connected"
                return result
            return await ws_turn(ws, site, plan.sweep_spec, _stream_bound(plan), result)

        profiler = None
        if ctx.profile:
            output = ctx.logs / f"{ctx.backend}-sweep-{n}.pyspy.txt"
            seconds = plan.sweep_ramp + plan.sweep_steady + 2
            profiler = Profiler(daphne.pid, seconds, output)
        pids = {"daphne": daphne.pid, "upstream": ctx.upstream.pid, "bench_client": os.getpid()}
        figures = await sweep_round(plan, n, ctx.upstream, run, pids)
        await close_all(sockets)
        figures.update(
            connect_seconds=connect_seconds,
            connect_errors=errors[:5],
            rss_idle_mib=mib(rss_idle),
            rss_connected_mib=mib(rss_connected),
            daphne_log_problems=daphne.problems(),
        )
        if profiler is not None:
            figures["profile"] = await asyncio.to_thread(profiler.finish)
        return {"streams": n, "product": figures}
    finally:
        daphne.stop()


async def direct_sweep(plan: Plan, upstream: UpstreamProcess) -> dict[str, Any]:
    """The baselines of the sweep, once per run (they need no backend): httpx and raw sockets."""
    out: dict[str, Any] = {}
    pids = {"upstream": upstream.pid, "bench_client": os.getpid()}
    bound = _stream_bound(plan)
    for n in plan.sweep:
        log.info("  direct sweep %d streams ...", n)
        level: dict[str, Any] = {}
        async with http_client(n + 10) as client:

            async def via_httpx(i: int, result: StreamResult) -> StreamResult:
                return await http_stream(client, upstream.base_url, plan.sweep_spec, bound, result)

            level["httpx"] = await guarded(
                f"direct httpx {n}", sweep_round(plan, n, upstream, via_httpx, pids), 2 * bound
            )

        async def via_raw(i: int, result: StreamResult) -> StreamResult:
            return await raw_stream(upstream.port, plan.sweep_spec, bound, result)

        level["raw"] = await guarded(
            f"direct raw {n}", sweep_round(plan, n, upstream, via_raw, pids), 2 * bound
        )
        out[str(n)] = level
        gc.collect()
    return out


# --- one backend ---------------------------------------------------------------------------------


async def run_backend(ctx: Context) -> dict[str, Any]:
    out: dict[str, Any] = {"latency": {}, "throughput": {}, "sweep": []}

    # Production settings (coalescing on): memory, DB writes, latency, throughput.
    daphne = ctx.daphne("main")
    try:
        site = ctx.site(daphne)
        await guarded("warm-up", warm_up(ctx, site), 30)
        out["idle_memory"] = await guarded("idle memory", idle_memory(ctx, daphne, site), 90)
        out["db_writes"] = await guarded("db writes", db_writes(ctx, site), 60)
        out["latency"]["coalesce_default"] = await guarded("latency", latency(ctx, site), 120)
        out["throughput"]["coalesce_default"] = await guarded(
            "throughput", throughput(ctx, site), 120
        )
        out["daphne_log_problems"] = daphne.problems()
    finally:
        daphne.stop()

    # Coalescing off: the relay's own overhead, without the deliberate 30 ms gathering.
    daphne = ctx.daphne("coalesce0", CHAT_COALESCE_SECONDS="0")
    try:
        site = ctx.site(daphne)
        await guarded("warm-up (coalesce 0)", warm_up(ctx, site), 30)
        out["latency"]["coalesce_0"] = await guarded(
            "latency (coalesce 0)", latency(ctx, site), 120
        )
        out["throughput"]["coalesce_0"] = await guarded(
            "throughput (coalesce 0)", throughput(ctx, site), 120
        )
        out["daphne_log_problems_coalesce0"] = daphne.problems()
    finally:
        daphne.stop()

    for n in ctx.plan.sweep:
        plan = ctx.plan
        if ctx.remaining() < plan.sweep_ramp + plan.sweep_steady + 20:
            out["sweep"].append({"streams": n, "skipped": "the run's time bound"})
            continue
        bound = min(ctx.remaining() - 5, 2 * _stream_bound(plan) + 60)
        level = await guarded(f"sweep {n} streams", sweep_level(ctx, n), bound)
        out["sweep"].append(level if "product" in level else {"streams": n, **level})
    return out
