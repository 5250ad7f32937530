"""Errors a person sees are plain words (translated); the technical detail is for admins."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.utils import translation

from conversations import actions
from conversations.consumers import socket_language
from conversations.errors import INTERNAL, INTERRUPTED, MESSAGES, ClientError
from conversations.models import Conversation, Turn
from providers import wire as base
from providers.fake_upstream import chat_stream, error_response
from tests.conftest import HOST, ORIGIN, TEST_API_KEY, session_cookie
from tests.helpers import MODEL, collect_turn, connect, run_turn

ERRORS_JS = Path(__file__).resolve().parent.parent / "static" / "chat" / "errors.js"

# What the zh-hans catalog is expected to say (locale/zh_Hans/LC_MESSAGES/django.po).
ZH_BAD_FRAME = "页面发送了服务器无法理解的内容。请刷新页面后重试。"
ZH_TOO_LARGE = "消息太长：上限为 1,000 个字符。请缩短内容或分几次发送。"


def english(text: Any) -> str:
    with translation.override("en"):
        return str(text)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def api_turn(user: Any, conversation_id: Any, turn_id: Any) -> dict[str, Any]:
    client = Client()
    client.force_login(user)
    data = client.get(f"/api/conversations/{conversation_id}/").json()
    return next(t for t in data["turns"] if t["id"] == str(turn_id))


def make_staff(user: Any) -> None:
    user.is_staff = True
    user.save(update_fields=["is_staff"])


# --- turn errors over the socket and the API --------------------------------------


@pytest.mark.django_db(transaction=True)
async def test_unreachable_provider_says_so_plainly_and_keeps_the_detail_for_admins(
    ws_for, alice, conversation, settings
):
    from providers.models import ApiKey, ChatModel, Provider

    settings.UPSTREAM_RETRIES = 0

    def provider() -> None:
        down = Provider.objects.create(
            name="down", style="chat-completions", base_url=f"http://127.0.0.1:{closed_port()}/v1"
        )
        key = ApiKey(provider=down, label="k")
        key.set_secret(TEST_API_KEY)
        key.save()
        ChatModel.objects.create(provider=down, model_id="m")

    await database_sync_to_async(provider)()
    frames, turn = await run_turn(ws_for, alice, conversation, model="down/m")
    failed = frames[-1]
    assert failed["type"] == "turn.failed"
    # The socket gets the code and the sentence, no technical text.
    assert failed["error"] == {"code": "connect_failed", "message": english(base.CONNECT_FAILED)}
    assert failed["error"]["message"].startswith("The model's provider could not be reached.")
    assert "Cannot connect" not in json.dumps(frames)
    # The stored turn keeps aiohttp's words for an admin, without the key.
    assert turn.error["code"] == "connect_failed"
    assert turn.error["message"] == english(base.CONNECT_FAILED)
    assert "Cannot connect to host 127.0.0.1" in turn.error["detail"]
    assert TEST_API_KEY not in json.dumps(turn.error)

    seen = await database_sync_to_async(api_turn)(alice, conversation.id, turn.id)
    assert seen["error"] == {"code": "connect_failed", "message": english(base.CONNECT_FAILED)}
    await database_sync_to_async(make_staff)(alice)
    seen = await database_sync_to_async(api_turn)(alice, conversation.id, turn.id)
    assert seen["error"]["detail"] == turn.error["detail"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "status, body, code, message",
    [
        (401, {"error": {"message": "bad key"}}, "auth", english(base.AUTH)),
        (403, {"error": {"message": "banned"}}, "auth", english(base.AUTH)),
        (429, {"error": {"message": "slow down"}}, "rate_limited", english(base.RATE_LIMITED)),
        (
            503,
            "<html><body>503 Service Unavailable</body></html>",
            "upstream_unavailable",
            "The provider had a problem (HTTP 503). Try again in a moment.",
        ),
        (
            500,
            {"error": {"message": "Overloaded", "type": "server_error"}},
            "upstream_unavailable",
            "The provider had a problem (HTTP 500). Try again in a moment.",
        ),
        (
            400,
            {"error": {"message": f"Unknown field; your key {TEST_API_KEY}", "code": "invalid"}},
            "bad_request",
            "The provider refused the request (HTTP 400). Try other options or another model.",
        ),
        (
            402,
            {"error": {"message": "Insufficient Balance"}},
            "upstream_error",
            english(base.NO_CREDIT),
        ),
    ],
)
async def test_http_errors_say_what_happened_and_what_to_do(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings, status, body, code, message
):
    settings.UPSTREAM_RETRIES = 0
    fake_upstream.enqueue(error_response(status, body))
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["error"] == {"code": code, "message": message}
    assert turn.error["message"] == message
    assert turn.error["detail"].startswith(f"HTTP {status}: ")
    assert TEST_API_KEY not in json.dumps(frames) + json.dumps(turn.error)


@pytest.mark.django_db(transaction=True)
async def test_a_cut_stream_says_the_partial_is_kept(
    ws_for, alice, conversation, chat_provider, fake_upstream
):
    fake_upstream.enqueue(chat_stream(reasoning=["one "], content=["two ", "three"], cut_after=2))
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["error"] == {"code": "cut", "message": english(base.CUT)}
    assert "cut off" in turn.error["message"] and "kept" in turn.error["message"]
    assert "closed before the answer was complete" in turn.error["detail"]


@pytest.mark.django_db
def test_the_api_hides_detail_from_non_staff(alice: Any) -> None:
    conversation = Conversation.objects.create(owner=alice)
    turn = Turn.objects.create(
        conversation=conversation,
        index=0,
        role="assistant",
        status="failed",
        error={"code": "auth", "message": english(base.AUTH), "detail": "HTTP 401: nope"},
    )
    assert api_turn(alice, conversation.id, turn.id)["error"] == {
        "code": "auth",
        "message": english(base.AUTH),
    }
    make_staff(alice)
    assert api_turn(alice, conversation.id, turn.id)["error"]["detail"] == "HTTP 401: nope"


@pytest.mark.django_db
def test_the_turn_admin_shows_the_detail(admin_client: Client, alice: Any) -> None:
    conversation = Conversation.objects.create(owner=alice)
    Turn.objects.create(
        conversation=conversation,
        index=0,
        role="assistant",
        status="failed",
        error={"code": "bad_request", "message": "x", "detail": "HTTP 400: field-zzz is unknown"},
    )
    page = admin_client.get(f"/admin/conversations/conversation/{conversation.id}/change/")
    assert page.status_code == 200
    assert "Error detail" in page.text and "HTTP 400: field-zzz is unknown" in page.text


# --- error frames in the socket's language ------------------------------------------


async def socket_with(user: Any, conversation_id: Any, **headers: str) -> WebsocketCommunicator:
    from chatsite.asgi import application

    cookie = await database_sync_to_async(session_cookie)(user)
    cookies = "; ".join([f"sessionid={cookie}", *filter(None, [headers.pop("cookie", "")])])
    raw = [(b"origin", ORIGIN), (b"host", HOST), (b"cookie", cookies.encode())]
    raw += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    ws = WebsocketCommunicator(application, f"/ws/conversations/{conversation_id}/", headers=raw)
    connected, _ = await ws.connect()
    assert connected
    return ws


@pytest.mark.django_db(transaction=True)
async def test_error_frames_follow_the_language_cookie(alice, conversation, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 1000
    ws = await socket_with(alice, conversation.id, cookie="django_language=zh-hans")
    await ws.send_to(text_data="not json")
    assert await ws.receive_json_from() == {
        "type": "error",
        "code": "bad_frame",
        "message": ZH_BAD_FRAME,
    }
    await ws.send_json_to({"type": "user_message", "content": "x" * 1001, "model": MODEL})
    assert (await ws.receive_json_from())["message"] == ZH_TOO_LARGE
    await ws.disconnect()
    # Without the cookie, the browser's languages decide.
    ws = await socket_with(alice, conversation.id, accept_language="zh-CN,zh;q=0.9,en;q=0.5")
    await ws.send_to(text_data="not json")
    assert (await ws.receive_json_from())["message"] == ZH_BAD_FRAME
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_error_frames_are_english_by_default(ws_for, alice, conversation, settings):
    settings.CHAT_MAX_MESSAGE_CHARS = 1000
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_to(text_data="not json")
    assert (await ws.receive_json_from())["message"] == english(MESSAGES["bad_frame"])
    await ws.send_json_to({"type": "user_message", "content": "x" * 1001, "model": MODEL})
    assert (await ws.receive_json_from())["message"] == (
        "The message is too long: the limit is 1,000 characters. Shorten it or send it in parts."
    )
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_busy_is_plain_words(ws_for, alice, conversation, chat_provider, fake_upstream):
    fake_upstream.enqueue(chat_stream(reasoning=["r"] * 30, content=["c"], delay=0.05))
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "one", "model": MODEL})
    await ws.send_json_to({"type": "user_message", "content": "two", "model": MODEL})
    frames = await collect_turn(ws)
    errors = [f for f in frames if f["type"] == "error"]
    assert errors == [{"type": "error", "code": "busy", "message": english(MESSAGES["busy"])}]
    await ws.disconnect()


@pytest.mark.parametrize(
    "cookie, accept, expected",
    [
        ("zh-hans", "", "zh-hans"),
        ("", "zh-CN,zh;q=0.9,en;q=0.8", "zh-hans"),
        ("en", "zh-CN", "en"),  # the switcher's choice wins
        ("klingon", "zh-Hans", "zh-hans"),  # an unknown cookie is ignored
        ("", "fr-FR, de;q=0.5", "en"),  # nothing supported: the default
    ],
)
def test_socket_language(cookie: str, accept: str, expected: str) -> None:
    scope: dict[str, Any] = {
        "cookies": {"django_language": cookie} if cookie else {},
        "headers": [(b"accept-language", accept.encode())] if accept else [],
    }
    assert socket_language(scope) == expected


# --- the sentences ----------------------------------------------------------------


def test_client_errors_use_the_codes_sentence_and_keep_the_detail_out() -> None:
    error = ClientError("invalid_model", "No enabled model 'x/y'.")
    assert english(error.message) == english(MESSAGES["invalid_model"])
    assert "x/y" not in error.message and str(error) == "No enabled model 'x/y'."
    # A code with no sentence yet still says something.
    assert ClientError("quota_exceeded", "Resets at 00:00 UTC.").message == "Resets at 00:00 UTC."


def test_the_page_knows_every_stored_sentence() -> None:
    """static/chat/errors.js translates stored turn errors: it must have the same
    sentences as the server, word for word (and no others)."""
    from django.utils.functional import Promise

    python = {english(v) for v in vars(base).values() if isinstance(v, Promise)}
    python |= {english(INTERRUPTED), english(INTERNAL)}
    js = set(re.findall(r'gettext_noop\("((?:[^"\\]|\\.)*)"\)', ERRORS_JS.read_text()))
    assert js == python
    assert english(INTERRUPTED) == actions.INTERRUPTED_MESSAGE  # what a sweep stores
