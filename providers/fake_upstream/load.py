"""`token_stream`: many identical tokens in either API style, cheap to build, for load tests."""

from __future__ import annotations

from typing import Literal

from providers.fake_upstream.chat import chat_chunk, default_chat_usage
from providers.fake_upstream.frames import Frame, Script, sse
from providers.fake_upstream.responses import ResponsesEvents, default_responses_usage


def token_stream(
    n_reasoning: int,
    n_content: int,
    rate: float | None,
    style: Literal["chat-completions", "responses"] = "chat-completions",
    token: str = "tok ",
) -> Script:
    """`n_reasoning` + `n_content` identical tokens paced at `rate` tokens/s (None: at once).

    For load tests and benchmarks: every token frame is the same bytes object, so
    10k tokens cost a list, not 10k JSON encodings.
    """
    delay = 1.0 / rate if rate else 0.0
    head: list[bytes]
    tail: list[bytes]
    if style == "chat-completions":
        model = "fake-model"
        role = {"role": "assistant", "content": None, "reasoning_content": ""}
        head = [sse(chat_chunk(model, role))]
        think = sse(chat_chunk(model, {"content": None, "reasoning_content": token}))
        say = sse(chat_chunk(model, {"content": token, "reasoning_content": None}))
        middle: list[bytes] = []
        usage = default_chat_usage(n_reasoning, n_content)
        tail = [
            sse(chat_chunk(model, {"content": ""}, finish_reason="stop")),
            sse(chat_chunk(model, None, usage=usage)),
            sse("[DONE]"),
        ]
    else:
        ev = ResponsesEvents("fake-model", [token] * n_reasoning, [token] * n_content)
        head = ev.head()
        think = sse(
            {"type": "response.reasoning_summary_text.delta", "delta": token},
            "response.reasoning_summary_text.delta",
        )
        middle = ev.between()
        say = sse(
            {"type": "response.output_text.delta", "delta": token}, "response.output_text.delta"
        )
        tail = [*ev.tail(default_responses_usage(n_reasoning, n_content)), sse("[DONE]")]
    frames: list[Frame] = [(0.0, f) for f in head]
    frames += [(delay, think)] * n_reasoning
    frames += [(0.0, f) for f in middle]
    frames += [(delay, say)] * n_content
    frames += [(0.0, f) for f in tail]
    return Script(frames=frames)
