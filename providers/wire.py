"""What the clients speak, without doing any I/O: the messages a context is made of,
the request, the events, and the provider errors with their plain words. The pages,
the socket and trace review import this; only the runner imports a client.

A client turns one `StreamRequest` into an async stream of typed events:
`ReasoningDelta`, `ContentDelta`, `Usage`, and finally `Done` (web-search bots add
`References` and `BotUsage`). Anything that
goes wrong becomes a `ProviderError` with a stable `code`, the technical `message`
(for admins and logs) and a plain-words one for the person (`user_message()`);
`retryable` says whether trying again (only before the first token) may help.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http import HTTPStatus
from typing import Any, Literal

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

Thinking = Literal["enabled", "disabled", "auto"]
Effort = Literal["minimal", "low", "medium", "high", "max"]


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class StreamRequest:
    model: str
    messages: Sequence[Message]
    thinking: Thinking | None = None
    effort: Effort | None = None
    max_tokens: int | None = None


@dataclass(frozen=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True)
class ContentDelta:
    text: str


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    total_tokens: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "reasoning_tokens": self.reasoning_tokens,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class References:
    """The sources a web-search bot (Ark `bots/chat/completions`) cites: each item has
    at least REFERENCE_KEYS (null where the provider left one out)."""

    items: list[dict[str, Any]]


@dataclass(frozen=True)
class BotUsage:
    """A bot's own usage object (its model and plugin usage), kept as the provider sent it."""

    data: dict[str, Any]


@dataclass(frozen=True)
class Done:
    finish_reason: str | None = None


Event = ReasoningDelta | ContentDelta | Usage | References | BotUsage | Done

REFERENCE_KEYS = ("title", "url", "site_name", "summary", "publish_time")
MAX_REFERENCES = 50  # a bound on what one turn stores and sends


def reference_items(raw: Any) -> list[dict[str, Any]]:
    """A provider's `references` list as stored and sent: objects only, at most
    MAX_REFERENCES, each with every REFERENCE_KEYS key (null when missing or not a
    string or number). Other keys are kept as sent. URLs are not judged here: the
    page links only http(s) ones."""
    if not isinstance(raw, list):
        return []
    items: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        clean = dict(item)
        for key in REFERENCE_KEYS:
            value = item.get(key)
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                value = None
            elif key != "publish_time" and not isinstance(value, str):
                value = str(value)
            clean[key] = value
        items.append(clean)
        if len(items) >= MAX_REFERENCES:
            break
    return items


# What a person reads: what happened and what they can do. The runner stores them in
# English; static/chat/errors.js has the same sentences, word for word, and translates
# them in the page (tests/test_error_messages.py checks both lists agree). Never the
# provider's own words: an error body can be any page behind the base URL (an
# intranet's, a gateway's), so they stay in the error's `message` (the stored
# `detail`), which only staff read.
CONNECT_FAILED = _(
    "The model's provider could not be reached. Try again in a moment; if it keeps "
    "failing, an admin can check the provider's address and the server's network."
)
BAD_URL = _("The provider's address is not a usable URL. An admin needs to fix its base URL.")
AUTH = _("The provider refused the API key. An admin needs to check the provider's keys.")
RATE_LIMITED = _("The provider is rate-limiting requests. Wait a moment and try again.")
NO_CREDIT = _("The provider's account has run out of credit. An admin needs to top it up.")
REDIRECTED = _(
    "The provider's address redirects elsewhere (HTTP %(status)s). "
    "An admin needs to check its base URL."
)
REFUSED = _(
    "The provider refused the request (HTTP %(status)s). Try other options or another model."
)
REFUSED_PLAIN = _("The provider refused the request. Try other options or another model.")
THINKING_OFF_EFFORT = _(
    "With thinking off, this model only accepts minimal effort. "
    "Turn thinking on or set the effort to minimal."
)
HTTP_ERROR = _(
    "The provider answered with an error (HTTP %(status)s). "
    "Try again; if it keeps happening, tell an admin."
)
UNAVAILABLE = _("The provider is not answering right now. Try again in a moment.")
SERVER_ERROR = _("The provider had a problem (HTTP %(status)s). Try again in a moment.")
FAILED = _("The provider could not finish the answer. Try again in a moment.")
UNREADABLE = _(
    "The provider's answer could not be read. Try again; if it keeps failing, "
    "an admin can check the provider's settings."
)
CUT = _(
    "The connection to the provider broke, so the answer is cut off. "
    "The part that arrived is kept; regenerate to try again."
)
STALLED = _(
    "The provider stopped sending, so the answer is cut off. "
    "The part that arrived is kept; regenerate to try again."
)


