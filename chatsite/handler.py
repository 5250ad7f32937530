"""The ASGI handler of the site's pages and JSON: the middleware chain and the view
run together in one worker thread, as under WSGI.

Django's own ASGI handler runs every synchronous middleware's request and response
halves through `sync_to_async`, so the site's ten middlewares cost about twenty
trips between the event loop and a worker per request, and each request gets a new
worker thread (Django's `ThreadSensitiveContext`) and so a new database
connection. Starting a new chat (`POST /api/conversations/`) took 5.7 ms of CPU,
4.0 with this handler (tests/bench/person.py). Here the synchronous chain makes one
trip, to one of SITE_THREADS long-lived threads that keep their database connection
the way the chat's own database threads do (conversations/live/db.py). Static files
are answered on the loop, before it (chatsite/middleware.py). The OpenAI-compatible
API has a handler of its own (conversations/openai_api/handler.py), and its chat
completions are a plain ASGI app (conversations/openai_api/completions.py).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

from chatsite.middleware import StaticFilesMiddleware
from conversations.live import db


class LoopHandler(ASGIHandler):
    """Django's ASGI handler without a new thread per request.

    Django wraps each request in a ThreadSensitiveContext, so that its synchronous
    parts share a thread of their own: a thread started (and a database connection
    opened) per request. The site's chain and the API's views do their synchronous
    work on long-lived threads instead; what is left (the request signals, closing
    the response) takes the one shared thread."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)


class SiteHandler(LoopHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # The synchronous chain, as a WSGI server builds it: middleware and view call
        # one another directly, in whichever thread runs the chain.
        super().load_middleware(is_async=False)
        # The pool starts its threads as requests need them, up to SITE_THREADS.
        threads = ThreadPoolExecutor(settings.SITE_THREADS, thread_name_prefix="site")
        self._respond = sync_to_async(
            db.keeping_connection, thread_sensitive=False, executor=threads
        )
        self._front = StaticFilesMiddleware(self._in_thread)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await self._front(request)  # type: ignore[no-any-return]

    async def _in_thread(self, request: HttpRequest) -> HttpResponseBase:
        return await self._respond(self.get_response, request)
