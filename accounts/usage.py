"""Token usage per day (UTC), user, team and model: an aggregate kept up to date as
turns end (`conversations.actions.finish_turn`, in the final save's transaction),
so quotas and the admin's chart never scan turns.

A turn counts once, for one team (`accounts.access.team_for`): the first of the person's
teams that grants the model, else their first team, else none (`team` null).
A team's quota is not read from that column: it counts all its members' rows of
the day, whichever team they were attributed to (accounts/quota.py).
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.db.models import Q, Sum
from django.utils.translation import gettext_lazy as _

from accounts.teams import Team


class DailyUsageQuerySet(models.QuerySet["DailyUsage"]):
    def of_members(self, team_id: int, day: date) -> DailyUsageQuerySet:
        """Rows of the day of everyone who is now a member of the team."""
        members = Team.members.through.objects.filter(team_id=team_id).values("user_id")
        return self.filter(day=day, user_id__in=members)

    def total_tokens(self) -> int:
        return int(self.aggregate(n=Sum("total_tokens"))["n"] or 0)


class DailyUsage(models.Model):
    day = models.DateField(_("day"), help_text=_("Days run from 00:00 UTC."))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("person"),
        on_delete=models.CASCADE,
        related_name="daily_usage",
    )
    # Deleting a team deletes its rows: they cannot become team-less rows without
    # colliding with the person's own team-less row of that day and model.
    team = models.ForeignKey(
        "accounts.Team",
        verbose_name=_("team"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="daily_usage",
    )
    model = models.CharField(_("model"), max_length=300)  # "<provider>/<model id>", as on the turn
    prompt_tokens = models.PositiveBigIntegerField(_("prompt tokens"), default=0)
    completion_tokens = models.PositiveBigIntegerField(_("completion tokens"), default=0)
    reasoning_tokens = models.PositiveBigIntegerField(_("reasoning tokens"), default=0)
    total_tokens = models.PositiveBigIntegerField(_("total tokens"), default=0)
    turns = models.PositiveIntegerField(_("turns"), default=0)

    objects = DailyUsageQuerySet.as_manager()

    class Meta:
        db_table = "providers_dailyusage"  # kept from when the model lived in providers/
        verbose_name = _("daily usage")
        verbose_name_plural = _("daily usage")
        ordering = ["-day", "user_id", "model"]
        constraints = [
            # One row per (day, user, team, model). NULLs are distinct in a unique
            # index, so the team-less rows get a constraint of their own.
            models.UniqueConstraint(
                fields=["day", "user", "team", "model"],
                condition=Q(team__isnull=False),
                name="dailyusage_unique_team",
            ),
            models.UniqueConstraint(
                fields=["day", "user", "model"],
                condition=Q(team__isnull=True),
                name="dailyusage_unique_no_team",
            ),
        ]
        indexes = [
            # Quotas: the day's rows of a team's members. The chart: the last 30 days.
            models.Index(fields=["day", "user"], name="dailyusage_day_user"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.user_id} {self.model}"


def tokens_of(usage: dict[str, Any] | None) -> dict[str, int]:
    """A turn's stored usage as counts; what the provider did not report counts 0.
    Without a total, prompt + completion (completion includes reasoning)."""
    usage = usage or {}

    def n(key: str) -> int:
        value = usage.get(key)
        if isinstance(value, bool) or not isinstance(value, int):
            return 0
        return max(value, 0)

    prompt, completion = n("prompt_tokens"), n("completion_tokens")
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "reasoning_tokens": n("reasoning_tokens"),
        "total_tokens": n("total_tokens") or prompt + completion,
    }


TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "total_tokens")


def add_to_row(
    day: date, user_id: int, team_id: int | None, model: str, tokens: dict[str, int]
) -> bool:
    """Add one turn and its `tokens` (tokens_of's keys) to the day's row of (user, team,
    model), in the caller's transaction; False when there is no such row yet."""
    with connection.cursor() as cursor:
        cursor.execute(
            _increment_sql(connection.vendor, team_id is None),
            [
                *(tokens[name] for name in TOKEN_FIELDS),
                connection.ops.adapt_datefield_value(day),
                user_id,
                model,
                *([] if team_id is None else [team_id]),
            ],
        )
        return bool(cursor.rowcount)


@functools.cache
def _increment_sql(vendor: str, no_team: bool) -> str:
    # Written out once: built with the ORM (F() expressions on five columns), the
    # statement took longer to compile than the rest of a turn's final save.
    q = connection.ops.quote_name
    added = ", ".join(f"{q(name)} = {q(name)} + %s" for name in TOKEN_FIELDS)
    team = f"{q('team_id')} IS NULL" if no_team else f"{q('team_id')} = %s"
    return (
        f"UPDATE {q(DailyUsage._meta.db_table)} SET {q('turns')} = {q('turns')} + 1, {added}"
        f" WHERE {q('day')} = %s AND {q('user_id')} = %s AND {q('model')} = %s AND {team}"
    )
