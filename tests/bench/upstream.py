"""A lean upstream for load: the fake upstream's bytes, served by a server made for thousands of streams.

`providers.fake_upstream.FakeUpstream` runs one asyncio task per request and
sleeps per frame; at 1,000 streams x 50 tokens/s that costs the shared two cores
more than the relay under test. This server writes the same chat-completions
frames (taken from `token_stream`, so the bytes stay the project's) from plain
`call_at` callbacks on an absolute schedule, one transport write per wake-up.

Each request's last user message says what to stream (see `spec_text`):
`bench r=<reasoning tokens> c=<answer tokens> rate=<tokens/s>`, rate 0 meaning as
fast as the socket takes it. Every token's text is `<kind><index>@<send time, µs>|`
(kind `r` or `c`), stamped when it is written: a reader knows which token it got,
whether one is missing or doubled, and how long it travelled. Both the product and
the direct baseline read these same stamps against the same clock (one machine).

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

from providers.fake_upstream import token_stream

PLACEHOLDER = "@@BENCH@@"
_PLACEHOLDER_B = PLACEHOLDER.encode()
_SPEC = re.compile(r"bench r=(\d+) c=(\d+) rate=([0-9.]+)")
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
    n_content: int
    rate: float  # tokens/s; 0: unpaced

    @property
    def duration(self) -> float:
        return (self.n_reasoning + self.n_content) / self.rate if self.rate else 0.0


def spec_text(spec: Spec) -> str:
    return f"bench r={spec.n_reasoning} c={spec.n_content} rate={spec.rate:g}"


def parse_spec(body: bytes) -> Spec:
    """The spec in the last user message of a chat-completions body (a small default otherwise)."""
    try:
        messages = json.loads(body).get("messages") or []
        users = [m.get("content") for m in messages if m.get("role") == "user"]
        match = _SPEC.search(str(users[-1]))
    except (ValueError, AttributeError, IndexError):
        match = None
    if match is None:
        return Spec(2, 2, 0.0)
    return Spec(int(match[1]), int(match[2]), float(match[3]))


@lru_cache(maxsize=64)
def frames_for(n_reasoning: int, n_content: int) -> tuple[tuple[bytes | None, bytes], ...]:
    """`(token kind or None, SSE frame)` for a stream; token frames hold the placeholder."""
    script = token_stream(n_reasoning, n_content, None, token=PLACEHOLDER)
    out: list[tuple[bytes | None, bytes]] = []
    seen = 0
    for _delay, data in script.frames:
        if _PLACEHOLDER_B in data:
            out.append((b"r" if seen < n_reasoning else b"c", data))
            seen += 1
        else:
            out.append((None, data))
    return tuple(out)


class _Stream:
    """One response body, written on an absolute schedule from loop callbacks."""

    def __init__(self, conn: _Connection, spec: Spec) -> None:
        self.conn = conn
        self.loop = asyncio.get_running_loop()
        self.frames = frames_for(spec.n_reasoning, spec.n_content)
        self.interval = 1.0 / spec.rate if spec.rate else 0.0
        self.t0 = self.loop.time()
        self.pos = 0
        self.tokens = 0
        self.index = {b"r": 0, b"c": 0}
        self.handle: asyncio.Handle | None = None

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
        stamp = 0
        out: list[bytes] = []
        frames = self.frames
        while self.pos < len(frames):
            kind, data = frames[self.pos]
            if kind is not None:
                if self.interval:
                    due = self.t0 + (self.tokens + 1) * self.interval
                    if due > now:
                        self.handle = self.loop.call_at(due, self.pump)
                        break
                if not stamp:
                    stamp = time.time_ns() // 1000
                index = self.index[kind]
                self.index[kind] = index + 1
                data = data.replace(_PLACEHOLDER_B, b"%b%d@%d|" % (kind, index, stamp))
                self.tokens += 1
            out.append(b"%x\r\n%b\r\n" % (len(data), data))
            self.pos += 1
            if len(out) >= _BATCH:
                self.handle = self.loop.call_soon(self.pump)
                break
        if out:
            conn.transport.write(b"".join(out))
        if self.pos >= len(frames) and self.handle is None:
            conn.transport.write(b"0\r\n\r\n")
            conn.stream_done()


class _Connection(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, one request at a time (httpx does not pipeline)."""

    def __init__(self, server: UpstreamStats) -> None:
        self.stats = server
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

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
        if self.stream is not None:
            self.stream.cancel()
            self.stream = None
            self.stats.active -= 1

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
        self.stream = None
        self.stats.active -= 1
        self.stats.completed += 1
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
        if method != "POST" or not path.endswith("/chat/completions"):
            msg = b'{"error":{"message":"not found"}}'
            self.transport.write(
                b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%b" % (len(msg), msg)
            )
            self._next_request()
            return
        self.transport.write(SSE_HEAD)
        self.stats.started += 1
        self.stats.active += 1
        self.stats.peak = max(self.stats.peak, self.stats.active)
        self.stream = _Stream(self, parse_spec(body))
        self.stream.pump()


class UpstreamStats:
    def __init__(self) -> None:
        self.started = 0
        self.completed = 0
        self.active = 0
        self.peak = 0


async def serve(host: str, port: int, max_seconds: float) -> None:
    loop = asyncio.get_running_loop()
    stats = UpstreamStats()
    server = await loop.create_server(lambda: _Connection(stats), host, port, backlog=4096)
    print(f"LISTENING {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await asyncio.wait_for(stop.wait(), max_seconds)
    except TimeoutError:
        pass  # bounded: an orphaned upstream stops by itself
    server.close()
    print(
        f"STATS started={stats.started} completed={stats.completed} peak={stats.peak}", flush=True
    )


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
