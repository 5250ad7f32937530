"""The context a trace page shows is what the upstream received for that turn:
rebuilt from the tree after a regeneration and a follow-up, on the real stack."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from conversations.review import export, traces
from conversations.review.visibility import visible_turns
from providers.fake_upstream import chat_stream
from tests.helpers import collect_turn

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def send(ws, frame: dict) -> str:  # type: ignore[no-untyped-def]
    await ws.send_json_to(frame)
    frames = await collect_turn(ws)
    assert frames[-1]["type"] == "turn.completed", frames[-1]
    return frames[0]["turn"]


def shown(alice, turn_id: str) -> tuple[list[dict], list[dict]]:  # type: ignore[no-untyped-def]
    turn = visible_turns(alice).get(pk=turn_id)
    page = [{"role": m.role, "content": m.content} for m in traces.contexts([turn])[turn.id]]
    [line] = [r for r in export.records(visible_turns(alice), staff=False) if r["turn"] == turn_id]
    return page, line["messages"]


async def test_context_shown_equals_what_the_upstream_received(
    ws_for, alice, conversation, chat_provider, fake_upstream
):  # type: ignore[no-untyped-def]
    ws = await ws_for(alice, conversation.id)
    assert (await ws.connect())[0]
    try:
        received: dict[str, list[dict]] = {}
        model = "fake/fake-r1"
        for i, frame in enumerate(
            [
                {"type": "user_message", "content": "q0", "model": model},
                {"type": "user_message", "content": "q1", "model": model},
            ]
        ):
            fake_upstream.enqueue(chat_stream(reasoning=[f"thought {i}"], content=[f"answer {i}"]))
            turn = await send(ws, frame)
            received[turn] = fake_upstream.requests[-1].json["messages"]
        fake_upstream.enqueue(chat_stream(reasoning=["again"], content=["answer 1 bis"]))
        turn = await send(ws, {"type": "regenerate", "turn": turn})
        received[turn] = fake_upstream.requests[-1].json["messages"]
    finally:
        await ws.disconnect()
    for turn_id, messages in received.items():
        page, line = await database_sync_to_async(shown)(alice, turn_id)
        assert page == line == messages
        assert "thought" not in json.dumps(page)
