"""Branching: regenerate adds a sibling answer, edit-and-resend a sibling question.
The context sent upstream is the chosen path only, on both API styles: no sibling,
no other branch, no reasoning."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from conversations.models import Turn
from providers.fake_upstream import chat_stream, responses_stream
from tests.helpers import collect_turn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

STYLES = {
    "chat-completions": ("fake/fake-r1", chat_stream),
    "responses": ("fake-resp/fake-r1", responses_stream),
}


def sent(style: str, recorded) -> list[dict]:
    body = recorded.json
    return body["messages"] if style == "chat-completions" else body["input"]


async def send(ws, frame: dict) -> list[dict]:
    await ws.send_json_to(frame)
    frames = await collect_turn(ws)
    assert frames[-1]["type"] == "turn.completed", frames[-1]
    return frames


async def tree(conversation) -> dict[str, Turn]:
    rows = await database_sync_to_async(lambda: list(conversation.turns.order_by("index")))()
    return {str(t.id): t for t in rows}


@pytest.fixture
async def socket(ws_for, alice, conversation, chat_provider, responses_provider):
    ws = await ws_for(alice, conversation.id)
    connected, _ = await ws.connect()
    assert connected
    yield ws
    await ws.disconnect()


@pytest.mark.parametrize("style", STYLES)
async def test_regenerate_answers_the_same_question_from_the_same_path(
    style, socket, conversation, fake_upstream
):
    model, stream = STYLES[style]
    for i in range(2):
        fake_upstream.enqueue(stream(reasoning=[f"thought {i}"], content=[f"answer {i}"]))
        first = await send(socket, {"type": "user_message", "content": f"q{i}", "model": model})
    fake_upstream.enqueue(stream(reasoning=["thought again"], content=["answer 1 bis"]))
    again = await send(socket, {"type": "regenerate", "turn": first[0]["turn"]})

    # The new answer is a sibling: it answers the same user turn.
    assert again[0]["user_turn"] == first[0]["user_turn"]
    turns = await tree(conversation)
    old, new = turns[first[0]["turn"]], turns[again[0]["turn"]]
    assert new.parent_id == old.parent_id and str(new.parent_id) == first[0]["user_turn"]
    assert (new.content, new.model) == ("answer 1 bis", model)
    # Its context is the path to that question: not the answer it replaces.
    assert sent(style, fake_upstream.requests[-1]) == [
        {"role": "user", "content": "q0"},
        {"role": "assistant", "content": "answer 0"},
        {"role": "user", "content": "q1"},
    ]
    assert "thought" not in json.dumps(fake_upstream.requests[-1].json)
    assert len(turns) == 5  # two questions, three answers


@pytest.mark.parametrize("style", STYLES)
async def test_edit_and_resend_continues_from_the_edit_and_keeps_the_old_branch(
    style, socket, conversation, fake_upstream
):
    model, stream = STYLES[style]
    frames = []
    for i in range(3):
        fake_upstream.enqueue(stream(reasoning=[f"thought {i}"], content=[f"answer {i}"]))
        frames.append(
            await send(socket, {"type": "user_message", "content": f"q{i}", "model": model})
        )
    turns = await tree(conversation)
    edited = turns[frames[1][0]["user_turn"]]  # edit q1: follow q1's own parent
    fake_upstream.enqueue(stream(reasoning=["new thought"], content=["answer 1 edited"]))
    await send(
        socket,
        {
            "type": "user_message",
            "content": "q1 edited",
            "model": model,
            "parent": str(edited.parent_id),
        },
    )
    assert sent(style, fake_upstream.requests[-1]) == [
        {"role": "user", "content": "q0"},
        {"role": "assistant", "content": "answer 0"},
        {"role": "user", "content": "q1 edited"},
    ]
    # Without a parent, the next message follows the active branch: the edit's.
    fake_upstream.enqueue(stream(reasoning=["t"], content=["answer 3"]))
    await send(socket, {"type": "user_message", "content": "q3", "model": model})
    assert sent(style, fake_upstream.requests[-1]) == [
        {"role": "user", "content": "q0"},
        {"role": "assistant", "content": "answer 0"},
        {"role": "user", "content": "q1 edited"},
        {"role": "assistant", "content": "answer 1 edited"},
        {"role": "user", "content": "q3"},
    ]
    for recorded in fake_upstream.requests:
        assert "thought" not in json.dumps(recorded.json)
    # The old branch stays: q1 and its descendants are still there.
    turns = await tree(conversation)
    assert {t.content for t in turns.values() if t.role == "user"} == {
        "q0",
        "q1",
        "q2",
        "q1 edited",
        "q3",
    }
    siblings = [t for t in turns.values() if t.parent_id == edited.parent_id]
    assert sorted(t.content for t in siblings) == ["q1", "q1 edited"]


async def test_parent_null_starts_again_from_the_root(socket, conversation, fake_upstream):
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["a0"]))
    await send(socket, {"type": "user_message", "content": "q0", "model": "fake/fake-r1"})
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["a1"]))
    frames = await send(
        socket,
        {"type": "user_message", "content": "fresh", "model": "fake/fake-r1", "parent": None},
    )
    assert sent("chat-completions", fake_upstream.requests[-1]) == [
        {"role": "user", "content": "fresh"}
    ]
    turns = await tree(conversation)
    assert turns[frames[0]["user_turn"]].parent_id is None


async def test_the_api_gives_every_turn_of_the_tree_with_its_parent(
    socket, alice, conversation, fake_upstream, client
):
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["a"]))
    first = await send(socket, {"type": "user_message", "content": "q", "model": "fake/fake-r1"})
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["b"]))
    again = await send(socket, {"type": "regenerate", "turn": first[0]["turn"]})

    def fetch():
        client.force_login(alice)
        return client.get(f"/api/conversations/{conversation.id}/").json()

    body = await database_sync_to_async(fetch)()
    parents = {t["id"]: t["parent"] for t in body["turns"]}
    assert parents == {
        first[0]["user_turn"]: None,
        first[0]["turn"]: first[0]["user_turn"],
        again[0]["turn"]: first[0]["user_turn"],
    }


async def test_bad_regenerate_and_parent_frames_are_refused(
    socket, ws_for, bob, conversation, fake_upstream
):
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["a"]))
    first = await send(socket, {"type": "user_message", "content": "q", "model": "fake/fake-r1"})
    other_conversation = await database_sync_to_async(
        lambda: bob.conversations.create(title="bob's")
    )()
    bob_ws = await ws_for(bob, other_conversation.id)
    await bob_ws.connect()
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["b"]))
    bobs = await send(
        bob_ws, {"type": "user_message", "content": "bob asks", "model": "fake/fake-r1"}
    )
    await bob_ws.disconnect()

    cases = [
        ({"type": "regenerate", "turn": first[0]["user_turn"]}, "not_found"),  # a user turn
        ({"type": "regenerate", "turn": bobs[0]["turn"]}, "not_found"),  # another's turn
        ({"type": "regenerate", "turn": "nope"}, "bad_frame"),
        ({"type": "regenerate"}, "bad_frame"),
        (
            {"type": "user_message", "content": "x", "model": "fake/fake-r1", "parent": 5},
            "bad_frame",
        ),
        (
            {
                "type": "user_message",
                "content": "x",
                "model": "fake/fake-r1",
                "parent": first[0]["user_turn"],  # must follow an assistant turn
            },
            "not_found",
        ),
        (
            {
                "type": "user_message",
                "content": "x",
                "model": "fake/fake-r1",
                "parent": bobs[0]["turn"],
            },
            "not_found",
        ),
        ({"type": "regenerate", "turn": first[0]["turn"], "model": "fake/nope"}, "invalid_model"),
    ]
    requests = len(fake_upstream.requests)
    for frame, code in cases:
        await socket.send_json_to(frame)
        reply = await socket.receive_json_from()
        assert (reply["type"], reply["code"]) == ("error", code), (frame, reply)
    assert len(fake_upstream.requests) == requests  # nothing reached the upstream


async def test_regenerate_while_a_turn_runs_is_busy(socket, fake_upstream):
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["a"]))
    first = await send(socket, {"type": "user_message", "content": "q", "model": "fake/fake-r1"})
    fake_upstream.enqueue(chat_stream(reasoning=["slow "] * 50, content=["b"], delay=0.05))
    await socket.send_json_to({"type": "regenerate", "turn": first[0]["turn"]})
    started = await socket.receive_json_from()
    assert started["type"] == "turn.started"
    await socket.send_json_to({"type": "regenerate", "turn": first[0]["turn"]})
    while True:
        frame = await socket.receive_json_from()
        if frame["type"] == "error":
            assert frame["code"] == "busy"
            break
    await socket.send_json_to({"type": "stop", "turn": started["turn"]})
    frames = await collect_turn(socket)
    assert frames[-1]["type"] == "turn.stopped"
