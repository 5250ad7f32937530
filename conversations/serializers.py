"""Plain dicts for the JSON API (the same shapes the chat page's script renders),
and the one way JSON from a client is read (the JSON API, the socket, /v1)."""

import json
from typing import Any

from conversations.errors import public_error
from conversations.models import Conversation, Turn


class NotJsonText(ValueError):
    """What a client sent is not JSON text; the message says why (for logs)."""


def loads_text(raw: str | bytes) -> Any:
    """Parse JSON that is also text. Valid JSON is not always text: "\\ud800" is a
    lone surrogate, which neither the database nor a provider takes, and deep
    nesting exhausts the parser's recursion. Either is NotJsonText, as bad JSON is."""
    try:
        data = json.loads(raw)
        json.dumps(data, ensure_ascii=False).encode()  # finds a surrogate anywhere
    except RecursionError:
        raise NotJsonText("nested too deeply") from None
    except UnicodeEncodeError:
        raise NotJsonText("holds a lone surrogate") from None
    except ValueError:
        raise NotJsonText("not JSON") from None
    return data


def turn_json(turn: Turn, *, staff: bool = False) -> dict[str, Any]:
    # The technical detail (the provider's or library's text) is for admins.
    error = public_error(turn.error, staff=staff)
    data = {
        "id": str(turn.id),
        "parent": str(turn.parent_id) if turn.parent_id else None,
        "role": turn.role,
        "content": turn.content,
        "reasoning_content": turn.reasoning_content,
        "status": turn.status,
        "model": turn.model,
        "usage": turn.usage,
        "timings": turn.timings,
        "error": error,
        # A web-search bot's sources (a list, or null) and its own usage object.
        "references": turn.references,
        "bot_usage": turn.bot_usage,
        "seq": turn.seq,
        "created": turn.created.isoformat(),
    }
    if staff and turn.role == Turn.Role.ASSISTANT:
        # Which key served it (the label, never the secret) and the upstream requests
        # it took: for admins, like the error's detail.
        data["key_label"] = turn.key_label
        data["attempts"] = turn.attempts
    return data


def conversation_header(conversation: Conversation) -> dict[str, Any]:
    """What creating or changing a conversation answers."""
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "system_prompt": conversation.system_prompt,
    }


def conversation_json(
    conversation: Conversation, turns: list[Turn], *, staff: bool = False
) -> dict[str, Any]:
    """`staff`: the reader is staff and may see each error's `detail`."""
    return {
        **conversation_header(conversation),
        "created": conversation.created.isoformat(),
        "updated": conversation.updated.isoformat(),
        "turns": [turn_json(t, staff=staff) for t in turns],
    }
