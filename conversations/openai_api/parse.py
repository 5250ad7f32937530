"""OpenAI's chat completions request, read and checked before any work starts.

What the chat understands is taken: `model`, `messages` (`system`, `user`,
`assistant`; `content` a string or a list of text parts), `stream`,
`stream_options.include_usage`, `max_tokens` / `max_completion_tokens`,
`reasoning_effort`, and `thinking` (`{"type": ...}`, which SDK users send in
`extra_body`). Any other field is ignored, as OpenAI-compatible servers do. Each
message is reduced to its role and text: a `reasoning_content` or `reasoning` field
on an assistant message (an earlier answer's, sent back by a client that keeps the
whole message) never goes further.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.utils.translation import gettext as _

from conversations.openai_api.errors import ApiError, invalid
from conversations.serializers import NotJsonText, loads_text

ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[tuple[str, str]] = field(repr=False)
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    # The chat's options: {"thinking": ..., "effort": ...}, only those asked for.
    options: dict[str, str] = field(default_factory=dict)


def too_large(where: str) -> ApiError:
    return ApiError(
        400,
        "too_large",
        _("%(field)s is too long: the limit is %(limit)s characters.")
        % {"field": where, "limit": f"{settings.CHAT_MAX_MESSAGE_CHARS:,}"},
    )


def parse(body: bytes) -> ChatRequest:
    try:
        data = loads_text(body)
    except NotJsonText:
        raise invalid(_("The body must be a JSON object.")) from None
    if not isinstance(data, dict):
        raise invalid(_("The body must be a JSON object."))
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise invalid(_("model is required: a model id from GET /v1/models."))
    stream = data.get("stream") or False
    if not isinstance(stream, bool):
        raise invalid(_("stream must be true or false."))
    return ChatRequest(
        model=model,
        messages=_messages(data.get("messages")),
        stream=stream,
        include_usage=_include_usage(data.get("stream_options")),
        max_tokens=_max_tokens(data),
        options=_options(data),
    )


def _messages(messages: Any) -> list[tuple[str, str]]:
    if not isinstance(messages, list) or not messages:
        raise invalid(_("messages is required: a non-empty list of messages."))
    found = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, dict):
            raise invalid(_("%(field)s must be an object.") % {"field": where})
        role = message.get("role")
        if role not in ROLES:
            raise invalid(_("%(field)s.role must be system, user or assistant.") % {"field": where})
        text = _text(message.get("content"), f"{where}.content", nullable=role == "assistant")
        if len(text) > settings.CHAT_MAX_MESSAGE_CHARS:
            raise too_large(f"{where}.content")
        # Only the role and the text go on: reasoning sent back stays here.
        found.append((role, text))
    return found


def _text(content: Any, where: str, *, nullable: bool) -> str:
    if isinstance(content, str):
        return content
    if content is None and nullable:
        return ""
    if not isinstance(content, list):
        raise invalid(_("%(field)s must be a string or a list of text parts.") % {"field": where})
    texts = []
    for j, part in enumerate(content):
        part_where = f"{where}[{j}]"
        if not isinstance(part, dict):
            raise invalid(_("%(field)s must be an object.") % {"field": part_where})
        if part.get("type") != "text":
            raise invalid(
                _(
                    "%(field)s: only text is supported yet (type %(type)s): send "
                    '{"type": "text", "text": ...} parts or a string.'
                )
                % {"field": part_where, "type": json.dumps(part.get("type"))}
            )
        if not isinstance(part.get("text"), str):
            raise invalid(_("%(field)s.text must be a string.") % {"field": part_where})
        texts.append(part["text"])
    # Text parts are one text, a line apart (as vLLM joins them).
    return "\n".join(texts)


def _include_usage(options: Any) -> bool:
    if options is None:
        return False
    if not isinstance(options, dict):
        raise invalid(_("stream_options must be an object."))
    include = options.get("include_usage") or False
    if not isinstance(include, bool):
        raise invalid(_("stream_options.include_usage must be true or false."))
    return include


def _max_tokens(data: dict[str, Any]) -> int | None:
    # The newer name wins when both are sent.
    for name in ("max_completion_tokens", "max_tokens"):
        value = data.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise invalid(_("%(field)s must be a positive integer.") % {"field": name})
        return value
    return None


def _options(data: dict[str, Any]) -> dict[str, str]:
    options = {}
    effort = data.get("reasoning_effort")
    if effort is not None:
        if not isinstance(effort, str):
            raise invalid(_("reasoning_effort must be a string."))
        options["effort"] = effort
    thinking = data.get("thinking")
    if thinking is not None:
        kind = thinking.get("type") if isinstance(thinking, dict) else None
        if not isinstance(kind, str):
            raise invalid(_('thinking must be an object such as {"type": "enabled"}.'))
        options["thinking"] = kind
    return options
