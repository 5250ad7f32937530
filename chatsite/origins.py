"""The websocket handshake's Origin check: only the site's own pages may open a socket.

An origin is a scheme, a host and a port, and all three must match one of the site's
origins: an entry of CSRF_TRUSTED_ORIGINS (`https://*.example.com` for the names
under a domain, as Django's CSRF check reads it), or the handshake's own Host (one
of ALLOWED_HOSTS) with the scheme the connection arrived on (https when the
connection, or the proxy's SECURE_PROXY_SSL_HEADER, says so). Channels'
AllowedHostsOriginValidator compares host names only: a page served on another port
of an allowed host (another application on the same machine) could open a socket
with the person's cookies.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

Origin = tuple[str, str, int]
DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(text: str) -> Origin | None:
    """(scheme, host, port) of an http(s) origin; None for anything else ("null")."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None:
        return None
    return scheme, parts.hostname, port or DEFAULT_PORTS[scheme]


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return str(value.decode("latin-1"))
    return None


def _secure(scope: dict[str, Any]) -> bool:
    if scope.get("scheme") in ("https", "wss"):
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy:
        return False
    meta_name, secure_value = proxy
    name = meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode()
    value = _header(scope, name)
    return value is not None and value.split(",")[0].strip() == secure_value


def own_origin(scope: dict[str, Any]) -> Origin | None:
    """The origin of the page that belongs with this handshake: its Host, if allowed."""
    host = _header(scope, b"host")
    if not host:
        return None
    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:  # as Django's own Host check in DEBUG
        allowed = [".localhost", "127.0.0.1", "[::1]"]
    domain, _port = split_domain_port(host)
    if not domain or not validate_host(domain, allowed):
        return None
    return parse_origin(f"{'https' if _secure(scope) else 'http'}://{host}")


def _trusted(origin: Origin, pattern: str) -> bool:
    wildcard = "://*." in pattern
    site = parse_origin(pattern.replace("://*.", "://", 1) if wildcard else pattern)
    if site is None:
        return False
    if not wildcard:
        return origin == site
    scheme, host, port = origin
    return (scheme, port) == site[::2] and host.endswith("." + site[1])


def origin_allowed(scope: dict[str, Any]) -> bool:
    origin = parse_origin(_header(scope, b"origin") or "")
    if origin is None:
        return False
    if origin == own_origin(scope):
        return True
    return any(_trusted(origin, pattern) for pattern in settings.CSRF_TRUSTED_ORIGINS)


class SiteOriginValidator:
    """ASGI middleware: a websocket whose Origin is not one of the site's is refused
    at the handshake (HTTP 403), before any other work."""

    def __init__(self, application: Any) -> None:
        self.application = application

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
