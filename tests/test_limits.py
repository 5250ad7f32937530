"""Limits that protect the service: turns running at once and messages per minute per
person (over the websocket), and throttled sign-ins. Each refuses with a clear
message and loses nothing already stored."""

from __future__ import annotations

import types
import uuid

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from accounts import limits
from conversations.models import Conversation, Turn
from providers.fake_upstream import chat_stream
from tests.helpers import MODEL, collect_turn, connect, run_turn


def _frozen(module, monkeypatch, at: float) -> list[float]:
    """Make `module`'s clock read `now[0]`."""
    now = [at]
    monkeypatch.setattr(module, "time", types.SimpleNamespace(time=lambda: now[0]))
    return now


@pytest.mark.django_db(transaction=True)
async def test_running_turns_per_person(ws_for, alice, bob, chat_provider, fake_upstream, settings):
    settings.CHAT_MAX_RUNNING_TURNS_PER_USER = 2
    slow = {"reasoning": [f"r{i} " for i in range(200)], "content": ["done"], "delay": 0.05}
    fake_upstream.default_script = chat_stream(**slow)
    conversations = [
        await database_sync_to_async(Conversation.objects.create)(owner=alice) for _ in range(3)
    ]
    sockets = [await connect(ws_for, alice, c.id) for c in conversations]
    started = []
    for ws in sockets[:2]:
        await ws.send_json_to({"type": "user_message", "content": "go", "model": MODEL})
        frame = await ws.receive_json_from()
        assert frame["type"] == "turn.started"
        started.append(frame)

    await sockets[2].send_json_to({"type": "user_message", "content": "third", "model": MODEL})
    error = await sockets[2].receive_json_from()
    while error["type"] != "error":  # (no other events reach this conversation's socket)
        error = await sockets[2].receive_json_from()
    assert error["code"] == "too_many_turns"
    assert error["message"] == (
        "You already have 2 answers being written, the most at once. "
        "Wait for one to finish or stop one, then send again."
    )
    count = database_sync_to_async(lambda c: Turn.objects.filter(conversation_id=c.id).count())
    assert await count(conversations[2]) == 0  # nothing written for the refused message

    # Someone else is not limited by alice's turns.
    bobs = await database_sync_to_async(Conversation.objects.create)(owner=bob)
    fake_upstream.default_script = None
    frames, turn = await run_turn(ws_for, bob, bobs)
    assert frames[-1]["type"] == "turn.completed"
    fake_upstream.default_script = chat_stream(**slow)

    # One stops: alice may start again; the stopped turn keeps its partial.
    while (await sockets[0].receive_json_from())["type"] != "reasoning.delta":
        pass
    await sockets[0].send_json_to({"type": "stop", "turn": started[0]["turn"]})
    frames = await collect_turn(sockets[0])
    assert frames[-1]["type"] == "turn.stopped"
    fake_upstream.default_script = None
    await sockets[2].send_json_to({"type": "user_message", "content": "third", "model": MODEL})
    frames = await collect_turn(sockets[2])
    assert frames[0]["type"] == "turn.started" and frames[-1]["type"] == "turn.completed"
    await sockets[1].send_json_to({"type": "stop", "turn": started[1]["turn"]})
    await collect_turn(sockets[1])
    stopped = await database_sync_to_async(Turn.objects.get)(id=started[0]["turn"])
    assert stopped.status == Turn.Status.STOPPED and stopped.reasoning_content.startswith("r0 ")
    for ws in sockets:
        await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_messages_per_minute(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings, monkeypatch
):
    settings.CHAT_MESSAGES_PER_MINUTE = 2
    now = _frozen(limits, monkeypatch, 1_800_000_000.0 + 15)  # 15 s into a minute
    for _ in range(2):
        frames, _turn = await run_turn(ws_for, alice, conversation)
        assert frames[-1]["type"] == "turn.completed"

    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "third", "model": MODEL})
    error = await ws.receive_json_from()
    assert error["type"] == "error" and error["code"] == "too_many_messages"
    assert error["retry_after"] == 45
    assert error["message"] == (
        "You have sent 2 messages in the last minute, the most allowed. "
        "Try again in 45 seconds; your message is still in the box."
    )
    # A regeneration is a message too.
    last = await database_sync_to_async(
        lambda: Turn.objects.filter(conversation=conversation, role="assistant").last()
    )()
    await ws.send_json_to({"type": "regenerate", "turn": str(last.id)})
    assert (await ws.receive_json_from())["code"] == "too_many_messages"
    turns = await database_sync_to_async(
        lambda: Turn.objects.filter(conversation=conversation).count()
    )()
    assert turns == 4  # two exchanges kept; nothing written for the refused ones

    # The next minute: allowed again.
    now[0] += 45
    await ws.send_json_to({"type": "user_message", "content": "later", "model": MODEL})
    frames = await collect_turn(ws)
    assert frames[-1]["type"] == "turn.completed"
    await ws.disconnect()


def test_a_limit_of_zero_is_off(settings, alice, monkeypatch, db):
    from accounts.admission import Reservation, admit

    settings.CHAT_MAX_RUNNING_TURNS_PER_USER = 0
    settings.CHAT_MESSAGES_PER_MINUTE = 0
    for _ in range(50):
        admit(alice, str(uuid.uuid4()), None)
    assert not Reservation.objects.exists()  # nothing to decide: nothing held


# --- sign-in -------------------------------------------------------------------------


def _login(client: Client, username: str, password: str, path: str = "/accounts/login/", **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


LOCKED = "Too many failed sign-ins; try again in"


@pytest.mark.django_db
def test_failed_sign_ins_are_throttled(alice, monkeypatch):
    from accounts import throttle

    now = _frozen(throttle, monkeypatch, 1_800_000_000.0)
    client = Client()
    for _ in range(5):
        page = _login(client, "alice", "wrong").content.decode()
        assert "Your username and password didn't match." in page
    # Locked now, even with the right password.
    resp = _login(client, "alice", "alice-pass-123")
    page = resp.content.decode()
    assert resp.status_code == 200
    assert "Too many failed sign-ins; try again in 15 minutes." in page
    assert "didn't match" not in page
    assert "_auth_user_id" not in client.session
    now[0] += 9 * 60 + 30
    assert "try again in 6 minutes." in _login(client, "alice", "alice-pass-123").content.decode()

    # The username is locked from any address (tests/test_throttle.py); another
    # username from this address is not.
    assert LOCKED in _login(Client(REMOTE_ADDR="10.1.2.3"), "alice", "x").content.decode()
    assert "didn't match" in _login(Client(), "bob", "wrong").content.decode()

    # After the window, the right password works; a success forgets the failures.
    now[0] += 6 * 60
    resp = _login(client, "alice", "alice-pass-123")
    assert resp.status_code == 302
    client.logout()
    for _ in range(4):
        _login(client, "alice", "wrong")
    assert _login(client, "alice", "alice-pass-123").status_code == 302


@pytest.mark.django_db
def test_the_admin_sign_in_is_throttled_too(admin_user):
    client = Client()
    for _ in range(5):
        assert _login(client, "admin", "wrong", "/admin/login/").status_code == 200
    resp = _login(client, "admin", "password", "/admin/login/")
    assert resp.status_code == 200
    assert "Too many failed sign-ins; try again in 15 minutes." in resp.content.decode()
    assert _login(Client(), "someone-else", "password", "/admin/login/").status_code == 200
