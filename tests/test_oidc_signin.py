"""Company sign-in against a real OpenID provider (node-oidc-provider in its own process):
first sign-in, sub matching and linking, groups → teams, PKCE and state, an expired
code, key rotation, sign-out at the IdP, a disabled person's session ending."""

from __future__ import annotations

import time
import urllib.parse

import pytest
import requests
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.audit import AuditEntry
from accounts.oidc import client as oidc_client
from accounts.oidc.identity import OidcIdentity
from accounts.teams import Team
from tests.oidc_idp import RealIdP, oidc_settings, sign_in_at_idp

CALLBACK = "http://testserver/oidc/callback/"


def accounts() -> dict[str, dict]:
    return {
        "u-ada": {
            "password": "ada-pw",
            "email": "ada@example.com",
            "email_verified": True,
            "preferred_username": "ada",
            "groups": ["eng", "research"],
        },
        "u-bo": {
            "password": "bo-pw",
            "email": "bo@example.com",
            "email_verified": True,
            "preferred_username": "bo",
            "groups": [],
        },
        "u-cy": {
            "password": "cy-pw",
            "email": "cy@example.com",
            "email_verified": False,
            "groups": ["eng"],
        },
    }


@pytest.fixture
def idp(settings):
    provider = RealIdP([CALLBACK], accounts())
    oidc_settings(settings, provider.issuer)
    oidc_client.forget()
    yield provider
    provider.stop()
    oidc_client.forget()


def sign_in(client: Client, login: str, password: str, browser: requests.Session | None = None):
    start = client.get("/oidc/login/")
    assert start.status_code == 302, start
    callback = sign_in_at_idp(start["Location"], login, password, browser)
    assert callback.startswith(CALLBACK), callback
    return client.get(callback.removeprefix("http://testserver"))


def signed_in(client: Client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    if user_id is None:
        return None
    return get_user_model().objects.get(pk=user_id).get_username()


def test_authorization_request_uses_pkce_state_and_nonce(idp, db):
    get_user_model().objects.create_user("someone")
    resp = Client().get("/oidc/login/")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(resp["Location"]).query)
    assert resp["Location"].startswith(idp.issuer + "/auth")
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["scope"] == ["openid email profile"]


def test_first_sign_in_creates_the_person(idp, db):
    client = Client()
    resp = sign_in(client, "u-ada", "ada-pw")
    assert resp.status_code == 302 and resp["Location"] == "/"
    assert signed_in(client) == "ada"
    user = get_user_model().objects.get(username="ada")
    assert user.email == "ada@example.com"
    assert not user.has_usable_password()
    identity = OidcIdentity.objects.get(user=user)
    assert (identity.issuer, identity.subject) == (idp.issuer, "u-ada")
    assert identity.groups == ["eng", "research"]
    # Again: the same person, matched by sub.
    client2 = Client()
    sign_in(client2, "u-ada", "ada-pw")
    assert signed_in(client2) == "ada"
    assert get_user_model().objects.filter(email="ada@example.com").count() == 1
    # The session keeps its tokens on the server, never in a page.
    page = client2.get("/")
    assert client2.session["oidc"]["id_token"] not in page.content.decode()


def test_username_falls_back_to_the_email_and_is_made_unique(idp, db):
    get_user_model().objects.create_user("cy@example.com", email="other@example.com")
    client = Client()
    sign_in(client, "u-cy", "cy-pw")
    assert signed_in(client) == "cy@example.com-2"


def test_same_email_is_not_merged_without_link_by_email(idp, db, settings):
    local = get_user_model().objects.create_user("ada-local", email="ada@example.com")
    client = Client()
    sign_in(client, "u-ada", "ada-pw")
    assert signed_in(client) == "ada"  # a new account, not the local one
    assert not OidcIdentity.objects.filter(user=local).exists()


def test_link_by_email_needs_the_setting_and_a_verified_address(idp, db, settings):
    settings.OIDC_LINK_BY_EMAIL = True
    ada = get_user_model().objects.create_user("ada-local", email="ADA@example.com")
    cy = get_user_model().objects.create_user("cy-local", email="cy@example.com")
    client = Client()
    sign_in(client, "u-ada", "ada-pw")
    assert signed_in(client) == "ada-local"
    assert OidcIdentity.objects.get(subject="u-ada").user == ada
    assert AuditEntry.objects.filter(action="linked", object_id=str(ada.pk)).exists()
    client2 = Client()
    sign_in(client2, "u-cy", "cy-pw")  # email_verified false: not linked
    assert signed_in(client2) == "cy@example.com"
    assert not OidcIdentity.objects.filter(user=cy).exists()


def test_groups_claim_sets_team_members_at_each_sign_in(idp, db):
    eng = Team.objects.create(name="Engineering", idp_group="eng")
    research = Team.objects.create(name="Research", idp_group="research")
    manual = Team.objects.create(name="Manual")
    sign_in(Client(), "u-ada", "ada-pw")
    ada = get_user_model().objects.get(username="ada")
    manual.members.add(ada)
    research.reviewers.add(ada)
    assert set(ada.teams.values_list("name", flat=True)) == {"Engineering", "Research", "Manual"}
    added = AuditEntry.objects.filter(action="member_added", object_id=str(eng.pk))
    assert added.count() == 1 and "ada" in added[0].detail

    idp.change_account("u-ada", groups=["eng"])
    sign_in(Client(), "u-ada", "ada-pw")
    assert set(ada.teams.values_list("name", flat=True)) == {"Engineering", "Manual"}
    assert not research.reviewers.filter(pk=ada.pk).exists()  # a reviewer is a member
    removed = AuditEntry.objects.get(action="member_removed", object_id=str(research.pk))
    assert "ada" in removed.detail


