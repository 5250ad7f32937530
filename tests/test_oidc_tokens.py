"""ID tokens a real provider never sends, from a scripted one with a key the test holds:
another audience, expired, a bad signature, a replayed nonce; and an IdP that is
down. Each shows the failure page in the person's language, signs nobody in and
logs no token."""

from __future__ import annotations

import logging
import time
import urllib.parse

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.oidc import client as oidc_client
from tests.oidc_idp import CLIENT_ID, ScriptedIdP, new_key, oidc_settings
from tests.servers import free_port


@pytest.fixture
def scripted(settings, db):
    idp = ScriptedIdP()
    oidc_settings(settings, idp.issuer)
    oidc_client.forget()
    get_user_model().objects.create_user("someone-else")
    yield idp
    idp.stop()
    oidc_client.forget()


def begin(client: Client) -> tuple[str, str]:
    """Start a sign-in; the state and nonce the app sent to the IdP."""
    resp = client.get("/oidc/login/")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(resp["Location"]).query)
    return query["state"][0], query["nonce"][0]


def finish(client: Client, state: str) -> str:
    resp = client.get(f"/oidc/callback/?code=scripted-code&state={state}")
    assert resp.status_code == 302
    return str(resp["Location"])


def assert_nobody(client: Client) -> None:
    assert "_auth_user_id" not in client.session
    assert not get_user_model().objects.filter(username="scripted").exists()


def test_a_good_scripted_token_signs_in(scripted):
    client = Client()
    state, nonce = begin(client)
    scripted.next_claims = scripted.claims(nonce)
    assert finish(client, state) == "/"
    assert get_user_model().objects.get(username="scripted")


@pytest.mark.parametrize(
    "override",
    [
        {"aud": "other-app"},
        # Authlib's own check reads aud only through azp: this one passed it.
        {"aud": "other-app", "azp": CLIENT_ID},
        {"aud": ["other-app", "third-app"]},
        {"iss": "https://evil.example.com"},
        {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 7200},
        {"nonce": "another-flows-nonce"},
        {"nonce": None},
        {"sub": None},
    ],
    ids=["aud", "aud-with-azp", "aud-list", "iss", "expired", "nonce", "no-nonce", "no-sub"],
)
def test_bad_claims_are_refused(scripted, override, caplog):
    client = Client()
    state, nonce = begin(client)
    scripted.next_claims = scripted.claims(nonce, **override)
    with caplog.at_level(logging.INFO):
        assert finish(client, state) == "/oidc/failed/token/"
    assert_nobody(client)
    assert "eyJ" not in caplog.text  # no token (JWTs start so) in any log line


def test_a_signature_by_another_key_is_refused(scripted):
    client = Client()
    state, nonce = begin(client)
    scripted.next_claims = scripted.claims(nonce)
    scripted.next_key = new_key(scripted.key.kid)  # same kid, another key
    assert finish(client, state) == "/oidc/failed/token/"
    assert_nobody(client)


def test_a_tampered_payload_is_refused(scripted, monkeypatch):
    client = Client()
    state, nonce = begin(client)
    scripted.next_claims = scripted.claims(nonce)
    good = scripted.token_response

    def tampered():
        body = good()
        header, payload, signature = body["id_token"].split(".")
        forged = scripted.claims(nonce, sub="admin")
        import base64
        import json

        payload = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
        body["id_token"] = ".".join([header, payload, signature])
        return body

    monkeypatch.setattr(scripted, "token_response", tampered)
    assert finish(client, state) == "/oidc/failed/token/"
    assert_nobody(client)


def test_an_unsigned_token_is_refused(scripted):
    client = Client()
    state, nonce = begin(client)
    scripted.next_claims = scripted.claims(nonce)
    scripted.next_header = {"alg": "none"}
    assert finish(client, state) == "/oidc/failed/token/"
    assert_nobody(client)


def test_a_replayed_nonce_is_refused(scripted):
    first = Client()
    state, nonce = begin(first)
    scripted.next_claims = scripted.claims(nonce)
    assert finish(first, state) == "/"
    # The same ID token (its nonce from the first flow) answered to a new flow.
    second = Client()
    state2, _ = begin(second)
    assert finish(second, state2) == "/oidc/failed/token/"
    assert "_auth_user_id" not in second.session


def test_an_idp_down_at_the_token_endpoint(scripted):
    client = Client()
    state, nonce = begin(client)
    scripted.token_status = 503
    location = finish(client, state)
    assert location == "/oidc/failed/unreachable/"
    assert_nobody(client)
    page = client.get(location)
    assert page.status_code == 502
    assert "could not be reached" in page.content.decode()


def test_an_idp_that_does_not_answer_at_all(settings, db):
    oidc_settings(settings, f"http://127.0.0.1:{free_port()}")
    oidc_client.forget()
    get_user_model().objects.create_user("someone")
    resp = Client().get("/oidc/login/")
    assert resp["Location"] == "/oidc/failed/unreachable/"
    oidc_client.forget()


def test_the_failure_page_speaks_chinese(scripted):
    client = Client(headers={"accept-language": "zh-Hans"})
    state, nonce = begin(client)
    scripted.next_claims = scripted.claims(nonce, aud="other-app")
    page = client.get(finish(client, state))
    html = page.content.decode()
    assert page.status_code == 400
    assert "登录失败" in html
    assert 'lang="zh-hans"' in html
    assert "/accounts/login/" in html
