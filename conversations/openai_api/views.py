"""`GET /v1/models` and `POST /v1/chat/completions`, authenticated by a personal
token (`Authorization: Bearer sk-...`; no session, no CSRF).

Thin: the view authenticates, parses (`parse`), plans with the chat's own
`plans.prepare_api_turn`, starts the chat's runner, follows the turn like a socket
(`feed`) and translates its events (`chunks`). The turn belongs to the server, as a
chat turn does, but a client that goes away (Django cancels the request) stops it:
the partial answer is kept, status `stopped`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    StreamingHttpResponse,
)
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from accounts import access, tokens
from accounts.throttle import client_address
from conversations import plans
from conversations.errors import ClientError
from conversations.live.db import run_db
from conversations.live.runner import TurnRunner, start_runner
from conversations.live.turnlog import Event
from conversations.openai_api.chunks import Chunks
from conversations.openai_api.errors import ApiError, from_client_error
from conversations.openai_api.feed import TurnFeed
from conversations.openai_api.parse import ChatRequest, parse, too_large


def _authenticate(header: str, address: str) -> tokens.Authenticated:
    """The token's owner, or ApiError: 429 for an address over its failures, else 401."""
    wait = tokens.locked_for(address)
    if wait > 0:
        raise ApiError(
            429,
            "rate_limited",
            _("Too many requests with an invalid API key from your address; try again later."),
            retry_after=max(1, int(wait)),
        )
    scheme, _sep, secret = header.partition(" ")
    found = tokens.authenticate(secret.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        tokens.note_failure(address)
        raise ApiError(
            401,
            "invalid_api_key",
            _(
                "Invalid API key: it is missing, unknown, revoked or expired. "
                "Make one under Settings, API tokens."
            ),
        )
    return found


def _authenticate_in(language: str, header: str, address: str) -> tokens.Authenticated:
    # On a database thread, which does not see the request's active language.
    with translation.override(language):
        return _authenticate(header, address)


async def _caller(request: HttpRequest) -> tokens.Authenticated:
    header = request.headers.get("Authorization", "")
    language = translation.get_language()
    return await run_db(_authenticate_in, language, header, client_address(request))


def _not_allowed(allowed: str) -> HttpResponse:
    response = ApiError(405, "method_not_allowed", _("Use %(method)s.") % {"method": allowed})
    answer = response.response()
    answer["Allow"] = allowed
    return answer


def _model_list(user: Any) -> dict[str, Any]:
    data = [
        {
            "id": model.ref,
            "object": "model",
            "created": int(model.provider.created.timestamp()),
            "owned_by": model.provider.name,
        }
        for model in access.models_for(user)
    ]
    return {"object": "list", "data": data}


def in_request_language(view: Any) -> Any:
    """The site's LocaleMiddleware is not on `/v1/` (handler.py): each view answers
    in the language of the request's Accept-Language."""

    @functools.wraps(view)
    async def wrapped(request: HttpRequest) -> Any:
        with translation.override(translation.get_language_from_request(request)):
            return await view(request)

    return wrapped


@csrf_exempt
@in_request_language
async def models(request: HttpRequest) -> HttpResponse:
    """The models the token's owner may use in the chat."""
    if request.method != "GET":
        return _not_allowed("GET")
    try:
        caller = await _caller(request)
    except ApiError as exc:
        return exc.response()
    return JsonResponse(await run_db(_model_list, caller.user))


@csrf_exempt
@in_request_language
async def chat_completions(request: HttpRequest) -> HttpResponseBase:
    if request.method != "POST":
        return _not_allowed("POST")
    header, address = request.headers.get("Authorization", ""), client_address(request)
    try:
        try:
            body = request.body
        except RequestDataTooBig:
            raise too_large("messages") from None
        # The token and the plan in one trip to the database threads: each trip is a
        # thread hop before the upstream is asked.
        wanted, plan = await run_db(
            _authenticated_plan, header, address, body, translation.get_language()
        )
    except ApiError as exc:
        return exc.response()
    feed = TurnFeed(plan.conversation_id, plan.turn_id)
    await feed.join()  # before the runner publishes turn.started
    runner = start_runner(dataclasses.replace(plan, language=translation.get_language()))
    try:
        await asyncio.shield(runner.stored)
    except ClientError as exc:
        await feed.leave()
        return from_client_error(exc).response()
    except asyncio.CancelledError:  # the client went away before the turn was stored
        runner.request_stop()
        await asyncio.shield(feed.leave())
        raise
    chunks = Chunks(plan.turn_id, int(time.time()), wanted.model)
    if wanted.stream:
        response = StreamingHttpResponse(
            _streamed(feed, runner, chunks, wanted), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
        return response
    return await _whole(feed, runner, chunks)


def _authenticated_plan(
    header: str, address: str, body: bytes, language: str
) -> tuple[ChatRequest, plans.TurnPlan]:
    """On a database thread, in the request's language: the token, the request, the plan."""
    with translation.override(language):
        caller = _authenticate(header, address)
        wanted = parse(body)
        try:
            plan = plans.prepare_api_turn(
                caller.user,
                wanted.messages,
                wanted.model,
                wanted.options,
                max_tokens=wanted.max_tokens,
                token_name=caller.token_name,
            )
        except ClientError as exc:
            raise from_client_error(exc) from None
    return wanted, plan


def _finish_reason(runner: TurnRunner) -> Any:
    return lambda: runner.finish_reason


async def _followed(feed: TurnFeed, runner: TurnRunner) -> AsyncGenerator[Event]:
    """The turn's events; a client gone before the end stops the turn (partial kept)."""
    ended = False
    try:
        async for event in feed.events():
            yield event
        ended = True
    finally:
        if not ended:
            runner.request_stop()
        await asyncio.shield(feed.leave())


async def _streamed(
    feed: TurnFeed, runner: TurnRunner, chunks: Chunks, wanted: ChatRequest
) -> AsyncIterator[bytes]:
    events = _followed(feed, runner)
    try:
        async for data in chunks.stream(events, _finish_reason(runner), wanted.include_usage):
            yield data
    finally:
        await events.aclose()


async def _whole(feed: TurnFeed, runner: TurnRunner, chunks: Chunks) -> HttpResponse:
    events = _followed(feed, runner)
    try:
        body, last = await chunks.completion(events, _finish_reason(runner))
    finally:
        await events.aclose()
    if body is None:
        error = last.get("error") or {}
        return JsonResponse(
            {
                "error": {
                    "message": error.get("message") or _("The answer failed."),
                    "type": "upstream_error",
                    "code": error.get("code") or "failed",
                }
            },
            status=502,
        )
    return JsonResponse(body)
