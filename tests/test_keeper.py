"""Checkpoints: one write a tick for all of a process's turns; a turn finished
elsewhere stops its runner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from conversations import actions
from conversations.live.runner import RUNNERS
from conversations.models import Conversation, Turn
from providers.fake_upstream import chat_stream
from tests.helpers import connect, wait_for

MODEL = "fake/fake-r1"


def streaming_turn(conversation, index: int, **fields) -> Turn:
    return Turn.objects.create(
        conversation=conversation, index=index, role="assistant", status="streaming", **fields
    )


@pytest.mark.django_db(transaction=True)
def test_keep_turns_saves_renews_and_reports_turns_no_longer_ours(alice, conversation):
    old = timezone.now() - timedelta(seconds=1)
    a = streaming_turn(conversation, 1, lease_expires=old)
    other = Conversation.objects.create(owner=alice)
    b = streaming_turn(other, 1, lease_expires=old)
    done = Turn.objects.create(
        conversation=conversation, index=5, role="assistant", status="completed", content="final"
    )
    lost = actions.keep_turns(
        [
            actions.Checkpoint(str(a.id), "thinking…", "", 4),
            actions.Checkpoint(str(done.id), "stale", "stale", 9),
        ],
        [str(b.id)],
    )
    assert lost == {str(done.id)}
    a.refresh_from_db()
    b.refresh_from_db()
    done.refresh_from_db()
    assert (a.reasoning_content, a.seq) == ("thinking…", 4)
    assert a.lease_expires > timezone.now() and b.lease_expires > timezone.now()
    assert (done.content, done.status) == ("final", "completed")


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_one_write_per_tick_for_all_running_turns(
    ws_for, alice, chat_provider, fake_upstream, settings, monkeypatch
):
    settings.CHAT_CHECKPOINT_SECONDS = 0.2
    batches: list[int] = []
    real = actions.keep_turns

    def counting(checkpoints, renewals):
        batches.append(len(checkpoints) + len(renewals))
        return real(checkpoints, renewals)

    monkeypatch.setattr(actions, "keep_turns", counting)
    sockets = []
    for _ in range(3):
        fake_upstream.enqueue(
            chat_stream(reasoning=[f"r{i} " for i in range(30)], content=["ok"], delay=0.05)
        )
        conversation = await database_sync_to_async(Conversation.objects.create)(owner=alice)
        ws = await connect(ws_for, alice, conversation.id)
        await ws.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
        assert (await ws.receive_json_from())["type"] == "turn.started"
        sockets.append(ws)

    async def checkpointed_all():
        rows = await database_sync_to_async(list)(
            Turn.objects.filter(role="assistant", status="streaming").exclude(reasoning_content="")
        )
        return len(rows) == 3 or None

    await wait_for(checkpointed_all, within=5)
    assert 3 in batches  # the three turns in one write, not three
    for ws in sockets:
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_turn_finished_elsewhere_stops_its_runner(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings
):
    settings.CHAT_CHECKPOINT_SECONDS = 0.1
    fake_upstream.enqueue(
        chat_stream(reasoning=[f"r{i} " for i in range(200)], content=["ok"], delay=0.05)
    )
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    turn_id = (await ws.receive_json_from())["turn"]
    assert turn_id in RUNNERS
    # What another process's sweeper does once the lease has expired.
    await database_sync_to_async(Turn.objects.filter(id=turn_id).update)(
        status=Turn.Status.INCOMPLETE, content="expired elsewhere"
    )

    async def runner_gone():
        return turn_id not in RUNNERS or None

    await wait_for(runner_gone, within=5)
    turn = await database_sync_to_async(Turn.objects.get)(id=turn_id)
    # The other process's final state stands: the runner wrote nothing over it.
    assert (turn.status, turn.content) == (Turn.Status.INCOMPLETE, "expired elsewhere")
    await ws.disconnect()
