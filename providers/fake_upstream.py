"""The scripted fake upstream: a real HTTP/1.1 server on loopback.

It speaks both API styles byte for byte (SSE framing, keep-alive comments, usage
chunks, error bodies, cut and hanging connections) and checks requests the way
real providers do: a wrong key gets DeepSeek's 401, replayed reasoning gets the
400 of R1-era chat APIs or Ark's `InvalidParameter`. It runs on its own event
loop in a daemon thread, so sync tests, async tests and separate daphne
processes can all reach it over real sockets.

Tests queue `Script`s (built with `chat_stream`, `responses_stream`,
`error_response`, `token_stream`); each POST takes the next one. By hand:

    python -m providers.fake_upstream --port 8001 --rate 20 [--api-key KEY]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

logger = logging.getLogger(__name__)

Ending = Literal["close", "cut", "hang"]
Frame = tuple[float, bytes]

SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
JSON_HEADERS = {"Content-Type": "application/json"}
CREATED = 1_760_000_000

DEFAULT_REASONING: tuple[str, ...] = ("The user says hello.", " A short greeting back will do.")
DEFAULT_CONTENT: tuple[str, ...] = ("Hel", "lo")

REPLAYED_CHAT = {
    "error": {
        "message": "The reasoning_content is an intermediate result for display purposes only "
        "and will not be included in the context for inference. Please remove the "
        "reasoning_content from your input.",
        "type": "invalid_request_error",
        "code": "invalid_request_error",
    }
}
REPLAYED_RESPONSES = {
    "error": {
        "code": "InvalidParameter",
        "message": "The parameter `input` specified in the request is not valid: "
        "reasoning content must not be passed back.",
        "param": "input",
        "type": "BadRequest",
    }
}
MID_STREAM_ERROR = {
    "message": "The service is temporarily overloaded. Please try again later.",
    "type": "server_error",
    "code": "server_overloaded",
}


@dataclass(frozen=True)
class RecordedRequest:
    path: str
    headers: dict[str, str]  # names lowercased
    json: Any  # None when the body was empty or not JSON


@dataclass
class Script:
    """One scripted answer.

    Each frame is written `delay` seconds after the previous one (on an absolute
    schedule, so pacing does not drift), as its own HTTP chunk: a frame boundary
    is a read boundary for the client. `ending`: "close" ends the body properly,
    "cut" closes the connection mid-body, "hang" sends nothing more until the
    client goes away. Non-chunked scripts (error bodies) use Content-Length.
    """

    status: int = 200
    headers: dict[str, str] = field(default_factory=lambda: dict(SSE_HEADERS))
    frames: list[Frame] = field(default_factory=list)
    ending: Ending = "close"
    first_byte_delay: float = 0.0
    chunked: bool = True


# --- wire helpers -------------------------------------------------------------------------


def dumps(data: Any) -> str:
    # Raw UTF-8 like the real providers, so multi-byte characters can be split on the wire.
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def sse(data: Any, event: str | None = None, *, crlf: bool = False) -> bytes:
    """One SSE event; `data` is JSON-encoded unless it is already a string."""
    text = data if isinstance(data, str) else dumps(data)
    lines = [f"event: {event}"] if event else []
    lines += [f"data: {line}" for line in text.split("\n")]
    nl = "\r\n" if crlf else "\n"
    return (nl.join(lines) + nl + nl).encode()


def keepalive_frame(crlf: bool = False) -> bytes:
    return b": keep-alive\r\n\r\n" if crlf else b": keep-alive\n\n"


def split_frame(frame: bytes) -> list[bytes]:
    """Two pieces; inside the multi-byte character nearest the middle when there is one."""
    if len(frame) < 2:
        return [frame]
    middle = len(frame) // 2
    leads = [i for i, byte in enumerate(frame) if byte >= 0xC0]
    cut = min(leads, key=lambda i: abs(i - middle)) + 1 if leads else middle
    return [frame[:cut], frame[cut:]]


def _assemble(
    items: Sequence[tuple[bool, float, bytes]], stop_after: int | None
) -> tuple[list[Frame], bool]:
    """Frames from `(is_token, delay, bytes)`, truncated after the `stop_after`-th token.

    Returns the frames and whether they were truncated.
    """
    if stop_after is None:
        return [(delay, data) for _, delay, data in items], False
    frames: list[Frame] = []
    seen = 0
    for is_token, delay, data in items:
        if is_token:
            if seen == stop_after:
                return frames, True
            seen += 1
        frames.append((delay, data))
    return frames, True


def _split_all(frames: list[Frame]) -> list[Frame]:
    out: list[Frame] = []
    for delay, data in frames:
        first, *rest = split_frame(data)
        out.append((delay, first))
        out.extend((0.0, piece) for piece in rest)
    return out


# --- chat completions ---------------------------------------------------------------------


def default_chat_usage(n_reasoning: int, n_content: int, prompt: int = 12) -> dict[str, Any]:
    completion = n_reasoning + n_content
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": n_reasoning},
    }


def _chat_chunk(
    model: str,
    delta: dict[str, Any] | None,
    *,
    finish_reason: str | None = None,
    usage: Any = ...,
) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not ...:
        chunk["usage"] = usage
    return chunk


def chat_stream(
    reasoning: Sequence[str] = DEFAULT_REASONING,
    content: Sequence[str] = DEFAULT_CONTENT,
    *,
    reasoning_field: Literal["reasoning_content", "reasoning", "think"] = "reasoning_content",
    usage: dict[str, Any] | None = None,
    usage_mode: Literal["last_chunk", "separate", "null_every_chunk", "none"] = "separate",
    delay: float = 0.0,
    keepalive: bool = False,
    crlf: bool = False,
    done: bool = True,
    finish_reason: str | None = "stop",
    cut_after: int | None = None,
    error_after: int | None = None,
    split_bytes: bool = False,
    model: str = "fake-model",
) -> Script:
    """A DeepSeek-shaped chat completions stream.

    `usage=None` means a default computed from the piece counts (with
    `completion_tokens_details.reasoning_tokens`); `usage_mode="none"` sends none.
    `null_every_chunk` is OpenAI's shape: `"usage": null` on every chunk, then a
    `"choices": []` chunk with the usage. With `reasoning_field="think"` the reasoning
    pieces go into `content` after a `"<think>"` chunk and before a `"</think>"` chunk.
    `cut_after` / `error_after` count token chunks (reasoning, tags and content, in order).
    """
    reasoning, content = list(reasoning), list(content)
    usage_body = usage if usage is not None else default_chat_usage(len(reasoning), len(content))
    null = None if usage_mode == "null_every_chunk" else ...

    def frame(chunk: dict[str, Any]) -> bytes:
        return sse(chunk, crlf=crlf)

    if reasoning_field == "think":
        role: dict[str, Any] = {"role": "assistant", "content": ""}
        deltas: list[dict[str, Any]] = []
        if reasoning:
            deltas += [{"content": piece} for piece in ["<think>", *reasoning, "</think>"]]
        deltas += [{"content": piece} for piece in content]
    else:
        role = {"role": "assistant", "content": None, reasoning_field: ""}
        deltas = [{"content": None, reasoning_field: piece} for piece in reasoning]
        deltas += [{"content": piece, reasoning_field: None} for piece in content]

    items: list[tuple[bool, float, bytes]] = [
        (False, 0.0, frame(_chat_chunk(model, role, usage=null)))
    ]
    for delta in deltas:
        if keepalive:
            items.append((False, 0.0, keepalive_frame(crlf)))
        items.append((True, delay, frame(_chat_chunk(model, delta, usage=null))))

    stop_after = cut_after if cut_after is not None else error_after
    frames, truncated = _assemble(items, stop_after)
    ending: Ending = "close"
    if truncated and cut_after is not None:
        ending = "cut"
    elif truncated:
        frames.append((0.0, frame({"error": MID_STREAM_ERROR})))
        if done:
            frames.append((0.0, sse("[DONE]", crlf=crlf)))
    else:
        tail: list[dict[str, Any]] = []
        if usage_mode == "last_chunk":
            tail.append(
                _chat_chunk(model, {"content": ""}, finish_reason=finish_reason, usage=usage_body)
            )
        elif finish_reason is not None:
            tail.append(
                _chat_chunk(model, {"content": ""}, finish_reason=finish_reason, usage=null)
            )
        if usage_mode in ("separate", "null_every_chunk"):
            tail.append(_chat_chunk(model, None, usage=usage_body))
        for chunk in tail:
            if keepalive:
                frames.append((0.0, keepalive_frame(crlf)))
            frames.append((0.0, frame(chunk)))
        if done:
            frames.append((0.0, sse("[DONE]", crlf=crlf)))
    if split_bytes:
        frames = _split_all(frames)
    return Script(frames=frames, ending=ending)


# --- responses ----------------------------------------------------------------------------


def default_responses_usage(n_reasoning: int, n_content: int, prompt: int = 12) -> dict[str, Any]:
    output = n_reasoning + n_content
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": n_reasoning},
        "total_tokens": prompt + output,
    }


class _ResponsesEvents:
    """Builds Ark/OpenAI Responses events with running sequence numbers."""

    def __init__(self, model: str, reasoning: list[str], content: list[str]):
        self.model = model
        self.seq = 0
        self.reasoning_text = "".join(reasoning)
        self.content_text = "".join(content)
        self.has_reasoning = bool(reasoning)
        self.message_index = 1 if reasoning else 0

    def event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, **fields, "sequence_number": self.seq}
        self.seq += 1
        return sse(data, kind)

    def response(self, status: str, usage: Any = None, output: list[Any] | None = None) -> Any:
        return {
            "id": "resp_fake",
            "object": "response",
            "created_at": CREATED,
            "status": status,
            "model": self.model,
            "output": output or [],
            "usage": usage,
        }

    def reasoning_item(self, status: str) -> dict[str, Any]:
        summary = [{"type": "summary_text", "text": self.reasoning_text}]
        return {
            "id": "rs_fake",
            "type": "reasoning",
            "summary": summary if status == "completed" else [],
            "status": status,
        }

    def message_item(self, status: str) -> dict[str, Any]:
        part = {"type": "output_text", "text": self.content_text, "annotations": []}
        return {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": [part] if status == "completed" else [],
        }

    def head(self) -> list[bytes]:
        frames = [
            self.event("response.created", response=self.response("in_progress")),
            self.event("response.in_progress", response=self.response("in_progress")),
        ]
        if self.has_reasoning:
            frames += [
                self.event(
                    "response.output_item.added",
                    output_index=0,
                    item=self.reasoning_item("in_progress"),
                ),
                self.event(
                    "response.reasoning_summary_part.added",
                    item_id="rs_fake",
                    output_index=0,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                ),
            ]
        return frames

    def reasoning_delta(self, piece: str) -> bytes:
        return self.event(
            "response.reasoning_summary_text.delta",
            item_id="rs_fake",
            output_index=0,
            summary_index=0,
            delta=piece,
        )

    def between(self) -> list[bytes]:
        frames = []
        if self.has_reasoning:
            part = {"type": "summary_text", "text": self.reasoning_text}
            frames += [
                self.event(
                    "response.reasoning_summary_text.done",
                    item_id="rs_fake",
                    output_index=0,
                    summary_index=0,
                    text=self.reasoning_text,
                ),
                self.event(
                    "response.reasoning_summary_part.done",
                    item_id="rs_fake",
                    output_index=0,
                    summary_index=0,
                    part=part,
                ),
                self.event(
                    "response.output_item.done",
                    output_index=0,
                    item=self.reasoning_item("completed"),
                ),
            ]
        frames += [
            self.event(
                "response.output_item.added",
                output_index=self.message_index,
                item=self.message_item("in_progress"),
            ),
            self.event(
                "response.content_part.added",
                item_id="msg_fake",
                output_index=self.message_index,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": []},
            ),
        ]
        return frames

    def content_delta(self, piece: str) -> bytes:
        return self.event(
            "response.output_text.delta",
            item_id="msg_fake",
            output_index=self.message_index,
            content_index=0,
            delta=piece,
        )

    def tail(self, usage: dict[str, Any]) -> list[bytes]:
        part = {"type": "output_text", "text": self.content_text, "annotations": []}
        output = [self.message_item("completed")]
        if self.has_reasoning:
            output.insert(0, self.reasoning_item("completed"))
        return [
            self.event(
                "response.output_text.done",
                item_id="msg_fake",
                output_index=self.message_index,
                content_index=0,
                text=self.content_text,
            ),
            self.event(
                "response.content_part.done",
                item_id="msg_fake",
                output_index=self.message_index,
                content_index=0,
                part=part,
            ),
            self.event(
                "response.output_item.done",
                output_index=self.message_index,
                item=self.message_item("completed"),
            ),
            self.event("response.completed", response=self.response("completed", usage, output)),
        ]

    def error(self) -> bytes:
        return self.event(
            "error", code=MID_STREAM_ERROR["code"], message=MID_STREAM_ERROR["message"], param=None
        )


def responses_stream(
    reasoning: Sequence[str] = DEFAULT_REASONING,
    content: Sequence[str] = DEFAULT_CONTENT,
    *,
    usage: dict[str, Any] | None = None,
    delay: float = 0.0,
    done: bool = True,
    cut_after: int | None = None,
    error_after: int | None = None,
    split_bytes: bool = False,
    model: str = "fake-model",
) -> Script:
    """An Ark/OpenAI Responses stream: `event: <type>` + `data: <json>` per event.

    `usage=None` means a default computed from the piece counts (with
    `output_tokens_details.reasoning_tokens`). `cut_after` / `error_after` count delta
    events (reasoning summary and output text, in order).
    """
    reasoning, content = list(reasoning), list(content)
    usage_body = (
        usage if usage is not None else default_responses_usage(len(reasoning), len(content))
    )
    ev = _ResponsesEvents(model, reasoning, content)
    items: list[tuple[bool, float, bytes]] = [(False, 0.0, f) for f in ev.head()]
    items += [(True, delay, ev.reasoning_delta(piece)) for piece in reasoning]
    items += [(False, 0.0, f) for f in ev.between()]
    items += [(True, delay, ev.content_delta(piece)) for piece in content]

    stop_after = cut_after if cut_after is not None else error_after
    frames, truncated = _assemble(items, stop_after)
    ending: Ending = "close"
    if truncated and cut_after is not None:
        ending = "cut"
    else:
        if truncated:
            frames.append((0.0, ev.error()))
        else:
            frames += [(0.0, f) for f in ev.tail(usage_body)]
        if done:
            frames.append((0.0, sse("[DONE]")))
    if split_bytes:
        frames = _split_all(frames)
    return Script(frames=frames, ending=ending)


# --- other builders -----------------------------------------------------------------------


def error_response(
    status: int, body: dict[str, Any] | str, headers: dict[str, str] | None = None
) -> Script:
    """A plain (Content-Length) error answer: a JSON object or a text body."""
    if isinstance(body, str):
        data = body.encode()
        base = {"Content-Type": "text/plain; charset=utf-8"}
    else:
        data = dumps(body).encode()
        base = dict(JSON_HEADERS)
    return Script(
        status=status, headers={**base, **(headers or {})}, frames=[(0.0, data)], chunked=False
    )


def token_stream(
    n_reasoning: int,
    n_content: int,
    rate: float | None,
    style: Literal["chat-completions", "responses"] = "chat-completions",
    token: str = "tok ",
) -> Script:
    """`n_reasoning` + `n_content` identical tokens paced at `rate` tokens/s (None: at once).

    For load tests and benchmarks: every token frame is the same bytes object, so
    10k tokens cost a list, not 10k JSON encodings.
    """
    delay = 1.0 / rate if rate else 0.0
    head: list[bytes]
    tail: list[bytes]
    if style == "chat-completions":
        model = "fake-model"
        role = {"role": "assistant", "content": None, "reasoning_content": ""}
        head = [sse(_chat_chunk(model, role))]
        think = sse(_chat_chunk(model, {"content": None, "reasoning_content": token}))
        say = sse(_chat_chunk(model, {"content": token, "reasoning_content": None}))
        middle: list[bytes] = []
        usage = default_chat_usage(n_reasoning, n_content)
        tail = [
            sse(_chat_chunk(model, {"content": ""}, finish_reason="stop")),
            sse(_chat_chunk(model, None, usage=usage)),
            sse("[DONE]"),
        ]
    else:
        ev = _ResponsesEvents("fake-model", [token] * n_reasoning, [token] * n_content)
        head = ev.head()
        think = sse(
            {"type": "response.reasoning_summary_text.delta", "delta": token},
            "response.reasoning_summary_text.delta",
        )
        middle = ev.between()
        say = sse(
            {"type": "response.output_text.delta", "delta": token}, "response.output_text.delta"
        )
        tail = [*ev.tail(default_responses_usage(n_reasoning, n_content)), sse("[DONE]")]
    frames: list[Frame] = [(0.0, f) for f in head]
    frames += [(delay, think)] * n_reasoning
    frames += [(0.0, f) for f in middle]
    frames += [(delay, say)] * n_content
    frames += [(0.0, f) for f in tail]
    return Script(frames=frames)


# --- request checks -----------------------------------------------------------------------


def _mentions_think(content: Any) -> bool:
    if isinstance(content, str):
        return "<think>" in content
    if isinstance(content, list):
        return any(
            isinstance(part, dict) and "<think>" in str(part.get("text") or "") for part in content
        )
    return False


def replays_reasoning(items: Any, *, responses: bool = False) -> bool:
    """Whether messages (chat) or input items (responses) carry reasoning back."""
    if not isinstance(items, list):
        return False
    for item in items:
        if not isinstance(item, dict):
            continue
        if "reasoning_content" in item or "reasoning" in item:
            return True
        if responses and item.get("type") == "reasoning":
            return True
        if item.get("role") == "assistant" and _mentions_think(item.get("content")):
            return True
    return False


def _default_fallback(path: str, body: Any) -> Script:
    return responses_stream() if path.endswith("/responses") else chat_stream()


# --- the server ---------------------------------------------------------------------------


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

        script = self._check(method, path, headers, data, valid_json)
        if script is None:
            script = self._next_script(path, data)
        return await _play(script, reader, writer) and keep_alive

    def _check(
        self, method: str, path: str, headers: dict[str, str], data: Any, valid_json: bool
    ) -> Script | None:
        """The provider's own refusals, before any script is used."""
        is_chat = path.endswith("/chat/completions")
        is_responses = path.endswith("/responses")
        if method == "GET" and path.endswith("/models"):
            return error_response(200, {"object": "list", "data": [{"id": "fake-model"}]})
        if method != "POST" or not (is_chat or is_responses):
            return error_response(404, {"error": {"message": f"No route for {method} {path}"}})
        if self.api_key is not None and headers.get("authorization") != f"Bearer {self.api_key}":
            given = headers.get("authorization", "").removeprefix("Bearer ").strip()
            masked = f"****{given[-4:]}"
            return error_response(
                401,
                {
                    "error": {
                        "message": f"Authentication Fails, Your api key: {masked} is invalid",
                        "type": "authentication_error",
                        "code": "invalid_api_key",
                    }
                },
            )
        if not valid_json or not isinstance(data, dict):
            return error_response(
                400,
                {
                    "error": {
                        "message": "The request body is not valid JSON.",
                        "type": "invalid_request_error",
                        "code": "invalid_request_error",
                    }
                },
            )
        if is_chat and replays_reasoning(data.get("messages")):
            return error_response(400, REPLAYED_CHAT)
        if is_responses and replays_reasoning(data.get("input"), responses=True):
            return error_response(400, REPLAYED_RESPONSES)
        return None

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


