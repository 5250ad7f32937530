"""Admission of a turn: the person's running-turns limit and their teams' daily quotas,
decided in one transaction that leaves a reservation for the turn it admits.

A check that reads stored rows is not enough: a burst of starts all read the rows
before any of them has written its own (the turn is stored while the upstream
request is already out, `conversations/live/runner.py`), so 16 starts of a team 10
tokens under its quota all passed, and a limit of 3 running answers let 8 run. Here
every start that needs a decision takes the same locks, counts what the admitted but
unfinished turns hold, and writes its own reservation before it commits, so a burst
gets the answer the same starts made one after another would get, in one process or
across processes (docs/architecture.md, "Limits that protect the service").

- The locks: PostgreSQL locks the person's user row, then the rows of their teams
  with a quota, in id order (`SELECT ... FOR UPDATE`; every start takes them in the
  same order, so two starts never wait on each other in a circle). SQLite's
  transactions are IMMEDIATE (chatsite/settings.py): the first write lock of the
  file already orders every start.
- A reservation is a row per admitted turn (`Reservation`, keyed by the assistant
  turn's id) holding the tokens it may still spend: the model's maximum output
  tokens (`max_output_tokens`, else `max_output_tokens_limit`), else
  CHAT_TURN_RESERVE_TOKENS. It goes when the turn's final state is saved (in that
  transaction), when the turn could not be stored, when the sweeper settles an
  expired turn, or, for a process that died between admission and storing the turn,
  when the sweeper finds it older than a lease with no running turn.
- Running turns: the person's reservations; at CHAT_MAX_RUNNING_TURNS_PER_USER the
  start is refused (`too_many_turns`).
- Quotas: a team admits a turn while its members' tokens of the day plus their
  reservations are under its quota (`quota_exceeded`), read from the database once
  the locks are held (not from the per-process figures `quota.py` keeps for its
  early check), one query for all the person's teams.
- Messages per minute are counted last, so a refused start does not count.

Nothing to decide (no running-turns limit, no quota on the person's teams): no
transaction, no row.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import DatabaseError, connection, models, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import access, limits
from accounts.quota import QuotaExceeded
from accounts.teams import Team
from accounts.usage import DailyUsage


class Reservation(models.Model):
    """An admitted turn that has not ended: it counts as running for its person and
    holds `tokens` of its teams' quotas until it ends."""

    turn_id = models.UUIDField(_("turn"), primary_key=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    tokens = models.PositiveIntegerField(_("tokens held"))
    created = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("quota reservation")
        verbose_name_plural = _("quota reservations")
        indexes = [models.Index(fields=["created"], name="reservation_created")]

    def __str__(self) -> str:
        return f"{self.turn_id} ({self.tokens} tokens)"


def reserve_tokens(model: Any) -> int:
    return int(
        getattr(model, "max_output_tokens", None)
        or getattr(model, "max_output_tokens_limit", None)
        or settings.CHAT_TURN_RESERVE_TOKENS
    )


def admit(user: Any, turn_id: str, model: Any, tokens: int | None = None) -> None:
    """Admit the turn `turn_id` of `user` on `model` (a ChatModel), or raise
    TooManyTurns, QuotaExceeded or TooManyMessages; nothing is kept when it raises.
    `tokens`: what the turn may spend when the request says (the API's max_tokens);
    else the model's maximum."""
    limit = settings.CHAT_MAX_RUNNING_TURNS_PER_USER
    team_ids = sorted(t.id for t in access.teams_of(user) if t.daily_token_quota is not None)
    if limit <= 0 and not team_ids:
        limits.check_rate(user)
        return
    sql = _statements(connection.vendor)
    per_teams = _team_statements(connection.vendor, len(team_ids))
    now = timezone.now()
    reads: list[tuple[str, list[Any]]] = []
    if connection.features.has_select_for_update:
        # Locked in one order by every start: the person, then their teams by id.
        # (SQLite has no row locks: its IMMEDIATE transaction holds the file's.)
        # The figures are read after, in statements of their own: a statement that
        # waited for a lock would still see the rows as they were before.
        reads.append((sql.lock_person, [user.pk]))
        if team_ids:
            reads.append((per_teams.lock, team_ids))
    if limit > 0:
        reads.append((sql.running, [user.pk]))
    if team_ids:
        day = connection.ops.adapt_datefield_value(now.astimezone(UTC).date())
        reads.append((per_teams.committed, [day, *team_ids]))
    turn_field, created_field = Reservation._meta.pk, Reservation.created.field
    reserve = [
        turn_field.get_db_prep_value(turn_id, connection),  # type: ignore[union-attr]
        user.pk,
        tokens or reserve_tokens(model),
        created_field.get_db_prep_value(now, connection),
    ]
    with _locked(reads) as (results, then):
        figures = results.pop() if team_ids else []
        if limit > 0 and results.pop()[0][0] >= limit:
            raise limits.TooManyTurns(limit)
        for name, quota, used, held in figures:
            used, held = int(used), int(held)
            if used + held >= quota:
                # Under the quota until the answers being written end: they may use it.
                raise QuotaExceeded(name, int(quota), now, held=used < quota)
        limits.check_rate(user)
        then(sql.reserve, reserve)


@contextlib.contextmanager
def _locked(
    reads: list[tuple[str, list[Any]]],
) -> Iterator[tuple[list[list[Any]], Callable[[str, list[Any]], None]]]:
    """A transaction that runs `reads` and gives their rows, then the one write the
    block passes to `then`, committed when the block ends and rolled back when it
    raises.

    On PostgreSQL, outside a transaction, the reads go in one round trip with the
    BEGIN, and the write with the COMMIT: two round trips where each statement on
    its own made seven, at every turn's start (a round trip is about 0.1 ms on one
    machine, and more under load: tests/bench/person.py). Each statement still
    takes its own snapshot, so the figures are read after the locks are held.
    Django's cursors bind parameters on the client, and a simple query may hold
    several statements. Its COMMIT does not wait for the disk (`synchronous_commit`
    off, for this transaction only): a reservation lives as long as its turn runs,
    and a database that crashed in the next moment loses at most the reservations
    of turns starting then, where a flush per start cost 0.1 ms here and a
    millisecond or more on a network volume."""
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        with transaction.atomic(), connection.cursor() as cursor:
            results = []
            for statement, params in reads:
                cursor.execute(statement, params)
                results.append(cursor.fetchall())
            yield results, cursor.execute
        return
    with connection.cursor() as cursor:
        try:
            cursor.execute("; ".join([_BEGIN, *(s for s, _ in reads)]), _joined(reads))
            results = []
            while cursor.nextset():  # past the BEGIN's and SET's, which have no rows
                if cursor.description is not None:
                    results.append(cursor.fetchall())
            writes: list[tuple[str, list[Any]]] = []
            yield results, lambda statement, params: writes.append((statement, params))
            cursor.execute("; ".join([*(s for s, _ in writes), "COMMIT"]), _joined(writes))
        except BaseException:
            with contextlib.suppress(DatabaseError):  # a connection that broke has none
                cursor.execute("ROLLBACK")
            raise


_BEGIN = "BEGIN; SET LOCAL synchronous_commit TO OFF"


def _joined(statements: list[tuple[str, list[Any]]]) -> list[Any]:
    return [param for _, params in statements for param in params]


@dataclass(frozen=True)
class _Statements:
    lock_person: str
    running: str
    reserve: str
    release: str


@dataclass(frozen=True)
class _TeamStatements:
    lock: str
    # Per team with a quota: its name, quota, its members' tokens of the day (UTC),
    # and what their admitted, unfinished turns hold.
    committed: str


def _table(model: Any) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# The admission's SQL is written out once per database (and number of teams). Built
# with the ORM, compiling these statements took longer than the rest of a turn's
# start together (the quota figures, two correlated subqueries, most of all:
# tests/bench/person.py); they run on every start, inside its lock.


@functools.cache
def _statements(vendor: str) -> _Statements:
    q, reservations = connection.ops.quote_name, _table(Reservation)
    person = q(get_user_model()._meta.pk.column)  # type: ignore[union-attr,arg-type]
    return _Statements(
        lock_person=f"SELECT {person} FROM {_table(get_user_model())} "
        f"WHERE {person} = %s FOR UPDATE",
        running=f"SELECT COUNT(*) FROM {reservations} WHERE {q('user_id')} = %s",
        reserve=f"INSERT INTO {reservations} ({q('turn_id')}, {q('user_id')}, {q('tokens')}, "
        f"{q('created')}) VALUES (%s, %s, %s, %s)",
        release=f"DELETE FROM {reservations} WHERE {q('turn_id')} = %s",
    )


@functools.cache
def _team_statements(vendor: str, teams: int) -> _TeamStatements:
    q = connection.ops.quote_name
    teams_in = ", ".join(["%s"] * teams)
    members = _table(Team.members.through)
    member_of = f"SELECT m.{q('user_id')} FROM {members} m WHERE m.{q('team_id')} = t.{q('id')}"
    return _TeamStatements(
        lock=f"SELECT {q('id')} FROM {_table(Team)} WHERE {q('id')} IN ({teams_in}) "
        f"ORDER BY {q('id')} FOR UPDATE",
        committed=(
            f"SELECT t.{q('name')}, t.{q('daily_token_quota')},"
            f" COALESCE((SELECT SUM(u.{q('total_tokens')}) FROM {_table(DailyUsage)} u"
            f" WHERE u.{q('day')} = %s AND u.{q('user_id')} IN ({member_of})), 0),"
            f" COALESCE((SELECT SUM(r.{q('tokens')}) FROM {_table(Reservation)} r"
            f" WHERE r.{q('user_id')} IN ({member_of})), 0)"
            f" FROM {_table(Team)} t WHERE t.{q('id')} IN ({teams_in})"
            f" AND t.{q('daily_token_quota')} IS NOT NULL ORDER BY t.{q('id')}"
        ),
    )


def release(turn_id: Any) -> None:
    """The turn ended, or was never stored: its person and teams get its share back."""
    turn_field = Reservation._meta.pk
    with connection.cursor() as cursor:
        cursor.execute(
            _statements(connection.vendor).release,
            [turn_field.get_db_prep_value(turn_id, connection)],  # type: ignore[union-attr]
        )


def release_orphans(now: Any, running: Any) -> int:
    """Reservations of starts whose process died before the turn was stored: older
    than a lease and with no running turn (`running`: a queryset of running turn
    ids)."""
    cutoff = now - timedelta(seconds=2 * settings.CHAT_LEASE_SECONDS)
    stale = Reservation.objects.filter(created__lt=cutoff).exclude(turn_id__in=running)
    return stale.delete()[0]
