"""Sign-in and password-reset throttling, and the client's address.

Sign-in (/accounts/login/ and the admin's): LOGIN_MAX_FAILURES failed sign-ins for
one username, from any addresses, within LOGIN_LOCKOUT_MINUTES lock that username
until the window from its first failure ends (the right password too: guessing
stops); ADDRESS_FACTOR times as many from one address, over any usernames, lock the
address. A success forgets the username's failures, not the address's (else an
attacker's own account would reset the count between guesses).

Password reset: every request counts (whether the e-mail is known stays secret),
with the same limits per e-mail and per address.

Counted in Django's cache (local memory by default: each process counts its own;
configure a shared cache to make the limits exact across processes).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext

from accounts.oidc.config import password_allowed

# One address may be a whole office behind NAT: it gets more tries than one
# username, enough for colleagues' typos, few enough to stop a spray of guesses.
ADDRESS_FACTOR = 4


def client_address(request: HttpRequest) -> str:
    """The address of the client that sent `request`, as far as it can be trusted
    (`address_of`)."""
    meta = request.META
    return address_of(
        str(meta.get("REMOTE_ADDR") or ""), str(meta.get("HTTP_X_FORWARDED_FOR") or "")
    )


def address_of(remote: str, forwarded_for: str) -> str:
    """The client's address from the connection's (`remote`) and X-Forwarded-For.

    With TRUSTED_PROXY_COUNT = 0, the connection's (X-Forwarded-For is the client's
    own word). With N proxies in front, each appends the address it was reached from,
    so the Nth entry from the right of X-Forwarded-For is the last one a trusted
    proxy wrote; entries to its left are the client's. A header with fewer entries,
    or an empty one among them, did not come through the proxies: the connection's.
    """
    count = settings.TRUSTED_PROXY_COUNT
    if count <= 0:
        return remote
    hops = [hop.strip() for hop in forwarded_for.split(",")]
    if len(hops) < count or not all(hops[-count:]):
        return remote
    return hops[-count]


def _keys(kind: str, value: str) -> tuple[str, str]:
    digest = hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()[:32]
    return f"throttle:count:{digest}", f"throttle:since:{digest}"


def waiting(kind: str, value: str, limit: int, window: float) -> float:
    """Seconds `value` must still wait after `limit` failures of `kind` within
    `window` seconds of its first; 0 when it may try (or the limit is off)."""
    if limit <= 0:
        return 0.0
    count_key, since_key = _keys(kind, value)
    if (cache.get(count_key) or 0) < limit:
        return 0.0
    since = cache.get(since_key) or time.time()
    return max(0.0, since + window - time.time())


def note(kind: str, value: str, window: float) -> None:
    """Count one failure of `kind` for `value`; the count lasts `window` seconds from
    the first."""
    count_key, since_key = _keys(kind, value)
    cache.add(since_key, time.time(), timeout=window)
    cache.add(count_key, 0, timeout=window)
    try:
        cache.incr(count_key)
    except ValueError:  # expired between add and incr
        cache.set(count_key, 1, timeout=window)


def _window() -> float:
    return settings.LOGIN_LOCKOUT_MINUTES * 60


def _wait(kind: str, value: str, limit: int) -> float:
    return waiting(kind, value, limit, _window())


def _note(kind: str, value: str) -> None:
    note(kind, value, _window())


def _normal(name: str) -> str:
    return name.strip().lower()


def locked_for(username: str, address: str) -> float:
    """Seconds a sign-in as `username` from `address` must still wait; 0: may try."""
    limit = settings.LOGIN_MAX_FAILURES
    return max(
        _wait("login-user", _normal(username), limit),
        _wait("login-address", address, limit * ADDRESS_FACTOR),
    )


def note_failure(username: str, address: str) -> None:
    _note("login-user", _normal(username))
    _note("login-address", address)


def forget(username: str) -> None:
    cache.delete_many(list(_keys("login-user", _normal(username))))


def _minutes(wait_seconds: float) -> int:
    return max(1, math.ceil(wait_seconds / 60))


def too_many(wait_seconds: float) -> ValidationError:
    minutes = _minutes(wait_seconds)
    return ValidationError(
        ngettext(
            "Too many failed sign-ins; try again in %(minutes)s minute.",
            "Too many failed sign-ins; try again in %(minutes)s minutes.",
            minutes,
        ),
        code="throttled",
        params={"minutes": minutes},
    )


class ThrottledLoginMixin:
    """For an AuthenticationForm: refuse a locked username or address before checking
    the password; count a failed check; forget the username's failures after a success."""

    request: Any
    cleaned_data: dict[str, Any]
    user_cache: Any

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        address = client_address(self.request)
        wait = locked_for(username, address)
        if wait > 0:
            raise too_many(wait)
        try:
            data: dict[str, Any] = super().clean()  # type: ignore[misc]
        except ValidationError:
            if self.user_cache is None:  # the password did not match (not: inactive, not staff)
                note_failure(username, address)
            raise
        forget(username)
        return data

    def confirm_login_allowed(self, user: Any) -> None:
        # PASSWORD_LOGIN=0: the right password of anyone but a superuser is refused
        # (not counted as a failure: the password matched).
        super().confirm_login_allowed(user)  # type: ignore[misc]
        if not password_allowed(user):
            raise ValidationError(
                gettext("Password sign-in is turned off here; use the company sign-in."),
                code="password_login_off",
            )


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's reset form, given the request: each request counts, per e-mail and
    per address, and a locked one sends nothing."""

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_email(self) -> str:
        # A field error: the reset page (the admin's template) shows only those.
        email = str(self.cleaned_data.get("email") or "")
        address = client_address(self.request)
        limit = settings.LOGIN_MAX_FAILURES
        wait = max(
            _wait("reset-email", _normal(email), limit),
            _wait("reset-address", address, limit * ADDRESS_FACTOR),
        )
        if wait > 0:
            minutes = _minutes(wait)
            raise ValidationError(
                ngettext(
                    "Too many password reset requests; try again in %(minutes)s minute.",
                    "Too many password reset requests; try again in %(minutes)s minutes.",
                    minutes,
                ),
                code="throttled",
                params={"minutes": minutes},
            )
        _note("reset-email", _normal(email))
        _note("reset-address", address)
        return email
