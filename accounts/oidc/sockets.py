"""Open websockets follow their session: an IdP sign-in is re-checked when due (as a
page would be), and the socket is closed once its session has ended, whether here
(the IdP refused) or elsewhere (signed out, or refused on a page).

`watch(scope, close)` returns the task that does it (None for a session without an
IdP sign-in); the consumer cancels it on disconnect.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from accounts.oidc import renewal
from accounts.oidc.config import SESSION_KEY, enabled

logger = logging.getLogger(__name__)

# A session ended on a page is noticed within this long even when no renewal is due.
POLL_SECONDS = 60.0
# The close code of a socket whose session ended (4000-4999: the application's own).
SESSION_ENDED = 4401


def _store(session_key: str) -> Any:
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key=session_key)


def check_stored(session_key: str, user_id: str) -> float | None:
    """Seconds until the next look, or None when the session has ended."""
    store = _store(session_key)
    data = store.load()
    if str(data.get("_auth_user_id", "")) != user_id:
        return None
    oidc = data.get(SESSION_KEY)
    if not oidc:
        return None  # signed out and in again without the IdP: not this sign-in
    outcome, new = renewal.check(session_key, oidc)
    if outcome == renewal.Outcome.ENDED:
        logger.info("company sign-in: the IdP refused a session; its socket closes")
        store.delete(session_key)
        return None
    if outcome != renewal.Outcome.FRESH:
        store[SESSION_KEY] = new
        store.save()
        oidc = new
    return max(1.0, min(POLL_SECONDS, renewal.seconds_left(oidc)))


def watch(scope: dict[str, Any], close: Callable[[], Awaitable[None]]) -> asyncio.Task[None] | None:
    session = scope.get("session")
    user = scope.get("user")
    if not enabled() or session is None or user is None or not session.get(SESSION_KEY):
        return None
    return asyncio.create_task(_loop(session.session_key, str(user.pk), close))


async def _loop(session_key: str, user_id: str, close: Callable[[], Awaitable[None]]) -> None:
    while True:
        delay = await database_sync_to_async(check_stored)(session_key, user_id)
        if delay is None:
            await close()
            return
        await asyncio.sleep(delay)
