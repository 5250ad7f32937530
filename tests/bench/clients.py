"""The two readers of one upstream stream: through the product (websocket) and direct (httpx).

Both do the same per-token bookkeeping (`Tracker`) on the stamps the bench
upstream puts in every token, so the two sets of figures differ only by the path.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from tests.bench.upstream import Spec, spec_text

TERMINAL = {"turn.completed", "turn.failed", "turn.stopped"}


class Tracker:
    """Checks one stream's tokens (none lost, doubled or reordered) and times each one."""

    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.seen = {"r": bytearray(spec.n_reasoning), "c": bytearray(spec.n_content)}
        self.last = {"r": -1, "c": -1}
        self.stamps: list[float] = []  # the upstream's write time of each token read
        self.delays: list[float] = []  # seconds from that write to our read
        self.received = 0
        self.doubled = 0
        self.reordered = 0
        self.malformed = 0
        self.first: dict[str, float] = {}
        self.first_delay: dict[str, float] = {}
        self.last_at = 0.0
        self.reported: tuple[int, int] | None = None  # (reasoning, answer) tokens per usage

    def feed(self, text: str, now: float) -> None:
        for piece in text.split("|"):
            if not piece:
                continue
            kind = piece[0]
            index_s, _, stamp_s = piece[1:].partition("@")
            seen = self.seen.get(kind)
            try:
                index, stamp = int(index_s), int(stamp_s) / 1e6
            except ValueError:
                self.malformed += 1
                continue
            if seen is None or not 0 <= index < len(seen):
                self.malformed += 1
                continue
            if seen[index]:
                self.doubled += 1
                continue
            seen[index] = 1
            self.received += 1
            if index < self.last[kind]:
                self.reordered += 1
            self.last[kind] = index
            self.stamps.append(stamp)
            self.delays.append(now - stamp)
            if kind not in self.first:
                self.first[kind] = now
                self.first_delay[kind] = now - stamp
            self.last_at = now

    def usage(self, usage: Any) -> None:
        """The counts the stream's usage reports (how many an open stream sent)."""
        if not isinstance(usage, dict):
            return
        total, reasoning = usage.get("completion_tokens"), usage.get("reasoning_tokens")
        if reasoning is None and isinstance(usage.get("completion_tokens_details"), dict):
            reasoning = usage["completion_tokens_details"].get("reasoning_tokens")
        if isinstance(total, int) and isinstance(reasoning, int):
            self.reported = (reasoning, total - reasoning)

    @property
    def expected(self) -> int:
        if not self.spec.open_ended:
            return self.spec.n_reasoning + self.spec.n_content
        if self.reported is not None:
            return sum(self.reported)
        # No usage (the stream failed): at least every token up to the last one seen.
        return sum(last + 1 for last in self.last.values())


@dataclass
class StreamResult:
    spec: Spec
    t_send: float = 0.0
    ok: bool = False
    error: str | None = None
    t_end: float | None = None
    t_started: float | None = None  # `turn.started` read (product only)
    frames: int = 0
    seq_gaps: int = 0
    stream_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    tracker: Tracker = field(init=False)

    def __post_init__(self) -> None:
        self.tracker = Tracker(self.spec)

    @property
    def prompt(self) -> str:
        return spec_text(self.spec, self.stream_id)

    @property
    def lost(self) -> int:
        return max(0, self.tracker.expected - self.tracker.received)

    def ttft(self, kind: str) -> float | None:
        first = self.tracker.first.get(kind)
        return None if first is None else first - self.t_send

    def first_delay(self, kind: str) -> float | None:
        """Upstream write to our read, for the first token of `kind` (the path alone)."""
        return self.tracker.first_delay.get(kind)

    @property
    def throughput(self) -> float | None:
        """Tokens per second, from sending the request to reading the last token.

        Not first token to last: the product may hold early tokens while it stores
        the turn and then deliver them at once, which would flatter that span.
        """
        span = self.span
        if span is None or span[1] <= self.t_send:
            return None
        return self.tracker.received / (span[1] - self.t_send)

    @property
    def span(self) -> tuple[float, float] | None:
        """When this stream was delivering: first token to last token."""
        firsts = self.tracker.first.values()
        return (min(firsts), self.tracker.last_at) if firsts else None


# --- through the product -------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """How to reach the product as the bench user."""

    port: int
    cookie: str
    model: str  # "<provider name>/<model id>"

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, conversation_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/conversations/{conversation_id}/"


async def open_socket(site: Site, conversation_id: str, within: float = 30.0) -> ClientConnection:
    return await connect(
        site.ws_url(conversation_id),
        origin=cast(Origin, site.origin),
        additional_headers=[("Cookie", f"sessionid={site.cookie}")],
        compression=None,  # daphne does not negotiate it anyway; browsers would offer it
        proxy=None,
        open_timeout=within,
        ping_interval=None,  # no keep-alive traffic in the figures
        max_size=None,
    )


