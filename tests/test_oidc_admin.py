"""The sign-in page's button, PASSWORD_LOGIN=0 (break-glass superusers only), and teams
that follow an IdP group in the admin and in add_team."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from accounts.audit import AuditEntry
from accounts.oidc.identity import OidcIdentity
from accounts.teams import Team

ISSUER = "https://idp.example.com"


@pytest.fixture
def oidc_on(settings):
    settings.OIDC_ISSUER = ISSUER
    settings.OIDC_CLIENT_ID = "chat-app"
    settings.OIDC_CLIENT_SECRET = "secret"


def test_login_page_shows_the_button(db, oidc_on, settings):
    get_user_model().objects.create_user("alice", password="alice-pass-123")
    settings.OIDC_BUTTON_LABEL = "Keycloak"
    html = Client().get("/accounts/login/?next=/c/x/").content.decode()
    assert "Sign in with Keycloak" in html
    assert 'href="/oidc/login/?next=/c/x/"' in html
    assert 'id="id_password"' in html  # PASSWORD_LOGIN defaults to 1
    settings.OIDC_BUTTON_LABEL = ""
    assert "Sign in with your company account" in Client().get("/accounts/login/").content.decode()


def test_no_button_without_an_issuer(db):
    get_user_model().objects.create_user("alice", password="alice-pass-123")
    html = Client().get("/accounts/login/").content.decode()
    assert "/oidc/login/" not in html
    assert Client().get("/oidc/login/").status_code == 404


def test_password_login_off_hides_the_form_and_refuses_passwords(db, oidc_on, settings):
    settings.PASSWORD_LOGIN = False
    get_user_model().objects.create_user("alice", password="alice-pass-123", is_staff=True)
    get_user_model().objects.create_superuser("root", password="root-pass-123")
    html = Client().get("/accounts/login/").content.decode()
    assert 'id="id_password"' not in html and "/oidc/login/" in html

    client = Client()
    resp = client.post("/accounts/login/", {"username": "alice", "password": "alice-pass-123"})
    assert "_auth_user_id" not in client.session
    assert "Password sign-in is turned off" in resp.content.decode()
    resp = client.post("/admin/login/", {"username": "alice", "password": "alice-pass-123"})
    assert "_auth_user_id" not in client.session

    for url in ("/accounts/login/", "/admin/login/"):
        root = Client()
        resp = root.post(url, {"username": "root", "password": "root-pass-123"})
        assert resp.status_code == 302, url
        assert root.session["_auth_user_id"]


def test_setup_still_creates_the_first_superuser(db, oidc_on, settings):
    settings.PASSWORD_LOGIN = False
    client = Client()
    resp = client.post(
        "/setup/",
        {"username": "root", "password1": "a-long-pass-9876", "password2": "a-long-pass-9876"},
    )
    assert resp.status_code == 302
    assert get_user_model().objects.get(username="root").is_superuser
    assert Client().login(username="root", password="a-long-pass-9876")


def identity(username: str, groups: list[str]):
    user = get_user_model().objects.create_user(username)
    OidcIdentity.objects.create(
        user=user,
        issuer=ISSUER,
        subject=f"sub-{username}",
        groups=groups,
        last_login=timezone.now(),
    )
    return user


@pytest.fixture
def admin_client(db):
    client = Client()
    client.force_login(get_user_model().objects.create_superuser("root", password="x-pass-123"))
    return client


def test_admin_shows_idp_teams_and_does_not_let_members_be_edited(admin_client):
    ada, bo = identity("ada", ["eng"]), identity("bo", [])
    team = Team.objects.create(name="Eng", idp_group="eng")
    team.members.add(ada)
    listing = admin_client.get("/admin/accounts/team/").content.decode()
    assert "IdP group eng" in listing
    page = admin_client.get(f"/admin/accounts/team/{team.pk}/change/").content.decode()
    assert 'name="members"' not in page  # shown read-only
    resp = admin_client.post(
        f"/admin/accounts/team/{team.pk}/change/",
        {"name": "Eng", "idp_group": "eng", "members": [bo.pk], "reviewers": [bo.pk]},
    )
    assert resp.status_code == 200  # refused: bo is no member
    assert "Reviewers must also be members" in resp.content.decode()
    assert set(team.members.all()) == {ada}
    resp = admin_client.post(
        f"/admin/accounts/team/{team.pk}/change/",
        {"name": "Eng", "idp_group": "eng", "reviewers": [ada.pk]},
    )
    assert resp.status_code == 302
    assert set(team.reviewers.all()) == {ada}


def test_admin_setting_a_group_recomputes_the_members(admin_client):
    ada, bo = identity("ada", ["eng"]), identity("bo", ["sales"])
    local = get_user_model().objects.create_user("local")
    team = Team.objects.create(name="Eng")
    team.members.add(bo, local)
    resp = admin_client.post(
        f"/admin/accounts/team/{team.pk}/change/",
        {"name": "Eng", "idp_group": "eng", "members": [bo.pk, local.pk]},
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    assert set(team.members.all()) == {ada}
    actions = set(
        AuditEntry.objects.filter(object_id=str(team.pk)).values_list("action", flat=True)
    )
    assert {"member_added", "member_removed", "changed"} <= actions
    # A new team with a group and hand-picked members: refused.
    resp = admin_client.post(
        "/admin/accounts/team/add/", {"name": "Sales", "idp_group": "sales", "members": [ada.pk]}
    )
    assert resp.status_code == 200
    assert "its members come from company sign-ins" in resp.content.decode()


def test_add_team_idp_group(db):
    ada, bo = identity("ada", ["eng"]), identity("bo", [])
    call_command("add_team", "--name", "Eng", "--idp-group", "eng")
    team = Team.objects.get(name="Eng")
    assert team.idp_group == "eng" and set(team.members.all()) == {ada}
    with pytest.raises(CommandError, match="not --member"):
        call_command("add_team", "--name", "Eng", "--member", "bo")
    with pytest.raises(CommandError, match="Reviewers must be members"):
        call_command("add_team", "--name", "Eng", "--reviewer", "bo")
    call_command("add_team", "--name", "Eng", "--reviewer", "ada")
    assert set(team.reviewers.all()) == {ada}
    call_command("add_team", "--name", "Eng", "--idp-group", "")
    team.refresh_from_db()
    assert team.idp_group == "" and set(team.members.all()) == {ada}
    call_command("add_team", "--name", "Eng", "--member", "bo")
    assert set(team.members.all()) == {ada, bo}
