"""State changes of conversations and turns. The only code that writes turns.

All functions here are synchronous and run their writes in one atomic block; async
callers (the runner, the consumer) go through `database_sync_to_async`. Finishing
and expiring only touch rows still `streaming` (compare-and-set), so a stop racing
a completion, or two processes noticing one dead lease, cannot both win.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from conversations.context import build_context
from conversations.errors import Busy, ClientError
from conversations.models import Conversation, Turn
from providers.clients.base import StreamRequest
from providers.models import ApiStyle, ChatModel

INTERRUPTED_MESSAGE = (
    "The server process handling this turn stopped before the answer was finished; "
    "the partial answer is kept."
)


@dataclass(frozen=True)
class TurnPlan:
    """Everything the runner needs, read in the same transaction that started the turn."""

    turn_id: str
    user_turn_id: str
    conversation_id: str
    model_ref: str
    style: str
    base_url: str
    api_key: str = field(repr=False)
    request: StreamRequest = field(repr=False)


def create_conversation(user: Any, title: str = "") -> Conversation:
    return Conversation.objects.create(owner=user, title=title[:200])


def resolve_model(ref: Any) -> ChatModel:
    """`<provider name>/<model id>`, split on the first `/` (ids may contain `/`)."""
    if not isinstance(ref, str) or "/" not in ref:
        raise ClientError("invalid_model", "model must be '<provider>/<model id>'.")
    provider_name, model_id = ref.split("/", 1)
    model = (
        ChatModel.objects.select_related("provider")
        .filter(provider__name=provider_name, model_id=model_id)
        .filter(enabled=True, provider__enabled=True)
        .first()
    )
    if model is None:
        raise ClientError("invalid_model", f"No enabled model {ref!r}.")
    return model


def resolve_options(model: ChatModel, options: Any) -> dict[str, Any]:
    """The user's options checked against what the model accepts; defaults filled in."""
    if options is None:
        options = {}
    if not isinstance(options, dict):
        raise ClientError("invalid_options", "options must be an object.")
    unknown = set(options) - {"thinking", "effort"}
    if unknown:
        raise ClientError("invalid_options", f"Unknown options: {', '.join(sorted(unknown))}.")
    thinking = options.get("thinking") or model.default_thinking or None
    effort = options.get("effort") or model.default_effort or None
    if thinking is not None and thinking not in model.thinking_modes:
        accepted = ", ".join(model.thinking_modes) or "none"
        raise ClientError(
            "invalid_options", f"{model.label} accepts thinking: {accepted} (not {thinking!r})."
        )
    if effort is not None and effort not in model.efforts:
        accepted = ", ".join(model.efforts) or "none"
        raise ClientError(
            "invalid_options", f"{model.label} accepts effort: {accepted} (not {effort!r})."
        )
    if thinking == "disabled" and effort not in (None, "minimal"):
        raise ClientError(
            "invalid_options",
            f"With thinking disabled, effort must be 'minimal' or unset (not {effort!r}).",
        )
    return {"thinking": thinking, "effort": effort}


def start_turn(
    conversation_id: Any, user: Any, content: str, model_ref: str, options: Any
) -> TurnPlan:
    """Store the user turn and a streaming assistant turn; return the runner's plan.

    Raises Busy when a turn of the conversation is already running (the partial
    unique constraint decides, so two processes cannot both start one).
    """
    model = resolve_model(model_ref)
    resolved = resolve_options(model, options)
    provider = model.provider
    api_key = ""
    if provider.style != ApiStyle.DEMO:
        key = provider.active_key()
        if key is None:
            raise ClientError("invalid_model", f"Provider {provider.name!r} has no API key.")
        api_key = key.secret()
    now = timezone.now()
    try:
        with transaction.atomic(durable=True):
            conversation = (
                Conversation.objects.for_user(user).select_for_update().get(id=conversation_id)
            )
            if Turn.objects.filter(conversation=conversation).running().exists():
                raise Busy()
            last = conversation.turns.order_by("-index").values_list("index", flat=True).first()
            index = 0 if last is None else last + 1
            user_turn = Turn.objects.create(
                conversation=conversation,
                index=index,
                role=Turn.Role.USER,
                content=content,
                status=Turn.Status.COMPLETED,
                created=now,
                finished=now,
            )
            turn = Turn.objects.create(
                conversation=conversation,
                index=index + 1,
                role=Turn.Role.ASSISTANT,
                status=Turn.Status.STREAMING,
                model=model.ref,
                options={k: v for k, v in resolved.items() if v},
                lease_expires=now + timedelta(seconds=settings.CHAT_LEASE_SECONDS),
                created=now,
            )
            if not conversation.title:
                conversation.title = " ".join(content.split())[:80]
            conversation.updated = now
            conversation.save(update_fields=["title", "updated"])
            messages = build_context(conversation.turns.order_by("index"))
    except IntegrityError:
        raise Busy() from None
    return TurnPlan(
        turn_id=str(turn.id),
        user_turn_id=str(user_turn.id),
        conversation_id=str(conversation.id),
        model_ref=model.ref,
        style=provider.style,
        base_url=provider.base_url,
        api_key=api_key,
        request=StreamRequest(
            model=model.model_id,
            messages=messages,
            thinking=resolved["thinking"],
            effort=resolved["effort"],
            max_tokens=model.max_output_tokens,
        ),
    )


