"""Sign-in throttling: LOGIN_MAX_FAILURES failed sign-ins for one username from one
address within LOGIN_LOCKOUT_MINUTES, and that pair is refused until the window
from the first failure ends (the right password too: guessing stops). Both sign-in
pages use it: /accounts/login/ and the admin's.

Counted in Django's cache (local memory by default: each process counts its own;
configure a shared cache to make the limit exact across processes). The address is
REMOTE_ADDR: behind a reverse proxy every client has the proxy's address, and the
limit is then per username.
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext


def _keys(username: str, address: str) -> tuple[str, str]:
    digest = hashlib.sha256(f"{username.strip().lower()}\0{address}".encode()).hexdigest()[:32]
    return f"login:failures:{digest}", f"login:since:{digest}"


def _address(request: Any) -> str:
    return str(getattr(request, "META", {}).get("REMOTE_ADDR") or "")


def locked_for(username: str, address: str) -> float:
    """Seconds this pair must still wait; 0 when it may try."""
    limit = settings.LOGIN_MAX_FAILURES
    if limit <= 0:
        return 0.0
    count_key, since_key = _keys(username, address)
    failures = cache.get(count_key) or 0
    if failures < limit:
        return 0.0
    since = cache.get(since_key) or time.time()
    return max(0.0, since + settings.LOGIN_LOCKOUT_MINUTES * 60 - time.time())


def note_failure(username: str, address: str) -> None:
    window = settings.LOGIN_LOCKOUT_MINUTES * 60
    count_key, since_key = _keys(username, address)
    cache.add(since_key, time.time(), timeout=window)
    cache.add(count_key, 0, timeout=window)
    try:
        cache.incr(count_key)
    except ValueError:  # expired between add and incr
        cache.set(count_key, 1, timeout=window)


def forget(username: str, address: str) -> None:
    cache.delete_many(list(_keys(username, address)))


def too_many(wait_seconds: float) -> ValidationError:
    minutes = max(1, math.ceil(wait_seconds / 60))
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
    """For an AuthenticationForm: refuse a locked pair before checking the password;
    count a failed check; forget the failures after a success."""

    request: Any
    cleaned_data: dict[str, Any]
    user_cache: Any

    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        address = _address(self.request)
        wait = locked_for(username, address)
        if wait > 0:
            raise too_many(wait)
        try:
            data: dict[str, Any] = super().clean()  # type: ignore[misc]
        except ValidationError:
            if self.user_cache is None:  # the password did not match (not: inactive, not staff)
                note_failure(username, address)
            raise
        forget(username, address)
        return data


class ThrottledAuthenticationForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class ThrottledAdminAuthenticationForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
