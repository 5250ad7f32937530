"""Who sees which trace: decided here, and only here.

Everyone sees their own assistant turns; a team's reviewer those of the team's
members; superusers all. The list, the trace page, the export, the search and
every count start from `visible_turns`, so a turn outside it does not exist for
that person (404, never 403). Reviewers are members (accounts/teams.py), and a
reviewer removed from a team loses its members' traces at once (no cache here).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from accounts.teams import Team
from conversations.models import Turn, TurnQuerySet
from providers.models import ChatModel


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
    return all_traces().filter(conversation__owner_id__in=_owners(user))


def _owners(user: Any) -> list[int]:
    """Whose turns a person who is not a superuser sees: their own, and the members'
    of the teams they review."""
    members = Team.objects.filter(reviewers=user, members__isnull=False)
    return sorted({user.pk, *members.values_list("members", flat=True)})


def reviewable_models(user: Any) -> list[ChatModel]:
    """The models the list's Model filter names: those the people whose traces the
    person sees may use (accounts/access.py's rule: a model given to no team is
    open, one given to teams only to their members), disabled ones included (their
    turns stay); every model for a superuser. A model granted only to teams of no
    one in sight is not named."""
    if user is None or not user.is_authenticated or not user.is_active:
        return []
    rows = ChatModel.objects.select_related("provider").order_by("provider__name", "model_id")
    if user.is_superuser:
        return list(rows)
    teams = Team.objects.filter(members__in=_owners(user)).values("pk")
    return list(rows.filter(Q(teams__isnull=True) | Q(teams__in=teams)).distinct())


def reviewed_teams(user: Any) -> list[Team]:
    """The teams whose traces the person may filter by (all of them for a superuser)."""
    if user is None or not user.is_authenticated:
        return []
    teams = Team.objects.all() if user.is_superuser else Team.objects.filter(reviewers=user)
    return list(teams.order_by("name"))
