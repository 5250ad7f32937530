"""Chat completions streams: DeepSeek/OpenAI-shaped `chat.completion.chunk` SSE frames,
and the Ark web-search bots' flavour (`references`, `bot_usage`, `metadata` on chunks)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from providers.fake_upstream.frames import (
    CREATED,
    DEFAULT_CONTENT,
    DEFAULT_REASONING,
    MID_STREAM_ERROR,
    Item,
    Script,
    assemble,
    finish,
    keepalive_frame,
    sse,
)


def default_chat_usage(n_reasoning: int, n_content: int, prompt: int = 12) -> dict[str, Any]:
    completion = n_reasoning + n_content
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": n_reasoning},
    }


def chat_chunk(
    model: str,
    delta: dict[str, Any] | None,
    *,
    finish_reason: str | None = None,
    usage: Any = ...,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One chunk; `delta=None` gives `"choices": []`, `usage=...` leaves the key out;
    `extra`: more top-level keys (a bot's `references`, `bot_usage`, `metadata`)."""
    chunk: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": model,
        "system_fingerprint": "fp_fake",
        "choices": []
        if delta is None
        else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if usage is not ...:
        chunk["usage"] = usage
    if extra:
        chunk.update(extra)
    return chunk


def default_bot_usage(n_reasoning: int, n_content: int, model: str) -> dict[str, Any]:
    """Ark's `bot_usage` shape: per-model token usage and per-plugin (action) usage."""
    usage = default_chat_usage(n_reasoning, n_content)
    return {
        "model_usage": [
            {
                "name": model,
                "prompt_tokens": usage["prompt_tokens"],
                "completion_tokens": usage["completion_tokens"],
                "total_tokens": usage["total_tokens"],
            }
        ],
        "action_usage": [{"name": "content_plugin", "count": 1}],
    }


def chat_stream(
    reasoning: Sequence[str] = DEFAULT_REASONING,
    content: Sequence[str] = DEFAULT_CONTENT,
    *,
    reasoning_field: Literal["reasoning_content", "reasoning", "think"] = "reasoning_content",
    usage: dict[str, Any] | None = None,
    usage_mode: Literal["last_chunk", "separate", "null_every_chunk", "none"] = "separate",
    delay: float = 0.0,
    keepalive: bool = False,
    crlf: bool = False,
    done: bool = True,
    finish_reason: str | None = "stop",
    cut_after: int | None = None,
    error_after: int | None = None,
    split_bytes: bool = False,
    model: str = "fake-model",
    references: Sequence[dict[str, Any]] | None = None,
    bot_usage: dict[str, Any] | None = None,
) -> Script:
    """A DeepSeek-shaped chat completions stream.

    `references` / `bot_usage` make it an Ark web-search bot's stream (as Volcengine's
    Ark runtime SDK models it): every chunk carries `metadata`, the references ride
    on the first chunk and again on the last one (clients keep the first), and the
    last chunk carries `bot_usage` (`{}` gives a default in Ark's shape).

    `usage=None` means a default computed from the piece counts (with
    `completion_tokens_details.reasoning_tokens`); `usage_mode="none"` sends none.
    `null_every_chunk` is OpenAI's shape: `"usage": null` on every chunk, then a
    `"choices": []` chunk with the usage. With `reasoning_field="think"` the reasoning
    pieces go into `content` after a `"<think>"` chunk and before a `"</think>"` chunk.
    `cut_after` / `error_after` count token chunks (reasoning, tags and content, in order).
    """
    reasoning, content = list(reasoning), list(content)
    usage_body = usage if usage is not None else default_chat_usage(len(reasoning), len(content))
    null = None if usage_mode == "null_every_chunk" else ...
    bot = references is not None or bot_usage is not None
    metadata: dict[str, Any] = {"metadata": {}} if bot else {}
    refs: dict[str, Any] = {"references": list(references)} if references else {}
    if bot_usage is not None and not bot_usage:
        bot_usage = default_bot_usage(len(reasoning), len(content), model)

    def frame(chunk: dict[str, Any]) -> bytes:
        for key, value in metadata.items():
            chunk.setdefault(key, value)
        return sse(chunk, crlf=crlf)

    if reasoning_field == "think":
        role: dict[str, Any] = {"role": "assistant", "content": ""}
        deltas: list[dict[str, Any]] = []
        if reasoning:
            deltas += [{"content": piece} for piece in ["<think>", *reasoning, "</think>"]]
        deltas += [{"content": piece} for piece in content]
    else:
        role = {"role": "assistant", "content": None, reasoning_field: ""}
        deltas = [{"content": None, reasoning_field: piece} for piece in reasoning]
        deltas += [{"content": piece, reasoning_field: None} for piece in content]

    items: list[Item] = [(False, 0.0, frame(chat_chunk(model, role, usage=null, extra=refs)))]
    for delta in deltas:
        if keepalive:
            items.append((False, 0.0, keepalive_frame(crlf)))
        items.append((True, delay, frame(chat_chunk(model, delta, usage=null))))

    frames, outcome = assemble(items, cut_after=cut_after, error_after=error_after)
    if outcome == "error":
        frames.append((0.0, frame({"error": MID_STREAM_ERROR})))
    elif outcome == "whole":
        tail: list[dict[str, Any]] = []
        if usage_mode == "last_chunk":
            tail.append(
                chat_chunk(model, {"content": ""}, finish_reason=finish_reason, usage=usage_body)
            )
        elif finish_reason is not None:
            tail.append(chat_chunk(model, {"content": ""}, finish_reason=finish_reason, usage=null))
        if usage_mode in ("separate", "null_every_chunk"):
            tail.append(chat_chunk(model, None, usage=usage_body))
        if bot and not tail:
            tail.append(chat_chunk(model, {"content": ""}, usage=null))
        if bot:  # the last chunk: the references again, and the bot's usage
            tail[-1].update(refs)
            if bot_usage is not None:
                tail[-1]["bot_usage"] = bot_usage
        for chunk in tail:
            if keepalive:
                frames.append((0.0, keepalive_frame(crlf)))
            frames.append((0.0, frame(chunk)))
    return finish(frames, outcome, done=done, split_bytes=split_bytes, crlf=crlf)
