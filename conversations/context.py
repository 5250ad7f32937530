"""The context builder: the ONE place that turns stored turns into upstream messages.

The rule it exists for: only `content` goes back to a model, never
`reasoning_content` (nor a web-search bot's `references` or `bot_usage`: shown and
stored, never replayed). R1-era providers (Ark, Qianfan, Coreshub, new-api gateways)
answer HTTP 400 when reasoning is replayed; DeepSeek V4 ignores it without tool
calls. Should tool calling come, V4 needs the reasoning of tool-call turns passed
back: that per-provider exception would live here too.
"""

from __future__ import annotations

from collections.abc import Iterable

from conversations.models import Turn
from providers.clients.base import Message


def build_context(turns: Iterable[Turn]) -> list[Message]:
    """Messages for the next request, from a conversation's turns in order.

    The last turn must be the new user turn. An exchange whose answer is empty
    (failed before the first token) is dropped with its question: R1-style APIs
    refuse two user messages in a row, and an empty assistant message says nothing.
    A stopped or cut answer keeps what the user saw of it.
    """
    messages: list[Message] = []
    pending_user: Message | None = None
    for turn in turns:
        if turn.role == Turn.Role.USER:
            pending_user = Message(role="user", content=turn.content)
        elif turn.status == Turn.Status.STREAMING:
            continue  # the turn being generated now
        elif pending_user is not None and turn.content.strip():
            messages.append(pending_user)
            messages.append(Message(role="assistant", content=turn.content))
            pending_user = None
        else:
            pending_user = None
    if pending_user is None:
        raise ValueError("the context must end with a user turn")
    messages.append(pending_user)
    return messages
