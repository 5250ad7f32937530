"""Failover between a provider's keys, before the first token only, against the fake upstream.

401/403 marks the key refused (kept, disabled, with the reason) and the turn goes
on with the next key; 429 waits the provider's Retry-After (bounded) and moves to
the next key; 5xx is retried on the same key; nothing is retried after a token.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import translation

from conversations.models import Turn
from providers.fake_upstream import chat_stream, error_response
from providers.models import ApiKey
from tests.conftest import TEST_API_KEY
from tests.helpers import collect_turn, connect, run_turn, texts

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]

WRONG = "sk-wrong-aaaaaaaaaaaa1111"
ALSO_WRONG = "sk-wrong-bbbbbbbbbbbb2222"

STYLES = ["chat", "responses"]


@pytest.fixture(params=STYLES)
def provider(request: Any) -> Any:
    """The chat-completions or the responses provider on the fake upstream."""
    name = "chat_provider" if request.param == "chat" else "responses_provider"
    return request.getfixturevalue(name)


def model_of(provider: Any) -> str:
    return f"{provider.name}/fake-r1"


@database_sync_to_async
def keys_as(provider: Any, *keys: tuple[str, str], **fields: Any) -> None:
    """Replace the provider's keys with `(label, secret)` pairs, added in that order."""
    ApiKey.objects.filter(provider=provider).delete()
    for label, secret in keys:
        key = ApiKey(provider=provider, label=label, **fields.get(label, {}))
        key.set_secret(secret)
        key.save()


@database_sync_to_async
def key_named(provider: Any, label: str) -> ApiKey:
    return ApiKey.objects.get(provider=provider, label=label)


def bearer(request: Any) -> str:
    return str(request.headers.get("authorization", "")).removeprefix("Bearer ")


async def test_a_refused_key_is_disabled_and_the_turn_goes_on_with_the_next(
    ws_for, alice, conversation, provider, fake_upstream
):
    await keys_as(provider, ("first", WRONG), ("second", TEST_API_KEY))
    frames, turn = await run_turn(ws_for, alice, conversation, model=model_of(provider))
    assert frames[-1]["type"] == "turn.completed"
    assert turn.status == Turn.Status.COMPLETED and turn.content
    assert (turn.key_label, turn.attempts) == ("second", 2)
    assert [bearer(r) for r in fake_upstream.requests] == [WRONG, TEST_API_KEY]

    first, second = await key_named(provider, "first"), await key_named(provider, "second")
    assert not first.enabled  # kept, disabled, with why
    assert first.last_failed is not None
    assert first.failure_reason.startswith("The provider refused this key (HTTP 401) on 20")
    assert WRONG not in first.failure_reason and first.last_four not in first.failure_reason
    assert second.enabled and second.last_used is not None and second.last_failed is None
    from accounts.audit import AuditEntry

    entry = await AuditEntry.objects.aget(action="invalidated")
    assert entry.object_repr.endswith(first.masked) and entry.actor_id is None
    assert entry.detail == "HTTP 401 before the first token"

    # The next turn starts with the key that works: the refused one is out.
    frames, turn = await run_turn(ws_for, alice, conversation, model=model_of(provider))
    assert (turn.key_label, turn.attempts) == ("second", 1)
    assert len(fake_upstream.requests) == 3


async def test_403_is_a_refusal_too(ws_for, alice, conversation, chat_provider, fake_upstream):
    await keys_as(chat_provider, ("a", TEST_API_KEY), ("b", TEST_API_KEY))
    fake_upstream.enqueue(error_response(403, {"error": {"message": "Forbidden"}}))
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["type"] == "turn.completed"
    assert (turn.key_label, turn.attempts) == ("b", 2)
    a = await key_named(chat_provider, "a")
    assert not a.enabled and "(HTTP 403)" in a.failure_reason


