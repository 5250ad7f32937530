"""Starting a turn: the upstream is asked while the turn is written, and a start
that loses a race (or cannot be stored) publishes nothing and drops its request."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import access
from accounts.teams import Team
from conversations import actions, plans
from conversations.errors import Busy, ClientError
from conversations.live.runner import RUNNERS
from conversations.models import Turn
from providers.fake_upstream import chat_stream
from providers.models import ChatModel
from tests.helpers import collect_turn, connect, run_turn

MODEL = "fake/fake-r1"


@pytest.mark.django_db(transaction=True)
def test_prepare_writes_nothing_and_racing_starts_store_once(alice, conversation, chat_provider):
    first = plans.prepare_turn(conversation.id, alice, "one", MODEL, None)
    second = plans.prepare_turn(conversation.id, alice, "two", MODEL, None)
    assert not Turn.objects.exists()
    assert first.index == second.index == 0

    with CaptureQueriesContext(connection) as stored:
        actions.store_turn(first)
    # On PostgreSQL one statement and no transaction around it: one round trip.
    # (SQLite: its BEGIN, the INSERT, the UPDATE and the COMMIT.)
    assert len(stored) == (1 if connection.vendor == "postgresql" else 4)
    with pytest.raises(Busy):
        actions.store_turn(second)
    turns = list(Turn.objects.order_by("index").values_list("role", "content", "status"))
    assert turns == [("user", "one", "completed"), ("assistant", "", "streaming")]
    conversation.refresh_from_db()
    assert conversation.title == "one"


@pytest.mark.django_db(transaction=True)
def test_the_context_reads_no_reasoning(
    alice, conversation, chat_provider, django_assert_max_num_queries
):
    plan = plans.prepare_turn(conversation.id, alice, "one", MODEL, None)
    actions.store_turn(plan)
    actions.finish_turn(
        plan.turn_id,
        status="completed",
        reasoning="private " * 1000,
        content="public",
        seq=3,
        usage=None,
        timings=None,
    )
    # The tree with the system prompt (the model is cached); the admission
    # (accounts/admission.py): on SQLite its BEGIN, the count of running turns, the
    # reservation and the COMMIT; on PostgreSQL the BEGIN with the row lock on the
    # person and the count, then the reservation with the COMMIT.
    admission = 2 if connection.vendor == "postgresql" else 4
    with django_assert_max_num_queries(1 + admission) as queries:
        plan = plans.prepare_turn(conversation.id, alice, "two", MODEL, None)
    assert all("reasoning_content" not in q["sql"] for q in queries.captured_queries)
    assert [m.content for m in plan.request.messages] == ["one", "public", "two"]


@pytest.mark.django_db(transaction=True)
def test_a_start_reads_the_persons_teams_with_the_conversation(
    alice, conversation, chat_provider, settings
):
    settings.CHAT_MAX_RUNNING_TURNS_PER_USER = 10  # the starts below are never stored
    # Two teams with quotas, named so that their order is not their ids'; the second
    # grants the model, so the access check needs them too.
    zeta = Team.objects.create(name="Zeta", daily_token_quota=100_000)
    alpha = Team.objects.create(name="Alpha", daily_token_quota=200_000)
    for team in (zeta, alpha):
        team.members.add(alice)
    alpha.models.add(ChatModel.objects.get(model_id="fake-r1"))
    plans.prepare_turn(conversation.id, alice, "warm", MODEL, None)  # every cache
    with CaptureQueriesContext(connection) as warm:
        plans.prepare_turn(conversation.id, alice, "one", MODEL, None)
    access.clear()  # the grants and everyone's teams
    with CaptureQueriesContext(connection) as cold:
        plans.prepare_turn(conversation.id, alice, "two", MODEL, None)
    assert len(cold) == len(warm) + 1  # the grants: the teams came with the tree
    assert [(t.name, t.daily_token_quota) for t in access.teams_of(alice)] == [
        ("Alpha", 200_000),
        ("Zeta", 100_000),
    ]

    # A person in no team: an empty list, kept as such (no read of its own later).
    alpha.members.remove(alice)
    zeta.members.remove(alice)
    alpha.models.clear()
    access.clear()
    plans.prepare_turn(conversation.id, alice, "three", MODEL, None)
    assert access.cached_team_ids(alice.pk) == frozenset()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_upstream_is_asked_while_the_turn_is_stored(
    ws_for, alice, conversation, chat_provider, fake_upstream, monkeypatch
):
    fake_upstream.enqueue(chat_stream(reasoning=["early "], content=["done"]))
    store = actions.store_turn
    asked_before_stored: list[bool] = []

    def slow_store(plan):  # type: ignore[no-untyped-def]
        time.sleep(0.3)
        asked_before_stored.append(len(fake_upstream.requests) == 1)
        store(plan)

    monkeypatch.setattr(actions, "store_turn", slow_store)
    frames, _ = await run_turn(ws_for, alice, conversation)
    assert asked_before_stored == [True]
    # Deltas that arrived during the write waited: turn.started is still seq 1.
    assert [f["seq"] for f in frames] == list(range(1, len(frames) + 1))
    assert frames[0]["type"] == "turn.started" and frames[-1]["type"] == "turn.completed"


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_start_that_cannot_be_stored_publishes_nothing(
    ws_for, alice, conversation, chat_provider, fake_upstream, monkeypatch
):
    fake_upstream.enqueue(chat_stream(reasoning=["r"] * 50, content=["c"], delay=0.02))
    store = actions.store_turn

    def losing_store(plan):  # type: ignore[no-untyped-def]
        time.sleep(0.2)  # the upstream is already streaming
        raise Busy()

    monkeypatch.setattr(actions, "store_turn", losing_store)
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    error = await ws.receive_json_from(timeout=5)
    assert error == {"type": "error", "code": "busy", "message": Busy().message}
    assert await ws.receive_nothing(timeout=0.5)
    assert len(fake_upstream.requests) == 1
    assert not RUNNERS  # the runner ended and dropped its upstream stream
    assert not await database_sync_to_async(Turn.objects.exists)()

    # The socket is still usable, and the next start works.
    monkeypatch.setattr(actions, "store_turn", store)
    fake_upstream.enqueue(chat_stream(reasoning=["again"], content=["ok"]))
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    frames = await collect_turn(ws)
    assert frames[0]["seq"] == 1 and frames[-1]["type"] == "turn.completed"
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
def test_a_turn_is_never_stored_in_someone_elses_conversation(
    alice, bob, conversation, chat_provider
):
    plan = plans.prepare_turn(conversation.id, bob, "mine now?", MODEL, None)
    with pytest.raises(ClientError) as caught:
        actions.store_turn(plan)
    assert caught.value.code == "not_found"
    assert not Turn.objects.exists()
    conversation.refresh_from_db()
    assert conversation.title == ""


@pytest.mark.django_db(transaction=True)
def test_a_disabled_model_is_refused_at_once_in_this_process(alice, conversation, chat_provider):
    plans.prepare_turn(conversation.id, alice, "one", MODEL, None)  # resolved and kept
    chat_provider.enabled = False
    chat_provider.save()  # as the admin does: the saved signal clears the cache
    with pytest.raises(ClientError) as caught:
        plans.prepare_turn(conversation.id, alice, "two", MODEL, None)
    assert caught.value.code == "invalid_model"