async def ws_turn(
    ws: ClientConnection,
    site: Site,
    spec: Spec,
    within: float,
    result: StreamResult | None = None,
    on_started: Callable[[], None] | None = None,
) -> StreamResult:
    """Send one `user_message` and read every frame until the turn ends.

    `on_started` is called when `turn.started` is read (the CPU stamp of a turn's start)."""
    result = result or StreamResult(spec)
    message = json.dumps({"type": "user_message", "content": result.prompt, "model": site.model})
    result.t_send = time.time()
    tracker = result.tracker
    last_seq = 0
    try:
        async with asyncio.timeout(within):
            await ws.send(message)
            while True:
                raw = await ws.recv()
                now = time.time()
                frame: dict[str, Any] = json.loads(raw)
                result.frames += 1
                type_ = frame.get("type")
                if type_ == "error":
                    result.error = f"error frame: {frame.get('code')}"
                    return result
                seq = frame.get("seq")
                if isinstance(seq, int):
                    if seq != last_seq + 1:
                        result.seq_gaps += 1
                    last_seq = seq
                if type_ == "reasoning.delta" or type_ == "content.delta":
                    tracker.feed(frame["text"], now)
                elif type_ == "turn.started":
                    result.t_started = now
                    if on_started is not None:
                        on_started()
                elif type_ in TERMINAL:
                    tracker.usage(frame.get("usage"))
                    result.t_end = now
                    result.ok = type_ == "turn.completed"
                    if not result.ok:
                        result.error = f"{type_}: {frame.get('error')}"
                    return result
    except TimeoutError:
        result.error = "timeout"
    except Exception as exc:  # a closed socket or a refused handshake: counted, not fatal
        result.error = f"{type(exc).__name__}: {exc}"
    return result


# --- direct: the baseline -------------------------------------------------------------------


def http_client(max_connections: int = 100) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(60.0),
        limits=httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=max_connections
        ),
        trust_env=False,
    )


