"""Plain dicts for the JSON API (the same shapes the chat page's script renders)."""

from typing import Any

from conversations.models import Conversation, Turn


def turn_json(turn: Turn) -> dict[str, Any]:
    return {
        "id": str(turn.id),
        "parent": str(turn.parent_id) if turn.parent_id else None,
        "role": turn.role,
        "content": turn.content,
        "reasoning_content": turn.reasoning_content,
        "status": turn.status,
        "model": turn.model,
        "usage": turn.usage,
        "timings": turn.timings,
        "error": turn.error,
        "seq": turn.seq,
        "created": turn.created.isoformat(),
    }


def conversation_json(conversation: Conversation, turns: list[Turn]) -> dict[str, Any]:
    return {
        "id": str(conversation.id),
        "title": conversation.title,
        "created": conversation.created.isoformat(),
        "updated": conversation.updated.isoformat(),
        "turns": [turn_json(t) for t in turns],
    }
