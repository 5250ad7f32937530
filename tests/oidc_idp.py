"""The sign-in tests' identity providers.

`RealIdP`: node-oidc-provider (tests/oidc_provider/idp.mjs) in its own process on a
free loopback port, with a login page of its own; `sign_in_at_idp` fills it in
with plain HTTP, as a browser would, and returns the redirect back to the app.

`ScriptedIdP`: a small in-process OpenID provider whose token endpoint answers what
the test scripted (an ID token for another audience, an expired one, one signed
by a key nobody published): the negative cases a real provider never produces.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import IN_CI
from tests.servers import ROOT, free_port, terminate

IDP_DIR = ROOT / "tests" / "oidc_provider"
CLIENT_ID = "chat-app"
CLIENT_SECRET = "chat-app-secret-0123456789abcdef"


def new_key(kid: str | None = None) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid or secrets.token_hex(6)})


def require_node() -> str:
    node = shutil.which("node")
    modules = IDP_DIR / "node_modules" / "oidc-provider"
    if node and modules.exists():
        return node
    message = "node and tests/oidc_provider/node_modules (make test-deps: npm ci) are needed"
    if IN_CI:
        pytest.fail(message + " (CI=true: services are required)")
    pytest.skip(message)


class RealIdP:
    def __init__(self, redirect_uris: list[str], accounts: dict[str, dict[str, Any]]):
        self.node = require_node()
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.admin_token = secrets.token_hex(8)
        self.accounts = accounts
        self.redirect_uris = redirect_uris
        self.keys = [new_key()]
        self.dir = ROOT / "var" / f"idp-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    def config(self) -> dict[str, Any]:
        post_logout = [
            uri.replace("/oidc/callback/", "/accounts/login/") for uri in self.redirect_uris
        ]
        return {
            "port": self.port,
            "issuer": self.issuer,
            "adminToken": self.admin_token,
            "jwks": {"keys": [k.as_dict(private=True) for k in self.keys]},
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": self.redirect_uris,
                    "post_logout_redirect_uris": post_logout,
                    "grant_types": ["authorization_code", "refresh_token"],
                    "response_types": ["code"],
                },
                {
                    "client_id": "other-app",
                    "client_secret": "other-app-secret-0123456789abcdef",
                    "redirect_uris": self.redirect_uris,
                    "grant_types": ["authorization_code"],
                    "response_types": ["code"],
                },
            ],
            "accounts": self.accounts,
        }

    def start(self) -> None:
        path = self.dir / "config.json"
        path.write_text(json.dumps(self.config()))
        self.log = open(self.dir / "idp.log", "a")  # noqa: SIM115 (closed in stop)
        proc = self.proc = subprocess.Popen(
            [self.node, str(IDP_DIR / "idp.mjs"), str(path)],
            cwd=IDP_DIR,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "NODE_ENV": "test"},
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError("the test IdP exited: " + self.log_tail())
            try:
                requests.get(self.issuer + "/.well-known/openid-configuration", timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the test IdP did not start: " + self.log_tail())

    def log_tail(self) -> str:
        self.log.flush()
        return (self.dir / "idp.log").read_text(errors="replace")[-2000:]

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None
            self.log.close()

    def rotate_keys(self) -> None:
        """A new signing key (a new kid), the old one gone: a restart, as many IdPs do."""
        self.stop()
        self.keys = [new_key()]
        self.start()

    def change_account(self, account_id: str, **change: Any) -> None:
        self.accounts.setdefault(account_id, {}).update(change)
        resp = requests.post(
            f"{self.issuer}/__test/accounts/{account_id}",
            json=change,
            headers={"x-admin-token": self.admin_token},
            timeout=5,
        )
        resp.raise_for_status()

    def expire_codes(self) -> None:
        requests.post(
            f"{self.issuer}/__test/expire-codes",
            headers={"x-admin-token": self.admin_token},
            timeout=5,
        ).raise_for_status()


def sign_in_at_idp(
    authorize_url: str, login: str, password: str, browser: requests.Session | None = None
) -> str:
    """Follow the IdP's redirects and fill in its login form; the URL it finally sends
    the browser to (the app's callback), or "" when the IdP kept the person there."""
    session = browser or requests.Session()
    url = authorize_url
    for _ in range(10):
        resp = session.get(url, allow_redirects=False, timeout=10)
        if resp.is_redirect:
            url = urllib.parse.urljoin(url, resp.headers["location"])
            if "/oidc/callback/" in url:
                return url
            continue
        match = re.search(r'<form method="post" action="([^"]+)"', resp.text)
        if match is None:
            return ""
        action = urllib.parse.urljoin(url, match.group(1))
        resp = session.post(
            action, data={"login": login, "password": password}, allow_redirects=False, timeout=10
        )
        if not resp.is_redirect:
            return ""  # the login page again: refused
        url = urllib.parse.urljoin(action, resp.headers["location"])
        if "/oidc/callback/" in url:
            return url
    raise AssertionError("too many redirects at the IdP")


# --- the scripted provider -----------------------------------------------------------


class ScriptedIdP:
    """Discovery, JWKS and a token endpoint that answers `next_token` (scripted per test)."""

    def __init__(self) -> None:
        self.key = new_key("scripted-1")
        self.token_status = 200
        self.next_claims: dict[str, Any] = {}
        self.next_key: RSAKey | None = None
        self.next_header: dict[str, Any] = {}
        self.requests: list[str] = []
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _json(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                idp.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    self._json(200, idp.discovery())
                elif self.path == "/jwks":
                    self._json(200, {"keys": [idp.key.as_dict(private=False)]})
                else:
                    self._json(404, {})

            def do_POST(self) -> None:  # noqa: N802
                idp.requests.append(self.path)
                self.rfile.read(int(self.headers.get("content-length") or 0))
                if idp.token_status != 200:
                    self._json(idp.token_status, {"error": "server_error"})
                    return
                self._json(200, idp.token_response())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": self.issuer + "/authorize",
            "token_endpoint": self.issuer + "/token",
            "jwks_uri": self.issuer + "/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
        }

    def claims(self, flow_nonce: str, **override: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "scripted-sub",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "nonce": flow_nonce,
            "email": "scripted@example.com",
            "preferred_username": "scripted",
        }
        claims.update(override)
        return {k: v for k, v in claims.items() if v is not None}

    def token_response(self) -> dict[str, Any]:
        key = self.next_key or self.key
        header = {"alg": "RS256", "kid": key.kid, **self.next_header}
        if header["alg"] == "none":  # unsigned: joserfc will not make one, so by hand
            parts = [json.dumps(header), json.dumps(self.next_claims)]
            encoded = [base64.urlsafe_b64encode(p.encode()).rstrip(b"=").decode() for p in parts]
            id_token = ".".join([*encoded, ""])
        else:
            id_token = jwt.encode(header, self.next_claims, key)
        return {
            "access_token": "at-" + secrets.token_hex(8),
            "token_type": "Bearer",
            "id_token": id_token,
        }

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def scripted_idp() -> Iterator[ScriptedIdP]:
    idp = ScriptedIdP()
    yield idp
    idp.stop()


def oidc_settings(settings: Any, issuer: str, **extra: Any) -> None:
    settings.OIDC_ISSUER = issuer
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    for name, value in extra.items():
        setattr(settings, name, value)


__all__ = ["CLIENT_ID", "Path", "RealIdP", "ScriptedIdP", "oidc_settings", "sign_in_at_idp"]
