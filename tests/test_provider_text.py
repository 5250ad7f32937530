"""A provider's own error text (an internal page, a gateway's message) is for staff:
people read the status and a plain explanation; the trace page, the admin and the
log keep the provider's words for staff."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from conversations.errors import public_error
from conversations.models import Conversation, Turn
from providers.fake_upstream import error_response
from providers.fake_upstream.frames import Script, sse
from tests.helpers import run_turn

SECRET_PAGE = "Internal wiki: db-primary.corp at 10.0.0.3, admin password in vault/7"


def _said(status: int) -> Script:
    return error_response(status, {"error": {"message": SECRET_PAGE, "code": "internal"}})


def _mid_stream() -> Script:
    return Script(frames=[(0.0, sse({"error": {"message": SECRET_PAGE, "code": "x"}}))])


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("script", "message"),
    [
        (
            _said(400),
            "The provider refused the request (HTTP 400). Try other options or another model.",
        ),
        (_said(500), "The provider had a problem (HTTP 500). Try again in a moment."),
        (
            _said(418),
            "The provider answered with an error (HTTP 418). "
            "Try again; if it keeps happening, tell an admin.",
        ),
        (_mid_stream(), "The provider could not finish the answer. Try again in a moment."),
    ],
)
async def test_people_read_the_status_and_plain_words_only(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings, script, message
):
    settings.UPSTREAM_RETRIES = 0
    fake_upstream.enqueue(script)
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["error"]["message"] == message
    assert SECRET_PAGE not in json.dumps(frames)
    assert turn.error["message"] == message
    assert SECRET_PAGE in turn.error["detail"]  # kept for staff


@pytest.mark.django_db
def test_only_staff_read_the_providers_words_on_every_page(alice, admin_user):
    conversation = Conversation.objects.create(owner=alice)
    user_turn = Turn.objects.create(
        conversation=conversation, index=0, role="user", content="q", status="completed"
    )
    turn = Turn.objects.create(
        conversation=conversation,
        index=1,
        parent=user_turn,
        role="assistant",
        status="failed",
        model="fake/fake-r1",
        error={
            "code": "bad_request",
            "message": "The provider refused the request (HTTP 400). "
            "Try other options or another model.",
            "detail": f"HTTP 400: {SECRET_PAGE}",
        },
    )
    owner = _client(alice)
    for url in (
        f"/api/conversations/{conversation.id}/",
        f"/review/{turn.id}/",
        "/review/",
        "/review/export.jsonl",
        "/review/export.md",
    ):
        resp = owner.get(url)
        body = b"".join(resp.streaming_content) if resp.streaming else resp.content
        assert resp.status_code == 200, url
        assert SECRET_PAGE.encode() not in body, url
    staff = _client(admin_user)
    assert SECRET_PAGE in staff.get(f"/review/{turn.id}/").content.decode()
    page = staff.get(
        f"/admin/conversations/conversation/{conversation.id}/change/"
    ).content.decode()
    assert SECRET_PAGE in page


# Sentences stored before the provider's words were kept apart: shown to people
# without those words.
LEGACY = [
    (
        "The provider refused the request: " + SECRET_PAGE,
        "The provider refused the request. Try other options or another model.",
    ),
    (
        "The provider answered with an error (HTTP 418): " + SECRET_PAGE,
        "The provider answered with an error (HTTP 418). "
        "Try again; if it keeps happening, tell an admin.",
    ),
    (
        "The provider had a problem (HTTP 502). Try again in a moment. "
        "The provider said: " + SECRET_PAGE,
        "The provider had a problem (HTTP 502). Try again in a moment.",
    ),
    (
        "The provider stopped with an error: " + SECRET_PAGE,
        "The provider could not finish the answer. Try again in a moment.",
    ),
]


@pytest.mark.parametrize(("stored", "shown"), LEGACY)
def test_legacy_messages_lose_the_providers_words(stored, shown):
    error = {"code": "bad_request", "message": stored, "detail": "HTTP 400: x"}
    assert public_error(error, staff=False) == {"code": "bad_request", "message": shown}
    assert public_error(error, staff=True) == error


@pytest.mark.django_db
def test_the_api_shows_a_legacy_message_without_the_words(alice):
    conversation = Conversation.objects.create(owner=alice)
    Turn.objects.create(
        conversation=conversation,
        index=0,
        role="assistant",
        status="failed",
        error={"code": "bad_request", "message": LEGACY[0][0], "detail": "HTTP 400: x"},
    )
    data = _client(alice).get(f"/api/conversations/{conversation.id}/").json()
    assert data["turns"][0]["error"] == {"code": "bad_request", "message": LEGACY[0][1]}
