"""The offline demo provider: a reasoning model's stream, with no key and no network."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import aiohttp
from django.conf import settings

from providers.clients.base import BaseClient, ClientConfig
from providers.wire import ContentDelta, Done, Event, ReasoningDelta, StreamRequest, Usage

_WORDS = re.compile(r"\s*\S+\s*|\s+")


def words(text: str) -> list[str]:
    """Pieces that join back to `text` exactly, one word (and its spaces) each."""
    return _WORDS.findall(text)


def topic_of(request: StreamRequest) -> str:
    last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    topic = " ".join(last.split())
    if not topic:
        return "(an empty message)"
    return topic if len(topic) <= 60 else topic[:59].rstrip() + "…"


def reasoning_text(topic: str) -> str:
    return (
        f'The user wrote: "{topic}". '
        "I am the offline demo provider, so no real model is thinking here. "
        "Still, I can show how a reasoning model streams: first this chain of thought, "
        "shown apart from the answer and never sent back to a model, then the answer itself. "
        "I will keep the answer short and point to where a real provider is configured."
    )


def answer_text(topic: str, thinking: bool = True) -> str:
    seen = (
        "- the reasoning streamed first, in its own panel;\n"
        "- this answer streams after it, word by word;\n"
        if thinking
        else "- thinking was switched off, so no reasoning came first;\n"
        "- this answer streams word by word;\n"
    )
    return (
        f"**This is the offline demo.** You wrote: *{topic}*\n\n"
        "What you just saw:\n\n"
        f"{seen}"
        "- only this answer would go back to a model in the next turn.\n\n"
        "To talk to a real model, add a provider with "
        "`python manage.py add_provider` and pick it in the model menu."
    )


class DemoClient(BaseClient):
    """Deterministic text, paced by `DEMO_DELAY_SECONDS`; it never opens a socket."""

    def __init__(
        self, config: ClientConfig | None = None, http: aiohttp.ClientSession | None = None
    ):
        # No `self.http`: nothing here may reach the network.
        self.config = config or ClientConfig(base_url="")

    async def stream(self, request: StreamRequest) -> AsyncIterator[Event]:
        delay = float(settings.DEMO_DELAY_SECONDS)
        topic = topic_of(request)
        thinking = request.thinking != "disabled"
        reasoning = words(reasoning_text(topic)) if thinking else []
        answer = words(answer_text(topic, thinking))
        for piece in reasoning:
            if delay > 0:
                await asyncio.sleep(delay)
            yield ReasoningDelta(piece)
        for piece in answer:
            if delay > 0:
                await asyncio.sleep(delay)
            yield ContentDelta(piece)
        prompt = sum(len(m.content.split()) for m in request.messages)
        completion = len(reasoning) + len(answer)
        yield Usage(
            prompt_tokens=prompt,
            completion_tokens=completion,
            reasoning_tokens=len(reasoning),
            total_tokens=prompt + completion,
        )
        yield Done("stop")
