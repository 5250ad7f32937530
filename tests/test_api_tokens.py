"""Personal API tokens: the settings page, the command, the admin and the audit log."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import access
from accounts.audit import AuditEntry
from accounts.teams import Team
from accounts.tokens import ApiToken, authenticate, create_token
from accounts.usage import DailyUsage

pytestmark = pytest.mark.django_db
SECRET = re.compile(r"sk-[A-Za-z0-9_-]{43}")


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_token_is_shown_once_and_stored_as_its_hash(alice: Any) -> None:
    client = signed_in(alice)
    page = client.post("/settings/tokens/", {"name": "laptop", "expires_days": "30"})
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    shown = SECRET.findall(page.content.decode())
    assert len(set(shown)) == 1
    secret = shown[0]
    token = ApiToken.objects.get()
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.values().get())
    assert token.prefix == secret[:7] and token.last_four == secret[-4:]
    assert token.expires is not None
    assert timedelta(days=29) < token.expires - timezone.now() <= timedelta(days=30)

    listed = client.get("/settings/tokens/").content.decode()
    assert secret not in listed
    assert f"{secret[:7]}…{secret[-4:]}" in listed and "laptop" in listed
    found = authenticate(secret)
    assert found is not None and found.user == alice and found.token_name == "laptop"
    assert ApiToken.objects.get().last_used is not None
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.object_kind, entry.actor) == ("created", "token", alice)
    assert secret not in entry.object_repr and token.masked in entry.object_repr


def test_names_are_checked(alice: Any) -> None:
    client = signed_in(alice)
    assert client.post("/settings/tokens/", {"name": "ci"}).status_code == 200
    again = client.post("/settings/tokens/", {"name": " ci "})
    assert again.status_code == 400 and ApiToken.objects.count() == 1
    assert client.post("/settings/tokens/", {"name": "x", "expires_days": "0"}).status_code == 400


def test_revoking(alice: Any) -> None:
    token, secret = create_token(alice, "laptop", actor=None, via="test")
    client = signed_in(alice)
    response = client.post(f"/settings/tokens/{token.pk}/revoke/")
    assert response.status_code == 302
    assert authenticate(secret) is None
    assert f'data-token="{token.pk}"' not in client.get("/settings/tokens/").content.decode()
    assert AuditEntry.objects.filter(action="revoked", object_kind="token").count() == 1
    assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 404


def test_expired_tokens_and_inactive_owners_are_refused(alice: Any) -> None:
    token, secret = create_token(alice, "short", expires_days=1, actor=None, via="test")
    assert authenticate(secret) is not None
    ApiToken.objects.filter(pk=token.pk).update(expires=timezone.now())
    assert authenticate(secret) is None
    _, other = create_token(alice, "long", actor=None, via="test")
    alice.is_active = False
    alice.save()
    assert authenticate(other) is None
    assert authenticate("sk-unknown") is None and authenticate("not-sk") is None


def test_a_token_is_read_with_its_owner_and_the_owners_teams(alice: Any) -> None:
    for name, quota in (("Zeta", 1000), ("Alpha", None)):
        Team.objects.create(name=name, daily_token_quota=quota).members.add(alice)
    secret = create_token(alice, "laptop", actor=None, via="test")[1]
    ApiToken.objects.update(last_used=timezone.now())  # no write of its last use
    access.clear()
    with CaptureQueriesContext(connection) as queries:
        found = authenticate(secret)
    assert found is not None and found.user == alice and len(queries) == 1
    with CaptureQueriesContext(connection) as queries:  # the plan's checks: at hand
        teams = access.teams_of(alice)
    assert [(t.name, t.daily_token_quota) for t in teams] == [("Alpha", None), ("Zeta", 1000)]
    assert len(queries) == 0


def test_another_persons_token_is_404(alice: Any, bob: Any) -> None:
    token, secret = create_token(alice, "alice's laptop", actor=None, via="test")
    client = signed_in(bob)
    assert client.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 404
    assert client.post("/settings/tokens/999999/revoke/").status_code == 404
    assert "alice's laptop" not in client.get("/settings/tokens/").content.decode()
    assert authenticate(secret) is not None
    # Signed out: to the sign-in page, nothing shown.
    anonymous = Client()
    assert anonymous.get("/settings/tokens/").status_code == 302
    assert anonymous.post(f"/settings/tokens/{token.pk}/revoke/").status_code == 302


def test_the_page_says_how_to_connect(alice: Any, chat_provider: Any) -> None:
    team = Team.objects.create(name="Research", daily_token_quota=1_000_000)
    team.members.add(alice)
    DailyUsage.objects.create(
        day=timezone.now().date(), user=alice, team=team, model="fake/fake-r1", total_tokens=1234
    )
    page = signed_in(alice).get("/settings/tokens/").content.decode()
    assert "http://testserver/v1" in page and "fake/fake-r1" in page
    assert "998,766" in page and "1,000,000" in page
    for tool in ("curl", "OpenAI Python SDK", "Cursor", "JetBrains AI Assistant", "Chatbox"):
        assert tool in page
    assert "Continue" in page and "apiBase: http://testserver/v1" in page
    # CSP: one script from a file, no inline script or style.
    scripts = re.findall(r"<script[^>]*>", page)
    assert scripts == ['<script src="/static/tokens/tokens.js" defer>']
    assert "style=" not in page and "<style" not in page


def test_the_page_in_chinese(alice: Any) -> None:
    page = signed_in(alice).get("/settings/tokens/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    text = page.content.decode()
    assert 'lang="zh-hans"' in text
    assert "API 令牌" in text and "创建令牌" in text and "连接工具" in text


def test_the_chat_links_the_page(alice: Any) -> None:
    assert 'href="/settings/tokens/"' in signed_in(alice).get("/").content.decode()


def test_add_api_token_prints_the_secret_alone(alice: Any) -> None:
    out, err = StringIO(), StringIO()
    call_command(
        "add_api_token",
        "--user",
        "alice",
        "--name",
        "ci",
        "--expires-days",
        "7",
        stdout=out,
        stderr=err,
    )
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 and SECRET.fullmatch(lines[0])
    found = authenticate(lines[0])
    assert found is not None and found.token_name == "ci"
    assert ApiToken.objects.get().expires is not None
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.actor, entry.detail) == ("created", None, "add_api_token")
    with pytest.raises(Exception, match="No user"):
        call_command("add_api_token", "--user", "nobody", "--name", "x", stdout=StringIO())


def test_superusers_list_and_revoke_anyones_in_the_admin(
    alice: Any, django_user_model: Any
) -> None:
    token, secret = create_token(alice, "laptop", actor=None, via="test")
    admin = django_user_model.objects.create_superuser("root", password="root-pass-123")
    client = signed_in(admin)
    listing = client.get("/admin/accounts/apitoken/").content.decode()
    assert "laptop" in listing and token.masked in listing and secret not in listing
    assert client.get("/admin/accounts/apitoken/add/").status_code == 403
    response = client.post(
        "/admin/accounts/apitoken/",
        {"action": "revoke_selected", "_selected_action": [token.pk]},
    )
    assert response.status_code == 302 and authenticate(secret) is None
    entry = AuditEntry.objects.get(action="revoked")
    assert entry.actor == admin and entry.object_kind == "token"

    staff = django_user_model.objects.create_user("staff", password="staff-pass-123")
    staff.is_staff = True
    staff.save()
    assert signed_in(staff).get("/admin/accounts/apitoken/").status_code == 403
