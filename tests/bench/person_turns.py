"""The person bench's measurements: one stream, 40 at once, a sweep; CPU by phase."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean, median
from typing import Any

import httpx

from tests.bench.clients import (
    Site,
    StreamResult,
    added,
    http_client,
    http_stream,
    ms_quantiles,
    raw_stream,
    ws_turn,
)
from tests.bench.person_people import People, Person
from tests.bench.profile import Profiler
from tests.bench.scenarios import Plan, guarded, plan_for, staggered, sweep_round
from tests.bench.stack import Daphne, UpstreamProcess, _child_setup
from tests.bench.upstream import Spec

log = logging.getLogger("bench")

TURN = Spec(20, 20, 200.0)  # a 40-token turn
# At 40 streams, each person asks again as soon as an answer ends, answers of 100
# tokens at a model's pace (50 tokens/s, 2 s): 40 answers streaming at any moment,
# 20 new chats a second, started spread over one answer's length.
TURN_PACED = Spec(50, 50, 50.0)
DAPHNE_CORE = (os.cpu_count() or 1) - 1


@dataclass(frozen=True)
class Run:
    quick: bool
    people: int
    samples: int  # one stream: turns measured for time, and again for CPU
    concurrent: int  # streams at once in the concurrency level
    concurrent_rounds: int  # rounds of each (product, direct), interleaved
    turns_per_client: int
    sweep: Plan  # the open-ended streams of the sweep, one level
    profile: Path | None = None  # py-spy's stacks of the one-stream CPU turns go here

    @classmethod
    def sized(cls, quick: bool) -> Run:
        if quick:
            sweep = plan_for(True, (50,))
            return cls(True, 60, 30, 40, 2, 2, sweep)
        sweep = dataclasses.replace(plan_for(False, (200,)), sweep_steady=5.0, sweep_ramp=2.0)
        return cls(False, 240, 100, 40, 3, 3, sweep)


def _pinned() -> None:
    _child_setup()
    # One core for daphne, as one production process has; the bench client and the
    # upstream share the rest.
    if DAPHNE_CORE > 0:
        os.sched_setaffinity(0, {DAPHNE_CORE})


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of `pid`, in seconds, to the nanosecond (schedstat)."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/task/{task}/schedstat") as f:
                total += int(f.read().split()[0])
    return total / 1e9


@dataclass
class PersonTurn:
    result: StreamResult
    t_new: float = 0.0  # the POST sent
    t_open: float = 0.0  # the socket open
    cpu: list[float] = field(default_factory=list)  # stamps: new, created, open, started, end


class Product:
    """The product as the people use it: one daphne, a shared HTTP client."""

    def __init__(self, daphne: Daphne, people: People, client: httpx.AsyncClient) -> None:
        self.daphne = daphne
        self.people = people
        self.client = client

    async def turn(
        self,
        person: Person,
        spec: Spec,
        within: float,
        result: StreamResult | None = None,
        cpu: bool = False,
    ) -> PersonTurn:
        turn = PersonTurn(result or StreamResult(spec))
        site = Site(self.daphne.port, "", self.people.model_ref)
        stamp = (lambda: turn.cpu.append(cpu_seconds(self.daphne.pid))) if cpu else None
        headers = {
            "Cookie": person.cookie,
            "X-CSRFToken": person.csrf,
            "Origin": site.origin,
            "Accept": "application/json",
        }
        try:
            async with asyncio.timeout(within):
                if stamp:
                    stamp()
                turn.t_new = time.time()
                resp = await self.client.post(
                    self.daphne.url + "/api/conversations/", json={}, headers=headers
                )
                if resp.status_code != 201:
                    turn.result.error = f"new conversation: HTTP {resp.status_code}"
                    return turn
                if stamp:
                    stamp()
                ws = await _socket(site, person, resp.json()["id"])
                turn.t_open = time.time()
                if stamp:
                    stamp()
        except Exception as exc:
            turn.result.error = f"{type(exc).__name__}: {exc}"
            return turn
        try:
            await ws_turn(ws, site, spec, within, turn.result, on_started=stamp)
        finally:
            await ws.close()
        if stamp:
            await asyncio.sleep(0.1)  # the turn's end is written after its last frame
            stamp()
        return turn


async def _socket(site: Site, person: Person, conversation_id: str) -> Any:
    from websockets.asyncio.client import connect

    return await connect(
        site.ws_url(conversation_id),
        origin=site.origin,  # type: ignore[arg-type]
        additional_headers=[("Cookie", person.cookie)],
        compression=None,
        proxy=None,
        open_timeout=30,
        ping_interval=None,
        max_size=None,
    )


# --- the measurements ----------------------------------------------------------------------------


def _ttft(results: list[StreamResult]) -> dict[str, Any]:
    return ms_quantiles([t for r in results if (t := r.ttft("r")) is not None])


async def one_stream(product: Product, upstream: UpstreamProcess, run: Run) -> dict[str, Any]:
    """Time to first token, interleaved with the direct read; then CPU by phase."""
    people = product.people.people
    mine: list[PersonTurn] = []
    direct: list[StreamResult] = []
    async with http_client() as client:
        await http_stream(client, upstream.base_url, TURN, 10.0)
        for i in range(run.samples):
            mine.append(await product.turn(people[i % len(people)], TURN, 10.0))
            await asyncio.sleep(0.02)  # the finished turn's bookkeeping settles
            direct.append(await http_stream(client, upstream.base_url, TURN, 10.0))
            await asyncio.sleep(0.02)
    results = [t.result for t in mine]
    p, b = _ttft(results), _ttft(direct)
    timed: list[PersonTurn] = []
    profiler = None
    if run.profile is not None:
        profiler = Profiler(product.daphne.pid, run.samples * 0.4, run.profile)
    for i in range(run.samples):
        person = people[(run.samples + i) % len(people)]
        timed.append(await product.turn(person, TURN, 10.0, cpu=True))
    phases = [t.cpu for t in timed if len(t.cpu) == 5]
    profile = None if profiler is None else await asyncio.to_thread(profiler.finish, 40)

    def ms(values: list[float]) -> dict[str, float]:
        return {"median": round(median(values) * 1000, 2), "mean": round(mean(values) * 1000, 2)}

    return {
        "ttft_ms": {"product": p, "direct": b, "added": added(p, b)},
        "new_chat_to_first_token_ms": ms_quantiles(
            [f - t.t_new for t in mine if (f := t.result.tracker.first.get("r"))]
        ),
        "turn_started_ms": ms_quantiles(
            [r.t_started - r.t_send for r in results if r.t_started is not None]
        ),
        "cpu_ms": {
            "turns": len(phases),
            "total": ms([c[4] - c[0] for c in phases]),
            "open": ms([c[2] - c[0] for c in phases]),
            "new_conversation": ms([c[1] - c[0] for c in phases]),
            "socket": ms([c[2] - c[1] for c in phases]),
            "start": ms([c[3] - c[2] for c in phases]),
            "tokens_and_end": ms([c[4] - c[3] for c in phases]),
        },
        "errors": [r.error for r in results + direct if r.error][:5],
        "tokens_lost": sum(r.lost for r in results),
        "profile": profile,
    }


async def concurrent(product: Product, upstream: UpstreamProcess, run: Run) -> dict[str, Any]:
    """`run.concurrent` people each starting turns back to back; the direct read likewise."""
    n, people = run.concurrent, product.people.people
    mine: list[StreamResult] = []
    direct: list[StreamResult] = []
    cpu = 0.0
    async with http_client(n + 10) as client:
        for round_ in range(run.concurrent_rounds):

            async def person(i: int, round_: int = round_) -> list[StreamResult]:
                out = []
                for k in range(run.turns_per_client):
                    who = people[(i + n * (round_ * run.turns_per_client + k)) % len(people)]
                    out.append((await product.turn(who, TURN_PACED, 30.0)).result)
                return out

            async def reader(i: int) -> list[StreamResult]:
                return [
                    await http_stream(client, upstream.base_url, TURN_PACED, 30.0)
                    for _ in range(run.turns_per_client)
                ]

            before = cpu_seconds(product.daphne.pid)
            for batch in await staggered(n, TURN_PACED.duration, person):
                mine += batch
            cpu += cpu_seconds(product.daphne.pid) - before
            await asyncio.sleep(0.2)
            for batch in await staggered(n, TURN_PACED.duration, reader):
                direct += batch
            await asyncio.sleep(0.2)
    p, b = _ttft(mine), _ttft(direct)
    delays_p = ms_quantiles([d for r in mine for d in r.tracker.delays])
    delays_b = ms_quantiles([d for r in direct for d in r.tracker.delays])
    return {
        "streams": n,
        "token_delay_ms": {
            "product": delays_p,
            "direct": delays_b,
            "added": added(delays_p, delays_b),
        },
        "turns": len(mine),
        "ttft_ms": {"product": p, "direct": b, "added": added(p, b)},
        "cpu_ms_per_turn": round(cpu / max(len(mine), 1) * 1000, 2),
        "errors": [r.error for r in mine + direct if r.error][:5],
        "tokens_lost": sum(r.lost for r in mine),
    }


async def sweep(product: Product, upstream: UpstreamProcess, run: Run) -> dict[str, Any]:
    """N open-ended streams at 50 tokens/s, each a new chat of its own person."""
    plan = run.sweep
    n = plan.sweep[0]
    bound = plan.sweep_ramp + plan.sweep_start_limit + plan.sweep_steady + plan.slack
    people = product.people.people
    pids = {"daphne": product.daphne.pid, "upstream": upstream.pid, "bench_client": os.getpid()}

    async def start(i: int, result: StreamResult) -> StreamResult:
        return (await product.turn(people[i % len(people)], plan.sweep_spec, bound, result)).result

    cpu0 = cpu_seconds(product.daphne.pid)
    mine = await sweep_round(plan, n, upstream, start, pids)
    cpu = cpu_seconds(product.daphne.pid) - cpu0
    async with http_client(n + 10) as client:

        async def via_httpx(i: int, result: StreamResult) -> StreamResult:
            return await http_stream(client, upstream.base_url, plan.sweep_spec, bound, result)

        readers = {"httpx": await sweep_round(plan, n, upstream, via_httpx, pids)}

    async def via_socket(i: int, result: StreamResult) -> StreamResult:
        return await raw_stream(upstream.port, plan.sweep_spec, bound, result)

    readers["raw"] = await sweep_round(plan, n, upstream, via_socket, pids)
    # Added over the faster direct reader: from about 100 streams on, httpx alone
    # saturates the client's core (the relay bench's README).
    direct = min(readers.values(), key=lambda r: r["steady_delay_ms"]["p99"] or float("inf"))
    mine.pop("cpu_steady", None)
    keep = ("errors", "steady_delay_ms", "ttft_reasoning_ms")
    return {
        "streams": n,
        "product": mine,
        "direct": {name: {k: r[k] for k in keep} for name, r in readers.items()},
        "token_delay_added_ms": added(mine["steady_delay_ms"], direct["steady_delay_ms"]),
        "ttft_added_ms": added(mine["ttft_reasoning_ms"], direct["ttft_reasoning_ms"]),
        "cpu_ms_per_turn": round(cpu / n * 1000, 1),
    }


async def measure(
    run: Run, env: dict[str, str], people: People, upstream: UpstreamProcess, logs: Path
) -> dict[str, Any]:
    out: dict[str, Any] = {"people": len(people), "daphne_core": DAPHNE_CORE}
    daphne = Daphne(env, logs.with_name(logs.name + "-main.log"), preexec_fn=_pinned)
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=60) as client:
            product = Product(daphne, people, client)
            for i in range(3):  # imports, pools, the first queries
                await product.turn(people.people[-1 - i], TURN, 20.0)
            out["one_stream"] = await guarded("one stream", one_stream(product, upstream, run), 300)
            out["concurrent"] = await guarded(
                f"{run.concurrent} at once", concurrent(product, upstream, run), 300
            )
        out["daphne_log_problems"] = daphne.problems()
    finally:
        daphne.stop()
    gc.collect()
    daphne = Daphne(env, logs.with_name(logs.name + "-sweep.log"), preexec_fn=_pinned)
    try:
        limits = httpx.Limits(max_connections=run.sweep.sweep[0] + 10)
        async with httpx.AsyncClient(trust_env=False, timeout=60, limits=limits) as client:
            product = Product(daphne, people, client)
            await product.turn(people.people[-1], TURN, 20.0)
            out["sweep"] = await guarded("sweep", sweep(product, upstream, run), 300)
        out["daphne_log_problems_sweep"] = daphne.problems()
    finally:
        daphne.stop()
    return out
