"""The OpenID Connect client: Authlib's Django client, configured from the settings.

Authlib does the protocol: the authorization request with PKCE (S256), `state` and
`nonce` kept in the session; the code exchange; the ID token's signature against
the issuer's JWKS (fetched again when a token names a `kid` it does not know: a
key rotation needs no restart), `iss`, `exp` and `nonce`. Its default check of an
ID token reads `aud` only through `azp`, so `aud` is pinned to our client id here
(tests/test_oidc_tokens.py signs tokens for another audience to prove it).

The discovery document and the JWKS are cached in the client object, which is
rebuilt after DISCOVERY_TTL or when the settings change (the tests change them).
Nothing here logs or raises with a token in it.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import requests
from authlib.common.urls import add_params_to_uri
from authlib.integrations.base_client.errors import MismatchingStateError, OAuthError
from authlib.integrations.django_client import OAuth
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from joserfc.errors import JoseError

from accounts.oidc.failures import SignInFailed

logger = logging.getLogger(__name__)

# How long the discovery document (and the JWKS with it) is reused before it is
# fetched again. A new key is picked up sooner: an unknown `kid` refetches the JWKS.
DISCOVERY_TTL = 3600.0
# Every call to the IdP is bounded: a person is waiting on the other end.
TIMEOUT = 10.0
# Authlib's leeway on exp / iat, in seconds (clocks differ a little).
LEEWAY = 60

_lock = threading.Lock()
_cached: tuple[tuple[str, ...], float, Any] | None = None


def _config() -> tuple[str, ...]:
    return (
        settings.OIDC_ISSUER,
        settings.OIDC_CLIENT_ID,
        settings.OIDC_CLIENT_SECRET or "",
        settings.OIDC_SCOPES,
    )


def app() -> Any:
    """The Authlib client for the current settings (cached per process)."""
    global _cached
    config = _config()
    with _lock:
        if _cached is not None and _cached[0] == config and time.monotonic() < _cached[1]:
            return _cached[2]
        issuer, client_id, client_secret, scopes = config
        registry = OAuth()
        client = registry.register(
            name="oidc",
            client_id=client_id,
            client_secret=client_secret or None,
            server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": scopes,
                "code_challenge_method": "S256",
                "default_timeout": TIMEOUT,
            },
        )
        _cached = (config, time.monotonic() + DISCOVERY_TTL, client)
        return client


def forget() -> None:
    """Drop the cached client (discovery and JWKS): the next call fetches them again."""
    global _cached
    with _lock:
        _cached = None


def metadata() -> dict[str, Any]:
    """The issuer's discovery document; its `issuer` must be the configured one
    (OpenID Connect Discovery 1.0, 4.3)."""
    client = app()
    try:
        data: dict[str, Any] = client.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise SignInFailed("unreachable", f"discovery: {type(exc).__name__}: {exc}") from None
    issuer = str(data.get("issuer", ""))
    if issuer.rstrip("/") != settings.OIDC_ISSUER.rstrip("/"):
        forget()
        raise SignInFailed("misconfigured", f"discovery names issuer {issuer!r}")
    return data


def authorize_redirect(request: HttpRequest, redirect_uri: str) -> HttpResponse:
    metadata()
    try:
        response: HttpResponse = app().authorize_redirect(request, redirect_uri)
    except (requests.RequestException, ValueError) as exc:
        raise SignInFailed("unreachable", f"authorize: {type(exc).__name__}") from None
    return response


@dataclass
class SignIn:
    """A verified sign-in: the ID token's claims (with the userinfo endpoint's) and
    the tokens the session keeps for renewal and sign-out."""

    issuer: str
    claims: dict[str, Any]
    id_token: str
    refresh_token: str = ""
    access_token: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def finish(request: HttpRequest) -> SignIn:
    """The callback's work: state, code exchange, ID token checks, userinfo."""
    data = metadata()
    client = app()
    claims_options = {
        "iss": {"essential": True, "values": [data["issuer"]]},
        "aud": {"essential": True, "values": [settings.OIDC_CLIENT_ID]},
        "sub": {"essential": True},
        "exp": {"essential": True},
    }
    try:
        if request.GET.get("error"):
            raise SignInFailed(
                "refused",
                f"the IdP answered error={request.GET.get('error')!r} "
                f"({request.GET.get('error_description', '')!r})",
            )
        if not request.GET.get("code") or not request.GET.get("state"):
            raise SignInFailed("state", "callback without code or state")
        token = client.authorize_access_token(request, claims_options=claims_options, leeway=LEEWAY)
    except MismatchingStateError:
        raise SignInFailed("state", "state not found in this session") from None
    except OAuthError as exc:
        # From the token endpoint: invalid_grant is an expired or used code.
        raise SignInFailed("code", f"token endpoint: {exc.error}") from None
    except JoseError as exc:
        raise SignInFailed("token", f"ID token refused: {type(exc).__name__}: {exc}") from None
    except (requests.RequestException, ValueError) as exc:
        raise SignInFailed("unreachable", f"token endpoint: {type(exc).__name__}") from None
    claims = token.get("userinfo")
    if not claims or not claims.get("sub"):
        raise SignInFailed("token", "no ID token in the token response")
    merged = {**_userinfo(data, token, str(claims["sub"])), **dict(claims)}
    return SignIn(
        issuer=str(data["issuer"]),
        claims=merged,
        id_token=str(token["id_token"]),
        refresh_token=str(token.get("refresh_token") or ""),
        access_token=str(token.get("access_token") or ""),
    )


