"""JSON endpoints, pages and their scoping to the requesting user."""

from __future__ import annotations

import pytest
from django.test import Client

from conversations.models import Conversation, Turn

pytestmark = pytest.mark.django_db


def test_anonymous_gets_403_json(client):
    for resp in (client.get("/api/conversations/"), client.post("/api/conversations/")):
        assert resp.status_code == 403
        assert resp.json()["error"]["code"] == "forbidden"


def test_create_and_read_a_conversation(client, alice):
    client.force_login(alice)
    resp = client.post("/api/conversations/", data="{}", content_type="application/json")
    assert resp.status_code == 201
    conversation_id = resp.json()["id"]
    conversation = Conversation.objects.get(id=conversation_id)
    assert conversation.owner == alice
    Turn.objects.create(
        conversation=conversation, index=0, role="user", content="q", status="completed"
    )
    Turn.objects.create(
        conversation=conversation,
        index=1,
        role="assistant",
        content="a",
        reasoning_content="r",
        status="completed",
        model="fake/fake-r1",
        usage={
            "prompt_tokens": 1,
            "completion_tokens": 2,
            "reasoning_tokens": 1,
            "total_tokens": 3,
        },
        timings={
            "reasoning_first_token": 5,
            "content_first_token": 9,
            "reasoning_duration": 4,
            "total": 12,
        },
    )
    data = client.get(f"/api/conversations/{conversation_id}/").json()
    assert data["id"] == conversation_id
    assert [t["role"] for t in data["turns"]] == ["user", "assistant"]
    answer = data["turns"][1]
    assert answer["content"] == "a" and answer["reasoning_content"] == "r"
    assert answer["status"] == "completed" and answer["model"] == "fake/fake-r1"
    assert answer["usage"]["reasoning_tokens"] == 1 and answer["timings"]["total"] == 12
    assert answer["error"] is None
    assert set(answer) >= {
        "id",
        "role",
        "content",
        "reasoning_content",
        "status",
        "model",
        "usage",
        "timings",
        "error",
    }


def test_csrf_is_enforced_on_writes(alice):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert (
        client.post("/api/conversations/", data="{}", content_type="application/json").status_code
        == 403
    )
    assert Conversation.objects.count() == 0


def test_another_users_conversation_is_404(client, alice, bob, conversation):
    client.force_login(bob)
    resp = client.get(f"/api/conversations/{conversation.id}/")
    assert resp.status_code == 404
    assert client.get(f"/c/{conversation.id}/").status_code == 404
    assert client.get("/api/conversations/not-a-uuid/").status_code == 404
    listed = client.get("/api/conversations/").json()["conversations"]
    assert listed == []
    # Nor can they rename, delete or download it.
    url = f"/api/conversations/{conversation.id}/"
    assert client.patch(url, {"title": "x"}, content_type="application/json").status_code == 404
    assert client.delete(url).status_code == 404
    assert client.get(f"/c/{conversation.id}/download.md").status_code == 404
    conversation.refresh_from_db()
    assert conversation.title != "x"


def _two_branches(conversation):  # type: ignore[no-untyped-def]
    q = Turn.objects.create(
        conversation=conversation, index=0, role="user", content="q ```` x", status="completed"
    )
    first = Turn.objects.create(
        conversation=conversation,
        index=1,
        parent=q,
        role="assistant",
        content="first **answer**",
        reasoning_content="```\nclose me\n```\n````",
        status="stopped",
        model="fake/fake-r1",
    )
    second = Turn.objects.create(
        conversation=conversation,
        index=2,
        parent=q,
        role="assistant",
        content="second answer",
        status="completed",
        model="fake/fake-r1",
    )
    return first, second


