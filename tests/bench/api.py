"""The OpenAI-compatible API against the websocket path and a direct read.

    python -m tests.bench.api [--quick] [--out var/bench-api.json]

One daphne process (production settings, SQLite), the relay bench's upstream, and
three readers of the same streams: the API (`POST /v1/chat/completions` with a
personal token, streamed, read with httpx), the websocket (`user_message` on a
socket, as the relay bench does), and the upstream read directly with httpx.

- one stream: added time to the first reasoning token (p50/p99) of the API and of
  the websocket over the direct read, samples interleaved;
- 40 and 200 simultaneous streams at 50 tokens/s, the API's and the websocket's in
  turn: daphne's CPU per request (process CPU time over the batch / requests), the
  p99 added delay of every token, tokens lost.

Loopback only, bounded in time. The machine's cores are shared with the upstream,
the clients and whoever else uses it: compare figures within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from tests.bench import stack
from tests.bench.clients import (
    StreamResult,
    added,
    http_client,
    http_stream,
    ms_quantiles,
    open_socket,
    read_chunks,
    summarize,
    ws_turn,
)
from tests.bench.scenarios import Conversations, staggered
from tests.bench.upstream import Spec, raise_nofile

log = logging.getLogger("bench")
ROOT = stack.ROOT


async def api_stream(
    client: httpx.AsyncClient, url: str, token: str, model: str, spec: Spec, within: float
) -> StreamResult:
    """One streamed request to the product's /v1, read like the direct reader reads."""
    result = StreamResult(spec)
    body = {
        "model": model,
        "messages": [{"role": "user", "content": result.prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    headers = {"Authorization": f"Bearer {token}"}
    result.t_send = time.time()
    try:
        async with asyncio.timeout(within):
            async with client.stream(
                "POST", url + "/v1/chat/completions", json=body, headers=headers
            ) as resp:
                await read_chunks(resp, result)
    except TimeoutError:
        result.error = "timeout"
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    if result.error:
        result.ok = False
    elif not result.ok:
        result.error = "no [DONE]"
    return result


class Bench:
    def __init__(
        self, daphne: stack.Daphne, upstream: stack.UpstreamProcess, fixtures: Any, token: str
    ):
        self.daphne = daphne
        self.upstream = upstream
        self.site = stack_site(daphne, fixtures)
        self.model = fixtures.model_ref
        self.token = token
        self.conversations = Conversations(fixtures.conversations)

    async def ws_one(self, spec: Spec, within: float) -> StreamResult:
        ws = await open_socket(self.site, self.conversations.take())
        try:
            return await ws_turn(ws, self.site, spec, within)
        finally:
            await ws.close()

    async def latency(self, samples: int) -> dict[str, Any]:
        spec = Spec(4, 10, 200.0)
        api: list[StreamResult] = []
        ws: list[StreamResult] = []
        direct: list[StreamResult] = []
        async with http_client() as client:
            await http_stream(client, self.upstream.base_url, spec, 10.0)
            await api_stream(client, self.daphne.url, self.token, self.model, spec, 10.0)
            await self.ws_one(spec, 10.0)
            for _ in range(samples):
                api.append(
                    await api_stream(client, self.daphne.url, self.token, self.model, spec, 10.0)
                )
                await asyncio.sleep(0.005)
                ws.append(await self.ws_one(spec, 10.0))
                await asyncio.sleep(0.005)
                direct.append(await http_stream(client, self.upstream.base_url, spec, 10.0))
                await asyncio.sleep(0.005)

        def ttft(results: list[StreamResult]) -> dict[str, Any]:
            return ms_quantiles([t for r in results if (t := r.ttft("r")) is not None])

        base = ttft(direct)
        return {
            "samples": samples,
            "direct_ttft_ms": base,
            "api_ttft_ms": ttft(api),
            "ws_ttft_ms": ttft(ws),
            "api_added_ms": added(ttft(api), base),
            "ws_added_ms": added(ttft(ws), base),
            "errors": [r.error for r in api + ws + direct if r.error][:5],
        }

    async def level(self, n: int, spec: Spec) -> dict[str, Any]:
        """n simultaneous streams through the API, then through sockets."""
        process = psutil.Process(self.daphne.pid)
        within = spec.duration + 30
        out: dict[str, Any] = {"streams": n}
        async with http_client(max_connections=n + 10) as client:
            cpu0 = _cpu(process)
            results = await staggered(
                n,
                1.0,
                lambda _i: api_stream(
                    client, self.daphne.url, self.token, self.model, spec, within
                ),
            )
            out["api"] = _figures(results, _cpu(process) - cpu0, n)
        await asyncio.sleep(1.0)  # the turns' bookkeeping settles
        sockets = [await open_socket(self.site, c) for c in self.conversations.take_many(n)]
        try:
            cpu0 = _cpu(process)
            results = await staggered(
                n, 1.0, lambda i: ws_turn(sockets[i], self.site, spec, within)
            )
            out["ws"] = _figures(results, _cpu(process) - cpu0, n)
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
        api_cpu, ws_cpu = out["api"]["cpu_ms_per_request"], out["ws"]["cpu_ms_per_request"]
        out["api_cpu_over_ws"] = round(api_cpu / ws_cpu, 2) if ws_cpu else None
        return out


def stack_site(daphne: stack.Daphne, fixtures: Any) -> Any:
    from tests.bench.clients import Site

    return Site(daphne.port, fixtures.cookie, fixtures.model_ref)


def _cpu(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def _figures(results: list[StreamResult], cpu_seconds: float, n: int) -> dict[str, Any]:
    summary = summarize(results)
    return {
        "completed": summary["completed"],
        "errors": summary["errors"],
        "tokens_lost": summary["tokens_lost"],
        "delay_ms": summary["delay_ms"],
        "ttft_reasoning_ms": summary["ttft_reasoning_ms"],
        "cpu_ms_per_request": round(cpu_seconds * 1000 / n, 2),
    }


def make_token() -> str:
    from django.contrib.auth import get_user_model
    from django.db import connections

    from accounts.tokens import create_token

    user = get_user_model().objects.get(username="bench")
    secret = create_token(user, "bench", actor=None, via="bench")[1]
    connections.close_all()
    return secret


def run(quick: bool) -> dict[str, Any]:
    levels = (40,) if quick else (40, 200)
    samples = 20 if quick else 60
    spec = Spec(25, 75, 50.0)  # 2 s at 50 tokens/s
    result: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpu_count": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "note": "daphne, the upstream and the clients share these cores with other work",
    }
    with stack.scratch_dir() as work:
        env = stack.backend_env("sqlite", work)
        stack.setup_django("sqlite", env)
        upstream = stack.UpstreamProcess(env, max_seconds=900)
        daphne = None
        try:
            fixtures = stack.make_fixtures(upstream.port, samples + 10 + sum(levels))
            token = make_token()
            logs = ROOT / "var" / "bench-logs"
            logs.mkdir(parents=True, exist_ok=True)
            daphne = stack.Daphne(env, logs / "api-daphne.log")
            bench = Bench(daphne, upstream, fixtures, token)
            log.info("one stream, %d samples", samples)
            result["one_stream"] = asyncio.run(bench.latency(samples))
            result["levels"] = []
            for n in levels:
                log.info("%d streams", n)
                result["levels"].append(asyncio.run(bench.level(n, spec)))
            result["daphne_problems"] = daphne.problems()
        finally:
            if daphne is not None:
                daphne.stop()
            upstream.stop()
    return result


def render(result: dict[str, Any]) -> str:
    one = result["one_stream"]
    lines = [
        "API vs websocket vs direct (SQLite, one daphne process)",
        f"1 stream, added time to 1st reasoning token p50 / p99: "
        f"API {one['api_added_ms']['p50']} / {one['api_added_ms']['p99']} ms, "
        f"websocket {one['ws_added_ms']['p50']} / {one['ws_added_ms']['p99']} ms "
        f"(direct p50 {one['direct_ttft_ms']['p50']} ms)",
    ]
    for level in result["levels"]:
        api, ws = level["api"], level["ws"]
        lines.append(
            f"{level['streams']} streams: CPU per request API {api['cpu_ms_per_request']} ms, "
            f"websocket {ws['cpu_ms_per_request']} ms (x{level['api_cpu_over_ws']}); "
            f"token delay p99 API {api['delay_ms']['p99']} ms, websocket {ws['delay_ms']['p99']} ms; "
            f"lost {api['tokens_lost']} / {ws['tokens_lost']}; "
            f"completed {api['completed']} / {ws['completed']}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.api")
    parser.add_argument("--quick", action="store_true", help="40 streams only, fewer samples")
    parser.add_argument("--out", default="var/bench-api.json")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s bench %(message)s", stream=sys.stderr
    )
    log.setLevel(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    raise_nofile()
    result = run(args.quick)
    out = Path(args.out)
    out = out if out.is_absolute() else ROOT / out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(render(result))
    print(f"\nResults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
