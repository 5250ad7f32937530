"""The context builder: the ONE place that turns stored turns into upstream messages.

The rule it exists for: only `content` goes back to a model, never
`reasoning_content` (nor a web-search bot's `references` or `bot_usage`: shown and
stored, never replayed). R1-era providers (Ark, Qianfan, Coreshub, new-api gateways)
answer HTTP 400 when reasoning is replayed; DeepSeek V4 ignores it without tool
calls. Should tool calling come, V4 needs the reasoning of tool-call turns passed
back: that per-provider exception would live here too.

It also applies the conversation's system prompt and the model's hints, the
providers' own advice for R1-family models (`ChatModel.no_system_prompt`,
`ChatModel.think_prefix`):
- DeepSeek advises no system prompt for R1 ("all instructions should be contained
  within the user prompt"): for such a model the system prompt opens the first
  user message of every request instead (the prompt, a blank line, the message);
- R1 sometimes skips its thinking, and the advice is to make every output start
  with "<think>\\n": the request ends with that partial assistant message, the
  prefill Ark documents ("续写模式": the model continues the last assistant message).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conversations.models import Turn
from providers.wire import Message

THINK_PREFIX = "<think>\n"


@dataclass(frozen=True)
class ModelHints:
    no_system_prompt: bool = False
    think_prefix: bool = False

    @classmethod
    def of(cls, model: Any) -> ModelHints:
        """A ChatModel's hints (None, an unknown model: none)."""
        if model is None:
            return cls()
        return cls(bool(model.no_system_prompt), bool(model.think_prefix))

    def to_json(self) -> dict[str, bool]:
        """As stored on the turn (`Turn.hints`): the hints that were on."""
        return {name: True for name, on in vars(self).items() if on}

    @classmethod
    def from_json(cls, data: Any) -> ModelHints:
        data = data if isinstance(data, dict) else {}
        return cls(bool(data.get("no_system_prompt")), bool(data.get("think_prefix")))


NO_HINTS = ModelHints()


def build_context(
    turns: Iterable[Turn], *, system_prompt: str = "", hints: ModelHints = NO_HINTS
) -> list[Message]:
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
    if system_prompt.strip():
        if hints.no_system_prompt:
            # Never dropped: folded into the first message, which every request carries.
            first = messages[0]
            messages[0] = Message(role="user", content=f"{system_prompt}\n\n{first.content}")
        else:
            messages.insert(0, Message(role="system", content=system_prompt))
    if hints.think_prefix:
        messages.append(Message(role="assistant", content=THINK_PREFIX))
    return messages


def request_context(messages: Iterable[tuple[str, str]]) -> list[Message]:
    """Messages for an API request (conversations/openai_api), from the client's own.

    The client owns its context, so the request's messages go upstream as it sent
    them, in order, with nothing added, merged or dropped (no system prompt or hints
    of ours, no pruning of empty answers). What makes them safe is what they are
    reduced to here: a role and a text. A `reasoning_content` or `reasoning` field an
    assistant message carried back from an earlier answer has no way through; the
    parser hands over only `(role, text)` pairs, and a `Message` holds nothing else.
    """
    return [Message(role=role, content=content) for role, content in messages]  # type: ignore[arg-type]
