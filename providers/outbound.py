"""Where the server may send requests on an admin's word: a provider's base URL.

A base URL is an outbound request the server makes for whoever can edit providers
(server-side request forgery, as Open WebUI and LibreChat shipped). So: only
http(s) URLs; redirects are never followed (the streaming clients and the
connection test pass `allow_redirects=False`); and an operator may restrict the
hosts with UPSTREAM_ALLOWED_HOSTS (comma-separated; empty: any host). An entry
is a host name or IP address, matched exactly, or `.example.com` / `*.example.com`
for that domain and every name under it. Names are not resolved: the list says
which names may be called, not which addresses they point to. A user name or
password in the URL (`http://api.example.com@10.0.0.1/`) is refused: it hides the
host actually called from whoever reads the URL, and keys belong in API keys.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

SCHEMES = ("http", "https")

BAD_SCHEME = _("The base URL must start with http:// or https://.")
NO_HOST = _("The base URL has no host name.")
USERINFO = _(
    "The base URL must not contain a user name or password (the part before @): "
    "the host after the @ is the one called. Put the key in the provider's API keys."
)
HOST_NOT_ALLOWED = _(
    "This server may only call the hosts in UPSTREAM_ALLOWED_HOSTS (%(hosts)s); "
    "%(host)s is not one of them."
)


def allowed_hosts() -> list[str]:
    return [h.lower().rstrip(".") for h in settings.UPSTREAM_ALLOWED_HOSTS]


def host_allowed(host: str, allowed: list[str] | None = None) -> bool:
    allowed = allowed_hosts() if allowed is None else allowed
    if not allowed:
        return True
    host = host.lower().rstrip(".")
    for entry in allowed:
        domain = entry.removeprefix("*")
        if domain.startswith("."):
            if host == domain[1:] or host.endswith(domain):
                return True
        elif host == entry:
            return True
    return False


def problem(url: str) -> ValidationError | None:
    """Why the server may not call `url`, or None."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname  # lowercased, without brackets or port
    except ValueError:
        return ValidationError(BAD_SCHEME, code="scheme")
    if parts.scheme.lower() not in SCHEMES:
        return ValidationError(BAD_SCHEME, code="scheme")
    if not host:
        return ValidationError(NO_HOST, code="host")
    if "@" in parts.netloc:
        return ValidationError(USERINFO, code="userinfo")
    allowed = allowed_hosts()
    if not host_allowed(host, allowed):
        return ValidationError(
            HOST_NOT_ALLOWED,
            code="host_not_allowed",
            params={"hosts": ", ".join(allowed), "host": host},
        )
    return None


def check_url(url: str) -> None:
    """Raise ValidationError if the server may not call `url`."""
    error = problem(url)
    if error is not None:
        raise error
