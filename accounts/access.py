"""Who may use which model: decided here, and only here.

A model given to no team is open to every signed-in user; a model given to teams,
only to their members (reviewers are members: accounts/teams.py). Superusers may
use every enabled model, as in most products: the admin who sets a model up and
grants it to a team can try it without joining the team. Callers: the picker
(`models_for`, conversations/views.py), every turn start (`may_use`, through
`catalog.resolve_model`), and the usage aggregate's attribution (`team_for`, from
`actions.finish_turn`).

Both things this reads, the grants (which teams give which model) and a person's
teams, are kept per process for CHAT_MODEL_CACHE_SECONDS like the catalogue: a
turn start with both cached touches no table, and one without the person's teams
reads them in its read of the conversation (`teams_column`). A change to teams,
their members or models, to models or providers, or to a user clears this
process's copy when it commits (signals, `m2m_changed` included); other processes
see it within that time.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from accounts.teams import Team
from providers.models import ChatModel, Provider


@dataclass(frozen=True)
class TeamInfo:
    id: int
    name: str
    daily_token_quota: int | None


_lock = threading.Lock()
# Model reference -> ids of the teams that give it (a model absent here is open).
_grants: tuple[float, dict[str, frozenset[int]]] | None = None
# User id -> the teams they are a member of, by name.
_teams: dict[int, tuple[float, tuple[TeamInfo, ...]]] = {}
_MAX_USERS = 10_000  # past this many cached people, start again (expired ones pile up)


def _grants_map() -> dict[str, frozenset[int]]:
    global _grants
    now = time.monotonic()
    with _lock:
        hit = _grants
    if hit is not None and hit[0] > now:
        return hit[1]
    pairs: dict[str, set[int]] = {}
    rows = Team.models.through.objects.values_list(
        "chatmodel__provider__name", "chatmodel__model_id", "team_id"
    )
    for provider_name, model_id, team_id in rows:
        pairs.setdefault(f"{provider_name}/{model_id}", set()).add(team_id)
    grants = {ref: frozenset(ids) for ref, ids in pairs.items()}
    with _lock:
        _grants = (now + settings.CHAT_MODEL_CACHE_SECONDS, grants)
    return grants


def teams_of_id(user_id: int) -> tuple[TeamInfo, ...]:
    """The teams the user is a member of, ordered by name."""
    now = time.monotonic()
    hit = _cached_teams(user_id, now)
    if hit is not None:
        return hit
    with connection.cursor() as cursor:
        cursor.execute(_teams_statement(connection.vendor), [user_id])
        teams = tuple(TeamInfo(*row) for row in cursor.fetchall())
    _keep(user_id, teams, now)
    return teams


def _cached_teams(user_id: int, now: float) -> tuple[TeamInfo, ...] | None:
    """This process's copy of the user's teams, None when it has none or it expired."""
    with _lock:
        hit = _teams.get(user_id)
    return hit[1] if hit is not None and hit[0] > now else None


def _keep(user_id: int, teams: tuple[TeamInfo, ...], now: float) -> None:
    with _lock:
        if len(_teams) >= _MAX_USERS:
            _teams.clear()
        _teams[user_id] = (now + settings.CHAT_MODEL_CACHE_SECONDS, teams)


@functools.cache
def _teams_statement(vendor: str) -> str:
    """A person's teams, written out once per database: a person's turns are seldom
    within CHAT_MODEL_CACHE_SECONDS of each other, so most turn starts read them, and
    compiled by the ORM the read took longer than the round trip (tests/bench/person.py)."""
    columns, source, order = _teams_parts()
    return f"SELECT {columns} FROM {source} ORDER BY {order}"


def _teams_parts(person: str = "%s") -> tuple[str, str, str]:
    """The columns, the tables with the condition on the user id (`person`: the
    statement's parameter, or a column of the query around it), and the order of a
    person's teams."""
    q = connection.ops.quote_name
    members = q(Team.members.through._meta.db_table)
    return (
        f"t.{q('id')}, t.{q('name')}, t.{q('daily_token_quota')}",
        f"{q(Team._meta.db_table)} t JOIN {members} m ON m.{q('team_id')} = t.{q('id')}"
        f" WHERE m.{q('user_id')} = {person}",
        f"t.{q('name')}, t.{q('id')}",
    )


def teams_wanted(user: Any) -> bool:
    """Does the next check of this person's access read their teams? A reader that
    goes to the database anyway can bring them along (`teams_column`)."""
    if user is None or not user.is_authenticated:
        return False
    return _cached_teams(user.pk, time.monotonic()) is None


@functools.cache
def teams_column(vendor: str, person: str = "%s") -> str:
    """A person's teams as one JSON array of [id, name, quota], ordered as
    `teams_of` orders them: a column another read can carry, so that a turn's start
    reads its conversation and the person's teams in one round trip
    (conversations/plans.py), and an API request its token, owner and teams
    (accounts/tokens.py). `person`: the user id, the statement's parameter by
    default, or a column of the query around it. PostgreSQL orders in the
    aggregate; SQLite's json_group_array keeps the order of the rows it is given."""
    q = connection.ops.quote_name
    columns, source, order = _teams_parts(person)
    if vendor == "postgresql":
        return f"(SELECT json_agg(json_build_array({columns}) ORDER BY {order}) FROM {source})"
    fields = ", ".join(q(name) for name in ("id", "name", "daily_token_quota"))
    return (
        f"(SELECT json_group_array(json_array({fields}))"
        f" FROM (SELECT {columns} FROM {source} ORDER BY {order}))"
    )


def remember_teams(user_id: int, column: Any) -> None:
    """Keep what `teams_column` read (JSON text, or already decoded) as this
    process's copy of the person's teams, as `teams_of_id` would after its own read."""
    rows = json.loads(column) if isinstance(column, str) else column or []
    _keep(user_id, tuple(TeamInfo(*row) for row in rows), time.monotonic())


def teams_of(user: Any) -> tuple[TeamInfo, ...]:
    if user is None or not user.is_authenticated:
        return ()
    return teams_of_id(user.pk)


def cached_team_ids(user_id: int) -> frozenset[int] | None:
    """The user's team ids if this process has them at hand (no query), else None."""
    teams = _cached_teams(user_id, time.monotonic())
    return None if teams is None else frozenset(t.id for t in teams)


def _allowed(user_id: int, ref: str) -> bool:
    granted = _grants_map().get(ref)
    if not granted:
        return True
    return any(team.id in granted for team in teams_of_id(user_id))


def may_use(user: Any, model: ChatModel) -> bool:
    """May this person start a turn on this model? (Enabled-ness is the catalogue's.)"""
    if user is None or not user.is_authenticated:
        return False
    return user.is_superuser or _allowed(user.pk, model.ref)


def models_for(user: Any) -> list[ChatModel]:
    """The enabled models the person may use, for the picker."""
    if user is None or not user.is_authenticated:
        return []
    rows = (
        ChatModel.objects.select_related("provider")
        .filter(enabled=True, provider__enabled=True)
        .order_by("provider__name", "model_id")
    )
    if user.is_superuser:
        return list(rows)
    return [model for model in rows if _allowed(user.pk, model.ref)]


def team_for(user_id: int, ref: str) -> int | None:
    """The one team a turn on `ref` counts for: the first of the person's teams (by
    name) that gives the model; for a model open to all, their first team; none
    when they are in no team."""
    teams = teams_of_id(user_id)
    granted = _grants_map().get(ref) or frozenset()
    for team in teams:
        if team.id in granted:
            return team.id
    return teams[0].id if teams else None


def clear(**_kwargs: Any) -> None:
    global _grants
    with _lock:
        _grants = None
        _teams.clear()


def _changed(**_kwargs: Any) -> None:
    # Now, and again once the change commits: a read between the two would cache
    # the old rows.
    clear()
    transaction.on_commit(clear)


def _connect() -> None:
    user_model = get_user_model()
    for sender in (Team, ChatModel, Provider, user_model):
        name = sender.__name__
        post_save.connect(_changed, sender=sender, dispatch_uid=f"access-save-{name}")
        post_delete.connect(_changed, sender=sender, dispatch_uid=f"access-delete-{name}")
    for field in ("members", "reviewers", "models"):
        through = getattr(Team, field).through
        m2m_changed.connect(_changed, sender=through, dispatch_uid=f"access-m2m-{field}")


_connect()
