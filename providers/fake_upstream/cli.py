"""The dev server: `python -m providers.fake_upstream`, answering with paced, readable text.

`dev_script` writes a reasoning and an answer about the request's last user message;
`main` serves it from a `FakeUpstream` until Ctrl-C.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from typing import Any

from providers.fake_upstream.chat import chat_stream
from providers.fake_upstream.frames import Script
from providers.fake_upstream.responses import responses_stream
from providers.fake_upstream.server import FakeUpstream
from providers.presets import PRESETS


def _words(text: str) -> list[str]:
    return [word + " " for word in text.split()]


def dev_script(path: str, body: Any, rate: float) -> Script:
    """A multi-sentence reasoning and answer about the request's last user message."""
    topic = "your message"
    items = (body.get("messages") or body.get("input")) if isinstance(body, dict) else None
    if isinstance(items, list):
        users = [m.get("content") for m in items if isinstance(m, dict) and m.get("role") == "user"]
        if users and isinstance(users[-1], str) and users[-1].strip():
            topic = " ".join(users[-1].split())[:60]
    thinking = body.get("thinking") if isinstance(body, dict) else None
    model = str(body.get("model") or "fake-model") if isinstance(body, dict) else "fake-model"
    reasoning: list[str] = []
    if not (isinstance(thinking, dict) and thinking.get("type") == "disabled"):
        reasoning = _words(
            f'The user wrote "{topic}". This is the fake upstream, so there is no model behind it. '
            "I should still reason in several sentences, so that the reasoning panel has "
            "something to show while it streams. Then I will answer briefly."
        )
    content = _words(
        f"This answer comes from the fake upstream. You wrote: {topic}. "
        "The reasoning above arrived first; this text arrived after it, paced like a real model."
    )
    delay = 1.0 / rate if rate > 0 else 0.0
    if path.endswith("/responses"):
        return responses_stream(reasoning, content, delay=delay, model=model)
    if "/bots/" in path:  # an Ark web-search bot: sources and the bot's usage too
        return chat_stream(
            reasoning, content, delay=delay, model=model, references=DEV_REFERENCES, bot_usage={}
        )
    return chat_stream(reasoning, content, delay=delay, model=model)


DEV_REFERENCES: list[dict[str, Any]] = [
    {
        "title": "Fake upstream: the first source",
        "url": "https://example.com/first",
        "site_name": "example.com",
        "summary": "A made-up source, as a web-search bot would cite one.",
        "publish_time": "2026-01-15 09:30:00",
    },
    {
        "title": "A second source, without a link",
        "url": "",
        "site_name": "example.org",
        "summary": "Its URL is empty, so the page shows the title as text.",
        "publish_time": None,
    },
]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m providers.fake_upstream",
        description="Serve the scripted fake upstream (chat completions and responses).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--rate", type=float, default=20.0, help="tokens per second")
    parser.add_argument("--api-key", default=None, help="require this bearer key")
    parser.add_argument(
        "--rules",
        default=None,
        choices=sorted(PRESETS),
        help="refuse (400) what this preset's provider refuses, in its own error body",
    )
    args = parser.parse_args(argv)
    server = FakeUpstream(api_key=args.api_key, host=args.host, port=args.port)
    server.rules = args.rules
    server.fallback = lambda path, body: dev_script(path, body, args.rate)
    server.start()
    print(f"Fake upstream on {server.base_url}", flush=True)
    print("  POST /chat/completions and /responses under that base URL; Ctrl-C stops.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
