"""Why a sign-in failed, in the person's words, and the page that says it.

`SignInFailed(kind, detail)`: `kind` picks the sentence the person reads; `detail`
goes to the log only (never a token: callers put error names and codes in it).
A failure redirects to `/oidc/failed/<kind>/`: the callback's code and state leave
the address bar, and the page's language switcher comes back to the same message.
"""

from __future__ import annotations

import logging

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

logger = logging.getLogger("accounts.oidc")

MESSAGES = {
    "state": _(
        "This sign-in was started in another browser or tab, took too long, or was "
        "already used. Start again from the sign-in page."
    ),
    "code": _(
        "The identity provider's answer arrived too late or was already used. Please sign in again."
    ),
    "token": _(
        "The identity provider's answer could not be verified, so nobody was signed in. "
        "If this happens again, tell your admin."
    ),
    "refused": _("The identity provider did not sign you in."),
    "unreachable": _("The identity provider could not be reached. Try again in a few minutes."),
    "misconfigured": _("Company sign-in is not set up correctly on this server. Tell your admin."),
    "disabled": _("Your account here is disabled. Ask your admin to enable it."),
}

STATUS = {"unreachable": 502, "misconfigured": 500, "disabled": 403, "refused": 403}


class SignInFailed(Exception):
    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(kind)
        self.kind = kind if kind in MESSAGES else "token"
        self.detail = detail


def fail(request: HttpRequest, failure: SignInFailed) -> HttpResponse:
    logger.warning("company sign-in failed (%s): %s", failure.kind, failure.detail)
    return HttpResponseRedirect(reverse("oidc-failed", args=[failure.kind]))


def failed(request: HttpRequest, kind: str) -> HttpResponse:
    if kind not in MESSAGES:
        raise Http404
    return render(
        request,
        "oidc/failure.html",
        {"message": MESSAGES[kind], "kind": kind},
        status=STATUS.get(kind, 400),
    )
