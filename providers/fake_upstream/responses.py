"""Responses streams: Ark/OpenAI Responses `event: <type>` + `data: <json>` SSE events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from providers.fake_upstream.frames import (
    CREATED,
    DEFAULT_CONTENT,
    DEFAULT_REASONING,
    MID_STREAM_ERROR,
    Item,
    Script,
    assemble,
    finish,
    sse,
)


def default_responses_usage(n_reasoning: int, n_content: int, prompt: int = 12) -> dict[str, Any]:
    output = n_reasoning + n_content
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": n_reasoning},
        "total_tokens": prompt + output,
    }


class ResponsesEvents:
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
    ev = ResponsesEvents(model, reasoning, content)
    items: list[Item] = [(False, 0.0, f) for f in ev.head()]
    items += [(True, delay, ev.reasoning_delta(piece)) for piece in reasoning]
    items += [(False, 0.0, f) for f in ev.between()]
    items += [(True, delay, ev.content_delta(piece)) for piece in content]

    frames, outcome = assemble(items, cut_after=cut_after, error_after=error_after)
    if outcome == "error":
        frames.append((0.0, ev.error()))
    elif outcome == "whole":
        frames += [(0.0, f) for f in ev.tail(usage_body)]
    return finish(frames, outcome, done=done, split_bytes=split_bytes)
