"""Responses (`POST {base}/responses`, SSE with named events): Volcengine Ark, OpenAI.

Reasoning arrives as `response.reasoning_summary_text.delta` (or
`response.reasoning_text.delta`), the answer as `response.output_text.delta`, and
the end as `response.completed` (with usage) or `response.incomplete`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from providers.clients.base import BaseClient
from providers.clients.sse import iter_sse
from providers.clients.streaming import CUT_MESSAGE, as_int, open_stream, parse_chunk
from providers.wire import (
    THINKING_OFF_EFFORT,
    BadRequest,
    ContentDelta,
    Done,
    Event,
    ReasoningDelta,
    StreamCut,
    StreamRequest,
    Usage,
    error_message,
    stream_error,
)

REASONING_EVENTS = {"response.reasoning_summary_text.delta", "response.reasoning_text.delta"}
# Said the way chat completions says it, so the runner needs one vocabulary.
INCOMPLETE_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def usage_from(data: dict[str, Any]) -> Usage:
    details = data.get("output_tokens_details")
    reasoning = as_int(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    return Usage(
        prompt_tokens=as_int(data.get("input_tokens")),
        completion_tokens=as_int(data.get("output_tokens")),
        reasoning_tokens=reasoning,
        total_tokens=as_int(data.get("total_tokens")),
    )


class ResponsesClient(BaseClient):
    path = "/responses"

    def validate(self, request: StreamRequest) -> None:
        # Ark refuses this pair with a 400 whose wording does not say why.
        if request.thinking == "disabled" and request.effort not in (None, "minimal"):
            raise BadRequest(
                "Thinking is disabled, so reasoning effort must be 'minimal' "
                f"(got '{request.effort}').",
                plain=THINKING_OFF_EFFORT,
            )

    def payload(self, request: StreamRequest) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "model": request.model,
            "input": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
        }
        if request.max_tokens is not None:
            payload["max_output_tokens"] = request.max_tokens
        if request.thinking is not None:
            payload["thinking"] = {"type": request.thinking}
        if request.effort is not None:
            payload["reasoning"] = {"effort": request.effort}
        return payload

    async def stream(self, request: StreamRequest) -> AsyncIterator[Event]:
        self.validate(request)
        usage: Usage | None = None
        finish_reason: str | None = None
        finished = False
        async with open_stream(self, self.payload(request)) as stream_body:
            async for name, data in iter_sse(stream_body):
                if data.strip() == "[DONE]":
                    break
                event = parse_chunk(self, data)
                if not isinstance(event, dict):
                    continue
                kind = event.get("type") or name
                if kind in REASONING_EVENTS or kind == "response.output_text.delta":
                    text = event.get("delta")
                    if isinstance(text, str) and text and kind in REASONING_EVENTS:
                        yield ReasoningDelta(text)
                    elif isinstance(text, str) and text:
                        yield ContentDelta(text)
                elif kind in ("response.completed", "response.incomplete"):
                    body = event.get("response")
                    body = body if isinstance(body, dict) else {}
                    if isinstance(body.get("usage"), dict):
                        usage = usage_from(body["usage"])
                    if kind == "response.completed":
                        finish_reason = "stop"
                    else:
                        details = body.get("incomplete_details")
                        reason = details.get("reason") if isinstance(details, dict) else None
                        reason = str(reason or "incomplete")
                        finish_reason = INCOMPLETE_REASONS.get(reason, reason)
                    finished = True
                    # Stop here: some servers keep the stream open after the end.
                    break
                elif kind == "response.failed":
                    body = event.get("response")
                    error = body.get("error") if isinstance(body, dict) else None
                    said = self.scrub(error_message({"error": error})) if error else ""
                    raise stream_error(said, "The provider reported that the response failed.")
                elif kind == "error":
                    said = self.scrub(error_message(event))
                    raise stream_error(said, "The provider reported an error.")
        if not finished:
            raise StreamCut(CUT_MESSAGE)
        if usage is not None:
            yield usage
        yield Done(finish_reason)
