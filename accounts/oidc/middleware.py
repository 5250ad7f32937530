"""Pages: a session signed in at the IdP is re-checked with it when due (renewal.py);
refused, the person is signed out before the view runs, so it sees nobody."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from accounts.oidc import renewal
from accounts.oidc.config import SESSION_KEY, enabled

logger = logging.getLogger(__name__)


class SessionRenewalMiddleware:
    """After AuthenticationMiddleware. Async-capable, so that a request under ASGI
    (the API's streams) takes no thread hop for it when company sign-in is off, or
    when the request has no signed-in session (the check reads the session: in a
    thread)."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self._async:
            return self._acall(request)
        if enabled():
            check_request(request)
        return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        if enabled() and settings.SESSION_COOKIE_NAME in request.COOKIES:
            await sync_to_async(check_request)(request)
        return await self.get_response(request)


def check_request(request: HttpRequest) -> None:
    session = getattr(request, "session", None)
    data = session.get(SESSION_KEY) if session is not None else None
    if not data:
        return
    outcome, new = renewal.check(session.session_key, data)  # type: ignore[union-attr]
    if outcome == renewal.Outcome.ENDED:
        logger.info("company sign-in: the IdP refused a session; signed out")
        logout(request)
    elif outcome != renewal.Outcome.FRESH:
        session[SESSION_KEY] = new  # type: ignore[index]
