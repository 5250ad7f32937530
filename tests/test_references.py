"""Ark web-search bots' references: parsed by the client, sent once as `turn.references`
(with its seq, replayed on resume), stored with the turn as sent, given by the API and
the review export, and never sent back to a model."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from channels.db import database_sync_to_async
from django.test import Client

from conversations.models import Turn
from providers.clients import (
    BotUsage,
    ChatCompletionsClient,
    ClientConfig,
    Done,
    Message,
    ReasoningDelta,
    References,
    StreamRequest,
    Usage,
)
from providers.clients.http import new_session
from providers.fake_upstream import FakeUpstream, Script, chat_stream, sse
from providers.wire import REFERENCE_KEYS, reference_items
from tests.conftest import TEST_API_KEY
from tests.helpers import assert_contiguous, collect_turn, connect, run_turn, texts, wait_for

REFERENCES: list[dict[str, Any]] = [
    {
        "title": "Beijing weather today",
        "url": "https://weather.example.com/beijing",
        "site_name": "Weather Example",
        "summary": "Sunny, 25 °C.",
        "publish_time": "2026-01-15 09:30:00",
        "logo_url": "https://weather.example.com/logo.png",
        "doc_id": "doc-1",
    },
    # Only a title and a URL that must never be a link: the rest filled with null.
    {"title": "Click me", "url": "javascript:alert(1)"},
    {"title": "<img src=x onerror=alert(1)>", "url": "http://news.example.org/a?b=1"},
]
BOT_USAGE = {
    "model_usage": [{"name": "deepseek-r1", "prompt_tokens": 10, "total_tokens": 30}],
    "action_usage": [{"name": "content_plugin", "count": 1}],
}


def expected(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**{key: None for key in REFERENCE_KEYS}, **item} for item in items]


# --- the client ---------------------------------------------------------------------


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with new_session(idle_timeout=5.0) as session:
        yield session


async def stream_events(fake: FakeUpstream, http: aiohttp.ClientSession) -> list[Any]:
    client = ChatCompletionsClient(ClientConfig(fake.base_url, TEST_API_KEY), http)
    request = StreamRequest(model="bot-123", messages=[Message("user", "Weather?")])
    return [event async for event in client.stream(request)]


@pytest.mark.asyncio
async def test_client_yields_the_first_references_once_and_the_bot_usage(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    # The fake sends the references on the first chunk and again on the last one.
    fake_upstream.enqueue(chat_stream(references=REFERENCES, bot_usage=BOT_USAGE))
    events = await stream_events(fake_upstream, http)
    refs = [e for e in events if isinstance(e, References)]
    assert refs == [References(expected(REFERENCES))]
    assert [e for e in events if isinstance(e, BotUsage)] == [BotUsage(BOT_USAGE)]
    first_token = min(i for i, e in enumerate(events) if isinstance(e, ReasoningDelta))
    assert events.index(refs[0]) < first_token
    assert isinstance(events[-1], Done) and any(isinstance(e, Usage) for e in events)


@pytest.mark.asyncio
async def test_client_without_references_yields_none(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    fake_upstream.enqueue(chat_stream())
    events = await stream_events(fake_upstream, http)
    assert not [e for e in events if isinstance(e, References | BotUsage)]


@pytest.mark.asyncio
async def test_client_skips_empty_references_and_keeps_the_first_non_empty(
    fake_upstream: FakeUpstream, http: aiohttp.ClientSession
) -> None:
    def chunk(extra: dict[str, Any], delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return sse({"id": "x", "object": "chat.completion.chunk", "choices": [choice], **extra})

    fake_upstream.enqueue(
        Script(
            frames=[
                (0.0, chunk({"references": []}, {"role": "assistant", "content": ""})),
                (0.0, chunk({"references": ["junk", 3]}, {"content": "A"})),
                (0.0, chunk({"references": [{"title": "one"}]}, {"content": "B"})),
                (0.0, chunk({"references": [{"title": "two"}]}, {"content": ""}, "stop")),
                (0.0, b"data: [DONE]\n\n"),
            ]
        )
    )
    events = await stream_events(fake_upstream, http)
    assert [e for e in events if isinstance(e, References)] == [
        References(expected([{"title": "one"}]))
    ]


def test_reference_items_fill_missing_keys_and_drop_what_is_not_an_object() -> None:
    items = reference_items(
        [{"title": 3, "url": None, "publish_time": 1760000000, "summary": ["x"]}, "no", None]
    )
    assert items == [
        {
            "title": "3",
            "url": None,
            "site_name": None,
            "summary": None,
            "publish_time": 1760000000,
        }
    ]
    assert reference_items({"title": "not a list"}) == []
    assert len(reference_items([{"title": str(i)} for i in range(500)])) == 50


# --- the socket, the stored turn and the API ---------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_turn_references_event_is_sent_stored_and_in_the_api(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.enqueue(
        chat_stream(
            reasoning=["Searching. "],
            content=["Sunny."],
            references=REFERENCES,
            bot_usage=BOT_USAGE,
        )
    )
    frames, turn = await run_turn(ws_for, alice, conversation, content="Weather?")
    assert_contiguous(frames)
    assert frames[-1]["type"] == "turn.completed"
    refs = [f for f in frames if f["type"] == "turn.references"]
    assert len(refs) == 1  # sent once, though the stream repeated them
    event = refs[0]
    assert event["turn"] == frames[0]["turn"] and isinstance(event["seq"], int)
    assert event["items"] == expected(REFERENCES)
    # They arrived before the first token: their event comes before the deltas.
    assert [f["type"] for f in frames].index("turn.references") == 1
    assert texts(frames) == ("Searching. ", "Sunny.")

    # Stored as sent, the non-http URL kept (the page never links it).
    assert turn.references == event["items"]
    assert turn.references[1]["url"] == "javascript:alert(1)"
    assert turn.bot_usage == BOT_USAGE

    def api() -> dict[str, Any]:
        client = Client()
        client.force_login(alice)
        return client.get(f"/api/conversations/{conversation.id}/").json()

    data = await database_sync_to_async(api)()
    assistant = [t for t in data["turns"] if t["role"] == "assistant"][0]
    assert assistant["references"] == event["items"]
    assert assistant["bot_usage"] == BOT_USAGE
    user = [t for t in data["turns"] if t["role"] == "user"][0]
    assert user["references"] is None and user["bot_usage"] is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_a_turn_without_references_stores_null(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.enqueue(chat_stream())
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert not [f for f in frames if f["type"] == "turn.references"]
    assert turn.references is None and turn.bot_usage is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_resume_replays_the_references_event(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.enqueue(
        chat_stream(
            reasoning=[f"r{i} " for i in range(10)],
            content=[f"c{i} " for i in range(5)],
            references=REFERENCES,
            delay=0.05,
        )
    )
    first = await connect(ws_for, alice, conversation.id)
    await first.send_json_to({"type": "user_message", "content": "hi", "model": "fake/fake-r1"})
    started = await first.receive_json_from()
    seen = [started]
    while not any(f["type"] == "turn.references" for f in seen):
        seen.append(await first.receive_json_from(timeout=5))
    await first.disconnect()

    # A late socket, from before the references event: it gets it from the log.
    late = await connect(ws_for, alice, conversation.id)
    await late.send_json_to({"type": "resume", "turn": started["turn"], "after_seq": 1})
    frames = await collect_turn(late)
    await late.disconnect()
    assert_contiguous(frames, start=2)
    [event] = [f for f in frames if f["type"] == "turn.references"]
    assert event == next(f for f in seen if f["type"] == "turn.references")
    assert event["items"] == expected(REFERENCES)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_snapshot_of_an_ended_turn_has_its_references(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    from conversations.live.runner import RUNNERS
    from conversations.live.turnlog import get_turn_log

    fake_upstream.enqueue(chat_stream(references=REFERENCES))
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": "fake/fake-r1"})
    frames = await collect_turn(ws)
    turn_id = frames[0]["turn"]

    async def runner_done() -> bool | None:  # its last log writes follow the terminal frame
        return turn_id not in RUNNERS or None

    await wait_for(runner_done, within=5)
    log = get_turn_log()
    if hasattr(log, "_logs"):
        log._logs.pop(turn_id, None)
    else:
        await log._redis().delete(log.key(turn_id))
    await ws.send_json_to({"type": "resume", "turn": turn_id, "after_seq": 0})
    snap = await ws.receive_json_from()
    await ws.disconnect()
    assert snap["type"] == "turn.snapshot" and snap["status"] == "completed"
    assert snap["references"] == expected(REFERENCES)


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_references_never_go_back_to_a_model(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.enqueue(
        chat_stream(content=["first answer"], references=REFERENCES, bot_usage=BOT_USAGE)
    )
    frames, turn = await run_turn(ws_for, alice, conversation, content="question 1")
    assert turn.references
    fake_upstream.enqueue(chat_stream(content=["second answer"]))
    frames, _ = await run_turn(ws_for, alice, conversation, content="question 2")
    assert frames[-1]["type"] == "turn.completed"
    sent = fake_upstream.requests[-1].json
    assert sent["messages"] == [
        {"role": "user", "content": "question 1"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "question 2"},
    ]
    body = json.dumps(sent)
    for needle in ("weather.example.com", "Beijing weather", "javascript:", "content_plugin"):
        assert needle not in body


@pytest.mark.django_db
def test_context_builder_reads_content_only(alice, conversation):
    from conversations.context import build_context

    turns = [
        Turn(conversation=conversation, index=0, role="user", content="Q", status="completed"),
        Turn(
            conversation=conversation,
            index=1,
            role="assistant",
            content="A",
            reasoning_content="thought",
            status="completed",
            references=expected(REFERENCES),
            bot_usage=BOT_USAGE,
        ),
        Turn(conversation=conversation, index=2, role="user", content="Q2", status="completed"),
    ]
    messages = build_context(turns)
    assert [(m.role, m.content) for m in messages] == [
        ("user", "Q"),
        ("assistant", "A"),
        ("user", "Q2"),
    ]
    assert "example" not in repr(messages)


@pytest.mark.django_db
def test_review_export_gives_the_turns_references(alice, conversation):
    from conversations.review.export import records

    Turn.objects.create(
        conversation=conversation, index=0, role="user", content="Q", status="completed"
    )
    Turn.objects.create(
        conversation=conversation,
        index=1,
        role="assistant",
        content="A",
        status="completed",
        model="fake/fake-r1",
        references=expected(REFERENCES),
    )
    [line] = list(records(Turn.objects.filter(role="assistant"), staff=True))
    assert line["references"] == expected(REFERENCES)
