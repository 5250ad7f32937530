"""The runner's events out, as OpenAI's `chat.completion.chunk` stream or one
`chat.completion`.

Reasoning goes out as `delta.reasoning_content` and the answer as `delta.content`
(DeepSeek's format, as new-api gateways serve it). The stream opens with the role,
ends with a chunk carrying `finish_reason`, then, when `stream_options.include_usage`
asked, a chunk with empty `choices` and the usage (reasoning tokens apart in
`completion_tokens_details`), then `data: [DONE]`. A turn that fails once the stream
has started ends it with one `data: {"error": {...}}` event, then `[DONE]`.

Chunks are built from a prefix made once per request: a delta costs one
`json.dumps` of its text.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from django.utils.translation import gettext

from conversations.live.turnlog import Event

DONE = b"data: [DONE]\n\n"


def usage_of(event: Event) -> dict[str, Any]:
    """OpenAI's usage from a terminal event's; a count the provider did not report is 0."""
    usage = event.get("usage") or {}
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": usage.get("total_tokens") or prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": usage.get("reasoning_tokens") or 0},
    }


def stream_error(event: Event) -> dict[str, Any]:
    """A failed turn's error, in OpenAI's shape (the stored sentence, never a detail)."""
    error = event.get("error") or {}
    return {
        "error": {
            "message": error.get("message") or gettext("The answer failed."),
            "type": "upstream_error",
            "code": error.get("code") or "failed",
        }
    }


class Chunks:
    """The chunks of one request: `id`, `created` and `model` fixed for all of them."""

    def __init__(self, turn_id: str, created: int, model: str) -> None:
        self.id = f"chatcmpl-{turn_id}"
        self.created = created
        self.model = model
        head = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
        }
        # '{"id": ..., "model": ..., "choices": [{"index": 0, "delta": ' + delta + tail
        self._open = (json.dumps(head)[:-1] + ', "choices": [{"index": 0, "delta": ').encode()
        self._tail = b', "finish_reason": null}]}\n\n'

    def delta(self, delta: dict[str, Any]) -> bytes:
        return b"data: " + self._open + json.dumps(delta).encode() + self._tail

    def finish(self, reason: str) -> bytes:
        return (
            b"data: "
            + self._open
            + b'{}, "finish_reason": '
            + json.dumps(reason).encode()
            + b"}]}\n\n"
        )

    def usage(self, event: Event) -> bytes:
        body = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [],
            "usage": usage_of(event),
        }
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    async def stream(
        self,
        batches: AsyncIterator[list[Event]],
        finish_reason: Callable[[], str | None],
        include_usage: bool,
    ) -> AsyncIterator[bytes]:
        """SSE bytes for the turn's events, one piece per batch (one write each).
        `finish_reason` is read when the turn has ended (the provider's, e.g.
        `length`; None: `stop`)."""
        async for batch in batches:
            out: list[bytes] = []
            for event in batch:
                kind = event["type"]
                if kind == "reasoning.delta":
                    out.append(self.delta({"reasoning_content": event["text"]}))
                elif kind == "content.delta":
                    out.append(self.delta({"content": event["text"]}))
                elif kind == "turn.started":
                    out.append(self.delta({"role": "assistant", "content": ""}))
                elif kind == "turn.failed":
                    out += (b"data: " + json.dumps(stream_error(event)).encode() + b"\n\n", DONE)
                elif kind in ("turn.completed", "turn.stopped"):
                    out.append(self.finish(finish_reason() or "stop"))
                    if include_usage:
                        out.append(self.usage(event))
                    out.append(DONE)
            if out:
                yield b"".join(out)

    async def completion(
        self, batches: AsyncIterator[list[Event]], finish_reason: Callable[[], str | None]
    ) -> tuple[dict[str, Any] | None, Event]:
        """The whole answer as one `chat.completion` (None when the turn failed), and
        the terminal event."""
        reasoning: list[str] = []
        content: list[str] = []
        last: Event = {}
        async for batch in batches:
            for event in batch:
                last = event
                if event["type"] == "reasoning.delta":
                    reasoning.append(event["text"])
                elif event["type"] == "content.delta":
                    content.append(event["text"])
        if last.get("type") not in ("turn.completed", "turn.stopped"):
            return None, last
        message = {
            "role": "assistant",
            "content": "".join(content),
            "reasoning_content": "".join(reasoning),
        }
        body = {
            "id": self.id,
            "object": "chat.completion",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish_reason() or "stop"}
            ],
            "usage": usage_of(last),
        }
        return body, last
