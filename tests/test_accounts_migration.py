"""Teams, their grants, usage and the audit log moved from `providers` to `accounts`
with their tables: a database migrated at the old layout, with rows in it, migrates
forward with every row kept, and permissions given on the old models still hold."""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

OLD = [("providers", "0006_chatmodel_hints"), ("accounts", None)]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    return executor.migrate(targets).apps


@pytest.mark.django_db(transaction=True)
def test_rows_survive_the_move_to_accounts():
    old = migrate(OLD)
    user_model = old.get_model("auth", "User")
    alice = user_model.objects.create(username="alice")
    bob = user_model.objects.create(username="bob", is_staff=True)
    provider = old.get_model("providers", "Provider").objects.create(
        name="ark", style="chat-completions", base_url="http://127.0.0.1:9/v1"
    )
    model = old.get_model("providers", "ChatModel").objects.create(
        provider=provider, model_id="deepseek-r1"
    )
    team = old.get_model("providers", "Team").objects.create(
        name="Research", daily_token_quota=1000, reasoning_retention_days=30
    )
    team.members.add(alice, bob)
    team.reviewers.add(bob)
    team.models.add(model)
    old.get_model("providers", "DailyUsage").objects.create(
        day=date(2026, 12, 1), user=alice, team=team, model="ark/deepseek-r1", total_tokens=42
    )
    old.get_model("providers", "AuditEntry").objects.create(
        action="created", object_kind="team", object_id=str(team.pk), object_repr="Research"
    )
    # A staff member given the right to view teams, on the old content type.
    content_types = old.get_model("contenttypes", "ContentType")
    team_type, _ = content_types.objects.get_or_create(app_label="providers", model="team")
    permission, _ = old.get_model("auth", "Permission").objects.get_or_create(
        content_type=team_type, codename="view_team", defaults={"name": "Can view team"}
    )
    bob.user_permissions.add(permission)

    migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())

    from django.contrib.auth.models import User

    from accounts.models import AuditEntry, DailyUsage, Team

    moved = Team.objects.get(name="Research")
    assert (moved.pk, moved.daily_token_quota, moved.reasoning_retention_days) == (
        team.pk,
        1000,
        30,
    )
    assert sorted(moved.members.values_list("username", flat=True)) == ["alice", "bob"]
    assert list(moved.reviewers.values_list("username", flat=True)) == ["bob"]
    assert list(moved.models.values_list("model_id", flat=True)) == ["deepseek-r1"]
    usage = DailyUsage.objects.get()
    assert (usage.team_id, usage.user.username, usage.total_tokens) == (team.pk, "alice", 42)
    assert AuditEntry.objects.get().object_repr == "Research"
    assert User.objects.get(username="bob").has_perm("accounts.view_team")
    # The new layout writes to the same tables.
    Team.objects.create(name="Ops").members.add(User.objects.get(username="alice"))
    assert User.objects.get(username="alice").teams.count() == 2
