"""Shared fixtures: users, a conversation, the scripted fake upstream, providers on it."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest

from providers.fake_upstream import FakeUpstream

IN_CI = os.environ.get("CI") == "true"
# The periodic sweeper would outlive each test's event loop; tests sweep explicitly.
# (Real daphne processes started by tests get it back: see server_env.)
os.environ.setdefault("CHAT_BACKGROUND_SWEEP", "0")
TEST_API_KEY = "sk-test-0123456789abcdef"


def require_service(name: str, host: str, port: int) -> None:
    """Locally a missing service skips its tests; in CI it fails them."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError:
        message = f"{name} is not reachable on {host}:{port}"
        if IN_CI:
            pytest.fail(message + " (CI=true: services are required)")
        pytest.skip(message)


@pytest.fixture(autouse=True)
def fresh_channel_layer() -> Iterator[None]:
    """Each test runs on its own event loop; channels_redis keeps asyncio locks and
    connections bound to the loop that first used them, so each test gets its own layer.
    The chat's database threads keep connections, and so does asgiref's one shared
    thread, where async tests' `database_sync_to_async` calls run: closed after each
    test, so the test database can be flushed and, at the end, dropped (PostgreSQL
    refuses while a session is open on it)."""
    from asgiref.sync import SyncToAsync
    from channels.layers import channel_layers
    from django.db import connections

    from conversations.live import db

    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()
    db.close_all()
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(autouse=True)
def fresh_key_state() -> Iterator[None]:
    """Key cooldowns and last-used throttling are per process (providers/keys.py);
    row ids repeat between tests, so each test starts with none."""
    from providers import keys

    keys.forget_state()
    yield
    keys.forget_state()


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """A page asked for in Chinese leaves Chinese active in the test's thread
    (LocaleMiddleware activates per request and never resets): each test starts in
    the default language."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    """The limits count in the cache (local memory): each test starts with none of
    the previous tests' messages or failed sign-ins counted."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def fake_upstream_server() -> Iterator[FakeUpstream]:
    server = FakeUpstream(api_key=TEST_API_KEY)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_upstream(fake_upstream_server: FakeUpstream) -> Iterator[FakeUpstream]:
    fake_upstream_server.reset()
    yield fake_upstream_server
    fake_upstream_server.reset()


# --- Django side -------------------------------------------------------------

ORIGIN = b"http://127.0.0.1:8000"
HOST = b"127.0.0.1:8000"  # the page's own: the socket's Origin must match it


@pytest.fixture
def alice(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user("alice", password="alice-pass-123")


@pytest.fixture
def bob(django_user_model):  # type: ignore[no-untyped-def]
    return django_user_model.objects.create_user("bob", password="bob-pass-123")


@pytest.fixture
def conversation(alice):  # type: ignore[no-untyped-def]
    from conversations.models import Conversation

    return Conversation.objects.create(owner=alice)


def _make_provider(name: str, style: str, base_url: str, api_key: str, **model_fields):  # type: ignore[no-untyped-def]
    from providers.models import ApiKey, ChatModel, Provider

    provider = Provider.objects.create(name=name, style=style, base_url=base_url)
    key = ApiKey(provider=provider, label="test")
    key.set_secret(api_key)
    key.save()
    ChatModel.objects.create(provider=provider, model_id="fake-r1", **model_fields)
    return provider


@pytest.fixture
def chat_provider(fake_upstream):  # type: ignore[no-untyped-def]
    """A chat-completions provider on the fake upstream; model ref "fake/fake-r1"."""
    return _make_provider(
        "fake",
        "chat-completions",
        fake_upstream.base_url,
        TEST_API_KEY,
        thinking_modes=["enabled", "disabled"],
        efforts=["high", "max"],
        max_output_tokens=2048,
    )


@pytest.fixture
def responses_provider(fake_upstream):  # type: ignore[no-untyped-def]
    """A responses-style provider on the fake upstream; model ref "fake-resp/fake-r1"."""
    return _make_provider(
        "fake-resp",
        "responses",
        fake_upstream.base_url,
        TEST_API_KEY,
        thinking_modes=["enabled", "disabled", "auto"],
        efforts=["minimal", "low", "medium", "high"],
        max_output_tokens=2048,
    )


def session_cookie(user) -> str:  # type: ignore[no-untyped-def]
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


@pytest.fixture
def ws_for():  # type: ignore[no-untyped-def]
    """Make a WebsocketCommunicator on the real ASGI app, as a signed-in user with a good Origin."""
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from chatsite.asgi import application

    async def make(user, conversation_id, origin: bytes = ORIGIN, host: bytes = HOST):  # type: ignore[no-untyped-def]
        headers = [(b"origin", origin), (b"host", host)]
        if user is not None:
            cookie = await database_sync_to_async(session_cookie)(user)
            headers.append((b"cookie", f"sessionid={cookie}".encode()))
        return WebsocketCommunicator(
            application, f"/ws/conversations/{conversation_id}/", headers=headers
        )

    return make


# --- real daphne processes ----------------------------------------------------


def server_env(**extra: str) -> dict[str, str]:
    """Environment for a daphne subprocess that shares the test database."""
    from django.db import connection

    env = dict(os.environ)
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        env["SQLITE_PATH"] = str(db["NAME"])
        env.pop("DATABASE_URL", None)
    else:
        url = env["DATABASE_URL"]
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + str(db["NAME"])
    env.setdefault("DEMO_PROVIDER", "1")
    env["CHAT_BACKGROUND_SWEEP"] = "1"
    env.update(extra)
    return env


@pytest.fixture
def daphne_factory(transactional_db):  # type: ignore[no-untyped-def]
    from tests.servers import DaphneServer

    started: list[DaphneServer] = []

    def start(**extra: str) -> DaphneServer:
        server = DaphneServer(server_env(**extra), ready_within=20)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def team(settings):  # type: ignore[no-untyped-def]
    """The review tests' people (tests/review_data.py). Six people a test: a fast
    hasher keeps the suite quick (real sessions still)."""
    from tests.review_data import people

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return people()
