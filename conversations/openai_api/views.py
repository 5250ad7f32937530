"""`GET /v1/models`, and what `POST /v1/chat/completions` (completions.py) asks of
the database: both authenticated by a personal token (`Authorization: Bearer
sk-...`; no session, no CSRF).

The chat completion plans with the chat's own `plans.prepare_api_turn`, after the
token and the request's parse, in one trip to the database threads.
"""

from __future__ import annotations

import functools
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from accounts import access, tokens
from accounts.throttle import client_address
from conversations import plans
from conversations.errors import ClientError
from conversations.live.db import run_db
from conversations.openai_api.errors import ApiError, from_client_error, not_allowed
from conversations.openai_api.parse import ChatRequest, parse


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
        return not_allowed("GET").response()
    try:
        caller = await _caller(request)
    except ApiError as exc:
        return exc.response()
    return JsonResponse(await run_db(_model_list, caller.user))


def authenticated_plan(
    header: str, address: str, body: bytes, language: str
) -> tuple[ChatRequest, plans.TurnPlan]:
    """On a database thread, in the request's language: the token, the request, the
    plan (completions.py: one trip to the database threads before the upstream is asked)."""
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
