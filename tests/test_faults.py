"""Upstream, channel-layer and database faults: each ends with the user told, nothing lost."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

import pytest
from channels.db import database_sync_to_async

from conversations import actions
from conversations.models import Turn
from providers.fake_upstream import chat_stream, keepalive_frame
from tests.conftest import require_service
from tests.helpers import assert_contiguous, collect_turn, connect, run_turn, texts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

MODEL = "fake/fake-r1"


async def test_stream_stalled_past_idle_limit_is_incomplete(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings
):
    settings.UPSTREAM_IDLE_TIMEOUT = 0.5
    script = chat_stream(reasoning=["deep ", "thought"], content=[], done=False, finish_reason=None)
    fake_upstream.enqueue(replace(script, ending="hang"))
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["type"] == "turn.failed"
    assert frames[-1]["error"]["code"] == "stalled"
    assert turn.status == Turn.Status.INCOMPLETE
    assert turn.reasoning_content == "deep thought"


async def test_a_long_silence_with_keepalives_is_not_a_fault(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings
):
    settings.UPSTREAM_IDLE_TIMEOUT = 0.5
    script = chat_stream(reasoning=["pondering"], content=["answer"], keepalive=False)
    # 2 s of keep-alive comments between the reasoning and the answer: 4x the idle limit.
    silence = [(0.2, keepalive_frame())] * 10
    frames_ = script.frames[:1] + silence + script.frames[1:]
    fake_upstream.enqueue(replace(script, frames=frames_))
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["type"] == "turn.completed"
    assert (turn.reasoning_content, turn.content) == ("pondering", "answer")


async def test_connection_refused_is_retried_then_failed(
    ws_for, alice, conversation, chat_provider, settings
):
    settings.UPSTREAM_RETRY_BASE_SECONDS = 0.01
    with socket.socket() as s:  # a port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    chat_provider.base_url = f"http://127.0.0.1:{port}/v1"
    await database_sync_to_async(chat_provider.save)()
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["error"]["code"] == "connect_failed"
    assert turn.status == Turn.Status.FAILED


async def test_connect_timeout(ws_for, alice, conversation, chat_provider, settings):
    settings.UPSTREAM_CONNECT_TIMEOUT = 0.3
    settings.UPSTREAM_RETRIES = 0
    # A listener that never accepts, its backlog already full: SYNs go unanswered.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", port))
        fillers.append(s)
    await asyncio.sleep(0.1)
    try:
        chat_provider.base_url = f"http://127.0.0.1:{port}/v1"
        await database_sync_to_async(chat_provider.save)()
        frames, turn = await run_turn(ws_for, alice, conversation)
        assert frames[-1]["error"]["code"] == "connect_failed"
        assert turn.status == Turn.Status.FAILED
    finally:
        for s in fillers:
            s.close()
        listener.close()


async def test_sockets_that_miss_batches_recover_every_event_from_the_log(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings, monkeypatch
):
    """What a lossy layer does (channels_redis drops past its capacity, silently):
    a third of the batches never reach the sockets, the last one included. The
    seq gaps and the watchdog make them read the turn log; nothing is lost."""
    from conversations.consumers import TERMINAL, ConversationConsumer
    from conversations.live.turnlog import get_turn_log

    log_cls = type(get_turn_log())
    real_read = log_cls.read
    reads = []

    async def counting_read(self, turn_id, after_seq):
        reads.append(after_seq)
        return await real_read(self, turn_id, after_seq)

    monkeypatch.setattr(log_cls, "read", counting_read)
    real_turn_events = ConversationConsumer.turn_events

    async def lossy(self, message):
        events = message["events"]
        if events[0]["seq"] % 3 == 2 or events[-1]["type"] in TERMINAL:
            return  # lost on the way
        await real_turn_events(self, message)

    monkeypatch.setattr(ConversationConsumer, "turn_events", lossy)
    settings.CHAT_COALESCE_SECONDS = 0
    settings.CHAT_WATCHDOG_SECONDS = 0.5
    tokens = [f"{i} " for i in range(1000)]
    fake_upstream.enqueue(chat_stream(reasoning=tokens[:500], content=tokens[500:], delay=0.002))
    watcher = await connect(ws_for, alice, conversation.id)  # a second socket on the conversation
    frames, turn = await run_turn(ws_for, alice, conversation, within=60)
    watched = await collect_turn(watcher, within=60)
    await watcher.disconnect()
    for got in (frames, watched):
        assert_contiguous(got)
        reasoning, content = texts(got)
        assert reasoning == "".join(tokens[:500])
        assert content == "".join(tokens[500:])
        assert got[-1]["type"] == "turn.completed"  # only the watchdog could bring it
    assert turn.status == Turn.Status.COMPLETED
    assert watched == frames
    assert reads, "nothing was read from the log: this test did not exercise recovery"


def failing_twice(monkeypatch, name: str) -> dict[str, int]:
    """Make `actions.<name>` raise on its first two calls (a database hiccup); counts calls."""
    calls = {"n": 0}
    real = getattr(actions, name)

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] <= 2:
            raise RuntimeError("database hiccup")
        return real(*args, **kwargs)

    monkeypatch.setattr(actions, name, flaky)
    return calls


async def test_failed_checkpoints_are_retried(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings, monkeypatch
):
    settings.CHAT_CHECKPOINT_SECONDS = 0.1
    calls = failing_twice(monkeypatch, "keep_turns")
    fake_upstream.enqueue(
        chat_stream(reasoning=[f"r{i} " for i in range(20)], content=["done"], delay=0.05)
    )
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    started = await ws.receive_json_from()

    async def checkpointed():
        turn = await database_sync_to_async(Turn.objects.get)(id=started["turn"])
        return turn.reasoning_content if turn.status == Turn.Status.STREAMING else None

    from tests.helpers import wait_for

    partial = await wait_for(checkpointed, within=5)
    assert partial.startswith("r0 ")
    assert calls["n"] >= 3
    frames = await collect_turn(ws)
    await ws.disconnect()
    assert frames[-1]["type"] == "turn.completed"


async def test_the_final_save_is_retried(
    ws_for, alice, conversation, chat_provider, fake_upstream, monkeypatch
):
    calls = failing_twice(monkeypatch, "finish_turn")
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["c"]))
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert calls["n"] == 3
    assert frames[-1]["type"] == "turn.completed"
    assert turn.status == Turn.Status.COMPLETED and turn.content == "c"


async def test_a_dead_turn_is_expired_on_connect_with_its_logged_partial(
    ws_for, alice, conversation
):
    """A turn whose process died: the next socket marks it incomplete, keeps every logged delta."""
    from datetime import timedelta

    from django.utils import timezone

    from conversations.live.turnlog import get_turn_log

    def make():
        Turn.objects.create(
            conversation=conversation, index=0, role="user", content="q", status="completed"
        )
        return Turn.objects.create(
            conversation=conversation,
            index=1,
            role="assistant",
            status="streaming",
            reasoning_content="checkpointed ",
            seq=2,
            lease_expires=timezone.now() - timedelta(seconds=1),
        )

    turn = await database_sync_to_async(make)()
    tid = str(turn.id)
    await get_turn_log().append(
        tid,
        [
            {"type": "turn.started", "turn": tid, "seq": 1, "user_turn": "x", "model": MODEL},
            {"type": "reasoning.delta", "turn": tid, "seq": 2, "text": "checkpointed "},
            {"type": "reasoning.delta", "turn": tid, "seq": 3, "text": "and logged"},
            {"type": "content.delta", "turn": tid, "seq": 4, "text": "half an answer"},
        ],
    )
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "resume", "turn": tid, "after_seq": 0})
    frames = await collect_turn(ws)
    await ws.disconnect()
    assert_contiguous(frames)
    assert frames[-1]["type"] == "turn.failed" and frames[-1]["error"]["code"] == "interrupted"
    stored = await database_sync_to_async(Turn.objects.get)(id=tid)
    assert stored.status == Turn.Status.INCOMPLETE
    assert (stored.reasoning_content, stored.content) == (
        "checkpointed and logged",
        "half an answer",
    )
    assert stored.seq == 5


async def test_redis_failing_mid_turn_does_not_stop_a_local_turn(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings, monkeypatch
):
    """Every Redis write fails (the turn log append, the publish to other processes):
    the socket on the runner's own process still gets every event, and the turn is
    stored whole. Only other processes and late readers depend on Redis."""
    import redis.asyncio.client

    from conversations.live.turnlog import reset_turn_log

    url = "redis://127.0.0.1:6379/4"
    require_service("Redis", "127.0.0.1", 6379)
    settings.REDIS_URL = url
    reset_turn_log()

    async def down(self, *args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(redis.asyncio.client.Pipeline, "execute", down)
    tokens = [f"{i} " for i in range(30)]
    fake_upstream.enqueue(chat_stream(reasoning=tokens[:20], content=tokens[20:], delay=0.01))
    try:
        frames, turn = await run_turn(ws_for, alice, conversation)
    finally:
        reset_turn_log()
    assert_contiguous(frames)
    assert texts(frames) == ("".join(tokens[:20]), "".join(tokens[20:]))
    assert frames[-1]["type"] == "turn.completed"
    assert (turn.reasoning_content, turn.content) == texts(frames)


async def test_a_process_alone_on_a_conversation_stops_publishing_its_batches(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings, monkeypatch
):
    """Nobody else subscribes: after the first reply says so, batches stay in the
    process (the turn log still gets every one)."""
    from conversations.live.rediswriter import RedisWriter
    from conversations.live.turnlog import reset_turn_log

    require_service("Redis", "127.0.0.1", 6379)
    settings.REDIS_URL = "redis://127.0.0.1:6379/4"
    settings.CHAT_COALESCE_SECONDS = 0
    reset_turn_log()
    sent: list[str] = []
    real = RedisWriter.enqueue

    def counting(self, *commands):
        sent.extend(str(c[0]) for c in commands)
        return real(self, *commands)

    monkeypatch.setattr(RedisWriter, "enqueue", counting)
    tokens = [f"{i} " for i in range(40)]
    fake_upstream.enqueue(chat_stream(reasoning=tokens, content=["ok"], delay=0.02))
    try:
        frames, turn = await run_turn(ws_for, alice, conversation)
    finally:
        reset_turn_log()
    assert texts(frames) == ("".join(tokens), "ok")
    batches = sent.count("XADD")
    assert batches >= 40, sent
    # The "process.joined" announcement and the first batches, before a reply came.
    assert sent.count("PUBLISH") <= 4, sent
