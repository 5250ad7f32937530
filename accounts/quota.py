"""Daily token quotas of teams, checked before a turn starts (before any upstream call).

A team's quota counts `total_tokens` (reasoning included) of all its members'
turns, on any model, since 00:00 UTC: the day's rows of the usage aggregate of
everyone now a member (conversations/usage.py). A person in several teams is
refused when any one of them is at or over its quota.

What a team used today is kept per process for CHAT_MODEL_CACHE_SECONDS; a turn
ending in this process adds its tokens to the kept figures when it commits, so
this process is exact and others lag by at most that long. A quota is a limit on
starting turns: a turn that starts below it may end above it.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from django.utils.translation import gettext

from accounts import access
from accounts.teams import Team
from accounts.usage import DailyUsage
from conversations.errors import ClientError


class QuotaExceeded(ClientError):
    """`quota_exceeded`. The message is rendered when read, in the active language
    (the socket's); `fields` holds what an error frame may add (`resets_at`)."""

    def __init__(self, team: str, quota: int, now: datetime, held: bool = False):
        self.team = team
        self.quota = quota
        # Refused for the answers being written (accounts/admission.py), not yet used.
        self.held = held
        self.resets_at = next_reset(now)
        self._left = self.resets_at - now
        super().__init__("quota_exceeded", f"Team {team!r} is at its daily quota of {quota}.")

    @property  # type: ignore[override]
    def message(self) -> str:
        if self.held:
            text = gettext(
                "The answers being written for your team %(team)s may use the rest of its "
                "daily quota of %(quota)s tokens. Wait for one to finish, then send "
                "again; the quota resets at 00:00 UTC (in %(wait)s)."
            )
        else:
            text = gettext(
                "Your team %(team)s has used its daily quota of %(quota)s tokens. "
                "It resets at 00:00 UTC (in %(wait)s)."
            )
        return text % {
            "team": self.team,
            "quota": f"{self.quota:,}",  # as the other limits are written
            "wait": _wait(self._left),
        }

    @message.setter
    def message(self, _value: str) -> None:
        """Ignored: the text is made when read (a ClientError may assign it)."""

    @property
    def fields(self) -> dict[str, Any]:
        return {"resets_at": self.resets_at.isoformat().replace("+00:00", "Z")}


def next_reset(now: datetime) -> datetime:
    today = now.astimezone(UTC).date()
    return datetime.combine(today + timedelta(days=1), datetime.min.time(), tzinfo=UTC)


def _wait(left: timedelta) -> str:
    minutes = max(1, -(-int(left.total_seconds()) // 60))  # rounded up: never "0 min"
    hours, minutes = divmod(minutes, 60)
    if hours:
        return gettext("%(hours)d h %(minutes)d min") % {"hours": hours, "minutes": minutes}
    return gettext("%(minutes)d min") % {"minutes": minutes}


def check_quota(user: Any) -> None:
    """Raise QuotaExceeded if one of the person's teams is at or over its quota."""
    teams = [t for t in access.teams_of(user) if t.daily_token_quota is not None]
    if not teams:
        return
    now = timezone.now()
    day = now.astimezone(UTC).date()
    for team in teams:
        assert team.daily_token_quota is not None
        if used_today(team.id, day) >= team.daily_token_quota:
            raise QuotaExceeded(team.name, team.daily_token_quota, now)


_lock = threading.Lock()
_used: dict[tuple[int, date], tuple[float, int]] = {}  # (team id, day) -> (expires, tokens)


def used_today(team_id: int, day: date) -> int:
    now = time.monotonic()
    with _lock:
        hit = _used.get((team_id, day))
    if hit is not None and hit[0] > now:
        return hit[1]
    used = DailyUsage.objects.of_members(team_id, day).total_tokens()
    with _lock:
        if len(_used) >= 10_000:
            _used.clear()
        _used[(team_id, day)] = (now + settings.CHAT_MODEL_CACHE_SECONDS, used)
    return used


def note_usage(user_id: int, day: date, tokens: int) -> None:
    """A turn of `user_id` ended with `tokens` (committed): add them to what this
    process keeps for the user's teams."""
    if not tokens:
        return
    team_ids = access.cached_team_ids(user_id)
    with _lock:
        if team_ids is None:  # whose figures to move is not known without a query
            _used.clear()
            return
        for team_id in team_ids:
            hit = _used.get((team_id, day))
            if hit is not None:
                _used[(team_id, day)] = (hit[0], hit[1] + tokens)


def clear(**_kwargs: Any) -> None:
    with _lock:
        _used.clear()


def _changed(**_kwargs: Any) -> None:
    clear()
    transaction.on_commit(clear)


def _connect() -> None:
    # Rows written outside finish_turn (the admin, a shell, tests) and membership
    # changes move the figures; quota values themselves are read through access.
    for sender in (DailyUsage, Team):
        name = sender.__name__
        post_save.connect(_changed, sender=sender, dispatch_uid=f"quota-save-{name}")
        post_delete.connect(_changed, sender=sender, dispatch_uid=f"quota-delete-{name}")
    m2m_changed.connect(_changed, sender=Team.members.through, dispatch_uid="quota-m2m-members")


_connect()
