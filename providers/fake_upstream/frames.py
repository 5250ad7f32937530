"""Wire-format basics shared by both API styles.

SSE framing (`sse`, `keepalive_frame`, `split_frame`), the `Script` a request is
answered with, the `RecordedRequest` the server keeps, `error_response` for plain
Content-Length answers, and the token-counting `assemble` / `finish` steps that
`chat_stream` and `responses_stream` share.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Ending = Literal["close", "cut", "hang"]
Frame = tuple[float, bytes]
# (is_token, delay, bytes): a frame before `assemble` counts tokens and stops the stream.
Item = tuple[bool, float, bytes]
# How `assemble` ended a stream: untouched, cut off, or to be followed by an error event.
Outcome = Literal["whole", "cut", "error"]

SSE_HEADERS = {"Content-Type": "text/event-stream; charset=utf-8", "Cache-Control": "no-cache"}
JSON_HEADERS = {"Content-Type": "application/json"}
CREATED = 1_760_000_000

DEFAULT_REASONING: tuple[str, ...] = ("The user says hello.", " A short greeting back will do.")
DEFAULT_CONTENT: tuple[str, ...] = ("Hel", "lo")

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


def assemble(
    items: Sequence[Item], *, cut_after: int | None, error_after: int | None
) -> tuple[list[Frame], Outcome]:
    """Frames from `items`, stopped after the `cut_after`-th (else `error_after`-th) token.

    The outcome is "cut" or "error" whenever that count was given, even if the
    stream had no more tokens than that; "whole" when neither was.
    """
    stop_after = cut_after if cut_after is not None else error_after
    if stop_after is None:
        return [(delay, data) for _, delay, data in items], "whole"
    outcome: Outcome = "cut" if cut_after is not None else "error"
    frames: list[Frame] = []
    seen = 0
    for is_token, delay, data in items:
        if is_token:
            if seen == stop_after:
                break
            seen += 1
        frames.append((delay, data))
    return frames, outcome


def finish(
    frames: list[Frame], outcome: Outcome, *, done: bool, split_bytes: bool, crlf: bool = False
) -> Script:
    """The script for assembled `frames`: `[DONE]` unless cut, then split if asked."""
    if outcome != "cut" and done:
        frames.append((0.0, sse("[DONE]", crlf=crlf)))
    if split_bytes:
        pieces: list[Frame] = []
        for delay, data in frames:
            first, *rest = split_frame(data)
            pieces.append((delay, first))
            pieces.extend((0.0, piece) for piece in rest)
        frames = pieces
    return Script(frames=frames, ending="cut" if outcome == "cut" else "close")
