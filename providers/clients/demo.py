"""The offline demo provider: a reasoning model's stream, with no key and no network."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import aiohttp
from django.conf import settings
from django.utils.translation import gettext as _

from providers.clients.base import BaseClient, ClientConfig
from providers.wire import ContentDelta, Done, Event, ReasoningDelta, StreamRequest, Usage

# A word and its spaces, or one CJK character (Chinese has no spaces to stream by).
_CJK = "\u3000-\u303f\u3400-\u9fff\uff00-\uffef"
_WORDS = re.compile(rf"\s*(?:[{_CJK}]|[^\s{_CJK}]+)\s*|\s+")

# What the page renders, shown once to a newcomer: a code block (highlighted, with
# its Copy button), a table and math (KaTeX: $...$ inline, $$ on lines of their own).
_CODE = (
    "def fibonacci(n: int) -> list[int]:\n"
    "    numbers, a, b = [], 0, 1\n"
    "    for _ in range(n):\n"
    "        numbers.append(a)\n"
    "        a, b = b, a + b\n"
    "    return numbers\n"
)
_INLINE_MATH = "$F_n = F_{n-1} + F_{n-2}$"
_DISPLAY_MATH = (
    "$$\nF_n = \\frac{\\varphi^n - \\psi^n}{\\sqrt{5}}, \\quad "
    "\\varphi = \\frac{1 + \\sqrt{5}}{2}\n$$"
)


def words(text: str) -> list[str]:
    """Pieces that join back to `text` exactly: a word or a CJK character, and its spaces."""
    return _WORDS.findall(text)


def topic_of(request: StreamRequest) -> str:
    last = next((m.content for m in reversed(request.messages) if m.role == "user"), "")
    topic = " ".join(last.split())
    if not topic:
        return _("(an empty message)")
    return topic if len(topic) <= 60 else topic[:59].rstrip() + "…"


def reasoning_text(topic: str) -> str:
    """In the active language (the runner activates the person's)."""
    return _(
        'The user wrote: "%(topic)s". '
        "I am the offline demo provider, so no real model is thinking here. "
        "Still, I can show how a reasoning model streams: first this chain of thought, "
        "shown apart from the answer and never sent back to a model, then the answer itself. "
        "The answer will show what the page renders (a code block, a table and math) "
        "and point to where a real provider is configured."
    ) % {"topic": topic}


def answer_text(topic: str, thinking: bool = True) -> str:
    """Markdown in the active language; the page sanitizes it like any model's answer."""
    seen = (
        [
            _("the reasoning streamed first, in its own panel;"),
            _("this answer streams after it, word by word;"),
        ]
        if thinking
        else [
            _("thinking was switched off, so no reasoning came first;"),
            _("this answer streams word by word;"),
        ]
    )
    seen.append(_("only this answer would go back to a model in the next turn."))
    head = (_("Part"), _("Where it shows"), _("Sent back to a model"))
    rows = [
        (_("Reasoning"), _("In its own panel, folded when done"), _("No")),
        (_("Answer"), _("Here, rendered as Markdown"), _("Yes")),
    ]
    table = ["| " + " | ".join(head) + " |", "|---|---|---|"]
    table += ["| " + " | ".join(row) + " |" for row in rows]
    comment = "# " + _("The first n Fibonacci numbers.")
    parts = [
        _("**This is the offline demo.** You wrote: *%(topic)s*") % {"topic": topic},
        _("What you just saw:"),
        "\n".join(f"- {line}" for line in seen),
        _("Answers are Markdown. Code is highlighted and has a Copy button:"),
        f"```python\n{comment}\n{_CODE}```",
        _("Tables:"),
        "\n".join(table),
        _("And math, inline %(formula)s and on lines of its own:") % {"formula": _INLINE_MATH},
        _DISPLAY_MATH,
        _("To talk to a real model, add a provider with %(command)s and pick it in the model menu.")
        % {"command": "`python manage.py add_provider`"},
    ]
    return "\n\n".join(parts)


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
