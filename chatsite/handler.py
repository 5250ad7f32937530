"""The ASGI handler of the site's pages and JSON: the middleware chain and the view
run together in one worker thread, as under WSGI.

Django's own ASGI handler runs every synchronous middleware's request and response
halves through `sync_to_async`, so the site's ten middlewares cost about twenty
trips between the event loop and a worker per request, and each request gets a new
worker thread (Django's `ThreadSensitiveContext`) and so a new database
connection. Here the synchronous chain makes one trip, to one of SITE_THREADS
long-lived threads that keep their database connection the way the chat's own
database threads do (conversations/live/db.py), and the request signals none
(`LoopHandler`). Starting a new chat (`POST /api/conversations/`) took 5.7 ms of
CPU in daphne with Django's handler, about 4.2 with this one (tests/bench/person.py,
docs/architecture.md). Static files
are answered on the loop, before it (chatsite/middleware.py). The OpenAI-compatible
API has a handler of its own (conversations/openai_api/handler.py), and its chat
completions are a plain ASGI app (conversations/openai_api/completions.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.http import HttpRequest, HttpResponseBase
from django.urls import set_script_prefix

from chatsite.middleware import StaticFilesMiddleware
from conversations.live import db


class LoopHandler(ASGIHandler):
    """Django's ASGI handler without a thread per request, nor a trip to one for its
    request signals.

    Django wraps each request in a ThreadSensitiveContext, so that its synchronous
    parts share a thread of their own: a thread started (and a database connection
    opened) per request. The site's chain and the API's views do their synchronous
    work on long-lived threads instead. What was left went to the one shared thread,
    two trips a request: the request signals' receivers at the start, and closing
    the response (which sends `request_finished`) at the end. Django's receivers
    reset and close what the calling thread holds (its queries log, its database
    connections, its caches, its URLconf): the loop's thread holds no database
    connection and the receivers take microseconds, so here they run on the loop,
    as a WSGI server runs them in its request's thread. A streaming response (its
    file or iterator may block to close) is still closed in a thread, as Django
    does."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        # Django's ASGIHandler.handle, with the signals and the close on the loop.
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            assert error_response is not None  # create_request gives one or the other
            body_file.close()
            await self.send_response(error_response, send)
            await _close(error_response)
            return

        async def process_request() -> HttpResponseBase:
            response = await self.run_get_response(request)
            with contextlib.suppress(asyncio.CancelledError):  # the client went away
                await self.send_response(response, send)
            return response

        # A disconnect while the response is made cancels it (views may handle that).
        listen = asyncio.create_task(self.listen_for_disconnect(receive))
        respond = asyncio.create_task(process_request())
        await asyncio.wait((listen, respond), return_when=asyncio.FIRST_COMPLETED)
        for task in (listen, respond):
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        try:
            response = respond.result()
        except asyncio.CancelledError:
            signals.request_finished.send(sender=self.__class__)
        else:
            await _close(response)
        body_file.close()


async def _close(response: HttpResponseBase) -> None:
    if response.streaming:
        await sync_to_async(response.close)()
    else:
        response.close()


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
