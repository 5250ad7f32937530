"""A lean upstream for load: the fake upstream's bytes, served by a server made for thousands of streams.

`providers.fake_upstream.FakeUpstream` runs one asyncio task per request and
sleeps per frame; at 1,000 streams x 50 tokens/s that costs the shared two cores
more than the relay under test. This server writes the same chat-completions
frames (taken from `token_stream`, so the bytes stay the project's) from plain
`call_at` callbacks on an absolute schedule, one transport write per wake-up.

Each request's last user message says what to stream (see `spec_text`):
`bench r=<reasoning tokens> c=<answer tokens> rate=<tokens/s> [open=1]`, rate 0
meaning as fast as the socket takes it. An open stream keeps sending answer tokens
(at most `c`) until `POST /bench/end`: every stream of a sweep then ends at the
same moment, however long the product took to start them, so all of them really
run at once for a while. `POST /bench/open` clears that for the next round;
`POST /bench/stats` tells how many streams the upstream is sending right now, and
`POST /bench/sent` (a JSON list of stream ids) how many tokens of each it wrote:
the truth a reader's count is checked against, even for a stream that never ended.

Every token's text is `<kind><index>@<send time, µs>|` (kind `r` or `c`), stamped
when it is written: a reader knows which token it got, whether one is missing or
doubled, and how long it travelled. The product and the direct baseline read the
same stamps against the same clock (one machine).

    python -m tests.bench.upstream --port 0     # prints "LISTENING <port>"
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import signal
import socket
import time
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from providers.fake_upstream import token_stream

PLACEHOLDER = "@@BENCH@@"
_PLACEHOLDER_B = PLACEHOLDER.encode()
_SPEC = re.compile(r"bench r=(\d+) c=(\d+) rate=([0-9.]+)( open=1)?(?: id=(\w+))?")
# Frames written per wake-up at most when catching up: the loop stays fair to other streams.
_BATCH = 128
SSE_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: text/event-stream; charset=utf-8\r\n"
    b"Cache-Control: no-cache\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
)


@dataclass(frozen=True)
class Spec:
    n_reasoning: int
    n_content: int  # for an open stream: the most it sends if no end comes
    rate: float  # tokens/s; 0: unpaced
    open_ended: bool = False

    @property
    def duration(self) -> float:
        """Seconds the stream lasts at its rate (an open stream: at most)."""
        return (self.n_reasoning + self.n_content) / self.rate if self.rate else 0.0


def spec_text(spec: Spec, stream_id: str = "") -> str:
    """The user message asking for `spec`; `stream_id` lets `/bench/sent` report on it."""
    text = f"bench r={spec.n_reasoning} c={spec.n_content} rate={spec.rate:g}"
    text += " open=1" if spec.open_ended else ""
    return text + (f" id={stream_id}" if stream_id else "")


def parse_spec(body: bytes) -> tuple[Spec, str]:
    """The spec and stream id in the last user message (a small default otherwise)."""
    try:
        messages = json.loads(body).get("messages") or []
        users = [m.get("content") for m in messages if m.get("role") == "user"]
        match = _SPEC.search(str(users[-1]))
    except (ValueError, AttributeError, IndexError):
        match = None
    if match is None:
        return Spec(2, 2, 0.0), ""
    return Spec(int(match[1]), int(match[2]), float(match[3]), bool(match[4])), match[5] or ""


@lru_cache(maxsize=1)
def _templates() -> tuple[bytes, bytes, bytes]:
    """The role chunk, and one reasoning and one answer chunk holding the placeholder."""
    frames = [data for _, data in token_stream(1, 1, None, token=PLACEHOLDER).frames]
    return frames[0], frames[1], frames[2]


@lru_cache(maxsize=256)
def _tail(n_reasoning: int, n_content: int) -> bytes:
    """Finish chunk, usage chunk (with these counts) and [DONE], chunk-encoded."""
    frames = token_stream(n_reasoning, n_content, None, token=PLACEHOLDER).frames[-3:]
    return b"".join(_chunk(data) for _, data in frames) + b"0\r\n\r\n"


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%b\r\n" % (len(data), data)


class _Stream:
    """One response body, written on an absolute schedule from loop callbacks."""

    def __init__(self, conn: _Connection, spec: Spec) -> None:
        self.conn = conn
        self.spec = spec
        self.loop = asyncio.get_running_loop()
        self.interval = 1.0 / spec.rate if spec.rate else 0.0
        self.t0 = self.loop.time()
        self.limit = spec.n_reasoning + spec.n_content
        self.sent = 0
        self.handle: asyncio.Handle | None = None
        role, self.think, self.say = _templates()
        conn.write(SSE_HEAD + _chunk(role))

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None

    def pump(self) -> None:
        self.handle = None
        conn = self.conn
        if conn.transport is None or conn.paused:
            return  # gone, or resume_writing pumps again
        now = self.loop.time()
        end_at = conn.state.end_at if self.spec.open_ended else None
        n_reasoning = self.spec.n_reasoning
        stamp = b""
        out: list[bytes] = []
        while True:
            due = self.t0 + (self.sent + 1) * self.interval
            if self.sent >= self.limit or (end_at is not None and due > end_at):
                done_r = min(self.sent, n_reasoning)
                out.append(_tail(done_r, self.sent - done_r))
                conn.write(b"".join(out))
                conn.stream_done()
                return
            if self.interval and due > now:
                self.handle = self.loop.call_at(due, self.pump)
                break
            if not stamp:
                stamp = b"@%d|" % (time.time_ns() // 1000)
            if self.sent < n_reasoning:
                token = b"r%d" % self.sent + stamp
                out.append(_chunk(self.think.replace(_PLACEHOLDER_B, token)))
            else:
                token = b"c%d" % (self.sent - n_reasoning) + stamp
                out.append(_chunk(self.say.replace(_PLACEHOLDER_B, token)))
            self.sent += 1
            if len(out) >= _BATCH:
                self.handle = self.loop.call_soon(self.pump)
                break
        if out:
            conn.write(b"".join(out))


class State:
    """Shared by every connection of the server."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.end_at: float | None = None  # loop time after which open streams end
        self.streams: set[_Stream] = set()
        self.by_id: dict[str, _Stream] = {}  # this round's streams (cleared by /bench/open)
        self.started = 0
        self.completed = 0
        self.peak = 0

    def sent(self, ids: list[str]) -> dict[str, list[int]]:
        """`[reasoning, answer]` tokens written, per known stream id."""
        out = {}
        for stream_id in ids:
            stream = self.by_id.get(stream_id)
            if stream is not None:
                done_r = min(stream.sent, stream.spec.n_reasoning)
                out[stream_id] = [done_r, stream.sent - done_r]
        return out

    def stats(self) -> dict[str, int]:
        return {
            "active": len(self.streams),
            "peak": self.peak,
            "started": self.started,
            "completed": self.completed,
        }

    def end_open_streams(self) -> None:
        self.end_at = self.loop.time()
        for stream in list(self.streams):
            # A stream waiting for its next token ends now rather than at that token.
            if stream.spec.open_ended and stream.handle is not None:
                stream.cancel()
                stream.pump()