# --- by hand ------------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return [word + " " for word in text.split()]


def dev_script(path: str, body: Any, rate: float) -> Script:
    """A multi-sentence reasoning and answer about the request's last user message."""
    topic = "your message"
    items = (body.get("messages") or body.get("input")) if isinstance(body, dict) else None
    if isinstance(items, list):
        users = [m.get("content") for m in items if isinstance(m, dict) and m.get("role") == "user"]
        if users and isinstance(users[-1], str) and users[-1].strip():
            topic = " ".join(users[-1].split())[:60]
    thinking = body.get("thinking") if isinstance(body, dict) else None
    model = str(body.get("model") or "fake-model") if isinstance(body, dict) else "fake-model"
    reasoning: list[str] = []
    if not (isinstance(thinking, dict) and thinking.get("type") == "disabled"):
        reasoning = _words(
            f'The user wrote "{topic}". This is the fake upstream, so there is no model behind it. '
            "I should still reason in several sentences, so that the reasoning panel has "
            "something to show while it streams. Then I will answer briefly."
        )
    content = _words(
        f"This answer comes from the fake upstream. You wrote: {topic}. "
        "The reasoning above arrived first; this text arrived after it, paced like a real model."
    )
    delay = 1.0 / rate if rate > 0 else 0.0
    if path.endswith("/responses"):
        return responses_stream(reasoning, content, delay=delay, model=model)
    return chat_stream(reasoning, content, delay=delay, model=model)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m providers.fake_upstream",
        description="Serve the scripted fake upstream (chat completions and responses).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--rate", type=float, default=20.0, help="tokens per second")
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    args = parser.parse_args(argv)
    server = FakeUpstream(api_key=args.api_key, host=args.host, port=args.port)
    server.fallback = lambda path, body: dev_script(path, body, args.rate)
    server.start()
    print(f"Fake upstream on {server.base_url}", flush=True)
    print("  POST /chat/completions and /responses under that base URL; Ctrl-C stops.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
