"""Reasoning inline in the answer: `<think>...</think>` at the start of `content`.

Some gateways and self-hosted servers (vLLM without a reasoning parser, older
new-api/one-api) pass R1's reasoning through as text. The tags can arrive split
across chunks anywhere, so the parser only holds back what could still become a tag.

A request that ends with the "<think>" prefill (a model's `think_prefix` hint) gets
the continuation: the reasoning comes first with no opening tag, up to `</think>`,
unless the provider separates it into its own field (then `content` is the answer).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from providers.wire import ContentDelta, Message, ReasoningDelta

OPEN = "<think>"
CLOSE = "</think>"

Delta = ReasoningDelta | ContentDelta


def continues_think(messages: Sequence[Message]) -> bool:
    """Whether the request ends with the "<think>" prefill the model continues."""
    return (
        bool(messages) and messages[-1].role == "assistant" and messages[-1].content.strip() == OPEN
    )


def _partial_tag_at_end(text: str, tag: str) -> int:
    """Length of the longest end of `text` that is a proper start of `tag`."""
    for size in range(min(len(text), len(tag) - 1), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


class ThinkTagParser:
    """Feed it `content` pieces; it returns reasoning and content deltas in order."""

    def __init__(self, prefilled: bool = False) -> None:
        # start: nothing but whitespace yet, a `<think>` may still open reasoning.
        # prefilled: the request opened the reasoning; it runs until `</think>`.
        # after: just past `</think>`, the answer's leading whitespace is dropped.
        self._state: Literal["start", "prefilled", "reasoning", "after", "content"] = (
            "prefilled" if prefilled else "start"
        )
        self._held = ""

    def reasoning_apart(self) -> None:
        """The provider sends the reasoning in a field of its own: `content` is the
        answer (inline tags still recognised), even after a prefill."""
        if self._state == "prefilled":
            self._state = "start"

    def feed(self, text: str) -> list[Delta]:
        out: list[Delta] = []
        buf = self._held + text
        while True:
            if self._state in ("start", "prefilled"):
                stripped = buf.lstrip()
                if stripped.startswith(OPEN):  # (after a prefill: the tag echoed)
                    buf = stripped[len(OPEN) :]
                    self._state = "reasoning"
                elif OPEN.startswith(stripped):
                    break  # only whitespace, or a prefix of "<think>": wait
                elif self._state == "prefilled":
                    buf = stripped
                    self._state = "reasoning"
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
