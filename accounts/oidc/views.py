"""The sign-in's pages: start (the button's link), the callback, and sign-out.

The start is a plain link (GET), so the page's CSP form-action is not involved; the
callback signs someone in only after every check in client.finish has passed; any
failure goes to failures.fail and signs nobody in.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from accounts.oidc import client, people, sync
from accounts.oidc.config import SESSION_KEY, enabled
from accounts.oidc.failures import SignInFailed, fail

logger = logging.getLogger(__name__)

NEXT_KEY = "oidc_next"


def _safe_next(request: HttpRequest, value: str) -> str:
    ok = url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return value if value and ok else settings.LOGIN_REDIRECT_URL


@never_cache
def start(request: HttpRequest) -> HttpResponse:
    if not enabled():
        raise Http404
    request.session[NEXT_KEY] = _safe_next(request, request.GET.get("next", ""))
    redirect_uri = request.build_absolute_uri(reverse("oidc-callback"))
    try:
        return client.authorize_redirect(request, redirect_uri)
    except SignInFailed as failure:
        return fail(request, failure)


@never_cache
def callback(request: HttpRequest) -> HttpResponse:
    if not enabled():
        raise Http404
    try:
        result = client.finish(request)
        with transaction.atomic():
            user = people.person_for(result.issuer, result.claims)
            sync.sync_person(user, people.groups_of(result.claims))
    except SignInFailed as failure:
        return fail(request, failure)
    next_url = request.session.pop(NEXT_KEY, settings.LOGIN_REDIRECT_URL)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[SESSION_KEY] = {
        "iss": result.issuer,
        "sub": str(result.claims["sub"]),
        "id_token": result.id_token,
        "refresh_token": result.refresh_token,
        "access_token": result.access_token,
        "checked": time.time(),
    }
    logger.info("company sign-in: %s", user.get_username())
    return HttpResponseRedirect(_safe_next(request, next_url))


class LogoutView(auth_views.LogoutView):
    """Django's sign-out; after a company sign-in, also at the IdP where it publishes
    an end_session_endpoint (RP-initiated logout with id_token_hint)."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        stored = request.session.get(SESSION_KEY) if enabled() else None
        response = super().post(request, *args, **kwargs)
        if stored:
            back = request.build_absolute_uri(str(settings.LOGOUT_REDIRECT_URL))
            url = client.end_session_url(stored, back)
            if url:
                return HttpResponseRedirect(url)
        return response