def test_rename_delete_and_download(client, alice, conversation):
    client.force_login(alice)
    url = f"/api/conversations/{conversation.id}/"
    resp = client.patch(url, {"title": "  Ocean \n notes  "}, content_type="application/json")
    assert resp.status_code == 200 and resp.json()["title"] == "Ocean notes"
    assert client.patch(url, "[]", content_type="application/json").status_code == 400

    first, second = _two_branches(conversation)
    # The branch asked for, or the newest by default; reasoning folded in a fence that
    # nothing in it can close.
    text = client.get(f"/c/{conversation.id}/download.md?turn={first.id}").content.decode()
    assert text.startswith("# Ocean notes\n") and "first **answer**" in text
    assert "second answer" not in text and "Stopped before the end." in text
    assert "<details>" in text and "`````text\n```\nclose me\n```\n````\n`````" in text
    resp = client.get(f"/c/{conversation.id}/download.md")
    assert "second answer" in resp.content.decode() and "first" not in resp.content.decode()
    assert resp["Content-Disposition"] == 'attachment; filename="ocean-notes.md"'

    # Not while a turn runs (its runner still writes), then for good.
    Turn.objects.filter(id=second.id).update(status="streaming")
    assert client.delete(url).status_code == 409
    Turn.objects.filter(id=second.id).update(status="completed")
    assert client.delete(url).status_code == 204
    assert not Conversation.objects.filter(id=conversation.id).exists()
    assert not Turn.objects.filter(conversation_id=conversation.id).exists()


def test_download_includes_the_system_prompt(client, alice, conversation):
    """The file holds what shaped the answers: the conversation's system prompt, verbatim
    (in a fence nothing in it can close), before the first turn."""
    conversation.title = "Ocean notes"
    conversation.system_prompt = "Answer as a **pirate**.\n```\nno escape\n```"
    conversation.save()
    _two_branches(conversation)
    client.force_login(alice)
    text = client.get(f"/c/{conversation.id}/download.md").content.decode()
    head, _, rest = text.partition("## You")
    assert (
        "## System prompt\n\n````text\nAnswer as a **pirate**.\n```\nno escape\n```\n````" in head
    )
    assert "second answer" in rest
    # No prompt, no section.
    conversation.system_prompt = ""
    conversation.save()
    text = client.get(f"/c/{conversation.id}/download.md").content.decode()
    assert "System prompt" not in text


def test_stale_streaming_turn_is_marked_incomplete_on_read(client, alice, conversation):
    from datetime import timedelta

    from django.utils import timezone

    Turn.objects.create(
        conversation=conversation, index=0, role="user", content="q", status="completed"
    )
    Turn.objects.create(
        conversation=conversation,
        index=1,
        role="assistant",
        content="half",
        status="streaming",
        lease_expires=timezone.now() - timedelta(seconds=1),
    )
    client.force_login(alice)
    turn = client.get(f"/api/conversations/{conversation.id}/").json()["turns"][1]
    assert turn["status"] == "incomplete"
    assert turn["content"] == "half"
    assert turn["error"]["code"] == "interrupted"


def test_chat_page_renders_models_and_no_inline_script(client, alice, chat_provider, conversation):
    client.force_login(alice)
    html = client.get(f"/c/{conversation.id}/").content.decode()
    assert 'value="fake/fake-r1"' in html
    assert "<script>" not in html and "style=" not in html
    assert "sk-test" not in html


def test_first_visit_creates_the_admin(client, django_user_model):
    assert client.get("/accounts/login/").url == "/setup/"
    resp = client.post(
        "/setup/",
        {
            "username": "root",
            "email": "",
            "password1": "a-Long-pass-987",
            "password2": "a-Long-pass-987",
        },
    )
    assert resp.status_code == 302
    admin = django_user_model.objects.get()
    assert admin.is_superuser and admin.is_staff
    # Never again once someone exists.
    assert client.get("/setup/").status_code == 302
    other = Client()
    other.post(
        "/setup/",
        {"username": "mallory", "password1": "a-Long-pass-987", "password2": "a-Long-pass-987"},
    )
    assert django_user_model.objects.count() == 1


