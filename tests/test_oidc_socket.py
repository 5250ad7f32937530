"""An open websocket of a person the IdP no longer lets in is closed within
OIDC_RENEW_SECONDS (the socket re-checks its session with the real IdP), and so is
one whose session was ended on a page."""

from __future__ import annotations

import asyncio

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.oidc import client as oidc_client
from accounts.oidc import sockets
from accounts.oidc.sockets import SESSION_ENDED
from chatsite.asgi import application
from conversations.models import Conversation
from tests.conftest import ORIGIN
from tests.oidc_idp import RealIdP, oidc_settings, sign_in_at_idp

CALLBACK = "http://testserver/oidc/callback/"


@pytest.fixture
def idp(settings):
    provider = RealIdP(
        [CALLBACK],
        {"u-ada": {"password": "ada-pw", "email": "ada@example.com", "preferred_username": "ada"}},
    )
    oidc_settings(settings, provider.issuer, OIDC_RENEW_SECONDS=1)
    oidc_client.forget()
    yield provider
    provider.stop()
    oidc_client.forget()


def signed_in_client() -> tuple[Client, str]:
    client = Client()
    start = client.get("/oidc/login/")
    callback = sign_in_at_idp(start["Location"], "u-ada", "ada-pw")
    client.get(callback.removeprefix("http://testserver"))
    user_id = client.session["_auth_user_id"]
    conversation = Conversation.objects.create(owner_id=user_id)
    return client, str(conversation.id)


async def connect(client: Client, conversation_id: str) -> WebsocketCommunicator:
    cookie = client.cookies["sessionid"].value
    ws = WebsocketCommunicator(
        application,
        f"/ws/conversations/{conversation_id}/",
        headers=[
            (b"origin", ORIGIN),
            (b"host", ORIGIN.removeprefix(b"http://")),
            (b"cookie", f"sessionid={cookie}".encode()),
        ],
    )
    connected, _ = await ws.connect()
    assert connected
    return ws


async def close_code(ws: WebsocketCommunicator, within: float) -> int:
    """The code the server closed the socket with (asgiref ends the app on a timeout)."""
    message = await ws.receive_output(timeout=within)
    assert message["type"] == "websocket.close", message
    return int(message.get("code", 1000))


@pytest.mark.django_db(transaction=True)
async def test_socket_closes_when_the_idp_disables_the_person(idp):
    client, conversation_id = await database_sync_to_async(signed_in_client)()
    ws = await connect(client, conversation_id)
    try:
        # Renewed at the IdP after 1 s, and still open.
        assert await ws.receive_nothing(timeout=2.5)
        await asyncio.to_thread(idp.change_account, "u-ada", disabled=True)
        assert await close_code(ws, within=4) == SESSION_ENDED
    finally:
        await ws.disconnect()
    # The session is over for pages too.
    resp = await database_sync_to_async(client.get)("/api/conversations/")
    assert resp.status_code in (302, 401, 403)


@pytest.mark.django_db(transaction=True)
async def test_socket_closes_when_the_session_ends_on_a_page(idp, settings, monkeypatch):
    settings.OIDC_RENEW_SECONDS = 900  # no renewal due: the page's sign-out alone
    monkeypatch.setattr(sockets, "POLL_SECONDS", 0.5)
    client, conversation_id = await database_sync_to_async(signed_in_client)()
    ws = await connect(client, conversation_id)
    try:
        assert await ws.receive_nothing(timeout=1.5)
        await database_sync_to_async(client.post)("/accounts/logout/")
        assert await close_code(ws, within=3) == SESSION_ENDED
    finally:
        await ws.disconnect()