async def test_keys_are_tried_by_priority_then_in_the_order_added(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    await keys_as(
        chat_provider,
        ("old", WRONG),
        ("new", TEST_API_KEY),
        **{"new": {"priority": -1}},
    )
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert (turn.key_label, turn.attempts) == ("new", 1)
    assert [bearer(r) for r in fake_upstream.requests] == [TEST_API_KEY]


async def test_429_waits_its_retry_after_then_moves_to_the_next_key(
    ws_for, alice, conversation, provider, fake_upstream, settings
):
    settings.UPSTREAM_RETRY_AFTER_MAX_SECONDS = 5
    await keys_as(provider, ("first", TEST_API_KEY), ("second", TEST_API_KEY))
    fake_upstream.enqueue(
        error_response(429, {"error": {"message": "Rate limit reached"}}, {"Retry-After": "1"})
    )
    started = time.monotonic()
    frames, turn = await run_turn(ws_for, alice, conversation, model=model_of(provider))
    waited = time.monotonic() - started
    assert frames[-1]["type"] == "turn.completed"
    assert (turn.key_label, turn.attempts) == ("second", 2)
    assert 1.0 <= waited < 4.0
    first = await key_named(provider, "first")
    assert first.enabled  # rate-limited is not refused
    assert first.failure_reason.startswith("The provider rate-limited this key (HTTP 429) on ")

    # For a while, this process's next turns try the rate-limited key last.
    frames, turn = await run_turn(ws_for, alice, conversation, model=model_of(provider))
    assert (turn.key_label, turn.attempts) == ("second", 1)


async def test_retry_after_is_bounded(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings
):
    settings.UPSTREAM_RETRY_AFTER_MAX_SECONDS = 0.2
    await keys_as(chat_provider, ("first", TEST_API_KEY), ("second", TEST_API_KEY))
    fake_upstream.enqueue(
        error_response(429, {"error": {"message": "slow"}}, {"Retry-After": "120"})
    )
    started = time.monotonic()
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert time.monotonic() - started < 3
    assert (turn.key_label, turn.attempts) == ("second", 2)


async def test_429_on_the_only_key_is_retried_after_retry_after(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings
):
    settings.UPSTREAM_RETRIES = 1
    fake_upstream.enqueue(error_response(429, {"error": {"message": "slow"}}, {"Retry-After": "0"}))
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["type"] == "turn.completed"
    assert (turn.key_label, turn.attempts) == ("test", 2)


async def test_503_is_retried_on_the_same_key_then_succeeds(
    ws_for, alice, conversation, provider, fake_upstream, settings
):
    settings.UPSTREAM_RETRY_BASE_SECONDS = 0.01
    await keys_as(provider, ("first", TEST_API_KEY), ("second", TEST_API_KEY))
    fake_upstream.enqueue(error_response(503, "<html>503 Service Unavailable</html>"))
    frames, turn = await run_turn(ws_for, alice, conversation, model=model_of(provider))
    assert frames[-1]["type"] == "turn.completed"
    assert (turn.key_label, turn.attempts) == ("first", 2)
    first = await key_named(provider, "first")
    assert first.enabled and first.last_failed is None  # not the key's fault


async def test_5xx_retries_are_bounded(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings
):
    settings.UPSTREAM_RETRY_BASE_SECONDS = 0.01
    settings.UPSTREAM_RETRIES = 2
    for _ in range(3):
        fake_upstream.enqueue(error_response(503, "<html>busy</html>"))
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["error"]["code"] == "upstream_unavailable"
    assert turn.attempts == 3 and len(fake_upstream.requests) == 3


async def test_nothing_is_retried_after_a_token_reached_the_person(
    ws_for, alice, conversation, provider, fake_upstream, settings
):
    settings.UPSTREAM_RETRY_BASE_SECONDS = 0.01
    await keys_as(provider, ("first", TEST_API_KEY), ("second", TEST_API_KEY))
    if provider.style == "chat-completions":
        script = chat_stream(reasoning=["one "], content=["two ", "three"], cut_after=2)
    else:
        from providers.fake_upstream import responses_stream

        script = responses_stream(reasoning=["one "], content=["two ", "three"], cut_after=2)
    fake_upstream.enqueue(script)
    frames, turn = await run_turn(ws_for, alice, conversation, model=model_of(provider))
    assert frames[-1]["type"] == "turn.failed" and frames[-1]["error"]["code"] == "cut"
    assert len(fake_upstream.requests) == 1
    assert turn.status == Turn.Status.INCOMPLETE
    assert (turn.key_label, turn.attempts) == ("first", 1)
    assert texts(frames) == ("one ", "two ")


async def test_when_every_key_is_refused_the_turn_fails_clearly(
    ws_for, alice, conversation, provider, fake_upstream
):
    from providers.wire import AUTH

    await keys_as(provider, ("first", WRONG), ("second", ALSO_WRONG))
    frames, turn = await run_turn(ws_for, alice, conversation, model=model_of(provider))
    failed = frames[-1]
    assert failed["type"] == "turn.failed"
    with translation.override("en"):
        assert failed["error"] == {"code": "auth", "message": str(AUTH)}
    assert turn.status == Turn.Status.FAILED
    assert (turn.key_label, turn.attempts) == ("second", 2)
    for label in ("first", "second"):
        key = await key_named(provider, label)
        assert not key.enabled and "refused this key" in key.failure_reason

    # With no key left, the next message is refused before any upstream call.
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": model_of(provider)})
    error = await ws.receive_json_from(timeout=5)
    await ws.disconnect()
    assert error["type"] == "error" and error["code"] == "invalid_model"
    assert len(fake_upstream.requests) == 2


async def test_a_key_disabled_in_the_admin_is_skipped_at_once(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    from providers.keys import set_enabled

    await keys_as(chat_provider, ("first", WRONG), ("second", TEST_API_KEY))
    await run_turn(ws_for, alice, conversation)  # the catalogue now holds both keys
    await database_sync_to_async(set_enabled)(ApiKey.objects.filter(label="second"), False)
    await database_sync_to_async(set_enabled)(ApiKey.objects.filter(label="first"), True)
    fake_upstream.reset()
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "again", "model": "fake/fake-r1"})
    frames = await collect_turn(ws)
    await ws.disconnect()
    # Only "first" is enabled now, and it is refused: no request used "second".
    assert [bearer(r) for r in fake_upstream.requests] == [WRONG]
    assert frames[-1]["error"]["code"] == "auth"


def staff_view(user: Any, conversation_id: Any, staff: bool) -> dict[str, Any]:
    user.is_staff = staff
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    return client.get(f"/api/conversations/{conversation_id}/").json()


async def test_the_key_label_and_attempts_are_for_staff_only(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    await keys_as(chat_provider, ("first", WRONG), ("second", TEST_API_KEY))
    _frames, turn = await run_turn(ws_for, alice, conversation)
    data = await database_sync_to_async(staff_view)(alice, conversation.id, False)
    answer = next(t for t in data["turns"] if t["id"] == str(turn.id))
    assert "key_label" not in answer and "attempts" not in answer
    data = await database_sync_to_async(staff_view)(alice, conversation.id, True)
    answer = next(t for t in data["turns"] if t["id"] == str(turn.id))
    assert (answer["key_label"], answer["attempts"]) == ("second", 2)
    assert TEST_API_KEY not in str(data) and WRONG not in str(data)
