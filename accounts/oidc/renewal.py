"""Sessions signed in at the IdP are re-checked with it every OIDC_RENEW_SECONDS.

The session keeps what renewal needs under SESSION_KEY (tokens stay on the server:
the session store, never a page or a log). `check(data)` is the whole decision:
- not due yet: nothing;
- the IdP says yes: new tokens, checked now;
- the IdP says no (the person was disabled or signed out there): the session ends;
- the IdP cannot be reached: the session goes on and is asked again after
  RETRY_SECONDS (an outage should not sign everyone out; a refusal is what ends it).

One renewal per session at a time (a cache lock): IdPs that rotate refresh tokens
refuse the second use of one, which would end a good session.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from django.core.cache import cache

from accounts.oidc import client
from accounts.oidc.config import renew_seconds

RETRY_SECONDS = 60.0
LOCK_SECONDS = 30


class Outcome:
    FRESH = "fresh"  # not due, or another request is renewing it
    RENEWED = "renewed"
    ENDED = "ended"
    KEPT = "kept"  # the IdP was unreachable: asked again later


def seconds_left(data: dict[str, Any], now: float | None = None) -> float:
    now = time.time() if now is None else now
    return float(data.get("checked", 0)) + renew_seconds() - now


def check(session_key: str | None, data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The outcome for a session's stored sign-in data, and the data to store."""
    if seconds_left(data) > 0:
        return Outcome.FRESH, data
    lock = "oidc:renew:" + hashlib.sha256((session_key or "").encode()).hexdigest()[:32]
    if session_key and not cache.add(lock, 1, timeout=LOCK_SECONDS):
        return Outcome.FRESH, data
    try:
        result, renewed = client.renew(data)
    finally:
        if session_key:
            cache.delete(lock)
    if result == client.Renewal.REFUSED:
        return Outcome.ENDED, data
    if result == client.Renewal.UNREACHABLE:
        retry = dict(data, checked=time.time() - renew_seconds() + RETRY_SECONDS)
        return Outcome.KEPT, retry
    return Outcome.RENEWED, dict(renewed, checked=time.time())
