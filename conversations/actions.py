"""State changes of conversations and turns. The only code that writes turns.

All functions here are synchronous and run their writes in one atomic block; async
callers (the runner, the consumer) go through `db.run_db`. Finishing
and expiring only touch rows still `streaming` (compare-and-set), so a stop racing
a completion, or two processes noticing one dead lease, cannot both win.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from accounts import access, admission, quota
from accounts.usage import DailyUsage, add_to_row, tokens_of
from conversations import statements
from conversations.errors import Busy, ClientError
from conversations.models import Conversation, Source, Turn
from conversations.plans import TurnPlan
from conversations.review import signals as review_signals
from providers import keys as key_state

INTERRUPTED_MESSAGE = (
    "The server process handling this turn stopped before the answer was finished; "
    "the partial answer is kept."
)


def create_conversation(user: Any, title: str = "", system_prompt: str = "") -> Conversation:
    return Conversation.objects.create(
        owner=user, title=title[:200], system_prompt=system_prompt.strip()
    )


def rename_conversation(conversation: Conversation, title: str) -> None:
    """A new title (spaces collapsed; empty: named again by its first message)."""
    conversation.title = " ".join(title.split())[:200]
    with transaction.atomic():
        Conversation.objects.filter(id=conversation.id).update(title=conversation.title)


def set_system_prompt(conversation: Conversation, system_prompt: str) -> None:
    """The prompt every later request of the conversation starts with (empty: none).
    The caller checked its length (Conversation.SYSTEM_PROMPT_MAX_CHARS)."""
    conversation.system_prompt = system_prompt.strip()
    with transaction.atomic():
        Conversation.objects.filter(id=conversation.id).update(
            system_prompt=conversation.system_prompt
        )


def delete_conversation(conversation: Conversation) -> None:
    """Delete it with its turns; refused while a turn runs (its runner still writes)."""
    with transaction.atomic():
        if conversation.turns.running().exists():
            raise Busy()
        conversation.delete()


def store_turn(plan: TurnPlan) -> None:
    """Write the user turn (unless regenerating) and the streaming assistant turn
    that `plan` describes.

    One INSERT of both and one UPDATE of the conversation, written once
    (conversations/statements.py; on PostgreSQL one statement). No lock is taken: the
    constraints decide a race (the turn index is unique per conversation, and only
    one turn of a conversation may stream), so when two starts race, or a turn
    started since `prepare_turn` read the context, exactly one wins and the
    others get Busy.
    """
    now = timezone.now()
    common = {"conversation_id": plan.conversation_id, "created": now}
    rows: list[Turn] = []
    if plan.user_content is not None:  # a new message; else another answer to one
        rows.append(
            Turn(
                id=plan.user_turn_id,
                index=plan.index,
                parent_id=plan.parent_id,
                role=Turn.Role.USER,
                content=plan.user_content,
                status=Turn.Status.COMPLETED,
                finished=now,
                **common,
            )
        )
    rows.append(
        Turn(
            id=plan.turn_id,
            index=plan.index + len(rows),
            parent_id=plan.user_turn_id,
            role=Turn.Role.ASSISTANT,
            status=Turn.Status.STREAMING,
            model=plan.model_ref,
            options=plan.options,
            system_prompt=plan.system_prompt,
            hints=plan.hints,
            lease_expires=now + timedelta(seconds=settings.CHAT_LEASE_SECONDS),
            **api_request(plan),
            **common,
        )
    )
    try:
        if plan.api_token_name is not None:  # an API request: its own conversation
            conversation = Conversation(
                id=plan.conversation_id,
                owner_id=plan.owner_id,
                source=Source.API,
                title=plan.title,
                created=now,
                updated=now,
            )
            statements.insert([conversation], rows)
        # Scoped to the owner: a conversation that is not theirs writes nothing.
        # The first message names the conversation, unless it has a name.
        elif not statements.insert_into_owned(
            plan.conversation_id, plan.owner_id, now, plan.title, rows
        ):
            raise ClientError("not_found", "No such conversation.")
    except IntegrityError:
        raise Busy() from None


def api_request(plan: TurnPlan) -> dict[str, Any]:
    """An API turn's own fields: its token's name and the messages sent upstream."""
    if plan.api_token_name is None:
        return {}
    messages = [{"role": m.role, "content": m.content} for m in plan.request.messages]
    return {"api_token": plan.api_token_name[:100], "request_messages": messages}


def _lease() -> Any:
    return timezone.now() + timedelta(seconds=settings.CHAT_LEASE_SECONDS)


@dataclass(frozen=True)
class Checkpoint:
    turn_id: str
    reasoning: str
    content: str
    seq: int


def keep_turns(checkpoints: list[Checkpoint], renewals: list[str]) -> set[str]:
    """Save the text of `checkpoints` and renew the lease of those and of `renewals`,
    in one transaction. Returns the ids of turns no longer ours (finished elsewhere).

    One `UPDATE ... FROM (VALUES ...) RETURNING` per chunk of turns, on SQLite
    (3.35+) and PostgreSQL alike: per-row ORM updates, each in its own transaction,
    were most of a checkpoint's cost (see conversations/live/keeper.py).
    """
    lease = Turn._meta.get_field("lease_expires").get_db_prep_value(_lease(), connection)
    kept: set[str] = set()
    with transaction.atomic():
        for chunk in _chunks(checkpoints):
            rows = [(c.turn_id, c.reasoning, c.content, c.seq) for c in chunk]
            kept |= _update_streaming(rows, ["reasoning_content", "content", "seq"], lease)
        for chunk in _chunks(renewals):
            kept |= _update_streaming([(turn_id,) for turn_id in chunk], [], lease)
    return ({c.turn_id for c in checkpoints} | set(renewals)) - kept


def _chunks(items: list[Any], size: int = 500) -> list[list[Any]]:
    # SQLite caps the parameters of one statement (32,766 since 3.32).
    return [items[i : i + size] for i in range(0, len(items), size)]


def _update_streaming(rows: list[tuple[Any, ...]], columns: list[str], lease: Any) -> set[str]:
    """Set `columns` from each row's values after its turn id, and the lease, on the
    rows' turns that are still streaming; the ids of those updated."""
    if not rows:
        return set()
    quote = connection.ops.quote_name
    table = quote(Turn._meta.db_table)
    pk = Turn._meta.pk
    assert pk is not None
    # VALUES columns are named column1, column2, ... on both databases.
    sets = [f"{quote(name)} = v.column{i + 2}" for i, name in enumerate(columns)]
    sets.append(f"{quote('lease_expires')} = %s")
    width = 1 + len(columns)
    values = ", ".join(["(" + ", ".join(["%s"] * width) + ")"] * len(rows))
    sql = (
        f"UPDATE {table} SET {', '.join(sets)} FROM (VALUES {values}) AS v "
        f"WHERE {table}.{quote('id')} = v.column1 AND {table}.{quote('status')} = %s "
        f"RETURNING {table}.{quote('id')}"
    )
    params: list[Any] = [lease]
    for turn_id, *rest in rows:
        params += [pk.get_db_prep_value(turn_id, connection), *rest]
    params.append(Turn.Status.STREAMING.value)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {str(pk.to_python(row[0])) for row in cursor.fetchall()}


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
    key_label: str = "",
    attempts: int = 0,
    used_key_id: int | None = None,
    references: list[dict[str, Any]] | None = None,
    bot_usage: dict[str, Any] | None = None,
    known: tuple[str, int, str] | None = None,
) -> bool:
    """Store the final state. False when the turn was already finished (by expiry).

    `known`: the turn's (conversation id, owner id, model ref) when the caller has
    them (the runner's plan), saving a read of them.

    `references` and `bot_usage`: a web-search bot's sources (as sent in
    `turn.references`) and its own usage object; None when there were none.

    `key_label` and `attempts`: which of the provider's keys served the turn (the
    last one tried when none answered) and how many upstream requests it took.
    `used_key_id`: the key whose stream answered; its `last_used` is set here, at
    most once a minute per key per process (providers/keys.py)."""
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
            key_label=key_label[:100],
            attempts=min(attempts, 32767),
            references=references,
            bot_usage=bot_usage,
            finished=now,
            lease_expires=None,
        )
        if used_key_id and key_state.last_used_due(used_key_id):
            key_state.touch_used(used_key_id, now)
        admission.release(turn_id)  # even when finished elsewhere: it is over
        if updated:
            conversation_id, owner_id, model = known or (
                Turn.objects.filter(id=turn_id)
                .values_list("conversation_id", "conversation__owner_id", "model")
                .get()
            )
            Conversation.objects.filter(id=conversation_id).update(updated=now)
            count_usage(owner_id, model, usage, now)
            # This call moved the turn out of streaming: it has no signals yet.
            review_signals.store(
                turn_id,
                status=status,
                reasoning=reasoning,
                content=content,
                timings=timings,
                new=True,
            )
    return updated == 1


