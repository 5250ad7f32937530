"""Errors of the API in OpenAI's shape: `{"error": {"message", "type", "code"}}`.

The chat's own errors (`ClientError` and its kinds, raised by the plan) become the
API's codes here: a model that does not exist or that the owner may not use is one
404 `model_not_found`; the team's quota 429 `quota_exceeded`; a per-person limit
429 `rate_limited` with `Retry-After`; options the model does not take 400
`invalid_options`; anything else the person could fix 400 `invalid_request`.
"""

from __future__ import annotations

import math
from typing import Any

from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.limits import TooManyMessages, TooManyTurns
from accounts.quota import QuotaExceeded
from conversations.errors import ClientError

TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    429: "rate_limit_error",
}
# A person at the most answers at once is told to come back this soon.
RUNNING_RETRY_AFTER = 5


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        retry_after: int | None = None,
        allow: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after
        self.allow = allow  # a 405's method

    def body(self) -> dict[str, Any]:
        kind = TYPES.get(self.status, "server_error")
        return {"error": {"message": self.message, "type": kind, "code": self.code}}

    def headers(self) -> list[tuple[str, str]]:
        """The headers the answer carries beside its body."""
        found = []
        if self.retry_after is not None:
            found.append(("Retry-After", str(self.retry_after)))
        if self.status == 401:
            found.append(("WWW-Authenticate", 'Bearer realm="api"'))
        if self.allow is not None:
            found.append(("Allow", self.allow))
        return found

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body(), status=self.status)
        for name, value in self.headers():
            response[name] = value
        return response


def not_allowed(method: str) -> ApiError:
    return ApiError(
        405, "method_not_allowed", _("Use %(method)s.") % {"method": method}, allow=method
    )


def invalid(message: str) -> ApiError:
    return ApiError(400, "invalid_request", message)


def from_client_error(exc: ClientError) -> ApiError:
    """The API's answer to what the plan refused (its message in the active language)."""
    if exc.code == "invalid_model":
        return ApiError(
            404,
            "model_not_found",
            _(
                "The model does not exist or you do not have access to it. "
                "GET /v1/models lists yours."
            ),
        )
    if isinstance(exc, QuotaExceeded):
        left = (exc.resets_at - timezone.now()).total_seconds()
        return ApiError(429, "quota_exceeded", exc.message, retry_after=max(1, math.ceil(left)))
    if isinstance(exc, TooManyMessages):
        message = _(
            "Too many requests: at most %(limit)s a minute per person, chat included. "
            "Retry after %(seconds)s seconds."
        ) % {"limit": exc.limit, "seconds": exc.wait}
        return ApiError(429, "rate_limited", message, retry_after=exc.wait)
    if isinstance(exc, TooManyTurns):
        message = _(
            "Too many requests: at most %(limit)s answers at once per person, chat "
            "included. Retry when one has finished."
        ) % {"limit": exc.limit}
        return ApiError(429, "rate_limited", message, retry_after=RUNNING_RETRY_AFTER)
    if exc.code == "invalid_options":
        # The plan's own words name the setting and what the model takes.
        field = "reasoning_effort" if "effort" in exc.detail else "thinking"
        return ApiError(400, "invalid_options", f"{field}: {exc.detail}")
    if exc.code == "too_large":
        return ApiError(400, "too_large", exc.message)
    return ApiError(400, "invalid_request", exc.message)