def test_healthz(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_favicon_ico_leads_to_the_icon(client, alice):
    """Browsers ask for /favicon.ico on every site; each page also names the icon."""
    from django.contrib.staticfiles import finders

    resp = client.get("/favicon.ico")
    assert resp.status_code == 302 and resp["Location"] == "/static/favicon.svg"
    assert finders.find("favicon.svg")  # served by whitenoise (test_static_files.py)
    client.force_login(alice)
    for url in ("/", "/accounts/login/"):
        page = Client().get(url) if url.startswith("/accounts") else client.get(url)
        assert '<link rel="icon" href="/static/favicon' in page.content.decode(), url


@pytest.mark.django_db
def test_every_html_page_sends_a_strict_content_security_policy(client, alice, conversation):
    anonymous = ["/accounts/login/"]
    signed_in = ["/", f"/c/{conversation.id}/", "/admin/login/"]
    pages = [(client.get(url), url) for url in anonymous]
    client.force_login(alice)
    pages += [(client.get(url), url) for url in signed_in]
    for response, url in pages:
        assert response.status_code in (200, 302), url
        policy = response.headers.get("Content-Security-Policy", "")
        directives = dict(
            (part.split()[0], part.split()[1:]) for part in policy.split(";") if part.strip()
        )
        assert directives.get("script-src") == ["'self'"], (url, policy)
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, url
        assert directives.get("frame-ancestors") == ["'none'"], url
        assert directives.get("connect-src") == ["'self'"], url
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"


def test_system_prompt_is_set_shown_and_scoped(client, alice, bob, conversation):
    url = f"/api/conversations/{conversation.id}/"
    client.force_login(alice)
    assert client.get(url).json()["system_prompt"] == ""
    resp = client.patch(
        url, {"system_prompt": "  Answer in French.\n"}, content_type="application/json"
    )
    assert resp.status_code == 200
    assert resp.json()["system_prompt"] == "Answer in French."
    assert client.get(url).json()["system_prompt"] == "Answer in French."
    conversation.refresh_from_db()
    assert conversation.title == ""  # a system prompt alone renames nothing

    # Another user: the conversation does not exist for them, and nothing changes.
    client.force_login(bob)
    resp = client.patch(url, {"system_prompt": "Be rude."}, content_type="application/json")
    assert resp.status_code == 404
    conversation.refresh_from_db()
    assert conversation.system_prompt == "Answer in French."


def test_system_prompt_too_long_or_not_text_is_a_clear_400(client, alice, conversation):
    url = f"/api/conversations/{conversation.id}/"
    client.force_login(alice)
    limit = Conversation.SYSTEM_PROMPT_MAX_CHARS
    resp = client.patch(url, {"system_prompt": "x" * (limit + 1)}, content_type="application/json")
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "too_large"
    assert f"{limit:,}" in error["message"]
    resp = client.patch(url, {"system_prompt": ["x"]}, content_type="application/json")
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "bad_json"
    assert client.patch(url, {}, content_type="application/json").status_code == 400
    conversation.refresh_from_db()
    assert conversation.system_prompt == ""
    # Exactly at the limit is fine; an empty one removes it.
    resp = client.patch(url, {"system_prompt": "x" * limit}, content_type="application/json")
    assert resp.status_code == 200
    resp = client.patch(url, {"system_prompt": ""}, content_type="application/json")
    assert resp.json()["system_prompt"] == ""


def test_a_new_conversation_may_start_with_a_system_prompt(client, alice):
    client.force_login(alice)
    resp = client.post(
        "/api/conversations/", {"system_prompt": "Be brief."}, content_type="application/json"
    )
    assert resp.status_code == 201
    assert Conversation.objects.get(id=resp.json()["id"]).system_prompt == "Be brief."
    too_long = "x" * (Conversation.SYSTEM_PROMPT_MAX_CHARS + 1)
    resp = client.post(
        "/api/conversations/", {"system_prompt": too_long}, content_type="application/json"
    )
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "too_large"
    assert Conversation.objects.filter(owner=alice).count() == 1
