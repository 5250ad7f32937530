"""Admission under a burst (accounts/admission.py): starts sent all at once get the
answer the same starts made one after another would get, in one process and across
two, and what an admitted turn holds is given back when it ends or cannot start."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from accounts.admission import Reservation
from accounts.teams import Team
from accounts.usage import DailyUsage
from conversations import actions, plans
from conversations.errors import Busy
from conversations.live.runner import start_runner
from conversations.models import Conversation, Turn
from providers.fake_upstream import chat_stream
from tests.helpers import MODEL, collect_turn, connect
from tests.test_multiprocess import connect as connect_to_process
from tests.test_multiprocess import two_processes

# Long enough that every admitted answer is still running when the burst is judged.
SLOW = {"reasoning": [f"r{i} " for i in range(600)], "content": ["done"], "delay": 0.05}
QUOTA = 100_000


def conversations_of(*owners: Any, each: int) -> list[Conversation]:
    return [Conversation.objects.create(owner=owner) for owner in owners for _ in range(each)]


def team_ten_tokens_under_quota(*members: Any) -> Team:
    team = Team.objects.create(name="Research", daily_token_quota=QUOTA)
    team.members.add(*members)
    use_all_but_ten(team, members[0])
    return team


def use_all_but_ten(team: Team, member: Any) -> None:
    """A usage row that leaves the team 10 tokens under its quota today."""
    day = timezone.now().astimezone(UTC).date()
    used = DailyUsage.objects.of_members(team.id, day).total_tokens()
    DailyUsage.objects.create(
        day=day, user=member, team=team, model="fake/earlier", total_tokens=QUOTA - 10 - used
    )


def first_answers(frames: list[dict[str, Any]]) -> list[str]:
    """What each start got first: `turn.started`, or the error's code."""
    return sorted(f["type"] if f["type"] != "error" else f["code"] for f in frames)


# --- one process --------------------------------------------------------------------


async def burst(ws_for: Any, conversations: list[Conversation]) -> list[dict[str, Any]]:
    """`user_message` on every conversation at once; each socket's first answer.
    The admitted turns are stopped before it returns."""
    sockets = [await connect(ws_for, c.owner, c.id) for c in conversations]
    frame = {"type": "user_message", "content": "go", "model": MODEL}
    await asyncio.gather(*(ws.send_json_to(frame) for ws in sockets))
    firsts = list(await asyncio.gather(*(ws.receive_json_from(timeout=20) for ws in sockets)))
    for ws, first in zip(sockets, firsts, strict=True):
        if first["type"] == "turn.started":
            await ws.send_json_to({"type": "stop", "turn": first["turn"]})
            await collect_turn(ws, within=20)
        await ws.disconnect()
    return firsts


@pytest.mark.django_db(transaction=True)
async def test_a_burst_of_eight_from_one_person_runs_three(
    ws_for, alice, chat_provider, fake_upstream, settings
):
    settings.CHAT_MAX_RUNNING_TURNS_PER_USER = 3
    settings.CHAT_MESSAGES_PER_MINUTE = 0
    fake_upstream.default_script = chat_stream(**SLOW)
    conversations = await database_sync_to_async(conversations_of)(alice, each=8)

    firsts = await burst(ws_for, conversations)

    assert first_answers(firsts) == ["too_many_turns"] * 5 + ["turn.started"] * 3
    assert len(fake_upstream.requests) == 3  # the refused never went upstream
    assert not await database_sync_to_async(Reservation.objects.exists)()  # all given back


@pytest.mark.django_db(transaction=True)
async def test_a_team_ten_tokens_under_its_quota_admits_one_of_sixteen(
    ws_for, alice, bob, chat_provider, fake_upstream, settings
):
    settings.CHAT_MAX_RUNNING_TURNS_PER_USER = 20
    settings.CHAT_MESSAGES_PER_MINUTE = 0
    fake_upstream.default_script = chat_stream(**SLOW)
    await database_sync_to_async(team_ten_tokens_under_quota)(alice, bob)
    conversations = await database_sync_to_async(conversations_of)(alice, bob, each=8)

    firsts = await burst(ws_for, conversations)

    assert first_answers(firsts) == ["quota_exceeded"] * 15 + ["turn.started"]
    assert len(fake_upstream.requests) == 1
    refused = next(f for f in firsts if f["type"] == "error")
    assert "being written" in refused["message"] and refused["resets_at"].endswith("Z")


# --- two processes ------------------------------------------------------------------


async def burst_across(servers: list[Any], conversations: list[Conversation]) -> list[Any]:
    """As `burst`, the sockets spread over the processes in turn."""
    sockets = [
        await connect_to_process(servers[i % len(servers)], c.owner, c)
        for i, c in enumerate(conversations)
    ]
    frame = json.dumps({"type": "user_message", "content": "go", "model": MODEL})
    await asyncio.gather(*(ws.send(frame) for ws in sockets))
    async with asyncio.timeout(30):
        firsts = [json.loads(raw) for raw in await asyncio.gather(*(ws.recv() for ws in sockets))]
    for ws, first in zip(sockets, firsts, strict=True):
        if first["type"] == "turn.started":
            await ws.send(json.dumps({"type": "stop", "turn": first["turn"]}))
            async with asyncio.timeout(30):
                async for raw in ws:
                    if json.loads(raw).get("type") == "turn.stopped":
                        break
        await ws.close()
    return firsts


