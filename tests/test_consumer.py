"""The websocket protocol end to end on the real ASGI app, against the fake upstream."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from conversations.models import Turn
from providers.fake_upstream import chat_stream, error_response
from tests.helpers import assert_contiguous, collect_turn, connect, run_turn, texts, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

MODEL = "fake/fake-r1"


async def get_turn(turn_id: str) -> Turn:
    return await database_sync_to_async(Turn.objects.get)(id=turn_id)


async def test_full_turn_streams_in_order_and_is_stored(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.enqueue(
        chat_stream(
            reasoning=["Let me ", "think ", "about it."],
            content=["The answer ", "is 42."],
            usage={
                "prompt_tokens": 11,
                "completion_tokens": 20,
                "total_tokens": 31,
                "completion_tokens_details": {"reasoning_tokens": 12},
            },
            delay=0.01,
        )
    )
    frames, turn = await run_turn(ws_for, alice, conversation, content="What is it?")

    assert frames[0]["type"] == "turn.started"
    assert frames[0]["seq"] == 1
    assert frames[0]["model"] == MODEL
    assert frames[-1]["type"] == "turn.completed"
    assert_contiguous(frames)
    assert {f["turn"] for f in frames} == {frames[0]["turn"]}
    reasoning, content = texts(frames)
    assert (reasoning, content) == ("Let me think about it.", "The answer is 42.")
    # All reasoning comes before any answer in this stream.
    kinds = [f["type"] for f in frames[1:-1]]
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning.delta")

    done = frames[-1]
    assert done["usage"] == {
        "prompt_tokens": 11,
        "completion_tokens": 20,
        "reasoning_tokens": 12,
        "total_tokens": 31,
    }
    timings = done["timings"]
    assert timings["reasoning_first_token"] is not None
    assert timings["content_first_token"] >= timings["reasoning_first_token"]
    assert (
        timings["reasoning_duration"] is not None
        and timings["total"] >= timings["content_first_token"]
    )

    assert turn.status == Turn.Status.COMPLETED
    assert turn.reasoning_content == "Let me think about it."
    assert turn.content == "The answer is 42."
    assert turn.usage["reasoning_tokens"] == 12
    assert turn.seq == done["seq"]
    user_turn = await get_turn(frames[0]["user_turn"])
    assert (user_turn.role, user_turn.content) == ("user", "What is it?")

    # The request carried only the question, with the model's parameters.
    body = fake_upstream.requests[-1].json
    assert body["messages"] == [{"role": "user", "content": "What is it?"}]
    assert body["model"] == "fake-r1"
    assert body["max_tokens"] == 2048


async def test_deltas_are_coalesced(ws_for, alice, conversation, chat_provider, fake_upstream):
    tokens = [f"t{i} " for i in range(200)]
    fake_upstream.enqueue(chat_stream(reasoning=[], content=tokens, delay=0))
    frames, _ = await run_turn(ws_for, alice, conversation, content="go")
    deltas = [f for f in frames if f["type"] == "content.delta"]
    assert "".join(f["text"] for f in deltas) == "".join(tokens)
    assert len(deltas) < 50  # 200 tokens arriving at once leave in a few events


async def test_the_first_answer_token_is_not_held_by_coalescing(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings
):
    settings.CHAT_COALESCE_SECONDS = 2.0  # long enough that waiting for it shows
    fake_upstream.enqueue(
        chat_stream(
            reasoning=[f"r{i} " for i in range(5)],
            content=[f"c{i} " for i in range(50)],  # lasts past the checks below
            delay=0.02,
        )
    )
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "go", "model": MODEL})
    assert (await ws.receive_json_from())["type"] == "turn.started"
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    first_of = {}
    while len(first_of) < 2:
        frame = await ws.receive_json_from(timeout=5)
        first_of.setdefault(frame["type"], loop.time() - t0)
    # Both first tokens arrive at once; later ones merge for the window.
    assert first_of["reasoning.delta"] < 0.5
    assert first_of["content.delta"] < 0.5
    frames = await collect_turn(ws)
    assert frames[-1]["type"] == "turn.completed"
    await ws.disconnect()


async def test_closing_the_socket_does_not_stop_the_turn(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.enqueue(
        chat_stream(reasoning=["a", "b", "c"], content=["x", "y", "z"], delay=0.1)
    )
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    started = await ws.receive_json_from()
    await ws.disconnect()

    async def finished():
        turn = await get_turn(started["turn"])
        return turn if turn.status != Turn.Status.STREAMING else None

    turn = await wait_for(finished)
    assert turn.status == Turn.Status.COMPLETED
    assert (turn.reasoning_content, turn.content) == ("abc", "xyz")


async def test_resume_from_another_socket_gets_everything_once(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.enqueue(
        chat_stream(
            reasoning=[f"r{i} " for i in range(10)],
            content=[f"c{i} " for i in range(10)],
            delay=0.05,
        )
    )
    first = await connect(ws_for, alice, conversation.id)
    await first.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    started = await first.receive_json_from()
    await asyncio.sleep(0.4)  # mid-stream
    await first.disconnect()

    late = await connect(ws_for, alice, conversation.id)
    await late.send_json_to({"type": "resume", "turn": started["turn"], "after_seq": 0})
    frames = await collect_turn(late)
    await late.disconnect()
    assert_contiguous(frames)
    assert frames[0]["type"] == "turn.started"
    reasoning, content = texts(frames)
    assert reasoning == "".join(f"r{i} " for i in range(10))
    assert content == "".join(f"c{i} " for i in range(10))

    # Once the turn is over, resume still answers: from the log, or a snapshot.
    again = await connect(ws_for, alice, conversation.id)
    await again.send_json_to(
        {"type": "resume", "turn": started["turn"], "after_seq": frames[-1]["seq"]}
    )
    assert await again.receive_nothing(timeout=0.3)
    await again.disconnect()


async def test_resume_after_log_expired_sends_snapshot(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings
):
    fake_upstream.enqueue(chat_stream(reasoning=["why"], content=["because"]))
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    frames = await collect_turn(ws)
    from conversations.live.runner import RUNNERS
    from conversations.live.turnlog import get_turn_log

    async def runner_done():  # its last log writes follow the socket's terminal frame
        return frames[0]["turn"] not in RUNNERS or None

    await wait_for(runner_done, within=5)
    log = get_turn_log()
    if hasattr(log, "_logs"):
        log._logs.pop(frames[0]["turn"], None)
    else:
        await log._redis().delete(log.key(frames[0]["turn"]))
    await ws.send_json_to({"type": "resume", "turn": frames[0]["turn"], "after_seq": 0})
    snap = await ws.receive_json_from()
    await ws.disconnect()
    assert snap == {
        "type": "turn.snapshot",
        "turn": frames[0]["turn"],
        "seq": frames[-1]["seq"],
        "status": "completed",
        "reasoning_content": "why",
        "content": "because",
    }


async def test_stop_keeps_the_partial(ws_for, alice, conversation, chat_provider, fake_upstream):
    fake_upstream.enqueue(
        chat_stream(reasoning=[f"r{i} " for i in range(100)], content=["never"], delay=0.05)
    )
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    started = await ws.receive_json_from()
    first_delta = await ws.receive_json_from()  # some reasoning arrived
    await ws.send_json_to({"type": "stop", "turn": started["turn"]})
    frames = [started, first_delta] + await collect_turn(ws)
    assert frames[-1]["type"] == "turn.stopped"
    assert_contiguous(frames)
    turn = await get_turn(started["turn"])
    assert turn.status == Turn.Status.STOPPED
    reasoning, _ = texts(frames)
    assert turn.reasoning_content == reasoning and reasoning.startswith("r0 ")
    assert "never" not in turn.content

    # Stopping it again: it is not running.
    await ws.send_json_to({"type": "stop", "turn": started["turn"]})
    assert (await ws.receive_json_from())["code"] == "not_running"
    await ws.disconnect()


async def test_second_message_while_running_is_busy(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.enqueue(chat_stream(reasoning=["a"] * 20, content=["b"], delay=0.05))
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "one", "model": MODEL})
    started = await ws.receive_json_from()
    await ws.send_json_to({"type": "user_message", "content": "two", "model": MODEL})
    frames = await collect_turn(ws)
    errors = [f for f in frames if f["type"] == "error"]
    assert [e["code"] for e in errors] == ["busy"]
    assert frames[-1]["turn"] == started["turn"]
    await ws.disconnect()


@pytest.mark.parametrize("status", [500, 503])
async def test_upstream_5xx_fails_the_turn_with_a_clear_error(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings, status
):
    settings.UPSTREAM_RETRY_BASE_SECONDS = 0.01
    for _ in range(3):
        fake_upstream.enqueue(
            error_response(
                status, {"error": {"message": "Service is too busy", "type": "server_error"}}
            )
        )
    frames, _ = await run_turn(ws_for, alice, conversation)
    failed = frames[-1]
    assert failed["type"] == "turn.failed"
    assert failed["error"]["code"] == "upstream_unavailable"
    # The provider's words are for staff: in the stored detail, not the message.
    assert "Service is too busy" not in failed["error"]["message"]
    assert f"(HTTP {status})" in failed["error"]["message"]
    assert len(fake_upstream.requests) == 3  # retried before the first token, bounded
    turn = await get_turn(failed["turn"])
    assert turn.status == Turn.Status.FAILED and turn.error["code"] == "upstream_unavailable"
    assert "Service is too busy" in turn.error["detail"]


async def test_retry_before_first_token_then_success(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings
):
    settings.UPSTREAM_RETRY_BASE_SECONDS = 0.01
    fake_upstream.enqueue(
        error_response(429, {"error": {"message": "Rate limit reached", "type": "rate_limit"}}),
        chat_stream(reasoning=["ok"], content=["fine"]),
    )
    frames, _ = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["type"] == "turn.completed"
    assert texts(frames) == ("ok", "fine")
    assert_contiguous(frames)


async def test_cut_after_tokens_keeps_partial_as_incomplete(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.enqueue(
        chat_stream(reasoning=["one ", "two "], content=["three ", "four"], cut_after=3)
    )
    frames, _ = await run_turn(ws_for, alice, conversation)
    failed = frames[-1]
    assert failed["type"] == "turn.failed" and failed["error"]["code"] == "cut"
    assert len(fake_upstream.requests) == 1  # never retried after tokens
    turn = await get_turn(failed["turn"])
    assert turn.status == Turn.Status.INCOMPLETE
    assert (turn.reasoning_content, turn.content) == ("one two ", "three ")
    assert texts(frames) == ("one two ", "three ")


async def test_wrong_key_is_a_clear_auth_failure_without_the_key(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    key = await database_sync_to_async(chat_provider.api_keys.get)()
    key.set_secret("sk-wrong-key-99999999")
    await database_sync_to_async(key.save)()
    frames, _ = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["error"]["code"] == "auth"
    assert "sk-wrong-key-99999999" not in json.dumps(frames)


@pytest.mark.parametrize(
    "raw, code",
    [
        ("not json", "bad_frame"),
        ("[1, 2]", "bad_frame"),
        ('{"no": "type"}', "unknown_type"),
        ('{"type": "dance"}', "unknown_type"),
        ('{"type": "user_message"}', "invalid_content"),
        ('{"type": "user_message", "content": 5, "model": "fake/fake-r1"}', "invalid_content"),
        ('{"type": "user_message", "content": "hi", "model": "nope"}', "invalid_model"),
        ('{"type": "user_message", "content": "hi", "model": "fake/unknown"}', "invalid_model"),
        (
            '{"type": "user_message", "content": "hi", "model": "fake/fake-r1", "options": {"effort": "low"}}',
            "invalid_options",
        ),
        (
            '{"type": "user_message", "content": "hi", "model": "fake/fake-r1", "options": {"thinking": "disabled", "effort": "high"}}',
            "invalid_options",
        ),
        ('{"type": "stop", "turn": "not-a-uuid"}', "bad_frame"),
        ('{"type": "stop", "turn": "4b0a5f2e-0000-4000-8000-000000000000"}', "not_running"),
        (
            '{"type": "resume", "turn": "4b0a5f2e-0000-4000-8000-000000000000", "after_seq": 0}',
            "not_found",
        ),
        (
            '{"type": "resume", "turn": "4b0a5f2e-0000-4000-8000-000000000000", "after_seq": -1}',
            "bad_frame",
        ),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_survives(
    ws_for, alice, conversation, chat_provider, fake_upstream, raw, code
):
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_to(text_data=raw)
    error = await ws.receive_json_from()
    assert error["type"] == "error" and error["code"] == code and error["message"]
    # Still usable.
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["c"]))
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    frames = await collect_turn(ws)
    assert frames[-1]["type"] == "turn.completed"
    await ws.disconnect()


async def test_binary_and_oversized_frames(ws_for, alice, conversation, chat_provider, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 1000
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_to(bytes_data=b"\x00\x01")
    assert (await ws.receive_json_from())["code"] == "bad_frame"
    await ws.send_json_to({"type": "user_message", "content": "x" * 1001, "model": MODEL})
    assert (await ws.receive_json_from())["code"] == "too_large"
    await ws.send_to(text_data="x" * 20000)
    assert (await ws.receive_json_from())["code"] == "too_large"
    await ws.disconnect()
    turns = await database_sync_to_async(
        lambda: Turn.objects.filter(conversation=conversation).count()
    )()
    assert turns == 0


async def test_default_message_limit_is_100k(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "x" * 100_001, "model": MODEL})
    assert (await ws.receive_json_from())["code"] == "too_large"
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["c"]))
    await ws.send_json_to({"type": "user_message", "content": "x" * 100_000, "model": MODEL})
    frames = await collect_turn(ws)
    assert frames[-1]["type"] == "turn.completed"
    await ws.disconnect()


async def test_anonymous_and_other_users_are_refused_at_handshake(ws_for, alice, bob, conversation):
    for user in (None, bob):
        ws = await ws_for(user, conversation.id)
        connected, code = await ws.connect()
        assert not connected
        assert code == 403 or code is None or code == 1000
    ws = await ws_for(alice, "not-a-uuid")
    connected, _ = await ws.connect()
    assert not connected


async def test_foreign_origin_is_refused(ws_for, alice, conversation):
    ws = await ws_for(alice, conversation.id, origin=b"https://evil.example")
    connected, _ = await ws.connect()
    assert not connected


async def test_other_sockets_on_the_conversation_see_new_turns(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.enqueue(chat_stream(reasoning=["r1 ", "r2"], content=["c"], delay=0.02))
    a = await connect(ws_for, alice, conversation.id)
    b = await connect(ws_for, alice, conversation.id)
    await a.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    frames_a = await collect_turn(a)
    frames_b = await collect_turn(b)
    assert frames_a == frames_b
    await a.disconnect()
    await b.disconnect()


async def test_demo_provider_streams_without_network(ws_for, alice, conversation, settings):
    settings.DEMO_DELAY_SECONDS = 0
    frames, _ = await run_turn(
        ws_for, alice, conversation, content="Why is the sky blue?", model="demo/reasoner"
    )
    assert frames[-1]["type"] == "turn.completed"
    reasoning, content = texts(frames)
    assert reasoning and content


@pytest.mark.parametrize(
    ("header", "said"),
    [
        ((b"accept-language", b"zh-CN,zh;q=0.9,en;q=0.5"), "这是离线演示"),
        ((b"cookie", b"django_language=zh-hans"), "这是离线演示"),
        ((b"accept-language", b"en-GB"), "This is the offline demo"),
    ],
)
async def test_the_demo_answers_in_the_persons_language(
    alice, conversation, settings, header, said
):
    """The socket's language (the switcher's cookie, else Accept-Language) is the
    demo's: a newcomer reading Chinese sees the demo in Chinese."""
    from channels.testing import WebsocketCommunicator

    from chatsite.asgi import application
    from tests.conftest import HOST, ORIGIN, session_cookie

    settings.DEMO_DELAY_SECONDS = 0
    session = await database_sync_to_async(session_cookie)(alice)
    cookie = f"sessionid={session}"
    if header[0] == b"cookie":
        cookie += "; " + header[1].decode()
    headers = [(b"origin", ORIGIN), (b"host", HOST), (b"cookie", cookie.encode())]
    headers += [header] if header[0] != b"cookie" else []
    ws = WebsocketCommunicator(
        application, f"/ws/conversations/{conversation.id}/", headers=headers
    )
    assert (await ws.connect())[0]
    await ws.send_json_to(
        {"type": "user_message", "content": "天空为什么是蓝色的？", "model": "demo/reasoner"}
    )
    frames = await collect_turn(ws)
    await ws.disconnect()
    assert frames[-1]["type"] == "turn.completed", frames[-1]
    reasoning, content = texts(frames)
    assert said in content and "天空为什么是蓝色的？" in content
    assert ("用户写道" in reasoning) == ("这是" in said)
    assert "```python\n" in content and "|---|---|---|" in content and "$$\n" in content
