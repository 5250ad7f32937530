"""`POST /v1/chat/completions` as a plain ASGI application.

The chat's websocket hands a message to the turn path straight from the frame; this
door used to go through Django's request handling first (the request signals and a
trip to a thread for them, the body spooled to a file, the request object, URL
resolution, a task for the view and one for disconnects) and then through its
streamed response (one `send` per event): +3.9 ms to the first token where the
socket adds +0.7, and ×1.05 its CPU per request (tests/bench/api.py). Here the
request is the ASGI scope and body, the answer is written with `send`, one body
chunk per batch of events, and a client that goes away (`http.disconnect`) cancels
the request as Django would: the turn stops, the partial answer is kept (`stopped`).

What it does is the view's it replaced: the token, the request's parse and the
chat's own plan in one trip to the database threads (`views.authenticated_plan`),
the chat's runner, a feed that follows the turn like a socket (`feed`), OpenAI's
chunks (`chunks`). `chatsite/asgi.py` sends the path here; the rest of `/v1/` is
Django's (views.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.throttle import address_of
from conversations.consumers import socket_language
from conversations.errors import ClientError
from conversations.live.db import run_db
from conversations.live.runner import TurnRunner, start_runner
from conversations.openai_api.chunks import Chunks, stream_error
from conversations.openai_api.errors import ApiError, from_client_error, not_allowed
from conversations.openai_api.feed import TurnFeed
from conversations.openai_api.parse import ChatRequest, too_large
from conversations.openai_api.views import authenticated_plan

log = logging.getLogger(__name__)

Send = Callable[[dict[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[dict[str, Any]]]

JSON = (b"content-type", b"application/json")
STREAM_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
]


class _Gone(Exception):
    """The client went away while sending its request."""


async def chat_completions(scope: dict[str, Any], receive: Receive, send: Send) -> None:
    language = socket_language(scope)
    with translation.override(language):
        response = _Response(send)
        try:
            await _answer(scope, receive, response, language)
        except _Gone:
            pass
        except Exception:
            log.exception("POST /v1/chat/completions failed")
            if not response.started:
                message = _("The server failed to answer. Try again later.")
                await response.error(ApiError(500, "server_error", message))


class _Response:
    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self.started = True
        await self.send({"type": "http.response.start", "status": status, "headers": headers})

    async def json(
        self, status: int, body: dict[str, Any], headers: tuple[tuple[bytes, bytes], ...] = ()
    ) -> None:
        data = json.dumps(body).encode()
        length = (b"content-length", str(len(data)).encode())
        await self.start(status, [JSON, length, *headers])
        await self.send({"type": "http.response.body", "body": data})

    async def error(self, exc: ApiError) -> None:
        headers = [(name.lower().encode(), value.encode()) for name, value in exc.headers()]
        await self.json(exc.status, exc.body(), tuple(headers))


async def _answer(
    scope: dict[str, Any], receive: Receive, response: _Response, language: str
) -> None:
    if scope["method"] != "POST":
        await response.error(not_allowed("POST"))
        return
    headers = _headers(scope)
    header = headers.get(b"authorization", b"").decode("latin-1")
    remote = (scope.get("client") or ("",))[0]
    address = address_of(remote, headers.get(b"x-forwarded-for", b"").decode("latin-1"))
    try:
        body = await _body(receive, headers)
        wanted, plan = await run_db(authenticated_plan, header, address, body, language)
    except ApiError as exc:
        await response.error(exc)
        return
    feed = TurnFeed(plan.conversation_id, plan.turn_id)
    await feed.join()  # before the runner publishes turn.started
    runner = start_runner(dataclasses.replace(plan, language=language))
    gone = asyncio.Event()
    watcher = asyncio.create_task(_watch(receive, gone, asyncio.current_task()))
    try:
        await _follow(feed, runner, plan.turn_id, wanted, response)
    except asyncio.CancelledError:
        if not gone.is_set():
            raise
        asyncio.current_task().uncancel()  # type: ignore[union-attr]
    finally:
        watcher.cancel()


def _headers(scope: dict[str, Any]) -> dict[bytes, bytes]:
    """By lowercase name; a repeated one's values joined with commas, as Django's META."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        found[name] = found[name] + b"," + value if name in found else value
    return found


async def _body(receive: Receive, headers: dict[bytes, bytes]) -> bytes:
    """The request's body, or `too_large` past DATA_UPLOAD_MAX_MEMORY_SIZE (Django's
    limit on a body read whole, as the view's `request.body` had)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    declared = headers.get(b"content-length", b"0")
    if limit is not None and declared.isdigit() and int(declared) > limit:
        raise too_large("messages")
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Gone
        part = message.get("body", b"")
        size += len(part)
        if limit is not None and size > limit:
            raise too_large("messages")
        parts.append(part)
        if not message.get("more_body"):
            return b"".join(parts)


async def _watch(receive: Receive, gone: asyncio.Event, request: asyncio.Task[Any] | None) -> None:
    """Cancel the request when its client goes away: the feed's end stops the turn."""
    while (await receive())["type"] != "http.disconnect":
        pass
    gone.set()
    if request is not None:
        request.cancel()


async def _follow(
    feed: TurnFeed, runner: TurnRunner, turn_id: str, wanted: ChatRequest, response: _Response
) -> None:
    try:
        await asyncio.shield(runner.stored)
    except BaseException as exc:
        if isinstance(exc, asyncio.CancelledError):  # gone before the turn was stored
            runner.request_stop()
        await asyncio.shield(feed.leave())
        if not isinstance(exc, ClientError):
            raise
        await response.error(from_client_error(exc))
        return
    chunks = Chunks(turn_id, int(time.time()), wanted.model)
    batches = feed.followed(runner.request_stop)
    try:
        if wanted.stream:
            await response.start(200, STREAM_HEADERS)
            async for data in chunks.stream(batches, _finish_reason(runner), wanted.include_usage):
                await response.send({"type": "http.response.body", "body": data, "more_body": True})
            await response.send({"type": "http.response.body", "body": b""})
            return
        body, last = await chunks.completion(batches, _finish_reason(runner))
    finally:
        await batches.aclose()
    if body is None:  # failed: a 502 with the error the stream would have carried
        await response.json(502, stream_error(last))
    else:
        await response.json(200, body)


def _finish_reason(runner: TurnRunner) -> Callable[[], str | None]:
    return lambda: runner.finish_reason
