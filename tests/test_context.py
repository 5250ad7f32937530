"""Reasoning is never replayed: the context builder, on every API style, against the fake's 400."""

from __future__ import annotations

import json

import pytest
from channels.db import database_sync_to_async

from conversations.context import build_context
from conversations.models import Turn
from providers.fake_upstream import chat_stream, responses_stream
from providers.wire import Message
from tests.helpers import run_turn

STYLES = {
    "chat-completions": ("fake/fake-r1", chat_stream),
    "responses": ("fake-resp/fake-r1", responses_stream),
}


def _sent_messages(style: str, body: dict) -> list[dict]:
    return body["messages"] if style == "chat-completions" else body["input"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("style", STYLES)
async def test_multi_turn_context_never_carries_reasoning(
    style, ws_for, alice, conversation, fake_upstream, chat_provider, responses_provider
):
    model, stream = STYLES[style]
    for i in range(3):
        fake_upstream.enqueue(
            stream(reasoning=[f"secret thought {i} ", "<think>"], content=[f"answer {i}"])
        )
        frames, _ = await run_turn(
            ws_for, alice, conversation, content=f"question {i}", model=model
        )
        assert frames[-1]["type"] == "turn.completed", frames[-1]

    assert len(fake_upstream.requests) == 3
    last = _sent_messages(style, fake_upstream.requests[-1].json)
    assert last == [
        {"role": "user", "content": "question 0"},
        {"role": "assistant", "content": "answer 0"},
        {"role": "user", "content": "question 1"},
        {"role": "assistant", "content": "answer 1"},
        {"role": "user", "content": "question 2"},
    ]
    for recorded in fake_upstream.requests:
        assert "secret thought" not in json.dumps(recorded.json)
    stored = await database_sync_to_async(
        lambda: list(
            Turn.objects.filter(conversation=conversation, role="assistant").values_list(
                "reasoning_content", flat=True
            )
        )
    )()
    assert all(r.startswith("secret thought") for r in stored)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
@pytest.mark.parametrize("style", STYLES)
async def test_the_fake_upstream_rejects_replayed_reasoning(
    style,
    ws_for,
    alice,
    conversation,
    fake_upstream,
    chat_provider,
    responses_provider,
    monkeypatch,
):
    """The guard above is only as good as the fake's 400: show it fires if reasoning leaks."""
    model, stream = STYLES[style]
    from conversations import plans

    def leaky(turns):  # what a careless builder would do
        out = []
        for t in turns:
            if t.status == Turn.Status.STREAMING:
                continue
            out.append(
                {"role": t.role, "content": t.content, "reasoning_content": t.reasoning_content}
            )
        return out

    from providers.clients import chat_completions, responses

    fake_upstream.enqueue(stream(reasoning=["thinking"], content=["first answer"]))
    frames, _ = await run_turn(ws_for, alice, conversation, content="one", model=model)
    assert frames[-1]["type"] == "turn.completed"

    turns_holder: dict = {}
    original = plans.build_context

    def capture(turns, **inputs):
        turns = list(turns)
        # Here, on the database thread: the builder reads only what it needs, so
        # a leaky one would load the reasoning from the database.
        turns_holder["leaky"] = leaky(turns)
        return original(turns, **inputs)

    monkeypatch.setattr(plans, "build_context", capture)
    client_cls = (
        chat_completions.ChatCompletionsClient
        if style == "chat-completions"
        else responses.ResponsesClient
    )
    original_payload = client_cls.payload

    def leaky_payload(self, req):
        body = original_payload(self, req)
        key = "messages" if style == "chat-completions" else "input"
        body[key] = turns_holder["leaky"]
        return body

    monkeypatch.setattr(client_cls, "payload", leaky_payload)
    fake_upstream.enqueue(stream(reasoning=["x"], content=["never served"]))
    frames, turn = await run_turn(ws_for, alice, conversation, content="two", model=model)
    assert frames[-1]["type"] == "turn.failed"
    assert frames[-1]["error"]["code"] == "bad_request"
    assert "reasoning" in turn.error["detail"]  # the fake's 400 (for staff)


def _turn(role: str, content: str, status: str = "completed", reasoning: str = "") -> Turn:
    return Turn(role=role, content=content, status=status, reasoning_content=reasoning)


def test_build_context_unit_rules():
    turns = [
        _turn("user", "q1"),
        _turn("assistant", "a1", reasoning="r1"),
        _turn("user", "q2"),
        _turn("assistant", "", status="failed", reasoning="half a thought"),  # nothing answered
        _turn("user", "q3"),
        _turn("assistant", "partial", status="stopped", reasoning="r3"),  # what the user saw stays
        _turn("user", "q4"),
        _turn("assistant", "", status="streaming"),  # the turn being generated
    ]
    assert build_context(turns) == [
        Message("user", "q1"),
        Message("assistant", "a1"),
        Message("user", "q3"),
        Message("assistant", "partial"),
        Message("user", "q4"),
    ]
    with pytest.raises(ValueError):
        build_context([_turn("user", "q"), _turn("assistant", "a")])
