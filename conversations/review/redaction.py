"""Redaction: what a passage's removal would touch (`preview`), and the removal
(`redact`), both from one list of places so the confirmation shows exactly what the
write does.

A trace's four parts and where each is stored:

- reasoning, answer: the assistant turn's fields, and its event log (kept a while
  after the turn ends for a late `resume`), which is dropped on commit;
- the person's message: the user turn the trace answers, the user messages of the
  conversation's stored API requests (`request_messages`, kept as sent), and the
  conversation's title (named after the first message);
- the conversation's title.

The event log holds the model's output only (deltas, sources, usage): never the
person's message or the title. Exports and pages read the database, so they follow.
Every exact occurrence becomes `[redacted]`; the original is kept nowhere (the
`Redaction` record holds its length and counts).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from conversations.models import Conversation, Turn
from conversations.review.models import Redaction

REDACTED = "[redacted]"
OUTPUT_PARTS: dict[str, str] = {
    Redaction.Part.REASONING.value: "reasoning_content",
    Redaction.Part.CONTENT.value: "content",
}


class RedactError(ValueError):
    """A redaction that cannot be done; the message is for the person."""


@dataclass
class Place:
    label: str
    count: int


@dataclass
class Plan:
    """The places a passage occurs in, and the rows to write (filled under lock)."""

    part: str
    passage: str
    places: list[Place] = field(default_factory=list)
    turn: Turn | None = None
    user_turn: Turn | None = None
    conversation: Conversation | None = None
    api_turns: list[Turn] = field(default_factory=list)
    log_events: int | None = None  # events of the trace's log still kept; None: none

    @property
    def occurrences(self) -> int:
        return sum(p.count for p in self.places)

    @property
    def chars(self) -> int:
        return len(self.passage) * self.occurrences

    @property
    def part_label(self) -> str:
        return str(Redaction.Part(self.part).label)


def _user_text(message: Any) -> bool:
    """A stored request message written by the person (role user, text content)."""
    return (
        isinstance(message, dict)
        and message.get("role") == "user"
        and isinstance(message.get("content"), str)
    )


def _user_messages_count(rows: Any, passage: str) -> int:
    count = 0
    for message in rows or []:
        if _user_text(message):
            count += message["content"].count(passage)
    return count


def _plan(turn: Turn, part: str, passage: str, locked: bool) -> Plan:
    if part not in Redaction.Part.values:
        raise RedactError(_("Choose what to redact."))
    if not passage.strip():
        raise RedactError(_("Paste or select the passage to redact."))
    plan = Plan(part=part, passage=passage, turn=turn)
    if part in OUTPUT_PARTS:
        if turn.status == Turn.Status.STREAMING:
            raise RedactError(_("This turn is still running; redact it once it ends."))
        text = getattr(turn, OUTPUT_PARTS[part])
        label = _("Reasoning of this trace") if part == "reasoning" else _("Answer of this trace")
        plan.places.append(Place(label, text.count(passage)))
        plan.log_events = _kept_events(str(turn.id))
        return _checked(plan)
    conversations = Conversation.objects.filter(pk=turn.conversation_id)
    turns = Turn.objects.filter(conversation_id=turn.conversation_id)
    if locked:
        conversations, turns = conversations.select_for_update(), turns.select_for_update()
    plan.conversation = conversations.get()
    if part == Redaction.Part.USER:
        if turn.parent_id is not None:
            plan.user_turn = turns.filter(pk=turn.parent_id, role=Turn.Role.USER).first()
        if plan.user_turn is None:
            raise RedactError(_("This trace has no message of the person to redact."))
        plan.places.append(Place(_("The person's message"), plan.user_turn.content.count(passage)))
        stored = turns.filter(role=Turn.Role.ASSISTANT, request_messages__isnull=False)
        counted = [(t, _user_messages_count(t.request_messages, passage)) for t in stored]
        plan.api_turns = [t for t, count in counted if count]
        if turn.request_messages is not None or plan.api_turns:
            sent = sum(count for _t, count in counted)
            plan.places.append(Place(_("Messages of the stored API request"), sent))
    plan.places.append(Place(_("Conversation title"), plan.conversation.title.count(passage)))
    return _checked(plan)


def _checked(plan: Plan) -> Plan:
    if not plan.occurrences:
        raise RedactError(_("That passage is not in the text (it must match exactly)."))
    return plan


def preview(turn: Turn, part: str, passage: str) -> Plan:
    """Where the passage occurs and how often, without changing anything."""
    return _plan(turn, part, passage, locked=False)


def redact(turn_id: Any, by: Any, part: str, passage: str) -> Redaction:
    """Replace every occurrence of `passage` in the part's places with [redacted], in
    one transaction on locked rows."""
    with transaction.atomic():
        turn = Turn.objects.select_for_update().get(pk=turn_id)
        plan = _plan(turn, part, passage, locked=True)
        if part in OUTPUT_PARTS:
            name = OUTPUT_PARTS[part]
            setattr(turn, name, getattr(turn, name).replace(passage, REDACTED))
            turn.save(update_fields=[name])
            transaction.on_commit(lambda: forget_log(str(turn.id)))
        if plan.user_turn is not None:
            plan.user_turn.content = plan.user_turn.content.replace(passage, REDACTED)
            plan.user_turn.save(update_fields=["content"])
        for api_turn in plan.api_turns:
            api_turn.request_messages = [
                {**m, "content": m["content"].replace(passage, REDACTED)} if _user_text(m) else m
                for m in api_turn.request_messages or []
            ]
            api_turn.save(update_fields=["request_messages"])
        if plan.conversation is not None and passage in plan.conversation.title:
            title = plan.conversation.title.replace(passage, REDACTED)[:200]
            Conversation.objects.filter(pk=plan.conversation.pk).update(title=title)
        return Redaction.objects.create(
            turn=turn, by=by, part=part, chars=plan.chars, occurrences=plan.occurrences
        )


def _kept_events(turn_id: str) -> int | None:
    from conversations.live import turnlog

    return turnlog.kept(turn_id)


def forget_log(turn_id: str) -> None:
    """Drop the turn's event log (kept CHAT_LOG_RETENTION_SECONDS after it ends), so a
    late `resume` cannot replay the text a redaction removed."""
    from conversations.live import turnlog

    turnlog.forget(turn_id)