def request_body(result: StreamResult) -> dict[str, Any]:
    return {
        "model": "relay",
        "messages": [{"role": "user", "content": result.prompt}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def read_chunks(resp: httpx.Response, result: StreamResult) -> None:
    """Read a chat-completions SSE answer into `result`: each token stamped as it is
    read, the usage, `[DONE]`, and an `error` event if one comes."""
    resp.raise_for_status()
    pending = b""
    async for chunk in resp.aiter_bytes():
        now = time.time()
        events = (pending + chunk).split(b"\n\n")
        pending = events.pop()
        for event in events:
            if not event.startswith(b"data: "):
                continue
            data = event[6:]
            if data == b"[DONE]":
                result.ok = True
                result.t_end = now
                continue
            result.frames += 1
            parsed = json.loads(data)
            if "error" in parsed:
                result.error = f"error event: {parsed['error'].get('code')}"
            if parsed.get("usage"):
                result.tracker.usage(parsed["usage"])
            for choice in parsed.get("choices") or ():
                delta = choice.get("delta") or {}
                text = delta.get("reasoning_content") or delta.get("content")
                if text:
                    result.tracker.feed(text, now)


async def http_stream(
    client: httpx.AsyncClient,
    base_url: str,
    spec: Spec,
    within: float,
    result: StreamResult | None = None,
) -> StreamResult:
    """The same request the product's client sends, read and parsed directly."""
    result = result or StreamResult(spec)
    body = request_body(result)
    result.t_send = time.time()
    try:
        async with asyncio.timeout(within):
            async with client.stream("POST", base_url + "/chat/completions", json=body) as resp:
                await read_chunks(resp, result)
    except TimeoutError:
        result.error = "timeout"
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    if not result.ok and result.error is None:
        result.error = "no [DONE]"
    return result


class _RawReader(asyncio.Protocol):
    """The floor: tokens picked out of the raw bytes, no HTTP library, no JSON parsing."""

    def __init__(self, result: StreamResult, done: asyncio.Future[None]) -> None:
        self.result = result
        self.done = done
        self.tail = b""

    def data_received(self, data: bytes) -> None:
        now = time.time()
        text = self.tail + data
        # A token or the usage may straddle two reads: keep an unfinished last event.
        cut = text.rfind(b"\n\n")
        if cut < 0:
            self.tail = text
            return
        body, self.tail = text[: cut + 2], text[cut + 2 :]
        tokens = _RAW_TOKEN.findall(body)
        if tokens:
            self.result.frames += len(tokens)
            self.result.tracker.feed(b"".join(tokens).decode(), now)
        if b'"usage"' in body and (m := _RAW_USAGE.search(body)):
            total, reasoning = int(m[1]), int(m[2])
            self.result.tracker.reported = (reasoning, total - reasoning)
        if b"[DONE]" in body:
            self.result.ok = True
            self.result.t_end = now
            if not self.done.done():
                self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


_RAW_TOKEN = re.compile(rb'"(?:reasoning_content|content)":"([rc]\d+@\d+\|)"')
_RAW_USAGE = re.compile(rb'"completion_tokens":(\d+).*?"reasoning_tokens":(\d+)')


async def raw_stream(
    port: int, spec: Spec, within: float, result: StreamResult | None = None
) -> StreamResult:
    """The same request on a bare asyncio socket: what reading the stream costs at least."""
    loop = asyncio.get_running_loop()
    result = result or StreamResult(spec)
    body = json.dumps(request_body(result)).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%b" % (len(body), body)
    )
    done: asyncio.Future[None] = loop.create_future()
    transport: asyncio.BaseTransport | None = None
    try:
        async with asyncio.timeout(within):
            result.t_send = time.time()
            transport, _ = await loop.create_connection(
                lambda: _RawReader(result, done), "127.0.0.1", port
            )
            assert isinstance(transport, asyncio.Transport)
            transport.write(request)
            await done
    except TimeoutError:
        result.error = "timeout"
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    finally:
        if transport is not None:
            transport.close()
    if not result.ok and result.error is None:
        result.error = "no [DONE]"
    return result


# --- figures --------------------------------------------------------------------------------


def quantile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def ms_quantiles(values: list[float], qs: tuple[float, ...] = (0.5, 0.95, 0.99)) -> dict[str, Any]:
    """p50/p95/p99 (and max, n) in milliseconds."""
    ordered = sorted(values)
    out: dict[str, Any] = {"n": len(ordered)}
    for q in qs:
        value = quantile(ordered, q)
        out[f"p{round(q * 100)}"] = None if value is None else round(value * 1000, 2)
    out["max"] = round(ordered[-1] * 1000, 2) if ordered else None
    return out


def added(product: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """Product minus baseline, quantile by quantile."""
    return {
        key: None
        if product.get(key) is None or baseline.get(key) is None
        else round(product[key] - baseline[key], 2)
        for key in ("p50", "p95", "p99", "max")
    }


def peak_overlap(spans: list[tuple[float, float]]) -> int:
    """The most streams delivering at one instant."""
    edges = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    peak = current = 0
    for _, step in edges:
        current += step
        peak = max(peak, current)
    return peak


def summarize(
    results: list[StreamResult], window: tuple[float, float] | None = None
) -> dict[str, Any]:
    """Delivery figures over many streams: delays of every token, losses, errors.

    With `window` (unix times), `steady_delay_ms` covers only the tokens the upstream
    wrote inside it: the part of a sweep when every stream was running.
    """
    delays = [d for r in results for d in r.tracker.delays]
    steady: list[float] = []
    if window is not None:
        lo, hi = window
        for r in results:
            tracker = r.tracker
            pairs = zip(tracker.stamps, tracker.delays, strict=True)
            steady += [delay for stamp, delay in pairs if lo <= stamp <= hi]
    errors: dict[str, int] = {}
    for r in results:
        if r.error:
            key = r.error.split(":")[0][:60]
            errors[key] = errors.get(key, 0) + 1
    spans = [s for r in results if (s := r.span) is not None]
    return {
        "streams": len(results),
        "completed": sum(r.ok for r in results),
        "errors": errors,
        "tokens_expected": sum(r.tracker.expected for r in results),
        "tokens_received": sum(r.tracker.received for r in results),
        # Missing from a stream that ended: a correctness bug. Missing from one that had
        # not ended by its time bound: late, maybe forever.
        "tokens_lost": sum(r.lost for r in results if r.ok),
        "tokens_undelivered": sum(r.lost for r in results if not r.ok),
        "tokens_doubled": sum(r.tracker.doubled for r in results),
        "tokens_reordered": sum(r.tracker.reordered for r in results),
        "tokens_malformed": sum(r.tracker.malformed for r in results),
        "seq_gaps": sum(r.seq_gaps for r in results),
        "frames": sum(r.frames for r in results),
        "delay_ms": ms_quantiles(delays),
        "steady_delay_ms": ms_quantiles(steady) if window is not None else None,
        "ttft_reasoning_ms": ms_quantiles([t for r in results if (t := r.ttft("r")) is not None]),
        "turn_started_ms": ms_quantiles(
            [r.t_started - r.t_send for r in results if r.t_started is not None]
        ),
        "peak_concurrent": peak_overlap(spans),
    }