class _Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, one request at a time (httpx does not pipeline)."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.stream: _Stream | None = None
        self.paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # Each token leaves at once, as from a real provider's streaming server.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.set_write_buffer_limits(high=256 * 1024)

    def write(self, data: bytes) -> None:
        if self.transport is not None:
            self.transport.write(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.stream is not None:
            self.stream.cancel()
            self.state.streams.discard(self.stream)
            self.stream = None

    def pause_writing(self) -> None:
        self.paused = True

    def resume_writing(self) -> None:
        self.paused = False
        if self.stream is not None and self.stream.handle is None:
            self.stream.pump()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.stream is None:
            self._next_request()

    def stream_done(self) -> None:
        if self.stream is not None:
            self.state.streams.discard(self.stream)
        self.stream = None
        self.state.completed += 1
        self._next_request()

    def _next_request(self) -> None:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0 or self.transport is None:
            return
        head = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
        method, path = (head[0].split(" ") + ["", ""])[:2]
        length = 0
        for line in head[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip() or 0)
        if len(self.buffer) < end + 4 + length:
            return  # the body is still coming
        body = bytes(self.buffer[end + 4 : end + 4 + length])
        del self.buffer[: end + 4 + length]
        if method == "POST" and path.startswith("/bench/"):
            answer: Any = self.state.stats()
            if path == "/bench/end":
                self.state.end_open_streams()
            elif path == "/bench/open":
                self.state.end_at = None
                self.state.peak = len(self.state.streams)
                self.state.by_id.clear()
            elif path == "/bench/sent":
                answer = self.state.sent(json.loads(body or b"[]"))
            stats = json.dumps(answer).encode()
            self.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%b" % (len(stats), stats)
            )
            self._next_request()
            return
        if method != "POST" or not path.endswith("/chat/completions"):
            msg = b'{"error":{"message":"not found"}}'
            self.write(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%b" % (len(msg), msg)
            )
            self._next_request()
            return
        state = self.state
        state.started += 1
        spec, stream_id = parse_spec(body)
        self.stream = _Stream(self, spec)
        state.streams.add(self.stream)
        if stream_id:
            state.by_id[stream_id] = self.stream
        state.peak = max(state.peak, len(state.streams))
        self.stream.pump()


async def serve(host: str, port: int, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    state = State()
    server = await loop.create_server(lambda: _Connection(state), host, port, backlog=4096)
    print(f"LISTENING {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), max_seconds)
    except TimeoutError:
        pass  # bounded: an orphaned upstream stops by itself
    server.close()
    print(f"STATS started={state.started} completed={state.completed} peak={state.peak}")


def raise_nofile() -> None:
    """Thousands of sockets need more descriptors than the usual soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.upstream")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--max-seconds", type=float, default=3600.0)
    args = parser.parse_args()
    raise_nofile()
    asyncio.run(serve(args.host, args.port, args.max_seconds))


if __name__ == "__main__":
    main()
