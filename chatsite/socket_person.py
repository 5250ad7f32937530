"""Who is on a websocket: the session and the person, read in one database trip.

Channels' AuthMiddlewareStack reads the session, then the user, each in a trip of
its own to a worker thread that opens and closes a database connection (a new
PostgreSQL backend each time: CONN_MAX_AGE=0 under ASGI), and wraps every frame the
socket sends afterwards to look for an HTTP response. Here both are read in one call
on the chat's database threads, which keep their connection
(conversations/live/db.py): a trip and two connections fewer for every socket.
The scope gets what channels' stack gives it: `cookies`,
`session` (loaded) and `user` (AnonymousUser when nobody is signed in).
"""

from __future__ import annotations

from importlib import import_module
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.contrib import auth
from django.http.cookie import parse_cookie

from conversations.live.db import run_db


def _person(session: Any) -> Any:
    # Django's own check of a session's user (backend, session hash), which reads
    # nothing of the request but its session.
    return auth.get_user(SimpleNamespace(session=session))  # type: ignore[arg-type]


class SocketPersonMiddleware:
    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.store = import_module(settings.SESSION_ENGINE).SessionStore

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            if name == b"cookie":
                cookies = parse_cookie(value.decode("latin1"))
                break
        session = self.store(cookies.get(settings.SESSION_COOKIE_NAME))
        user = await run_db(_person, session)
        scope = {**scope, "cookies": cookies, "session": session, "user": user}
        return await self.inner(scope, receive, send)
