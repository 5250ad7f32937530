"""Sign-in and password-reset throttling: per username (or e-mail) and per address,
the address taken only from the trusted proxies (TRUSTED_PROXY_COUNT)."""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client, RequestFactory

from accounts.throttle import client_address

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_hasher(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


LOCKED = "Too many failed sign-ins; try again in 15 minutes."
RESET_LOCKED = "Too many password reset requests; try again in 15 minutes."


def _request(remote: str, forwarded: str | None = None):  # type: ignore[no-untyped-def]
    request = RequestFactory().get("/", REMOTE_ADDR=remote)
    if forwarded is not None:
        request.META["HTTP_X_FORWARDED_FOR"] = forwarded
    return request


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (0, None, "10.0.0.1"),
        (0, "6.6.6.6", "10.0.0.1"),  # no trusted proxy: the header is the client's word
        (1, None, "10.0.0.1"),  # no header: whoever connected
        (1, "6.6.6.6, 203.0.113.7", "203.0.113.7"),
        (1, " 6.6.6.6 ,203.0.113.7 ", "203.0.113.7"),
        (2, "6.6.6.6, 203.0.113.7, 172.16.0.2", "203.0.113.7"),
        (2, "203.0.113.7", "10.0.0.1"),  # fewer hops than proxies: not to be trusted
        (1, "6.6.6.6,", "10.0.0.1"),  # an empty entry: malformed
    ],
)
def test_client_address(settings, count, forwarded, expected):
    settings.TRUSTED_PROXY_COUNT = count
    assert client_address(_request("10.0.0.1", forwarded)) == expected


def _login(client: Client, username: str, password: str, path: str, **extra):  # type: ignore[no-untyped-def]
    return client.post(path, {"username": username, "password": password}, **extra)


@pytest.mark.parametrize("path", ["/accounts/login/", "/admin/login/"])
@pytest.mark.parametrize("proxies", [0, 1])
def test_a_username_is_locked_whatever_the_address(settings, admin_user, path, proxies):
    settings.TRUSTED_PROXY_COUNT = proxies
    client = Client()
    for n in range(12):
        address = f"198.51.100.{n}"
        _login(client, "admin", "wrong", path, REMOTE_ADDR=address, HTTP_X_FORWARDED_FOR=address)
    resp = _login(
        client,
        "admin",
        "password",
        path,
        REMOTE_ADDR="192.0.2.200",
        HTTP_X_FORWARDED_FOR="192.0.2.200",
    )
    assert resp.status_code == 200
    assert LOCKED in resp.content.decode()
    assert "_auth_user_id" not in client.session


def test_an_address_is_locked_whatever_the_username(settings, alice):
    settings.TRUSTED_PROXY_COUNT = 1
    spray = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}
    client = Client()
    for n in range(4 * settings.LOGIN_MAX_FAILURES):
        _login(client, f"user{n}", "wrong", "/accounts/login/", **spray)
    assert (
        LOCKED
        in _login(client, "alice", "alice-pass-123", "/accounts/login/", **spray).content.decode()
    )
    # Another client behind the same proxy is not.
    other = {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.10"}
    assert (
        _login(Client(), "alice", "alice-pass-123", "/accounts/login/", **other).status_code == 302
    )


def test_a_spoofed_header_is_ignored_without_trusted_proxies(settings, alice):
    settings.TRUSTED_PROXY_COUNT = 0
    client = Client()
    for n in range(4 * settings.LOGIN_MAX_FAILURES):
        _login(client, f"user{n}", "wrong", "/accounts/login/", HTTP_X_FORWARDED_FOR=f"6.6.6.{n}")
    assert LOCKED in _login(client, "alice", "alice-pass-123", "/accounts/login/").content.decode()


def _reset(client: Client, email: str, **extra):  # type: ignore[no-untyped-def]
    return client.post("/accounts/password_reset/", {"email": email}, **extra)


def test_password_reset_is_throttled_per_email(settings, alice):
    alice.email = "alice@example.com"
    alice.save()
    client = Client()
    for n in range(settings.LOGIN_MAX_FAILURES):
        assert _reset(client, "Alice@example.com", REMOTE_ADDR=f"198.51.100.{n}").status_code == 302
    assert len(mail.outbox) == settings.LOGIN_MAX_FAILURES
    resp = _reset(client, "alice@example.com", REMOTE_ADDR="192.0.2.1")
    assert resp.status_code == 200
    assert RESET_LOCKED in resp.content.decode()
    assert len(mail.outbox) == settings.LOGIN_MAX_FAILURES
    # Another e-mail from another address is not refused.
    assert _reset(client, "bob@example.com", REMOTE_ADDR="192.0.2.2").status_code == 302


def test_password_reset_is_throttled_per_address(settings, alice):
    client = Client()
    for n in range(4 * settings.LOGIN_MAX_FAILURES):
        assert _reset(client, f"user{n}@example.com").status_code == 302
    resp = _reset(client, "alice@example.com")
    assert RESET_LOCKED in resp.content.decode()
