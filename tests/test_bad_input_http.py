"""Input that used to end in a 500: out-of-range dates, lone surrogates, a base URL
with a user name in it, a search of a thousand words. Each gets a clear answer."""

from __future__ import annotations

import json
import time

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from accounts.audit import AuditEntry
from providers.models import Provider
from tests.helpers import MODEL, connect
from tests.review_data import client_for, trace

USERINFO = "The base URL must not contain a user name or password"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01&until=9999-12-31",
        "until=9999-12-31T23:00:00-05:00",
        "since=0001-01-01T00:00:00%2B05:00",
    ],
)
def test_extreme_dates_are_open_bounds(team, query):
    turn = trace(team.owner)
    for url in (f"/review/?{query}", f"/review/export.jsonl?{query}"):
        resp = client_for(team.owner).get(url)
        assert resp.status_code == 200, url
        body = b"".join(resp.streaming_content) if resp.streaming else resp.content
        assert str(turn.id).encode() in body


def _json(client: Client, method: str, url: str, raw: str):  # type: ignore[no-untyped-def]
    return getattr(client, method)(url, raw, content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "raw",
    [
        '{"title": "a\\ud800b"}',
        '{"system_prompt": "\\udfff"}',
        '{"title": "ok", "x": ' + "[" * 5000 + "]" * 5000 + "}",
    ],
)
def test_api_bodies_that_are_not_text(alice, raw):
    client = Client()
    client.force_login(alice)
    resp = _json(client, "post", "/api/conversations/", raw)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "bad_json"
    conversation = _json(client, "post", "/api/conversations/", "{}").json()["id"]
    resp = _json(client, "patch", f"/api/conversations/{conversation}/", raw)
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "bad_json"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url",
    [
        "http://api.example.com@127.0.0.1/v1",
        "https://user:secret@api.example.com/v1",
        "https://@api.example.com/v1",
        "https://api.example.com:@127.0.0.1/v1",
    ],
)
def test_a_base_url_with_userinfo_is_refused(url):
    with pytest.raises(ValidationError, match=USERINFO):
        Provider(name="p", style="chat-completions", base_url=url).full_clean()


@pytest.mark.django_db
def test_the_connection_test_refuses_userinfo(admin_client, chat_provider, fake_upstream):
    url = fake_upstream.base_url.replace("http://", "http://api.example.com@")
    Provider.objects.filter(pk=chat_provider.pk).update(base_url=url)
    resp = admin_client.post(
        "/admin/providers/provider/",
        {"action": "test_connection", "_selected_action": [str(chat_provider.pk)]},
        follow=True,
    )
    (message,) = [m.message for m in resp.context["messages"]]
    assert "fake was not called" in message and USERINFO in message
    assert fake_upstream.requests == []
    assert AuditEntry.objects.get(action="tested").detail.startswith("not called")


@pytest.mark.django_db(transaction=True)
async def test_a_turn_refuses_userinfo(ws_for, alice, conversation, chat_provider, fake_upstream):
    from channels.db import database_sync_to_async

    url = fake_upstream.base_url.replace("http://", "http://u:p@")
    await database_sync_to_async(
        lambda: Provider.objects.filter(pk=chat_provider.pk).update(base_url=url)
    )()
    ws = await connect(ws_for, alice, conversation.id)
    await ws.send_json_to({"type": "user_message", "content": "hi", "model": MODEL})
    error = await ws.receive_json_from()
    assert error["type"] == "error" and error["code"] == "invalid_model"
    await ws.disconnect()
    assert fake_upstream.requests == []


@pytest.mark.django_db
def test_a_long_search_is_capped_and_says_so(team):
    trace(team.owner, answer="alpha beta")
    client = client_for(team.owner)
    words = " ".join(f"w{n}" for n in range(1000))
    started = time.monotonic()
    resp = client.get("/review/", {"q": words})
    assert resp.status_code == 200
    assert time.monotonic() - started < 2
    page = resp.content.decode()
    assert "Only the first 32 words of a search are used." in page
    # The first words still count: none of them occurs.
    assert "alpha beta" not in page
    resp = client.get("/review/", {"q": "alpha " + "beta " * 40})
    assert "alpha beta" in resp.content.decode()
    # A single very long word is cut to the length limit.
    resp = client.get("/review/", {"q": "a" * 5000})
    assert resp.status_code == 200
    assert "Only the first 200 characters of a search are used." in resp.content.decode()
    resp = client.get("/review/", {"q": words}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "搜索只使用前 32 个词。" in resp.content.decode()


@pytest.mark.django_db
def test_the_search_limits_also_bound_the_export(team):
    trace(team.owner, answer="alpha beta")
    words = " ".join(f"w{n}" for n in range(1000))
    resp = client_for(team.owner).get("/review/export.jsonl", {"q": words})
    assert resp.status_code == 200
    assert b"".join(resp.streaming_content) == b""
    lines = client_for(team.owner).get("/review/export.jsonl", {"q": "alpha " + "beta " * 40})
    assert [json.loads(line)["content"] for line in b"".join(lines.streaming_content).splitlines()]