def _userinfo(data: dict[str, Any], token: dict[str, Any], sub: str) -> dict[str, Any]:
    """The userinfo endpoint's claims where there is one: many IdPs put e-mail, name
    and groups there rather than in the ID token. Its `sub` must be the token's."""
    endpoint = data.get("userinfo_endpoint")
    if not endpoint or not token.get("access_token"):
        return {}
    try:
        resp = requests.get(
            endpoint,
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise SignInFailed("unreachable", f"userinfo: {type(exc).__name__}") from None
    if resp.status_code != 200:
        raise SignInFailed("unreachable", f"userinfo: HTTP {resp.status_code}")
    try:
        info = resp.json()
    except ValueError:
        raise SignInFailed("unreachable", "userinfo: not JSON") from None
    if not isinstance(info, dict) or str(info.get("sub")) != sub:
        raise SignInFailed("token", "userinfo names another subject")
    return info


# --- renewal and sign-out ------------------------------------------------------


class Renewal:
    OK = "ok"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"


def renew(stored: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Ask the IdP whether the person may still be signed in: the refresh token grant
    when the IdP gave one, else the userinfo endpoint with the access token. Returns
    the outcome and the session's new tokens."""
    try:
        data = metadata()
    except SignInFailed:
        return Renewal.UNREACHABLE, stored
    refresh_token = stored.get("refresh_token")
    if refresh_token:
        try:
            token = app().fetch_access_token(
                grant_type="refresh_token", refresh_token=refresh_token
            )
        except OAuthError as exc:
            logger.info("oidc renewal refused by the IdP: %s", exc.error)
            return Renewal.REFUSED, stored
        except (requests.RequestException, ValueError) as exc:
            logger.warning("oidc renewal: IdP unreachable: %s", type(exc).__name__)
            return Renewal.UNREACHABLE, stored
        renewed = dict(stored)
        for name in ("refresh_token", "access_token", "id_token"):
            if token.get(name):
                renewed[name] = str(token[name])
        return Renewal.OK, renewed
    endpoint = data.get("userinfo_endpoint")
    access_token = stored.get("access_token")
    if not endpoint or not access_token:
        return Renewal.REFUSED, stored  # nothing to ask with: sign in again
    try:
        resp = requests.get(
            endpoint, headers={"Authorization": f"Bearer {access_token}"}, timeout=TIMEOUT
        )
    except requests.RequestException as exc:
        logger.warning("oidc renewal: IdP unreachable: %s", type(exc).__name__)
        return Renewal.UNREACHABLE, stored
    if resp.status_code in (400, 401, 403):
        logger.info("oidc renewal refused by the userinfo endpoint: HTTP %s", resp.status_code)
        return Renewal.REFUSED, stored
    if resp.status_code != 200:
        return Renewal.UNREACHABLE, stored
    return Renewal.OK, stored


def end_session_url(stored: dict[str, Any], post_logout_redirect_uri: str) -> str:
    """RP-initiated logout at the IdP, where it publishes an end_session_endpoint."""
    try:
        endpoint = metadata().get("end_session_endpoint")
    except SignInFailed:
        return ""
    if not endpoint:
        return ""
    params = {
        "client_id": settings.OIDC_CLIENT_ID,
        "post_logout_redirect_uri": post_logout_redirect_uri,
    }
    if stored.get("id_token"):
        params["id_token_hint"] = stored["id_token"]
    return str(add_params_to_uri(endpoint, params))
