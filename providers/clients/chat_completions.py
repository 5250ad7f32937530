"""Chat completions (`POST {base}/chat/completions`, SSE): DeepSeek, Ark chat, Qianfan v2,
Coreshub, new-api / one-api gateways, vLLM, OpenRouter.

Reasoning arrives as `delta.reasoning_content`, `delta.reasoning`, or inline in
`delta.content` between `<think>` tags; usage on the last chunk with choices, on a
chunk of its own with `"choices": []`, or never. Ark web-search bots
(`/api/v3/bots/chat/completions`) add a top-level `references` list to chunks (the
first non-empty one is kept, once) and a `bot_usage` object (usually on the last).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from providers.clients.base import BaseClient
from providers.clients.sse import iter_sse
from providers.clients.streaming import CUT_MESSAGE, as_int, open_stream, parse_chunk
from providers.clients.think import ThinkTagParser, continues_think
from providers.wire import (
    BotUsage,
    Done,
    Event,
    ProviderError,
    ReasoningDelta,
    References,
    StreamCut,
    StreamRequest,
    Usage,
    error_message,
    reference_items,
    stream_error,
)


def usage_from(data: dict[str, Any]) -> Usage:
    details = data.get("completion_tokens_details")
    reasoning = as_int(details.get("reasoning_tokens")) if isinstance(details, dict) else None
    if reasoning is None:
        reasoning = as_int(data.get("reasoning_tokens"))
    return Usage(
        prompt_tokens=as_int(data.get("prompt_tokens")),
        completion_tokens=as_int(data.get("completion_tokens")),
        reasoning_tokens=reasoning,
        total_tokens=as_int(data.get("total_tokens")),
    )


class ChatCompletionsClient(BaseClient):
    path = "/chat/completions"

    def payload(self, request: StreamRequest) -> dict[str, Any]:
        # Never logprobs, top_logprobs, logit_bias or temperature: reasoning models
        # reject or ignore them.
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.max_tokens is not None:
            payload["max_tokens"] = request.max_tokens
        if request.thinking is not None:
            payload["thinking"] = {"type": request.thinking}
        # An effort only while the model may think: DeepSeek V4 takes no
        # reasoning_effort with thinking disabled (nor does any model need one then).
        if request.effort is not None and request.thinking != "disabled":
            payload["reasoning_effort"] = request.effort
        return payload

    async def stream(self, request: StreamRequest) -> AsyncIterator[Event]:
        parser = ThinkTagParser(prefilled=continues_think(request.messages))
        usage: Usage | None = None
        bot_usage: dict[str, Any] | None = None
        referenced = False  # the first non-empty references list was passed on
        finish_reason: str | None = None
        done = False
        try:
            async with open_stream(self, self.payload(request)) as body:
                async for _, data in iter_sse(body):
                    if data.strip() == "[DONE]":
                        done = True
                        break
                    chunk = parse_chunk(self, data)
                    if not isinstance(chunk, dict):
                        continue
                    if chunk.get("error") or chunk.get("error_code"):  # Qianfan: error_code
                        said = self.scrub(error_message(chunk))
                        raise stream_error(said, "The provider reported an error.")
                    if isinstance(chunk.get("usage"), dict):
                        usage = usage_from(chunk["usage"])
                    if isinstance(chunk.get("bot_usage"), dict):
                        bot_usage = chunk["bot_usage"]
                    if not referenced and chunk.get("references"):
                        items = reference_items(chunk["references"])
                        if items:
                            referenced = True
                            yield References(items)
                    for choice in chunk.get("choices") or ():
                        if not isinstance(choice, dict):
                            continue
                        delta = choice.get("delta")
                        if isinstance(delta, dict):
                            reasoning = delta.get("reasoning_content")
                            if not (isinstance(reasoning, str) and reasoning):
                                reasoning = delta.get("reasoning")
                            if isinstance(reasoning, str) and reasoning:
                                parser.reasoning_apart()
                                yield ReasoningDelta(reasoning)
                            content = delta.get("content")
                            if isinstance(content, str) and content:
                                for event in parser.feed(content):
                                    yield event
                        if choice.get("finish_reason"):
                            finish_reason = str(choice["finish_reason"])
            if not done and finish_reason is None:
                raise StreamCut(CUT_MESSAGE)
        except ProviderError:
            # What the parser still holds was received: the partial answer keeps it.
            for event in parser.flush():
                yield event
            raise
        for event in parser.flush():
            yield event
        if usage is not None:
            yield usage
        if bot_usage is not None:
            yield BotUsage(bot_usage)
        yield Done(finish_reason)