def _lease() -> Any:
    return timezone.now() + timedelta(seconds=settings.CHAT_LEASE_SECONDS)


def checkpoint_turn(turn_id: str, reasoning: str, content: str, seq: int) -> bool:
    """Save the text so far and renew the lease. False: the turn is no longer ours."""
    with transaction.atomic():
        updated = Turn.objects.filter(id=turn_id, status=Turn.Status.STREAMING).update(
            reasoning_content=reasoning, content=content, seq=seq, lease_expires=_lease()
        )
    return updated == 1


def renew_lease(turn_id: str) -> bool:
    updated = Turn.objects.filter(id=turn_id, status=Turn.Status.STREAMING).update(
        lease_expires=_lease()
    )
    return updated == 1


def finish_turn(
    turn_id: str,
    *,
    status: str,
    reasoning: str,
    content: str,
    seq: int,
    usage: dict[str, Any] | None,
    timings: dict[str, Any] | None,
    error: dict[str, Any] | None = None,
) -> bool:
    """Store the final state. False when the turn was already finished (by expiry)."""
    now = timezone.now()
    with transaction.atomic():
        updated = Turn.objects.filter(id=turn_id, status=Turn.Status.STREAMING).update(
            status=status,
            reasoning_content=reasoning,
            content=content,
            seq=seq,
            usage=usage,
            timings=timings,
            error=error,
            finished=now,
            lease_expires=None,
        )
        if updated:
            Conversation.objects.filter(turns__id=turn_id).update(updated=now)
    return updated == 1


def claim_stale_turns(conversation_id: Any | None = None) -> list[Turn]:
    """Mark turns whose runner stopped renewing its lease `incomplete`, partial kept.

    Returns the turns this call won (compare-and-set per row), with their stored
    text and seq, so the caller can fold in what the turn log holds beyond the last
    checkpoint and tell the sockets (see `conversations.lifecycle.sweep`).
    """
    now = timezone.now()
    stale = Turn.objects.running().filter(lease_expires__lt=now)
    if conversation_id is not None:
        stale = stale.filter(conversation_id=conversation_id)
    claimed: list[Turn] = []
    for turn in stale.only("id", "conversation_id"):
        with transaction.atomic():
            won = Turn.objects.filter(id=turn.id, status=Turn.Status.STREAMING).update(
                status=Turn.Status.INCOMPLETE,
                error={"code": "interrupted", "message": INTERRUPTED_MESSAGE},
                finished=now,
                lease_expires=None,
            )
        if won:
            claimed.append(Turn.objects.get(id=turn.id))
    return claimed


def settle_claimed_turn(turn_id: str, reasoning: str, content: str, seq: int) -> None:
    """Store the text of an expired turn as far as its log got, and its terminal seq."""
    Turn.objects.filter(id=turn_id, status=Turn.Status.INCOMPLETE).update(
        reasoning_content=reasoning, content=content, seq=seq
    )


def conversation_for_user(user: Any, conversation_id: Any) -> Conversation | None:
    try:
        uuid.UUID(str(conversation_id))
    except ValueError:
        return None
    return Conversation.objects.for_user(user).filter(id=conversation_id).first()
