"""Errors a person sees, in plain words: what happened and what they can do.

A `ClientError` answers a frame or request (an `error` frame, a 4xx); its message is
rendered in the language of whoever reads it. A turn's error is stored once (in
English, with the technical `detail` for admins) and translated by the page
(static/chat/errors.js, which knows the same sentences).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from providers import wire
from providers.redact import redact
from providers.wire import ProviderError

# By code. Callers pass the technical text as `detail` (logged, never sent): the
# same code says the same thing to a person, however it came about.
MESSAGES: dict[str, str | Promise] = {
    "bad_frame": _(
        "The page sent something the server could not understand. Reload the page and try again."
    ),
    "unknown_type": _(
        "The page asked for something this server does not do. "
        "Reload the page: it may be out of date."
    ),
    "too_large": _(
        "The message is too long: the limit is %(limit)s characters. "
        "Shorten it or send it in parts."
    ),
    "invalid_content": _("The message is empty. Write something before sending."),
    "invalid_model": _(
        "This model is not available to you. Pick another one; "
        "if none works, an admin needs to check the models and their providers."
    ),
    "invalid_options": _(
        "This model does not accept these thinking or effort settings. "
        "Pick other settings and try again."
    ),
    "busy": _(
        "An answer is still being written in this conversation. "
        "Wait for it to finish or stop it, then try again."
    ),
    "not_running": _("That answer is not being written any more, so there is nothing to stop."),
    "not_found": _(
        "That message or conversation no longer exists. Reload the page to see the current one."
    ),
}

# `invalid_model` for a model that exists but is given to teams the person is not in
# (they left the team, or it was granted away since they last used it): named, so the
# person knows which model to replace, never swapped for another one behind their back.
NOT_YOUR_MODEL = _(
    "You may not use %(model)s any more: it is given to teams you are not in. "
    "Pick another model and send again; an admin can add you to one of those teams."
)

# Turn errors the server itself causes (the provider's are in providers/wire.py).
# INTERRUPTED is conversations.actions.INTERRUPTED_MESSAGE, word for word: both are stored.
INTERRUPTED = _(
    "The server process handling this turn stopped before the answer was finished; "
    "the partial answer is kept."
)
INTERNAL = _(
    "Something went wrong on the server while answering. "
    "Try again; if it keeps happening, tell an admin."
)


class ClientError(Exception):
    """A request the user can fix: becomes an `error` frame (socket) or a 4xx (HTTP).

    `detail` is for developers (logs); `message` is what the person reads, in the
    active language: the code's sentence unless `message` is given.
    """

    def __init__(
        self,
        code: str,
        detail: str = "",
        *,
        message: str | Promise | None = None,
        values: dict[str, Any] | None = None,
    ):
        super().__init__(detail or code)
        self.code = code
        self.detail = detail
        self._message = message if message is not None else MESSAGES.get(code)
        self.values = values or {}

    @property
    def message(self) -> str:
        if self._message is None:  # a code without a sentence yet: its own text
            return self.detail or self.code
        text = str(self._message)
        return text % self.values if self.values else text


class Busy(ClientError):
    def __init__(self) -> None:
        super().__init__("busy", "A turn of this conversation is still running.")


def stored_error(error: ProviderError) -> dict[str, Any]:
    """A turn's error as stored: the plain English sentence, and the technical `detail`
    for admins (never sent on the socket, nor to non-staff by the API)."""
    with translation.override("en"):
        message = error.user_message()
    # The client scrubbed its own key; any other key this process knows goes too.
    return {"code": error.code, "message": redact(message), "detail": redact(error.message)}


# Sentences stored before the provider's words were kept to `detail`: everything
# after the colon (or "The provider said:") is the provider's. For people, the
# sentence that replaced each one.
_LEGACY: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"The provider refused the request: .*", re.S),
        lambda m: str(wire.REFUSED_PLAIN),
    ),
    (
        re.compile(r"The provider answered with an error \(HTTP (\d+)\): .*", re.S),
        lambda m: str(wire.HTTP_ERROR) % {"status": m[1]},
    ),
    (
        re.compile(
            r"The provider had a problem \(HTTP (\d+)\)\. Try again in a moment\. "
            r"The provider said: .*",
            re.S,
        ),
        lambda m: str(wire.SERVER_ERROR) % {"status": m[1]},
    ),
    (re.compile(r"The provider stopped with an error: .*", re.S), lambda m: str(wire.FAILED)),
]


def _without_providers_words(message: str) -> str:
    with translation.override("en"):  # stored English; the page translates
        for pattern, plain in _LEGACY:
            match = pattern.fullmatch(message)
            if match:
                return plain(match)
    return message


def public_error(error: Any, *, staff: bool) -> Any:
    """A stored turn error as whoever reads it may see it: staff all of it; anyone
    else without the technical `detail`, and without a provider's words that an
    older sentence carried."""
    if not isinstance(error, dict) or staff:
        return error
    shown = {k: v for k, v in error.items() if k != "detail"}
    if isinstance(shown.get("message"), str):
        shown["message"] = _without_providers_words(shown["message"])
    return shown


def sent_error(stored: dict[str, Any]) -> dict[str, Any]:
    """What the socket's terminal event carries of a stored error."""
    return {"code": stored["code"], "message": stored["message"]}
