"""The usage aggregate, kept as turns end, and daily team quotas, refused at the
boundary before anything goes upstream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from accounts import quota
from accounts.quota import QuotaExceeded
from accounts.teams import Team
from accounts.usage import DailyUsage
from conversations import actions
from conversations.models import Conversation
from providers.fake_upstream import chat_stream, responses_stream
from providers.models import ChatModel
from tests.helpers import connect, run_turn

CHAT, RESP = "fake/fake-r1", "fake-resp/fake-r1"


def today():  # type: ignore[no-untyped-def]
    return timezone.now().astimezone(UTC).date()


def usage_rows():  # type: ignore[no-untyped-def]
    return {
        (r.user.username, r.team.name if r.team else None, r.model): (
            r.prompt_tokens,
            r.completion_tokens,
            r.reasoning_tokens,
            r.total_tokens,
            r.turns,
        )
        for r in DailyUsage.objects.select_related("user", "team").filter(day=today())
    }


# --- the aggregate -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_each_ended_turn_adds_to_its_days_row_on_both_styles(
    ws_for, alice, bob, conversation, chat_provider, responses_provider, fake_upstream
):
    team = await database_sync_to_async(Team.objects.create)(name="Research")
    await database_sync_to_async(team.members.add)(alice)
    usage = {
        "prompt_tokens": 100,
        "completion_tokens": 40,
        "total_tokens": 140,
        "completion_tokens_details": {"reasoning_tokens": 30},
    }
    fake_upstream.enqueue(
        chat_stream(usage=usage),
        chat_stream(usage=usage),
        responses_stream(
            usage={
                "input_tokens": 7,
                "output_tokens": 5,
                "output_tokens_details": {"reasoning_tokens": 2},
                "total_tokens": 12,
            }
        ),
        chat_stream(usage_mode="none"),  # a provider that reports nothing: a turn, 0 tokens
    )
    for model in (CHAT, CHAT, RESP):
        frames, _ = await run_turn(ws_for, alice, conversation, model=model)
        assert frames[-1]["type"] == "turn.completed"
    bobs = await database_sync_to_async(Conversation.objects.create)(owner=bob)
    await run_turn(ws_for, bob, bobs, model=CHAT)

    rows = await database_sync_to_async(usage_rows)()
    assert rows == {
        ("alice", "Research", CHAT): (200, 80, 60, 280, 2),
        ("alice", "Research", RESP): (7, 5, 2, 12, 1),
        ("bob", None, CHAT): (0, 0, 0, 0, 1),  # bob is in no team
    }


@pytest.mark.django_db(transaction=True)
def test_a_turn_counts_for_the_team_that_gives_the_model_else_the_first(alice, chat_provider):
    restricted = ChatModel.objects.create(provider=chat_provider, model_id="zeta-only")
    alpha, zeta = (Team.objects.create(name=n) for n in ("Alpha", "Zeta"))
    for team in (alpha, zeta):
        team.members.add(alice)
    zeta.models.add(restricted)
    now = timezone.now()
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    with transaction.atomic():
        actions.count_usage(alice.pk, "fake/zeta-only", usage, now)
        actions.count_usage(alice.pk, CHAT, usage, now)
        actions.count_usage(alice.pk, CHAT, None, now)
    assert usage_rows() == {
        ("alice", "Zeta", "fake/zeta-only"): (1, 2, 0, 3, 1),
        ("alice", "Alpha", CHAT): (1, 2, 0, 3, 2),
    }


@pytest.mark.django_db(transaction=True)
def test_an_insert_that_loses_the_race_adds_to_the_winners_row(alice, chat_provider, monkeypatch):
    # Another process inserts the day's row between our UPDATE (0 rows) and INSERT.
    real_add = actions.add_to_row
    raced = []

    def add_to_row(*args, **kwargs):  # type: ignore[no-untyped-def]
        done = real_add(*args, **kwargs)
        if not done and not raced:
            raced.append(True)
            DailyUsage.objects.bulk_create(
                [DailyUsage(day=today(), user=alice, model=CHAT, total_tokens=10, turns=1)]
            )
        return done

    monkeypatch.setattr(actions, "add_to_row", add_to_row)
    with transaction.atomic():
        actions.count_usage(alice.pk, CHAT, {"total_tokens": 5}, timezone.now())
    assert raced and usage_rows() == {("alice", None, CHAT): (0, 0, 0, 15, 2)}


# --- quotas ------------------------------------------------------------------


@pytest.fixture
def research(alice, bob):  # type: ignore[no-untyped-def]
    """Team Research, quota 1,000 tokens a day; alice and bob are members."""
    team = Team.objects.create(name="Research", daily_token_quota=1000)
    team.members.add(alice, bob)
    return team


def used(user, total: int, day=None) -> None:  # type: ignore[no-untyped-def]
    DailyUsage.objects.create(day=day or today(), user=user, model=CHAT, total_tokens=total)


async def refusal(ws, frame: dict) -> dict:  # type: ignore[no-untyped-def]
    await ws.send_json_to(frame)
    reply = await ws.receive_json_from(timeout=10)
    assert reply["type"] == "error" and reply["code"] == "quota_exceeded", reply
    assert reply["resets_at"].endswith("T00:00:00Z"), reply  # when to try again
    return reply


@pytest.mark.django_db(transaction=True)
async def test_quota_is_refused_at_the_boundary_before_anything_goes_upstream(
    ws_for, alice, bob, carol_outsider, conversation, chat_provider, research, fake_upstream
):
    # Just below: 999 of 1,000 used (by another member; yesterday's and an outsider's
    # usage do not count): allowed. The turn's own 12 + n tokens take the team over.
    await database_sync_to_async(used)(bob, 999)
    await database_sync_to_async(used)(alice, 10**6, today() - timedelta(days=1))
    await database_sync_to_async(used)(carol_outsider, 10**6)
    frames, _ = await run_turn(ws_for, alice, conversation, model=CHAT)
    assert frames[-1]["type"] == "turn.completed"
    answer = frames[0]["turn"]
    assert len(fake_upstream.requests) == 1

    ws = await connect(ws_for, alice, conversation.id)
    over = await refusal(ws, {"type": "user_message", "content": "more", "model": CHAT})
    assert over["message"].startswith(
        "Your team Research has used its daily quota of 1,000 tokens. It resets at 00:00 UTC (in "
    )
    await refusal(ws, {"type": "regenerate", "turn": answer})
    bobs = await database_sync_to_async(Conversation.objects.create)(owner=bob)
    bob_ws = await connect(ws_for, bob, bobs.id)  # the quota is the team's
    await refusal(bob_ws, {"type": "user_message", "content": "me?", "model": CHAT})
    await bob_ws.disconnect()

    # Exactly at the quota is refused too; a higher quota lets turns start again.
    def set_usage_to(total: int, limit: int) -> None:
        DailyUsage.objects.filter(day=today()).exclude(user=carol_outsider).delete()
        used(bob, total)
        Team.objects.filter(pk=research.pk).update(daily_token_quota=limit)
        research.refresh_from_db()
        research.save()  # as the admin does: a save clears the caches

    await database_sync_to_async(set_usage_to)(1000, 1000)
    await refusal(ws, {"type": "user_message", "content": "at", "model": CHAT})
    assert len(fake_upstream.requests) == 1  # nothing sent for any refusal
    await database_sync_to_async(set_usage_to)(1000, 1001)
    await ws.send_json_to({"type": "user_message", "content": "below", "model": CHAT})
    started = await ws.receive_json_from(timeout=10)
    assert started["type"] == "turn.started"
    await ws.disconnect()


@pytest.fixture
def carol_outsider(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user("carol", password="carol-pass-123")


@pytest.mark.django_db
def test_a_person_in_several_teams_is_refused_when_any_is_at_its_quota(alice, research):
    roomy = Team.objects.create(name="Aardvark", daily_token_quota=10**9)
    roomy.members.add(alice)
    quota.check_quota(alice)  # nothing used yet
    used(alice, 1000)
    with pytest.raises(QuotaExceeded) as refused:
        quota.check_quota(alice)
    assert refused.value.team == "Research" and refused.value.code == "quota_exceeded"
    research.daily_token_quota = None  # unlimited
    research.save()
    quota.check_quota(alice)


def test_the_message_says_when_the_quota_resets():
    now = datetime(2026, 3, 1, 20, 48, 0, tzinfo=UTC)
    error = QuotaExceeded("Research", 1_000_000, now)
    assert error.message == (
        "Your team Research has used its daily quota of 1,000,000 tokens. "
        "It resets at 00:00 UTC (in 3 h 12 min)."
    )
    assert error.fields == {"resets_at": "2026-03-02T00:00:00Z"}
    late = QuotaExceeded("R", 5, datetime(2026, 3, 1, 23, 59, 30, tzinfo=UTC))
    assert late.message.endswith("(in 1 min).")


@pytest.mark.django_db
def test_quota_with_warm_caches_reads_nothing(alice, research, django_assert_num_queries):
    quota.clear()
    quota.check_quota(alice)
    with django_assert_num_queries(0):
        for _ in range(100):
            quota.check_quota(alice)
    # A turn ending in this process moves the kept figure without a query.
    quota.note_usage(alice.pk, today(), 1000)
    with django_assert_num_queries(0), pytest.raises(QuotaExceeded):
        quota.check_quota(alice)


# --- admin -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_usage_admin_is_read_only_and_links_a_chart(admin_client, alice, research):
    used(alice, 1234)
    DailyUsage.objects.create(day=today(), user=alice, team=research, model=RESP, total_tokens=99)
    page = admin_client.get("/admin/accounts/dailyusage/")
    html = page.content.decode()
    assert page.status_code == 200 and "1234" in html
    assert "/admin/accounts/dailyusage/add/" not in html
    assert admin_client.get("/admin/accounts/dailyusage/add/").status_code == 403
    assert "/admin/accounts/dailyusage/chart/" in html

    chart = admin_client.get("/admin/accounts/dailyusage/chart/")
    svg = chart.content.decode()
    assert chart.status_code == 200 and svg.count('<svg role="img"') == 2
    assert "Research · fake-resp/fake-r1: 99" in svg and "No team · fake/fake-r1: 1,234" in svg
    assert " style=" not in svg and "<style" not in svg.split("<svg", 1)[1]  # the CSP


@pytest.mark.django_db
def test_the_chart_names_models_by_their_display_names(admin_client, alice, chat_provider):
    ChatModel.objects.filter(provider=chat_provider, model_id="fake-r1").update(
        display_name="Fake R1"
    )
    used(alice, 1234)
    DailyUsage.objects.create(day=today(), user=alice, model="gone/old-model", total_tokens=5)
    svg = admin_client.get("/admin/accounts/dailyusage/chart/").content.decode()
    assert "No team · Fake R1: 1,234" in svg and CHAT not in svg
    assert "No team · gone/old-model: 5" in svg  # a deleted model keeps its reference


@pytest.mark.django_db
def test_the_chart_is_for_staff_only(client, alice):
    client.force_login(alice)
    assert client.get("/admin/accounts/dailyusage/chart/").status_code == 302  # to the login
