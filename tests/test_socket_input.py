"""Hostile frames get an `error` frame and leave the socket open; the handshake's
Origin must be one of the site's own (scheme, host and port)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from conversations.models import Turn
from providers.fake_upstream import chat_stream
from tests.helpers import MODEL, collect_turn, connect

pytestmark = pytest.mark.django_db(transaction=True)

DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ('{"type": ["user_message"]}', "bad_frame"),
        ('{"type": {"a": 1}}', "bad_frame"),
        ('{"type": 1.5}', "bad_frame"),
        ('{"type": "user_message", "content": ' + DEEP + "}", "bad_frame"),
        (DEEP, "bad_frame"),
        ('{"type": "stop", "turn": ' + "{" * 0 + DEEP + "}", "bad_frame"),
        ('{"type": "user_message", "content": "a\\ud800b", "model": "fake/fake-r1"}', "bad_frame"),
        ('{"type": "user_message", "content": "hi", "model": "fake/\\udfff"}', "bad_frame"),
        (
            '{"type": "user_message", "content": "hi", "model": "fake/fake-r1",'
            ' "options": {"thinking": "\\ud83d"}}',
            "bad_frame",
        ),
    ],
)
async def test_hostile_frames_get_an_error_and_the_socket_survives(
    ws_for, alice, conversation, chat_provider, fake_upstream, raw, code, caplog
):
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_to(text_data=raw)
    error = await ws.receive_json_from()
    assert error["type"] == "error" and error["code"] == code and error["message"]
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["c"]))
    await ws.send_json_to({"type": "user_message", "content": "hi \U0001f600", "model": MODEL})
    frames = await collect_turn(ws)
    assert frames[-1]["type"] == "turn.completed"
    await ws.disconnect()
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
    contents = await database_sync_to_async(
        lambda: list(Turn.objects.filter(role="user").values_list("content", flat=True))
    )()
    assert contents == ["hi \U0001f600"]


async def test_a_surrogate_pair_is_one_character(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    ws = await connect(ws_for, alice, conversation.id)
    fake_upstream.enqueue(chat_stream(reasoning=["r"], content=["c"]))
    await ws.send_to(
        text_data='{"type": "user_message", "content": "\\ud83d\\ude00", "model": "fake/fake-r1"}'
    )
    frames = await collect_turn(ws)
    assert frames[-1]["type"] == "turn.completed"
    await ws.disconnect()


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        (b"http://127.0.0.1:8000", True),  # the Host the communicator sends, and its scheme
        (b"http://127.0.0.1:8001", False),  # another port of the same host
        (b"http://127.0.0.1", False),
        (b"https://127.0.0.1:8000", False),  # another scheme
        (b"http://localhost:8000", False),  # an allowed host, but not this site's origin
        (b"https://chat.example.com", True),  # CSRF_TRUSTED_ORIGINS
        (b"https://chat.example.com:8443", False),
        (b"http://chat.example.com", False),
        (b"null", False),
    ],
)
async def test_origin_must_match_scheme_host_and_port(
    ws_for, alice, conversation, settings, origin, accepted
):
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.com"]
    ws = await ws_for(alice, conversation.id, origin=origin, host=b"127.0.0.1:8000")
    connected, _ = await ws.connect()
    assert connected is accepted
    await ws.disconnect()


@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({"origin": "https://chat.example.org", "host": "chat.example.org"}, False),
        (
            {
                "origin": "https://chat.example.org",
                "host": "chat.example.org",
                "x-forwarded-proto": "https",
            },
            True,
        ),
        ({"origin": "http://chat.example.org", "host": "chat.example.org"}, True),
        ({"origin": "http://evil.example", "host": "evil.example"}, False),  # Host not allowed
        ({"origin": "https://eu.corp.example", "host": "x"}, True),  # the wildcard entry
        ({"origin": "https://corp.example", "host": "x"}, False),
        ({"origin": "https://u@eu.corp.example", "host": "x"}, False),
        ({"origin": "http://chat.example.org"}, False),  # no Host: only the trusted list
    ],
)
def test_origins_behind_a_proxy_and_wildcards(settings, headers, accepted):
    from chatsite.origins import origin_allowed

    settings.ALLOWED_HOSTS = ["chat.example.org"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.corp.example"]
    scope = {"type": "websocket", "headers": [(k.encode(), v.encode()) for k, v in headers.items()]}
    assert origin_allowed(scope) is accepted
