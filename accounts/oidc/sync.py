"""Teams that follow an IdP group: their members are exactly the people whose latest
sign-in carried the group in the groups claim.

`sync_person` runs at each sign-in (adds and removes that person); `sync_team` when
a team's group is set or changed (in the admin or by add_team), from the groups
each person's latest sign-in left on their identity. Someone who leaves a team
leaves its reviewers too (a reviewer is a member). Every change is in the audit log.
"""

from __future__ import annotations

from typing import Any

from accounts.audit import AuditEntry, record
from accounts.oidc.identity import OidcIdentity
from accounts.teams import Team


def _add(team: Team, user: Any, actor: Any, why: str) -> None:
    team.members.add(user)
    record(actor, AuditEntry.Action.MEMBER_ADDED, team, f"{user.get_username()} ({why})")


def _remove(team: Team, user: Any, actor: Any, why: str) -> None:
    team.members.remove(user)
    team.reviewers.remove(user)
    record(actor, AuditEntry.Action.MEMBER_REMOVED, team, f"{user.get_username()} ({why})")


def sync_person(user: Any, groups: list[str]) -> None:
    """At sign-in: join the teams whose group is in `groups`, leave the others that
    follow a group. Call inside the sign-in's transaction."""
    wanted = set(groups)
    current = set(user.teams.exclude(idp_group="").values_list("pk", flat=True))
    for team in Team.objects.exclude(idp_group=""):
        inside, belongs = team.pk in current, team.idp_group in wanted
        if belongs and not inside:
            _add(team, user, None, f"sign-in with group {team.idp_group}")
        elif inside and not belongs:
            _remove(team, user, None, f"sign-in without group {team.idp_group}")


def latest_groups() -> dict[int, list[str]]:
    """Each person's groups at their latest sign-in (of any of their identities)."""
    latest: dict[int, list[str]] = {}
    rows = OidcIdentity.objects.order_by("last_login", "pk").values_list("user_id", "groups")
    for user_id, groups in rows:
        latest[user_id] = list(groups or [])
    return latest


def sync_team(team: Team, actor: Any) -> None:
    """When `team.idp_group` is set: make its members those whose latest sign-in
    carried the group (people who never signed in at the IdP are not members)."""
    if not team.idp_group:
        return
    wanted = {uid for uid, groups in latest_groups().items() if team.idp_group in groups}
    current = {user.pk: user for user in team.members.all()}
    why = f"team follows group {team.idp_group}"
    for user in team.members.model.objects.filter(pk__in=wanted - set(current)):
        _add(team, user, actor, why)
    for uid in set(current) - wanted:
        _remove(team, current[uid], actor, why)
