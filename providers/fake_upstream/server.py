"""`FakeUpstream`: a hand-written asyncio HTTP/1.1 server that plays `Script`s byte for byte.

It runs on its own event loop in a daemon thread, records every request, refuses
the way providers do (see `checks`), then answers with the next queued script, the
default script, or `fallback`. `_play` writes each frame as its own HTTP chunk on
an absolute schedule and ends the body properly, cuts the connection or hangs.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from providers.fake_upstream.chat import chat_stream
from providers.fake_upstream.checks import refusal, rule_refusal
from providers.fake_upstream.frames import RecordedRequest, Script
from providers.fake_upstream.responses import responses_stream

logger = logging.getLogger(__name__)


def _default_fallback(path: str, body: Any) -> Script:
    return responses_stream() if path.endswith("/responses") else chat_stream()


class FakeUpstream:
    """The server. Thread-safe: tests enqueue and inspect from their own thread."""

    def __init__(self, api_key: str | None = None, host: str = "127.0.0.1", port: int = 0):
        self.api_key = api_key
        self.host = host
        self._port = port
        # Served when the queue is empty; None: `fallback` decides per path.
        self.default_script: Script | None = None
        # (path, request json) -> Script, when there is neither a queued nor a default script.
        self.fallback: Callable[[str, Any], Script] = _default_fallback
        # A preset name: requests must meet that provider's parameter rules (checks.py);
        # None: any parameters are taken.
        self.rules: str | None = None
        # The ids GET {base}/models lists.
        self.listed_models: list[str] = ["fake-model"]
        self._cond = threading.Condition()
        self._queue: deque[Script] = deque()
        self._requests: list[RecordedRequest] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._handlers: set[asyncio.Task[None]] = set()
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None

    # -- lifecycle

    def start(self) -> None:
        """Start serving; returns once the port is listening."""
        self._ready.clear()
        self._startup_error = None
        self._thread = threading.Thread(target=self._run, name="fake-upstream", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the fake upstream did not start")
        if self._startup_error is not None:
            raise self._startup_error

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or not thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> FakeUpstream:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}/v1"

    # -- test API

    def enqueue(self, *scripts: Script) -> None:
        with self._cond:
            self._queue.extend(scripts)

    def reset(self) -> None:
        with self._cond:
            self._queue.clear()
            self._requests.clear()
            self.default_script = None
            self.rules = None
            self.listed_models = ["fake-model"]

    @property
    def requests(self) -> list[RecordedRequest]:
        """A snapshot of every request received so far (rejected ones too)."""
        with self._cond:
            return list(self._requests)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until `n` requests were received. From async code use `await_requests`."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._requests) >= n, timeout):
                raise TimeoutError(f"expected {n} requests, got {len(self._requests)}")
            return list(self._requests)

    async def await_requests(
        self,
        n: int,
        timeout: float = 5.0,  # noqa: ASYNC109 (the same call as wait_for_requests)
    ) -> list[RecordedRequest]:
        """`wait_for_requests` without blocking the caller's event loop."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if len(self._requests) >= n:
                    return list(self._requests)
                got = len(self._requests)
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {n} requests, got {got}")
            await asyncio.sleep(0.01)

    # -- server thread

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            self._server = loop.run_until_complete(
                asyncio.start_server(self._handle, self.host, self._port, backlog=4096)
            )
            self._port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # Each frame leaves at once: frame boundaries stay read boundaries.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass  # the client went away
        except asyncio.CancelledError:
            pass  # the server stops
        except Exception:
            logger.exception("fake upstream: handler failed")
        finally:
            self._handlers.discard(task)
            writer.close()

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; returns whether the connection may carry another."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        method, target, _ = (request_line.split(" ", 2) + ["", ""])[:3]
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            body = await _read_chunked(reader)
        else:
            body = await reader.readexactly(int(headers.get("content-length") or 0))
        keep_alive = headers.get("connection", "").lower() != "close"

        path = target.split("?", 1)[0]
        try:
            data = json.loads(body) if body else None
            valid_json = body != b""
        except ValueError:
            data, valid_json = None, False
        with self._cond:
            self._requests.append(RecordedRequest(path, headers, data))
            self._cond.notify_all()

        script = refusal(method, path, headers, data, valid_json, self.api_key, self.listed_models)
        if script is None and self.rules is not None:
            script = rule_refusal(self.rules, path, data)
        if script is None:
            script = self._next_script(path, data)
        return await _play(script, reader, writer) and keep_alive

    def _next_script(self, path: str, data: Any) -> Script:
        with self._cond:
            if self._queue:
                return self._queue.popleft()
            script = self.default_script
        return script if script is not None else self.fallback(path, data)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)


async def _play(script: Script, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
    """Write `script` byte for byte; returns whether the connection stays usable."""
    loop = asyncio.get_running_loop()
    if script.first_byte_delay > 0:
        await asyncio.sleep(script.first_byte_delay)
    try:
        phrase = HTTPStatus(script.status).phrase
    except ValueError:
        phrase = "Unknown"
    headers = dict(script.headers)
    if script.chunked:
        headers["Transfer-Encoding"] = "chunked"
    else:
        headers["Content-Length"] = str(sum(len(data) for _, data in script.frames))
    head = f"HTTP/1.1 {script.status} {phrase}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in headers.items()) + "\r\n"
    writer.write(head.encode("latin-1"))
    await writer.drain()

    due = loop.time()
    for delay, data in script.frames:
        if delay > 0:
            # An absolute schedule: late wake-ups are caught up, pacing does not drift.
            due += delay
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
        if not data:
            continue  # an empty chunk would end the body
        writer.write(b"%x\r\n%b\r\n" % (len(data), data) if script.chunked else data)
        await writer.drain()

    if script.ending == "close":
        if script.chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        return True
    if script.ending == "hang":
        while await reader.read(65536):
            pass  # until the client closes its end
    return False  # "cut": the caller closes the connection mid-body
