"""Reasoning inline in the answer: `<think>...</think>` at the start of `content`.

Some gateways and self-hosted servers (vLLM without a reasoning parser, older
new-api/one-api) pass R1's reasoning through as text. The tags can arrive split
across chunks anywhere, so the parser only holds back what could still become a tag.
"""

from __future__ import annotations

from typing import Literal

from providers.clients.base import ContentDelta, ReasoningDelta

OPEN = "<think>"
CLOSE = "</think>"

Delta = ReasoningDelta | ContentDelta


def _partial_tag_at_end(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper start of `tag`."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkTagParser:
    """Feed it `content` pieces; it returns reasoning and content deltas in order."""

    def __init__(self) -> None:
        # start: nothing but whitespace yet, a `<think>` may still open reasoning.
        # after: just past `</think>`, the answer's leading whitespace is dropped.
        self._state: Literal["start", "reasoning", "after", "content"] = "start"
        self._held = ""

    def feed(self, text: str) -> list[Delta]:
        out: list[Delta] = []
        buf = self._held + text
        while True:
            if self._state == "start":
                stripped = buf.lstrip()
                if stripped.startswith(OPEN):
                    buf = stripped[len(OPEN) :]
                    self._state = "reasoning"
                elif OPEN.startswith(stripped):
                    break  # only whitespace, or a prefix of "<think>": wait
                else:
                    self._state = "content"
            elif self._state == "reasoning":
                end = buf.find(CLOSE)
                if end >= 0:
                    self._emit(out, ReasoningDelta, buf[:end])
                    buf = buf[end + len(CLOSE) :]
                    self._state = "after"
                else:
                    keep = _partial_tag_at_end(buf, CLOSE)
                    self._emit(out, ReasoningDelta, buf[: len(buf) - keep])
                    buf = buf[len(buf) - keep :]
                    break
            elif self._state == "after":
                buf = buf.lstrip()
                if not buf:
                    break
                self._state = "content"
            else:
                self._emit(out, ContentDelta, buf)
                buf = ""
                break
        self._held = buf
        return out

    def flush(self) -> list[Delta]:
        """Whatever is held back, as the current kind (the stream has ended)."""
        out: list[Delta] = []
        held, self._held = self._held, ""
        if self._state == "reasoning":
            self._emit(out, ReasoningDelta, held)
        elif self._state != "after":
            self._emit(out, ContentDelta, held)
        return out

    @staticmethod
    def _emit(out: list[Delta], kind: type[Delta], text: str) -> None:
        if text:
            out.append(kind(text))
