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

from datetime import UTC, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models import OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts import access, limits
from accounts.quota import QuotaExceeded
from accounts.teams import Team
from accounts.usage import DailyUsage


class Reservation(models.Model):
    """An admitted turn that has not ended: it counts as running for its person and
    holds `tokens` of its teams' quotas until it ends."""

    turn_id = models.UUIDField(primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    tokens = models.PositiveIntegerField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
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
    with transaction.atomic():
        if connection.features.has_select_for_update:
            # Locked in one order by every start: the person, then their teams by id.
            # (SQLite has no row locks: its IMMEDIATE transaction holds the file's.)
            # The figures are read after, in statements of their own: a statement
            # that waited for a lock would still see the rows as they were before.
            users = get_user_model().objects.select_for_update().filter(pk=user.pk)
            list(users.values_list("pk", flat=True))
            teams = Team.objects.select_for_update().filter(id__in=team_ids).order_by("id")
            list(teams.values_list("id", flat=True))
        if limit > 0 and Reservation.objects.filter(user_id=user.pk).count() >= limit:
            raise limits.TooManyTurns(limit)
        now = timezone.now()
        for name, quota, used, held in committed(team_ids, now):
            if used + held >= quota:
                # Under the quota until the answers being written end: they may use it.
                raise QuotaExceeded(name, quota, now, held=used < quota)
        limits.check_rate(user)
        reserved = tokens or reserve_tokens(model)
        Reservation.objects.create(turn_id=turn_id, user_id=user.pk, tokens=reserved)


def committed(team_ids: list[int], now: Any) -> list[tuple[str, int, int, int]]:
    """Per team with a quota, in one query: its name, quota, its members' tokens of
    the day (UTC), and what their admitted, unfinished turns hold."""
    if not team_ids:
        return []
    members = Team.members.through.objects.filter(team_id=OuterRef(OuterRef("id")))
    used = (
        DailyUsage.objects.filter(
            day=now.astimezone(UTC).date(), user_id__in=members.values("user_id")
        )
        .order_by()
        .values("day")
        .annotate(n=Sum("total_tokens"))
        .values("n")
    )
    held = (
        Reservation.objects.filter(user_id__in=members.values("user_id"))
        .order_by()
        .annotate(one=Value(1))
        .values("one")
        .annotate(n=Sum("tokens"))
        .values("n")
    )
    big = models.BigIntegerField()
    zero = Value(0, output_field=big)
    rows = (
        Team.objects.filter(id__in=team_ids, daily_token_quota__isnull=False)
        .order_by("id")
        .annotate(
            used=Coalesce(Subquery(used, output_field=big), zero),
            held=Coalesce(Subquery(held, output_field=big), zero),
        )
        .values_list("name", "daily_token_quota", "used", "held")
    )
    return [(name, int(quota or 0), int(used), int(held)) for name, quota, used, held in rows]


def release(turn_id: Any) -> None:
    """The turn ended, or was never stored: its person and teams get its share back."""
    Reservation.objects.filter(turn_id=turn_id).delete()


def release_orphans(now: Any, running: Any) -> int:
    """Reservations of starts whose process died before the turn was stored: older
    than a lease and with no running turn (`running`: a queryset of running turn
    ids)."""
    cutoff = now - timedelta(seconds=2 * settings.CHAT_LEASE_SECONDS)
    stale = Reservation.objects.filter(created__lt=cutoff).exclude(turn_id__in=running)
    return stale.delete()[0]