@pytest.mark.asyncio
async def test_bursts_across_two_processes_get_the_same_answers(
    daphne_factory, fake_upstream, chat_provider, alice, bob
):
    servers = list(
        two_processes(
            daphne_factory, CHAT_MAX_RUNNING_TURNS_PER_USER="3", CHAT_MESSAGES_PER_MINUTE="0"
        )
    )
    fake_upstream.default_script = chat_stream(**SLOW)
    # The team is there from the start: each process keeps who is in which team for
    # CHAT_MODEL_CACHE_SECONDS, but reads the day's usage afresh at admission.
    team = await database_sync_to_async(Team.objects.create)(
        name="Research", daily_token_quota=QUOTA
    )
    await database_sync_to_async(team.members.add)(alice, bob)
    eight = await database_sync_to_async(conversations_of)(alice, each=8)
    firsts = await burst_across(servers, eight)
    assert first_answers(firsts) == ["too_many_turns"] * 5 + ["turn.started"] * 3

    await database_sync_to_async(use_all_but_ten)(team, alice)
    sixteen = await database_sync_to_async(conversations_of)(alice, bob, each=8)
    requests_before = len(fake_upstream.requests)
    firsts = await burst_across(servers, sixteen[:3] + sixteen[8:11])  # 3 each: under the limit
    assert first_answers(firsts) == ["quota_exceeded"] * 5 + ["turn.started"]
    assert len(fake_upstream.requests) == requests_before + 1


# --- what a turn holds is given back ------------------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_a_start_that_cannot_be_stored_gives_its_share_back(
    alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.default_script = chat_stream(**SLOW)
    prepare = database_sync_to_async(plans.prepare_turn)
    held = database_sync_to_async(
        lambda: sorted(map(str, Reservation.objects.values_list("turn_id", flat=True)))
    )
    first = await prepare(conversation.id, alice, "one", MODEL, None)
    second = await prepare(conversation.id, alice, "two", MODEL, None)  # both admitted
    assert await held() == sorted([first.turn_id, second.turn_id])

    running = start_runner(first)
    await running.stored
    lost = start_runner(second)
    with pytest.raises(Busy):  # the conversation already has a running turn
        await lost.stored
    await lost.task
    assert await held() == [first.turn_id]

    running.request_stop()
    await running.task
    assert await held() == []
    assert (await database_sync_to_async(Turn.objects.get)(id=first.turn_id)).status == "stopped"


@pytest.mark.django_db(transaction=True)
def test_the_sweeper_drops_reservations_of_starts_that_never_stored(alice, settings):
    settings.CHAT_LEASE_SECONDS = 30
    old = Reservation.objects.create(
        turn_id=uuid.uuid4(), user=alice, tokens=10, created=timezone.now() - timedelta(minutes=2)
    )
    fresh = Reservation.objects.create(turn_id=uuid.uuid4(), user=alice, tokens=10)
    actions.claim_stale_turns()
    assert list(Reservation.objects.values_list("turn_id", flat=True)) == [fresh.turn_id]
    assert not Turn.objects.filter(id=old.turn_id).exists()


@pytest.mark.django_db
def test_a_reservation_holds_what_the_turn_may_spend(alice, chat_provider, settings):
    from accounts.admission import admit
    from providers.models import ChatModel

    settings.CHAT_MAX_RUNNING_TURNS_PER_USER = 3
    settings.CHAT_TURN_RESERVE_TOKENS = 8192
    model = ChatModel.objects.get(model_id="fake-r1")
    held = {}
    for tokens, max_output in ((None, 2048), (300, 2048), (None, None)):
        model.max_output_tokens = max_output
        model.max_output_tokens_limit = None
        turn_id = str(uuid.uuid4())
        admit(alice, turn_id, model, tokens=tokens)
        held[(tokens, max_output)] = Reservation.objects.get(turn_id=turn_id).tokens
    # The model's maximum, the request's own (the API's max_tokens), else the setting.
    assert held == {(None, 2048): 2048, (300, 2048): 300, (None, None): 8192}


@pytest.mark.django_db(transaction=True)
def test_on_postgresql_an_admission_is_two_round_trips_and_a_refusal_ends_its_transaction(
    alice, chat_provider, settings
):
    """The reads go with the BEGIN and the write with the COMMIT (accounts/admission.py);
    a refused start rolls back, so the locks it took are not held."""
    from django.db import connection

    from accounts import access
    from accounts.admission import admit
    from accounts.limits import TooManyTurns
    from accounts.quota import QuotaExceeded
    from providers.models import ChatModel

    if connection.vendor != "postgresql":
        pytest.skip("the statements sent together are PostgreSQL's")
    settings.CHAT_MAX_RUNNING_TURNS_PER_USER = 1
    settings.CHAT_MESSAGES_PER_MINUTE = 0
    team_ten_tokens_under_quota(alice)
    access.teams_of(alice)  # read before: this process keeps them a while
    model = ChatModel.objects.get(model_id="fake-r1")
    sent: list[str] = []

    def spy(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        sent.append(sql)
        return execute(sql, params, many, context)

    def idle() -> bool:
        return connection.connection.info.transaction_status == 0  # psycopg's IDLE

    with connection.execute_wrapper(spy):
        admit(alice, str(uuid.uuid4()), model, tokens=10)
    assert len(sent) == 2 and sent[0].startswith("BEGIN;") and sent[1].endswith("COMMIT")
    assert "synchronous_commit TO OFF" in sent[0]  # a reservation is not worth a flush
    assert idle() and Reservation.objects.count() == 1

    settings.CHAT_MAX_RUNNING_TURNS_PER_USER = 2
    with pytest.raises(QuotaExceeded):  # the 10 tokens left are held
        admit(alice, str(uuid.uuid4()), model, tokens=1)
    assert idle() and Reservation.objects.count() == 1

    settings.CHAT_MAX_RUNNING_TURNS_PER_USER = 1
    Team.objects.update(daily_token_quota=None)
    access.clear()
    with pytest.raises(TooManyTurns):
        admit(alice, str(uuid.uuid4()), model)
    assert idle() and Reservation.objects.count() == 1
