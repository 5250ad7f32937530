"""Planning a turn: everything it needs, read but not yet written.

A new user message (`prepare_turn`) or another answer to a user turn already sent
(`prepare_regenerate`) becomes a `TurnPlan`: the resolved model and keys, the
request built by the context builder from the path the turn follows, and what
`actions.store_turn` will write. The runner asks the upstream while the turn is
stored: the request is what the person waits for.

A conversation is a tree of turns (`Turn.parent`). A turn's context is the path
from the root to its user turn, nothing else: no sibling, no other branch.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.db import connection

from accounts import access
from accounts.admission import admit
from accounts.quota import check_quota
from conversations.catalog import Resolved, resolve_model
from conversations.context import ModelHints, build_context, request_context
from conversations.errors import Busy, ClientError
from conversations.models import Conversation, Turn
from providers.keys import KeyRef
from providers.models import ChatModel
from providers.wire import StreamRequest

# `user_message` without a `parent` follows the active branch.
ACTIVE_BRANCH: Any = object()


@dataclass(frozen=True)
class TurnPlan:
    """Everything the runner needs to ask the upstream, and `store_turn` to write the turn."""

    turn_id: str
    user_turn_id: str
    conversation_id: str
    model_ref: str
    style: str
    base_url: str
    # The provider's enabled keys in the order to try them (none for the demo).
    keys: tuple[KeyRef, ...] = field(repr=False)
    request: StreamRequest = field(repr=False)
    # For store_turn:
    owner_id: int = 0
    index: int = 0
    # The new user turn's text; None when regenerating (the user turn exists).
    user_content: str | None = field(default=None, repr=False)
    # What the new user turn follows (None: the root). Unused when regenerating.
    parent_id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    title: str = ""  # the conversation's, if it has none yet
    # What shaped the request besides the turns, kept on the turn for its trace.
    system_prompt: str = field(default="", repr=False)
    hints: dict[str, bool] = field(default_factory=dict)
    # An API request's (`prepare_api_turn`): the name of the token it came with.
    # `store_turn` then makes the request's own conversation, kept off the chat's
    # lists, and keeps the messages sent upstream on the turn.
    api_token_name: str | None = None
    # The person's language (the socket's, the API request's): text the server writes
    # itself, the offline demo's answer, is in it. "": the site's default.
    language: str = ""


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
    effort = options.get("effort") or None
    if effort is None and model.default_effort:
        # The default effort is for thinking: with it off, a model takes no effort
        # (DeepSeek V4) or only "minimal" (Ark responses); only an explicit one errs.
        if thinking != "disabled":
            effort = model.default_effort
        elif "minimal" in model.efforts:
            effort = "minimal"
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


def _tree(conversation_id: Any, user: Any) -> tuple[list[Turn], str]:
    """The conversation's turns in creation order, with what planning needs of them,
    and its system prompt, in one read that brings the person's teams along when the
    access checks that follow would read them (accounts/access.py). Busy when one of
    the turns is running."""
    # The consumer checked the conversation is the user's when the socket
    # connected; store_turn checks it again where it writes.
    key = Conversation._meta.pk.get_db_prep_value(conversation_id, connection)  # type: ignore[union-attr]
    teams = access.teams_wanted(user)
    params = [user.pk, key] if teams else [key]
    rows = list(Turn.objects.raw(_read(connection.vendor, teams), params))
    if teams and rows:
        access.remember_teams(user.pk, rows[0].person_teams)  # type: ignore[attr-defined]
    # A conversation without turns is one row of NULLs beside its prompt.
    turns = [turn for turn in rows if turn.pk is not None]
    if any(t.status == Turn.Status.STREAMING for t in turns):
        raise Busy()
    # raw() sets the columns that are not fields as attributes.
    return turns, rows[0].conversation_prompt if rows else ""  # type: ignore[attr-defined]


@functools.cache
def _read(vendor: str, teams: bool) -> str:
    """Every turn's start reads its conversation's turns (with what planning needs of
    them) and its system prompt, and most starts the person's teams (a person's
    turns are seldom within the teams' cache time of each other): one statement,
    written out once per database. Compiled by the ORM on each start, the two reads
    it was took a third of the plan's time, and each round trip is one the first
    token waits for (tests/bench/person.py)."""
    q = connection.ops.quote_name
    fields = ("id", "parent_id", "index", "role", "status", "content", "model", "options")
    person = f" {access.teams_column(vendor)} AS person_teams," if teams else ""
    return (
        f"SELECT{person} {', '.join(f't.{q(name)}' for name in fields)},"
        f" c.{q('system_prompt')} AS conversation_prompt"
        f" FROM {q(Conversation._meta.db_table)} c"
        f" LEFT JOIN {q(Turn._meta.db_table)} t ON t.{q('conversation_id')} = c.{q('id')}"
        f" WHERE c.{q('id')} = %s ORDER BY t.{q('index')}"
    )


def path_to(turns: list[Turn], turn_id: Any) -> list[Turn]:
    """The turns from the root to `turn_id` (included), in order."""
    by_id = {str(t.id): t for t in turns}
    path: list[Turn] = []
    current = by_id.get(str(turn_id)) if turn_id is not None else None
    while current is not None:
        path.append(current)
        current = by_id.get(str(current.parent_id)) if current.parent_id else None
    path.reverse()
    return path


def _assistant_turn(turns: list[Turn], turn_id: Any) -> Turn:
    try:
        wanted = str(uuid.UUID(str(turn_id)))
    except ValueError:
        raise ClientError("bad_frame", "turn must be a turn id.") from None
    for turn in turns:
        if str(turn.id) == wanted and turn.role == Turn.Role.ASSISTANT:
            return turn
    raise ClientError("not_found", "No such assistant turn in this conversation.")


def prepare_turn(
    conversation_id: Any,
    user: Any,
    content: str,
    model_ref: Any,
    options: Any,
    parent: Any = ACTIVE_BRANCH,
) -> TurnPlan:
    """A new user turn and its answer. `parent` is the assistant turn it follows, None
    to start again from the root; left out, it follows the active branch (the newest
    turn's path).

    Raises ClientError for a bad model (or one the person may not use), options or
    parent, QuotaExceeded, or a limit's error (accounts/limits.py); Busy when a
    turn of the conversation is running. Last, the turn is admitted
    (accounts/admission.py): from then on it holds a reservation, which the runner
    gives back when the turn ends or cannot be stored.
    """
    turns, system_prompt = _tree(conversation_id, user)
    resolved = resolve_model(model_ref, user)
    options = resolve_options(resolved.model, options)
    check_quota(user)
    if parent is ACTIVE_BRANCH:
        parent_id = str(turns[-1].id) if turns else None
    elif parent is None:
        parent_id = None
    else:
        parent_id = str(_assistant_turn(turns, parent).id)
    turn_id = str(uuid.uuid4())
    admit(user, turn_id, resolved.model)
    user_turn = Turn(id=uuid.uuid4(), role=Turn.Role.USER, content=content)
    return _plan(
        turn_id,
        conversation_id,
        user,
        resolved,
        options,
        context=[*path_to(turns, parent_id), user_turn],
        system_prompt=system_prompt,
        index=turns[-1].index + 1 if turns else 0,
        user_turn_id=str(user_turn.id),
        user_content=content,
        parent_id=parent_id,
        title=" ".join(content.split())[:80],
    )


def prepare_regenerate(
    conversation_id: Any, user: Any, turn_id: Any, model_ref: Any, options: Any
) -> TurnPlan:
    """Another answer to the user turn that assistant turn `turn_id` answers: a
    sibling of it. The model and options default to that turn's."""
    turns, system_prompt = _tree(conversation_id, user)
    answered = _assistant_turn(turns, turn_id)
    if model_ref is None:
        model_ref = answered.model
        if options is None:
            options = answered.options or None
    resolved = resolve_model(model_ref, user)
    options = resolve_options(resolved.model, options)
    check_quota(user)
    context = path_to(turns, answered.parent_id)
    if not context or context[-1].role != Turn.Role.USER:
        raise ClientError("not_found", "That turn answers no message.")
    turn_id = str(uuid.uuid4())
    admit(user, turn_id, resolved.model)
    return _plan(
        turn_id,
        conversation_id,
        user,
        resolved,
        options,
        context=context,
        system_prompt=system_prompt,
        index=turns[-1].index + 1,
        user_turn_id=str(context[-1].id),
    )


def prepare_api_turn(
    user: Any,
    messages: list[tuple[str, str]],
    model_ref: Any,
    options: Any,
    *,
    max_tokens: int | None,
    token_name: str,
) -> TurnPlan:
    """A request to the OpenAI-compatible API (conversations/openai_api): the
    client's own messages (role and text), answered as a turn of the token's owner
    in a conversation of its own. The same checks as `prepare_turn`, in the same
    order; the request's messages go through the context builder's door for them,
    which lets no reasoning through.

    `max_tokens`: what the client asked for, capped by the model's limit; None: the
    model's default."""
    resolved = resolve_model(model_ref, user)
    options = resolve_options(resolved.model, options)
    check_quota(user)
    model, provider = resolved.model, resolved.model.provider
    limit = model.max_output_tokens_limit
    if max_tokens is None:
        max_tokens = model.max_output_tokens
    elif limit:
        max_tokens = min(max_tokens, limit)
    turn_id = str(uuid.uuid4())
    # A client's own max_tokens bounds what the answer may spend: that is what it holds.
    admit(user, turn_id, model, tokens=max_tokens)
    # The user turn keeps the last message the client wrote, for the trace list.
    asked = next((text for role, text in reversed(messages) if role == "user"), "")
    return TurnPlan(
        turn_id=turn_id,
        user_turn_id=str(uuid.uuid4()),
        conversation_id=str(uuid.uuid4()),
        model_ref=model.ref,
        style=provider.style,
        base_url=provider.base_url,
        keys=resolved.keys_now(),
        request=StreamRequest(
            model=model.model_id,
            messages=request_context(messages),
            thinking=options["thinking"],
            effort=options["effort"],
            max_tokens=max_tokens,
        ),
        owner_id=user.pk,
        user_content=asked,
        options={k: v for k, v in options.items() if v},
        title=" ".join(asked.split())[:80],
        api_token_name=token_name,
    )


def _plan(
    turn_id: str,
    conversation_id: Any,
    user: Any,
    resolved: Resolved,
    options: dict[str, Any],
    *,
    context: list[Turn],
    system_prompt: str,
    index: int,
    user_turn_id: str,
    user_content: str | None = None,
    parent_id: str | None = None,
    title: str = "",
) -> TurnPlan:
    model, provider = resolved.model, resolved.model.provider
    hints = ModelHints.of(model)
    return TurnPlan(
        turn_id=turn_id,
        user_turn_id=user_turn_id,
        conversation_id=str(conversation_id),
        model_ref=model.ref,
        style=provider.style,
        base_url=provider.base_url,
        keys=resolved.keys_now(),
        request=StreamRequest(
            model=model.model_id,
            messages=build_context(context, system_prompt=system_prompt, hints=hints),
            thinking=options["thinking"],
            effort=options["effort"],
            max_tokens=model.max_output_tokens,
        ),
        owner_id=user.pk,
        index=index,
        user_content=user_content,
        parent_id=parent_id,
        options={k: v for k, v in options.items() if v},
        title=title,
        system_prompt=system_prompt,
        hints=hints.to_json(),
    )