def save_references(turn_id: str, references: list[dict[str, Any]]) -> None:
    """A running turn's references, stored when they arrive: a turn whose process
    dies (settled as incomplete by another) keeps them, and a snapshot has them."""
    Turn.objects.filter(id=turn_id, status=Turn.Status.STREAMING).update(references=references)


def count_usage(user_id: int, model: str, usage: dict[str, Any] | None, now: Any) -> None:
    """Add one ended turn to the day's usage row of (user, team, model), in the
    caller's transaction: an increment where the row exists, else an insert; an
    insert that loses a race to the unique constraint increments the winner's row.
    The team is the one the turn counts for (accounts/access.py)."""
    day = now.astimezone(UTC).date()
    tokens = tokens_of(usage)
    team_id = access.team_for(user_id, model)
    if not add_to_row(day, user_id, team_id, model, tokens):
        try:
            # A savepoint: the turn's save survives a lost race. bulk_create sends no
            # post_save, which would drop the quota figures this process keeps.
            with transaction.atomic():
                row = DailyUsage(
                    day=day, user_id=user_id, team_id=team_id, model=model, turns=1, **tokens
                )
                DailyUsage.objects.bulk_create([row])
        except IntegrityError:
            add_to_row(day, user_id, team_id, model, tokens)
    transaction.on_commit(functools.partial(quota.note_usage, user_id, day, tokens["total_tokens"]))


