"""Teams and model access: add_team, and who may use which model, checked on the
server for every turn start (user_message and regenerate) and in the picker."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.core.management import CommandError, ManagementUtility, call_command
from django.test import Client

from accounts import access
from accounts.teams import Team
from conversations.models import Conversation
from providers.models import ChatModel, Provider
from tests.helpers import collect_turn, connect, run_turn

OPEN = "fake/fake-r1"
LIMITED = "fake/team-only"


# --- add_team ----------------------------------------------------------------


@pytest.fixture
def carol(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user("carol", password="carol-pass-123")


@pytest.fixture
def models_on_provider(db):  # type: ignore[no-untyped-def]
    provider = Provider.objects.create(name="ark", style="responses", base_url="https://x.test")
    ChatModel.objects.create(provider=provider, model_id="deepseek-r1")
    ChatModel.objects.create(provider=provider, model_id="Qwen/QwQ-32B")
    return provider


@pytest.mark.django_db
def test_add_team_creates_then_updates_keeping_what_is_not_named(
    alice, bob, carol, models_on_provider, capsys
):
    call_command(
        "add_team",
        "--name",
        "Research",
        "--member",
        "alice",
        "--reviewer",
        "bob",
        "--model",
        "ark/Qwen/QwQ-32B",
        "--daily-token-quota",
        "1000000",
        "--reasoning-retention-days",
        "30",
    )
    assert "Created team Research" in capsys.readouterr().out
    team = Team.objects.get(name="Research")
    # A reviewer is a member too.
    assert set(team.members.values_list("username", flat=True)) == {"alice", "bob"}
    assert list(team.reviewers.values_list("username", flat=True)) == ["bob"]
    assert [m.ref for m in team.models.all()] == ["ark/Qwen/QwQ-32B"]
    assert (team.daily_token_quota, team.reasoning_retention_days) == (1_000_000, 30)

    # The same again changes nothing; then more is added and the rest kept.
    call_command("add_team", "--name", "Research", "--member", "alice")
    out = capsys.readouterr().out
    assert "Updated team Research: members added: none" in out
    call_command(
        "add_team", "--name", "Research", "--member", "carol", "--model", "ark/deepseek-r1"
    )
    team.refresh_from_db()
    assert set(team.members.values_list("username", flat=True)) == {"alice", "bob", "carol"}
    assert list(team.reviewers.values_list("username", flat=True)) == ["bob"]
    assert sorted(m.ref for m in team.models.all()) == ["ark/Qwen/QwQ-32B", "ark/deepseek-r1"]
    assert (team.daily_token_quota, team.reasoning_retention_days) == (1_000_000, 30)
    call_command("add_team", "--name", "Research", "--daily-token-quota", "0")
    team.refresh_from_db()
    assert team.daily_token_quota == 0 and team.members.count() == 3
    assert Team.objects.count() == 1


# run_from_argv closes the connections when done, as manage.py does: a transaction
# test, so that the test's own connection is not inside an atomic block it closes.
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--member", "alice", "--member", "nobody"], "Unknown user: nobody"),
        (["--reviewer", "ghost"], "Unknown user: ghost"),
        (["--model", "ark/deepseek-r1", "--model", "ark/nope"], "Unknown model: ark/nope"),
        (["--model", "deepseek-r1"], "Unknown model: deepseek-r1"),
        (["--daily-token-quota", "-5"], "at least 0"),
        (["--reasoning-retention-days", "0"], "at least 1"),
    ],
)
def test_add_team_refuses_unknown_names_and_writes_nothing(
    alice, models_on_provider, args, complaint, capsys
):
    with pytest.raises(CommandError, match=complaint):
        call_command("add_team", "--name", "Research", *args)
    assert not Team.objects.exists()
    # As from the shell: a message on stderr and a non-zero exit.
    with pytest.raises(SystemExit) as exited:
        ManagementUtility(["manage.py", "add_team", "--name", "Research", *args]).execute()
    assert exited.value.code != 0
    assert complaint in capsys.readouterr().err
    assert not Team.objects.exists()


# --- access ------------------------------------------------------------------


@pytest.fixture
def limited(chat_provider, bob):  # type: ignore[no-untyped-def]
    """`fake/team-only`, given to team Research (bob is a member, alice is not)."""
    model = ChatModel.objects.create(
        provider=chat_provider, model_id="team-only", display_name="Team only"
    )
    team = Team.objects.create(name="Research")
    team.members.add(bob)
    team.models.add(model)
    return team


async def error_for(ws, frame: dict) -> dict:  # type: ignore[no-untyped-def]
    await ws.send_json_to(frame)
    reply = await ws.receive_json_from(timeout=10)
    assert reply["type"] == "error", reply
    return reply


@pytest.mark.django_db(transaction=True)
async def test_a_model_of_a_team_one_is_not_in_is_an_unknown_model(
    ws_for, alice, conversation, limited, fake_upstream
):
    frames, _ = await run_turn(ws_for, alice, conversation, model=OPEN)  # open to all
    assert frames[-1]["type"] == "turn.completed"
    answer = frames[0]["turn"]
    asked = len(fake_upstream.requests)

    ws = await connect(ws_for, alice, conversation.id)
    unknown = await error_for(ws, {"type": "user_message", "content": "hi", "model": "fake/nope"})
    refused = await error_for(ws, {"type": "user_message", "content": "hi", "model": LIMITED})
    again = await error_for(ws, {"type": "regenerate", "turn": answer, "model": LIMITED})
    await ws.disconnect()
    assert refused["code"] == again["code"] == unknown["code"] == "invalid_model"
    # A model given to teams she is not in is named, in plain words (its display name),
    # so she knows which one to replace; nothing goes upstream, no other model answers.
    assert refused["message"] == again["message"]
    assert refused["message"].startswith("You may not use Team only any more:")
    assert "fake/nope" not in unknown["message"] and "Team only" not in unknown["message"]
    assert len(fake_upstream.requests) == asked  # nothing went upstream


@pytest.mark.django_db(transaction=True)
async def test_superusers_may_use_every_enabled_model(ws_for, conversation, limited, fake_upstream):
    """The admin who grants a model to a team is in no team: he keeps every model."""
    admin = await database_sync_to_async(_make_superuser)()
    mine = await database_sync_to_async(Conversation.objects.create)(owner=admin)
    frames, turn = await run_turn(ws_for, admin, mine, model=LIMITED)
    assert frames[-1]["type"] == "turn.completed" and turn.model == LIMITED
    model = await database_sync_to_async(ChatModel.objects.select_related("provider").get)(
        model_id="team-only"
    )
    assert access.may_use(admin, model)


def _make_superuser():  # type: ignore[no-untyped-def]
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser("root", password="root-pass-123")


@pytest.mark.django_db(transaction=True)
async def test_members_use_their_teams_models_until_they_leave(
    ws_for, alice, bob, limited, fake_upstream
):
    conversation = await database_sync_to_async(Conversation.objects.create)(owner=bob)
    frames, turn = await run_turn(ws_for, bob, conversation, model=LIMITED)
    assert frames[-1]["type"] == "turn.completed" and turn.model == LIMITED
    assert fake_upstream.requests[-1].json["model"] == "team-only"

    # Leaving the team takes the model away at once (m2m_changed clears the cache),
    # also for a regenerate that names no model (it defaults to the turn's).
    await database_sync_to_async(limited.members.remove)(bob)
    ws = await connect(ws_for, bob, conversation.id)
    refused = await error_for(ws, {"type": "regenerate", "turn": frames[0]["turn"]})
    assert refused["code"] == "invalid_model"
    # Open models stay open to him.
    await ws.send_json_to({"type": "user_message", "content": "still here", "model": OPEN})
    assert (await collect_turn(ws))[-1]["type"] == "turn.completed"
    await ws.disconnect()


@pytest.mark.django_db
def test_the_picker_shows_only_the_models_one_may_use(alice, bob, limited):
    def picker(user) -> list[str]:  # type: ignore[no-untyped-def]
        client = Client()
        client.force_login(user)
        response = client.get("/")
        assert response.status_code == 200
        # (The offline demo model, open to all, is there too.)
        refs = [m.ref for m in response.context["models"] if m.provider.name == "fake"]
        for ref in (OPEN, LIMITED):
            assert (f'value="{ref}"' in response.content.decode()) == (ref in refs)
        return refs

    assert picker(alice) == [OPEN]
    assert picker(bob) == [OPEN, LIMITED]
    # Superusers see every enabled model, and the picker says why.
    root = _make_superuser()
    assert picker(root) == [OPEN, LIMITED]
    note = "As an administrator you see every model"
    client = Client()
    client.force_login(root)
    assert note in client.get("/").content.decode()
    client.force_login(bob)
    assert note not in client.get("/").content.decode()
    # A model given to a team no one is in is open to no one but its members.
    ChatModel.objects.filter(model_id="fake-r1").get().teams.add(Team.objects.create(name="Empty"))
    assert picker(alice) == []
    assert picker(bob) == [LIMITED]


@pytest.mark.django_db
def test_access_with_warm_caches_reads_nothing(alice, bob, limited, django_assert_num_queries):
    model = ChatModel.objects.select_related("provider").get(model_id="team-only")
    access.clear()
    assert not access.may_use(alice, model) and access.may_use(bob, model)
    with django_assert_num_queries(0):
        for _ in range(100):
            assert not access.may_use(alice, model)
            assert access.may_use(bob, model)
    # An admin-side change is seen at once in this process.
    limited.members.add(alice)
    assert access.may_use(alice, model)


# --- admin -------------------------------------------------------------------


@pytest.mark.django_db
def test_team_admin_lists_counts_and_refuses_a_reviewer_who_is_not_a_member(
    admin_client, alice, bob, limited, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):  # no query per team row
        page = admin_client.get("/admin/accounts/team/")
    assert page.status_code == 200 and "Research" in page.content.decode()
    change = admin_client.get(f"/admin/accounts/team/{limited.pk}/change/")
    assert change.status_code == 200
    form = {
        "name": "Research",
        "members": [bob.pk],
        "reviewers": [alice.pk],
        "models": [m.pk for m in limited.models.all()],
        "daily_token_quota": "5000",
        "reasoning_retention_days": "",
    }
    refused = admin_client.post(f"/admin/accounts/team/{limited.pk}/change/", form)
    assert refused.status_code == 200
    assert "Reviewers must also be members: add alice to the members." in refused.content.decode()
    form["members"] = [alice.pk, bob.pk]
    saved = admin_client.post(f"/admin/accounts/team/{limited.pk}/change/", form)
    assert saved.status_code == 302
    limited.refresh_from_db()
    assert limited.daily_token_quota == 5000 and limited.reviewers.get() == alice
    model = ChatModel.objects.select_related("provider").get(model_id="team-only")
    assert access.may_use(alice, model)  # the save reached this process's cache
