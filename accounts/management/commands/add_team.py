"""Create or update a team: its members, reviewers, models, quota and retention.

Idempotent, like add_provider: named members, reviewers and models are added, the
others kept; the quota and retention change only when given. Reviewers are made
members too (accounts/teams.py). Every name is checked before anything is
written: one unknown user or model and nothing changes.

`--idp-group NAME` makes the team follow a group of the company sign-in (its
members are then the people whose latest sign-in carried it, recomputed at once);
`--idp-group ""` hands the members back to the admin. Such a team takes no
`--member`, and its `--reviewer`s must already be members.
"""

from argparse import ArgumentTypeError
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.audit import AuditEntry, record, record_change
from accounts.oidc.sync import sync_team
from accounts.teams import Team
from providers.models import ChatModel


def _at_least(low: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if number < low:
            raise ArgumentTypeError(f"expected a whole number of at least {low}, not {value!r}")
        return number

    return parse


class Command(BaseCommand):
    help = "Create or update a team; named members, reviewers and models are added."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--member", action="append", default=[], dest="members")
        parser.add_argument("--reviewer", action="append", default=[], dest="reviewers")
        parser.add_argument(
            "--model", action="append", default=[], dest="models", metavar="PROVIDER/MODEL"
        )
        parser.add_argument("--daily-token-quota", type=_at_least(0), metavar="N")
        parser.add_argument("--reasoning-retention-days", type=_at_least(1), metavar="N")
        parser.add_argument("--idp-group", metavar="NAME", help='a group claim value; "" for none')

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["name"].strip()
        if not name or len(name) > Team._meta.get_field("name").max_length:  # type: ignore[operator]
            raise CommandError("--name must be 1 to 100 characters.")
        reviewers = self._users(options["reviewers"])
        members = self._users(options["members"]) | reviewers
        models = self._models(options["models"])
        if options["idp_group"] is not None:
            options["idp_group"] = options["idp_group"].strip()
            if len(options["idp_group"]) > 200:
                raise CommandError("--idp-group must be at most 200 characters.")
        with transaction.atomic():
            team, created = Team.objects.get_or_create(name=name)
            changed = []
            if options["idp_group"] is not None and team.idp_group != options["idp_group"]:
                team.idp_group = options["idp_group"]
                team.save(update_fields=["idp_group"])
                changed.append("idp_group")
                sync_team(team, None)
            if team.idp_group:
                members = self._idp_members(team, options["members"], reviewers)
            for option in ("daily_token_quota", "reasoning_retention_days"):
                if options[option] is not None and getattr(team, option) != options[option]:
                    setattr(team, option, options[option])
                    changed.append(option)
            if changed:
                team.save(update_fields=changed)
            new_members = members - set(team.members.all())
            new_reviewers = reviewers - set(team.reviewers.all())
            new_models = models - set(team.models.all())
            team.members.add(*new_members)
            team.reviewers.add(*new_reviewers)
            team.models.add(*new_models)
            if created:
                record(None, AuditEntry.Action.CREATED, team, "add_team")
            else:
                added = [
                    name
                    for name, new in (
                        ("members", new_members),
                        ("reviewers", new_reviewers),
                        ("models", new_models),
                    )
                    if new
                ]
                record_change(None, team, changed + added, via="add_team")
        quota = "unlimited" if team.daily_token_quota is None else f"{team.daily_token_quota:,}"
        retention = team.reasoning_retention_days
        self.stdout.write(
            f"{'Created' if created else 'Updated'} team {team.name}: "
            f"members added: {_names(u.get_username() for u in new_members)}; "
            f"reviewers added: {_names(u.get_username() for u in new_reviewers)}; "
            f"models added: {_names(m.ref for m in new_models)}; "
            f"daily token quota {quota}; "
            f"reasoning kept {'forever' if retention is None else f'{retention} days'}"
            + (f"; members from the IdP group {team.idp_group}" if team.idp_group else "")
        )

    def _idp_members(self, team: Team, named: list[str], reviewers: set[Any]) -> set[Any]:
        """A team that follows an IdP group: nobody is added by hand, and reviewers
        must already be members (raised inside the transaction: nothing is kept)."""
        if named:
            raise CommandError(
                f"Team {team.name} follows the IdP group {team.idp_group}: its members "
                "come from company sign-ins, not --member."
            )
        outside = reviewers - set(team.members.all())
        if outside:
            names = ", ".join(sorted(u.get_username() for u in outside))
            raise CommandError(
                f"Reviewers must be members; {names} not in {team.name} (members of "
                f"the IdP group {team.idp_group} become members at their sign-in)."
            )
        return set()

    def _users(self, usernames: list[str]) -> set[Any]:
        user_model = get_user_model()
        field = user_model.USERNAME_FIELD
        found = {
            user.get_username(): user
            for user in user_model.objects.filter(**{f"{field}__in": usernames})
        }
        unknown = [name for name in usernames if name not in found]
        if unknown:
            raise CommandError(f"Unknown user: {', '.join(unknown)}.")
        return set(found.values())

    def _models(self, refs: list[str]) -> set[ChatModel]:
        found: set[ChatModel] = set()
        unknown = []
        for ref in refs:
            provider_name, _, model_id = ref.partition("/")
            model = (
                ChatModel.objects.select_related("provider")
                .filter(provider__name=provider_name, model_id=model_id)
                .first()
            )
            if model is None:
                unknown.append(ref)
            else:
                found.add(model)
        if unknown:
            raise CommandError(
                f"Unknown model: {', '.join(unknown)} (expected PROVIDER/MODEL, "
                "as added by add_provider)."
            )
        return found


def _names(names: Any) -> str:
    return ", ".join(sorted(names)) or "none"
