"""Who sees which trace: decided here, and only here.

Everyone sees their own assistant turns; a team's reviewer those of the team's
members; superusers all. The list, the trace page, the export, the search and
every count start from `visible_turns`, so a turn outside it does not exist for
that person (404, never 403). Reviewers are members (accounts/teams.py), and a
reviewer removed from a team loses its members' traces at once (no cache here).
"""

from __future__ import annotations

from typing import Any

from accounts.teams import Team
from conversations.models import Turn, TurnQuerySet


def all_traces() -> TurnQuerySet:
    """Every assistant turn: for operators' commands, which run with no person."""
    return Turn.objects.filter(role=Turn.Role.ASSISTANT)


def visible_turns(user: Any) -> TurnQuerySet:
    if user is None or not user.is_authenticated or not user.is_active:
        return Turn.objects.none()
    if user.is_superuser:
        return all_traces()
    # The owners as a list of numbers rather than a subquery: PostgreSQL then knows how
    # few turns they hold and checks them before a costly filter, not after (a
    # reviewer's rating or signal filter at 100,000 turns: 70 -> 20 ms).
    members = Team.objects.filter(reviewers=user, members__isnull=False)
    owners = {user.pk, *members.values_list("members", flat=True)}
    return all_traces().filter(conversation__owner_id__in=sorted(owners))


def reviewed_teams(user: Any) -> list[Team]:
    """The teams whose traces the person may filter by (all of them for a superuser)."""
    if user is None or not user.is_authenticated:
        return []
    teams = Team.objects.all() if user.is_superuser else Team.objects.filter(reviewers=user)
    return list(teams.order_by("name"))
