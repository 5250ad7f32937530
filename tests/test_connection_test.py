"""The admin's "Test connection" against the fake upstream, and the outbound-URL safety
(http(s) only, no redirects followed, UPSTREAM_ALLOWED_HOSTS)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from accounts.audit import AuditEntry
from providers.models import ApiKey, Provider
from tests.conftest import TEST_API_KEY

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/providers/provider/"


def _test(client, *providers) -> list[tuple[int, str]]:
    resp = client.post(
        CHANGELIST,
        {"action": "test_connection", "_selected_action": [str(p.pk) for p in providers]},
        follow=True,
    )
    assert resp.status_code == 200
    return [(m.level, m.message) for m in resp.context["messages"]]


def _key(provider: Provider, label: str, secret: str) -> ApiKey:
    key = ApiKey(provider=provider, label=label)
    key.set_secret(secret)
    key.save()
    return key


def test_success_through_the_models_list(admin_client, chat_provider, fake_upstream):
    messages = _test(admin_client, chat_provider)
    assert len(messages) == 1
    level, text = messages[0]
    assert level == 25  # SUCCESS
    assert text.startswith("fake, key test …cdef: connected; the models list answered in ")
    assert text.endswith(" ms.")
    (request,) = fake_upstream.requests
    assert request.path == "/v1/models"
    assert request.headers["authorization"] == f"Bearer {TEST_API_KEY}"
    entry = AuditEntry.objects.get(action="tested")
    assert entry.object_kind == "key" and entry.object_repr == "fake: test …cdef"
    assert entry.detail.startswith("ok: models list, ") and entry.actor is not None


def test_a_wrong_key_is_a_401_in_plain_words(admin_client, chat_provider, fake_upstream):
    wrong = "sk-wrong-key-00000000zzzz"
    _key(chat_provider, "old", wrong)
    messages = _test(admin_client, chat_provider)
    assert len(messages) == 2
    assert [level for level, text in messages if "key test …cdef:" in text] == [25]
    ((level, text),) = [m for m in messages if "key old …zzzz:" in m[1]]
    assert level == 40  # ERROR
    assert "The provider refused the API key." in text
    assert "HTTP 401" in text and "Authentication Fails" in text
    assert wrong not in text and TEST_API_KEY not in text
    details = sorted(AuditEntry.objects.filter(action="tested").values_list("detail", flat=True))
    assert details[0] == "failed: auth (HTTP 401)" and details[1].startswith("ok: ")


def test_responses_style_sends_a_one_token_request(admin_client, responses_provider, fake_upstream):
    ((level, text),) = _test(admin_client, responses_provider)
    assert level == 25, text
    assert "a one-token request to fake-r1 answered in" in text
    (request,) = fake_upstream.requests
    assert request.path == "/v1/responses"
    assert request.json["model"] == "fake-r1" and request.json["max_output_tokens"] == 16


def test_responses_style_401(admin_client, responses_provider, fake_upstream):
    key = responses_provider.api_keys.get()
    key.set_secret("sk-not-the-right-one-1111")
    key.save()
    ((level, text),) = _test(admin_client, responses_provider)
    assert level == 40 and "The provider refused the API key." in text


def test_providers_that_cannot_be_called_are_said_so(admin_client, fake_upstream, settings):
    demo = Provider.objects.create(name="offline", style="demo")
    keyless = Provider.objects.create(
        name="keyless", style="chat-completions", base_url=fake_upstream.base_url
    )
    # Saved around the validation (a shell, an old row): the action checks again.
    settings.UPSTREAM_ALLOWED_HOSTS = ["api.deepseek.com", "127.0.0.1"]
    far = Provider.objects.create(
        name="far", style="chat-completions", base_url="https://elsewhere.example/v1"
    )
    _key(far, "k", "sk-far-0000")
    messages = [text for _level, text in _test(admin_client, demo, keyless, far)]
    assert messages == [
        "far was not called: This server may only call the hosts in UPSTREAM_ALLOWED_HOSTS "
        "(api.deepseek.com, 127.0.0.1); elsewhere.example is not one of them.",
        "keyless was not called: it has no enabled key to test.",
        "offline was not called: the offline demo has nothing to connect to.",
    ]
    assert fake_upstream.requests == []
    assert AuditEntry.objects.filter(action="tested", object_kind="provider").count() == 3


# --- outbound URL safety --------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["ftp://files.example/v1", "file:///etc/passwd", "gopher://x.example/", "javascript:alert(1)"],
)
def test_only_http_and_https_base_urls(url):
    provider = Provider(name="p", style="chat-completions", base_url=url)
    with pytest.raises(ValidationError) as exc:
        provider.full_clean()
    assert "base_url" in exc.value.message_dict


def test_the_admin_form_refuses_other_schemes(admin_client):
    data = {
        "name": "ftp",
        "style": "chat-completions",
        "base_url": "ftp://files.example/v1",
        "enabled": "on",
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
        "models-TOTAL_FORMS": "0",
        "models-INITIAL_FORMS": "0",
    }
    resp = admin_client.post("/admin/providers/provider/add/", data)
    assert resp.status_code == 200
    assert "The base URL must start with http:// or https://." in resp.content.decode()
    assert not Provider.objects.filter(name="ftp").exists()


def test_allowed_hosts(settings):
    settings.UPSTREAM_ALLOWED_HOSTS = ["api.deepseek.com", ".volces.com", "10.0.0.5"]
    for url in (
        "https://api.deepseek.com",
        "https://ark.cn-beijing.volces.com/api/v3",
        "https://volces.com/v1",
        "http://10.0.0.5:8000/v1",
        "https://API.DeepSeek.com./v1",
    ):
        Provider(name="ok", style="chat-completions", base_url=url).full_clean()
    for url in (
        "https://api.deepseek.com.evil.example/v1",
        "https://evilvolces.com/v1",
        "http://10.0.0.6/v1",
        "http://127.0.0.1:8000/v1",
    ):
        with pytest.raises(ValidationError, match="UPSTREAM_ALLOWED_HOSTS"):
            Provider(name="no", style="chat-completions", base_url=url).full_clean()
    settings.UPSTREAM_ALLOWED_HOSTS = []
    Provider(name="any", style="chat-completions", base_url="http://127.0.0.1:1/v1").full_clean()


class _Redirector(BaseHTTPRequestHandler):
    target = ""
    hits: list[str] = []

    def _redirect(self) -> None:
        self.hits.append(f"{self.command} {self.path}")
        self.send_response(302)
        self.send_header("Location", self.target + self.path.removeprefix("/v1"))
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _redirect

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def redirector(fake_upstream) -> Iterator[str]:
    """A server that redirects every request to the fake upstream; yields its base URL."""
    _Redirector.target = fake_upstream.base_url
    _Redirector.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_the_test_does_not_follow_redirects(admin_client, redirector, fake_upstream):
    provider = Provider.objects.create(name="moved", style="chat-completions", base_url=redirector)
    _key(provider, "k", TEST_API_KEY)
    ((level, text),) = _test(admin_client, provider)
    assert level == 40
    assert "redirects elsewhere (HTTP 302)" in text
    assert _Redirector.hits == ["GET /v1/models"]
    assert fake_upstream.requests == []  # the key was not sent on


async def test_the_streaming_clients_do_not_follow_redirects(redirector, fake_upstream):
    from providers.clients import ClientConfig, Message, ProviderError, StreamRequest, client_for
    from providers.clients.http import new_session

    async with new_session() as http:
        for style in ("chat-completions", "responses"):
            client = client_for(style, ClientConfig(redirector, TEST_API_KEY), http)
            request = StreamRequest(model="fake-r1", messages=[Message("user", "Hi")])
            with pytest.raises(ProviderError) as exc:
                async for _event in client.stream(request):
                    pass
            assert exc.value.status == 302
    assert len(_Redirector.hits) == 2
    assert fake_upstream.requests == []


@pytest.mark.django_db(transaction=True)
async def test_a_turn_never_calls_a_host_outside_the_allow_list(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings
):
    """A provider saved before the allow-list was narrowed is refused at turn start."""
    from conversations import catalog
    from tests.helpers import MODEL, connect

    settings.UPSTREAM_ALLOWED_HOSTS = ["api.deepseek.com"]
    catalog.clear()
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    reply = await ws.receive_json_from(timeout=10)
    assert reply["type"] == "error" and reply["code"] == "invalid_model", reply
    assert fake_upstream.requests == []
    await ws.disconnect()