def claim_stale_turns(conversation_id: Any | None = None) -> list[Turn]:
    """Mark turns whose runner stopped renewing its lease `incomplete`, partial kept.

    Returns the turns this call won (compare-and-set per row), with their stored
    text and seq, so the caller can fold in what the turn log holds beyond the last
    checkpoint and tell the sockets (see `conversations.live.lifecycle.sweep`).
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
                admission.release(turn.id)
        if won:
            claimed.append(Turn.objects.get(id=turn.id))
    if conversation_id is None:  # the periodic sweep, not a socket's look at one
        admission.release_orphans(now, Turn.objects.running().values("id"))
    return claimed


def settle_claimed_turn(turn_id: str, reasoning: str, content: str, seq: int) -> None:
    """Store the text of an expired turn as far as its log got, and its terminal seq,
    and its review signals (conversations/review/signals.py)."""
    with transaction.atomic():
        settled = Turn.objects.filter(id=turn_id, status=Turn.Status.INCOMPLETE).update(
            reasoning_content=reasoning, content=content, seq=seq
        )
        if settled:
            status = Turn.Status.INCOMPLETE
            review_signals.store(
                turn_id, status=status, reasoning=reasoning, content=content, timings=None
            )


def conversation_for_user(
    user: Any, conversation_id: Any, *, with_stale: bool = False
) -> Conversation | None:
    """`with_stale`: annotated `has_stale_turns`, whether one of its turns is running
    past its lease (`claim_stale_turns` has work to do), read in the same statement."""
    try:
        uuid.UUID(str(conversation_id))
    except ValueError:
        return None
    # An API request's conversation is not a chat: its page, socket and JSON are 404s
    # (trace review reads it).
    rows = Conversation.objects.for_user(user).chats().filter(id=conversation_id)
    if with_stale:
        stale = Turn.objects.running().filter(
            conversation=OuterRef("pk"), lease_expires__lt=timezone.now()
        )
        rows = rows.annotate(has_stale_turns=Exists(stale))
    return rows.first()
