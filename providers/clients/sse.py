"""A small, tolerant Server-Sent Events reader.

Events end at a blank line, `:` lines are comments (keep-alives), several `data:`
lines join with "\\n", and a last event without its blank line still counts. The
Content-Type is not checked: some gateways label their streams wrongly.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import AsyncIterable, AsyncIterator

# Only the three SSE line ends. `str.splitlines()` would also split on
# U+2028, U+0085 and friends, which JSON may carry raw inside a string.
_LINE_END = re.compile(r"\r\n|\r|\n")


async def iter_lines(body: AsyncIterable[bytes]) -> AsyncIterator[str]:
    """The body's lines, decoded as UTF-8 incrementally (characters may span reads)."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    pending = ""
    async for chunk in body:
        text = pending + decoder.decode(chunk)
        # A trailing "\r" may be the first half of "\r\n": wait for the next read.
        tail = "\r" if text.endswith("\r") else ""
        lines = _LINE_END.split(text[: len(text) - len(tail)])
        pending = lines.pop() + tail
        for line in lines:
            yield line
    lines = _LINE_END.split(pending + decoder.decode(b"", final=True))
    last = lines.pop()
    for line in lines:
        yield line
    if last:
        yield last


async def iter_sse(body: AsyncIterable[bytes]) -> AsyncIterator[tuple[str, str]]:
    """Yield `(event_name, data)` per event; the name is "message" when none was given."""
    event = ""
    data: list[str] = []
    async for line in iter_lines(body):
        if not line:
            if data:
                yield event or "message", "\n".join(data)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        # `id` and `retry` mean nothing to a one-shot POST stream.
    if data:
        yield event or "message", "\n".join(data)
