"""Several daphne processes sharing the database and Redis: the same turn from anywhere.

Real processes on loopback ports; websockets from the `websockets` package. These
need Redis (the turn log and channel layer shared across processes): locally they
skip without it, in CI they fail.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any
from urllib.parse import urlparse

import pytest
import websockets
from channels.db import database_sync_to_async

from conversations.models import Turn
from providers.fake_upstream import chat_stream
from tests.conftest import require_service, session_cookie
from tests.helpers import TERMINAL, assert_contiguous, texts, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

MODEL = "fake/fake-r1"
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/3"


def two_processes(daphne_factory, **env: str):
    """Two daphne processes (A, B) on the test database and one Redis."""
    url = urlparse(REDIS_URL)
    require_service("Redis", url.hostname or "127.0.0.1", url.port or 6379)
    env["REDIS_URL"] = REDIS_URL
    return daphne_factory(**env), daphne_factory(**env)


@pytest.fixture
def cluster(daphne_factory, fake_upstream, chat_provider):
    return two_processes(
        daphne_factory,
        CHAT_LEASE_SECONDS="2",
        CHAT_WATCHDOG_SECONDS="0.5",
        CHAT_SHUTDOWN_GRACE_SECONDS="1",
    )


async def connect(server, user, conversation) -> Any:
    cookie = await database_sync_to_async(session_cookie)(user)
    return await websockets.connect(
        f"ws://127.0.0.1:{server.port}/ws/conversations/{conversation.id}/",
        origin=server.url,
        additional_headers={"Cookie": f"sessionid={cookie}"},
        max_size=None,
    )


async def frames_until_terminal(ws, within: float = 30) -> list[dict[str, Any]]:
    frames = []
    async with asyncio.timeout(within):
        async for raw in ws:
            frame = json.loads(raw)
            frames.append(frame)
            if frame.get("type") in TERMINAL:
                return frames
    raise AssertionError(f"socket closed before the turn ended: {frames[-3:]}")


async def next_frame(ws, within: float = 10) -> dict[str, Any]:
    async with asyncio.timeout(within):
        return json.loads(await ws.recv())


async def start_turn(ws) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "user_message", "content": "hi", "model": MODEL}))
    started = await next_frame(ws)
    assert started["type"] == "turn.started", started
    return started


async def test_another_process_sees_the_running_turn_exactly_once(
    cluster, alice, conversation, fake_upstream
):
    a, b = cluster
    fake_upstream.enqueue(
        chat_stream(
            reasoning=[f"r{i} " for i in range(30)],
            content=[f"c{i} " for i in range(30)],
            delay=0.04,
        )
    )
    ws_a = await connect(a, alice, conversation)
    started = await start_turn(ws_a)
    early = [started] + [await next_frame(ws_a) for _ in range(3)]

    ws_b = await connect(b, alice, conversation)  # mid-stream, on the other process
    await ws_b.send(json.dumps({"type": "resume", "turn": started["turn"], "after_seq": 0}))
    ws_c = await connect(b, alice, conversation)  # one that already has the first 2 events
    await ws_c.send(json.dumps({"type": "resume", "turn": started["turn"], "after_seq": 2}))

    seen_a = early + await frames_until_terminal(ws_a)
    seen_b = await frames_until_terminal(ws_b)
    seen_c = await frames_until_terminal(ws_c)
    for ws in (ws_a, ws_b, ws_c):
        await ws.close()

    assert seen_a[-1]["type"] == "turn.completed"
    assert_contiguous(seen_a)
    assert seen_b == seen_a  # every event, once, in order, identical
    assert seen_c == seen_a[2:]
    assert texts(seen_b) == (
        "".join(f"r{i} " for i in range(30)),
        "".join(f"c{i} " for i in range(30)),
    )


async def test_stop_from_another_process(cluster, alice, conversation, fake_upstream):
    a, b = cluster
    fake_upstream.enqueue(
        chat_stream(reasoning=[f"r{i} " for i in range(200)], content=["never"], delay=0.05)
    )
    ws_a = await connect(a, alice, conversation)
    started = await start_turn(ws_a)
    await next_frame(ws_a)
    ws_b = await connect(b, alice, conversation)
    await ws_b.send(json.dumps({"type": "resume", "turn": started["turn"], "after_seq": 0}))
    await ws_b.send(json.dumps({"type": "stop", "turn": started["turn"]}))
    seen_b = await frames_until_terminal(ws_b, within=5)  # the stream alone would last 10 s
    seen_a = await frames_until_terminal(ws_a, within=5)
    await ws_a.close()
    await ws_b.close()
    assert seen_b[-1]["type"] == "turn.stopped"
    assert seen_a[-1] == seen_b[-1]
    turn = await database_sync_to_async(Turn.objects.get)(id=started["turn"])
    assert turn.status == Turn.Status.STOPPED
    assert turn.reasoning_content == texts(seen_b)[0]
    assert turn.reasoning_content.startswith("r0 ") and "never" not in turn.content


async def test_sigkill_mid_turn_is_recovered_by_the_other_process(
    cluster, alice, conversation, fake_upstream
):
    a, b = cluster
    fake_upstream.enqueue(
        chat_stream(reasoning=[f"r{i} " for i in range(300)], content=["never"], delay=0.05)
    )
    ws_a = await connect(a, alice, conversation)
    started = await start_turn(ws_a)
    ws_b = await connect(b, alice, conversation)
    await ws_b.send(json.dumps({"type": "resume", "turn": started["turn"], "after_seq": 0}))
    first = await next_frame(ws_b)
    await asyncio.sleep(1.2)  # past a checkpoint
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait(5)

    # B notices the dead lease (2 s) within a sweep and tells its socket.
    seen_b = [first] + await frames_until_terminal(ws_b, within=15)
    await ws_b.close()
    assert_contiguous(seen_b)
    end = seen_b[-1]
    assert end["type"] == "turn.failed" and end["error"]["code"] == "interrupted"
    turn = await database_sync_to_async(Turn.objects.get)(id=started["turn"])
    assert turn.status == Turn.Status.INCOMPLETE
    assert turn.error["code"] == "interrupted"
    # The partial kept is exactly what the socket saw.
    assert turn.reasoning_content == texts(seen_b)[0] and turn.reasoning_content.startswith("r0 ")
    assert turn.seq == end["seq"]


async def test_sigterm_gives_running_turns_a_grace_period_then_marks_them(
    cluster, alice, conversation, fake_upstream
):
    a, b = cluster
    fake_upstream.enqueue(
        chat_stream(reasoning=[f"r{i} " for i in range(300)], content=["never"], delay=0.05)
    )
    ws_b = await connect(b, alice, conversation)
    ws_a = await connect(a, alice, conversation)
    started = await start_turn(ws_a)
    await ws_b.send(json.dumps({"type": "resume", "turn": started["turn"], "after_seq": 0}))
    first = await next_frame(ws_b)
    a.proc.send_signal(signal.SIGTERM)
    seen_b = [first] + await frames_until_terminal(ws_b, within=15)
    assert a.proc.wait(15) is not None
    await ws_b.close()
    end = seen_b[-1]
    assert end["type"] == "turn.failed" and end["error"]["code"] == "interrupted"
    turn = await database_sync_to_async(Turn.objects.get)(id=started["turn"])
    assert turn.status == Turn.Status.INCOMPLETE
    assert turn.reasoning_content == texts(seen_b)[0]


async def test_a_burst_across_processes_loses_nothing(
    daphne_factory, fake_upstream, chat_provider, alice, conversation
):
    a, b = two_processes(daphne_factory, CHAT_COALESCE_SECONDS="0", CHAT_WATCHDOG_SECONDS="0.5")
    tokens = [f"{i} " for i in range(2000)]
    fake_upstream.enqueue(chat_stream(reasoning=tokens[:1000], content=tokens[1000:]))
    ws_b = await connect(b, alice, conversation)  # listening before the turn starts
    ws_a = await connect(a, alice, conversation)
    await ws_a.send(json.dumps({"type": "user_message", "content": "hi", "model": MODEL}))
    seen_a = await frames_until_terminal(ws_a, within=60)
    seen_b = await frames_until_terminal(ws_b, within=60)
    await ws_a.close()
    await ws_b.close()
    for seen in (seen_a, seen_b):
        assert_contiguous(seen)
        assert texts(seen) == ("".join(tokens[:1000]), "".join(tokens[1000:]))
    assert seen_a == seen_b


async def test_a_cut_pubsub_connection_loses_nothing(
    daphne_factory, fake_upstream, chat_provider, alice, conversation
):
    """Redis drops the processes' subscriber connections mid-turn (what a Redis
    restart or a slow subscriber does): they resubscribe, and what was published
    meanwhile the other process's socket reads from the turn log when it sees the
    gap. The watchdog is set long: only resubscribing can bring the end in time."""
    import redis.asyncio as redis

    a, b = two_processes(daphne_factory, CHAT_WATCHDOG_SECONDS="60")
    tokens = [f"{i} " for i in range(60)]
    fake_upstream.enqueue(chat_stream(reasoning=tokens[:40], content=tokens[40:], delay=0.05))
    ws_b = await connect(b, alice, conversation)
    ws_a = await connect(a, alice, conversation)
    await start_turn(ws_a)
    await asyncio.sleep(0.8)
    client = redis.Redis.from_url(REDIS_URL)
    killed = await client.client_kill_filter(_type="pubsub")
    await client.aclose()
    assert killed >= 2  # one subscriber per process
    seen_a = await frames_until_terminal(ws_a)
    seen_b = await frames_until_terminal(ws_b, within=5)
    await ws_a.close()
    await ws_b.close()
    assert_contiguous(seen_b)
    assert texts(seen_b) == ("".join(tokens[:40]), "".join(tokens[40:]))
    assert seen_b[1:] == seen_a  # B also saw turn.started, which A's start_turn consumed


async def test_a_turn_started_on_one_process_is_readable_over_http_on_the_other(
    cluster, alice, conversation, fake_upstream
):
    a, b = cluster
    fake_upstream.enqueue(chat_stream(reasoning=["x"], content=["y"]))
    ws_a = await connect(a, alice, conversation)
    await start_turn(ws_a)
    await frames_until_terminal(ws_a)
    await ws_a.close()
    import urllib.request

    cookie = await database_sync_to_async(session_cookie)(alice)

    def fetch():
        req = urllib.request.Request(
            f"{b.url}/api/conversations/{conversation.id}/",
            headers={"Cookie": f"sessionid={cookie}"},
        )
        return json.load(urllib.request.urlopen(req))

    data = await asyncio.to_thread(fetch)
    assert [t["status"] for t in data["turns"]] == ["completed", "completed"]
    assert data["turns"][1]["reasoning_content"] == "x"


async def test_busy_holds_across_processes(cluster, alice, conversation, fake_upstream):
    a, b = cluster
    fake_upstream.enqueue(chat_stream(reasoning=["a"] * 40, content=["b"], delay=0.05))
    ws_a = await connect(a, alice, conversation)
    await start_turn(ws_a)
    ws_b = await connect(b, alice, conversation)
    await ws_b.send(json.dumps({"type": "user_message", "content": "again", "model": MODEL}))
    error = await next_frame(ws_b)
    assert error["type"] == "error" and error["code"] == "busy"
    await frames_until_terminal(ws_a)
    await ws_a.close()
    await ws_b.close()

    async def one_assistant_turn():
        return (
            await database_sync_to_async(
                lambda: Turn.objects.filter(conversation=conversation, role="assistant").count()
            )()
            == 1
        )

    assert await wait_for(one_assistant_turn)


async def test_a_process_joining_mid_turn_gets_live_events(
    daphne_factory, fake_upstream, chat_provider, alice, conversation
):
    """A runs the turn alone (so it stops publishing its batches); B's socket joins
    mid-turn. B announces itself once Redis confirms its subscription and A
    publishes again. The watchdog is off: only live events can finish B's turn."""
    a, b = two_processes(daphne_factory, CHAT_WATCHDOG_SECONDS="60")
    tokens = [f"{i} " for i in range(60)]
    fake_upstream.enqueue(chat_stream(reasoning=tokens[:40], content=tokens[40:], delay=0.05))
    ws_a = await connect(a, alice, conversation)
    started = await start_turn(ws_a)
    await asyncio.sleep(0.8)  # A publishes, learns nobody else listens, stops publishing
    ws_b = await connect(b, alice, conversation)
    await ws_b.send(json.dumps({"type": "resume", "turn": started["turn"], "after_seq": 0}))
    seen_a = [started] + await frames_until_terminal(ws_a)
    seen_b = await frames_until_terminal(ws_b, within=5)
    await ws_a.close()
    await ws_b.close()
    assert seen_b == seen_a
    assert texts(seen_b) == ("".join(tokens[:40]), "".join(tokens[40:]))