def test_a_person_the_idp_refuses_cannot_sign_in(idp, db):
    get_user_model().objects.create_user("someone")
    idp.change_account("u-bo", disabled=True)
    start = Client().get("/oidc/login/")
    assert sign_in_at_idp(start["Location"], "u-bo", "bo-pw") == ""


def test_a_locally_disabled_person_is_refused(idp, db):
    sign_in(Client(), "u-bo", "bo-pw")
    get_user_model().objects.filter(username="bo").update(is_active=False)
    client = Client()
    resp = sign_in(client, "u-bo", "bo-pw")
    assert resp["Location"] == "/oidc/failed/disabled/"
    assert signed_in(client) is None


def test_tampered_or_replayed_state_is_refused(idp, db):
    get_user_model().objects.create_user("someone")
    client = Client()
    start = client.get("/oidc/login/")
    callback = sign_in_at_idp(start["Location"], "u-ada", "ada-pw")
    path = callback.removeprefix("http://testserver")
    tampered = path.replace("state=", "state=x")
    resp = client.get(tampered)
    assert resp["Location"] == "/oidc/failed/state/"
    assert signed_in(client) is None
    page = client.get(resp["Location"])
    assert page.status_code == 400
    assert "Sign-in failed" in page.content.decode()
    assert "/accounts/login/" in page.content.decode()  # a way back
    # The real callback in another browser (a stolen link): no state there.
    other = Client()
    assert other.get(path)["Location"] == "/oidc/failed/state/"
    assert signed_in(other) is None


def test_expired_code_is_refused(idp, db):
    get_user_model().objects.create_user("someone")
    client = Client()
    start = client.get("/oidc/login/")
    callback = sign_in_at_idp(start["Location"], "u-ada", "ada-pw")
    idp.expire_codes()
    resp = client.get(callback.removeprefix("http://testserver"))
    assert resp["Location"] == "/oidc/failed/code/"
    assert signed_in(client) is None
    assert not get_user_model().objects.filter(username="ada").exists()


def test_key_rotation_is_picked_up_without_a_restart(idp, db):
    sign_in(Client(), "u-ada", "ada-pw")
    old_kid = idp.keys[0].kid
    idp.rotate_keys()
    assert idp.keys[0].kid != old_kid
    client = Client()
    resp = sign_in(client, "u-ada", "ada-pw")
    assert resp["Location"] == "/"
    assert signed_in(client) == "ada"


def test_sign_out_ends_the_idp_session(idp, db):
    browser = requests.Session()
    client = Client()
    sign_in(client, "u-ada", "ada-pw", browser)
    id_token = client.session["oidc"]["id_token"]
    # Signed in at the IdP: a new sign-in needs no password (single sign-on).
    start = Client().get("/oidc/login/")
    assert browser.get(start["Location"], allow_redirects=False).is_redirect

    resp = client.post("/accounts/logout/")
    assert signed_in(client) is None
    end = urllib.parse.urlsplit(resp["Location"])
    query = urllib.parse.parse_qs(end.query)
    assert resp["Location"].startswith(idp.issuer + "/session/end")
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == ["http://testserver/accounts/login/"]
    # The IdP's confirmation form, as a browser would submit it.
    page = browser.get(resp["Location"], allow_redirects=False)
    action = page.text.split('action="', 1)[1].split('"', 1)[0]
    xsrf = page.text.split('name="xsrf" value="', 1)[1].split('"', 1)[0]
    done = browser.post(
        urllib.parse.urljoin(idp.issuer, action),
        data={"xsrf": xsrf, "logout": "yes"},
        allow_redirects=False,
    )
    assert done.headers["location"].startswith("http://testserver/accounts/login/")
    # The IdP forgot the person: its login form again.
    start = Client().get("/oidc/login/")
    again = browser.get(start["Location"], allow_redirects=True)
    assert 'name="password"' in again.text


def test_a_disabled_persons_session_ends_on_the_next_page(idp, db, settings):
    settings.OIDC_RENEW_SECONDS = 1
    client = Client()
    sign_in(client, "u-ada", "ada-pw")
    time.sleep(1.1)
    assert client.get("/api/conversations/").status_code == 200  # renewed at the IdP
    assert signed_in(client) == "ada"
    idp.change_account("u-ada", disabled=True)
    time.sleep(1.1)
    resp = client.get("/api/conversations/")
    assert resp.status_code in (302, 401, 403)
    assert signed_in(client) is None


def test_an_idp_outage_keeps_the_session_and_asks_again(idp, db, settings):
    settings.OIDC_RENEW_SECONDS = 1
    client = Client()
    sign_in(client, "u-ada", "ada-pw")
    idp.stop()
    time.sleep(1.1)
    assert client.get("/api/conversations/").status_code == 200
    assert signed_in(client) == "ada"