class ProviderError(Exception):
    """`message` is the technical text (keys scrubbed): stored as the turn's `detail`,
    shown to admins. What the person reads is `plain`, filled in with `values`."""

    code = "upstream_error"
    retryable = False
    plain: str | Promise = FAILED

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retryable: bool | None = None,
        plain: str | Promise | None = None,
        values: dict[str, Any] | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        if retryable is not None:
            self.retryable = retryable
        if plain is not None:
            self.plain = plain
        self.values = values or {}
        # Seconds the provider asked us to wait (a 429's or 503's Retry-After), if it said.
        self.retry_after: float | None = None

    def user_message(self) -> str:
        """The plain-words message in the active language."""
        text = str(self.plain)
        return text % self.values if self.values else text


class AuthError(ProviderError):
    code = "auth"
    plain = AUTH


class RateLimited(ProviderError):
    code = "rate_limited"
    retryable = True
    plain = RATE_LIMITED


class BadRequest(ProviderError):
    code = "bad_request"
    plain = REFUSED_PLAIN


class UpstreamUnavailable(ProviderError):
    code = "upstream_unavailable"
    retryable = True
    plain = UNAVAILABLE


class StreamCut(ProviderError):
    """The stream ended without its end: the answer so far is incomplete."""

    code = "cut"
    plain = CUT


class Stalled(ProviderError):
    code = "stalled"
    plain = STALLED


class ConnectFailed(ProviderError):
    code = "connect_failed"
    retryable = True
    plain = CONNECT_FAILED


def error_from_response(
    status: int, body: bytes, scrub: Any = lambda s: s, *, retry_after: str | None = None
) -> ProviderError:
    """Map a non-2xx upstream answer to a ProviderError with the provider's own message.

    Understands `{"error": {"message", "type", "code"}}` (OpenAI, DeepSeek, new-api),
    Ark's `{"error": {"code": "InvalidParameter", "message": ...}}`, Qianfan's
    `{"error_code", "error_msg"}` and a bare text body. `retry_after` is the
    response's Retry-After header, kept on the error in seconds.
    """
    error = _error_from_response(status, body, scrub)
    error.retry_after = parse_retry_after(retry_after)
    return error


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return None
    return max(0.0, seconds)


def _error_from_response(status: int, body: bytes, scrub: Any) -> ProviderError:
    said = ""  # the provider's own words, from a JSON error object
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        said = scrub(error_message(data))
    # Scrubbed before it is cut: a key cut in two would no longer match.
    text = scrub(body.decode("utf-8", "replace").strip())[:500]
    message = f"HTTP {status}: {said or text or _reason(status)}"
    values = {"status": status}
    if status in (401, 403):
        return AuthError(message, status=status)
    if status == 429:
        return RateLimited(message, status=status)
    if status == 402:  # DeepSeek and others: "Insufficient Balance"
        return ProviderError(message, status=status, plain=NO_CREDIT)
    if 300 <= status < 400:  # redirects are not followed: the base URL is wrong
        return ProviderError(message, status=status, plain=REDIRECTED, values=values)
    if status in (400, 404, 409, 413, 422):
        return BadRequest(message, status=status, plain=REFUSED, values=values)
    if status >= 500:
        return UpstreamUnavailable(
            message,
            status=status,
            retryable=status in (500, 502, 503, 504),
            plain=SERVER_ERROR,
            values=values,
        )
    return ProviderError(message, status=status, plain=HTTP_ERROR, values=values)


def stream_error(said: str, fallback: str) -> ProviderError:
    """An error the provider reported inside a 2xx stream (`said`: its words, scrubbed,
    kept for staff; the person reads FAILED)."""
    return ProviderError(said or fallback)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def error_message(data: dict[str, Any]) -> str:
    """The human part of a provider's error object (in a body or mid-stream)."""
    err = data.get("error", data)
    if isinstance(err, str):
        return err
    if not isinstance(err, dict):
        return ""
    message = err.get("message") or err.get("error_msg") or data.get("error_msg") or ""
    code = err.get("code") or err.get("type") or err.get("error_code") or data.get("error_code")
    if code and message:
        return f"{message} ({code})"
    return str(message or code or "")
