"""The small base every provider client stands on.

A client turns one `StreamRequest` into an async stream of typed events:
`ReasoningDelta`, `ContentDelta`, `Usage`, and finally `Done`. Anything that
goes wrong becomes a `ProviderError` with a stable `code` the runner shows to the
user; `retryable` says whether trying again (only before the first token) may help.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

import aiohttp

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
class Done:
    finish_reason: str | None = None


Event = ReasoningDelta | ContentDelta | Usage | Done


class ProviderError(Exception):
    code = "upstream_error"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, retryable: bool | None = None):
        super().__init__(message)
        self.message = message
        self.status = status
        if retryable is not None:
            self.retryable = retryable


class AuthError(ProviderError):
    code = "auth"


class RateLimited(ProviderError):
    code = "rate_limited"
    retryable = True


class BadRequest(ProviderError):
    code = "bad_request"


class UpstreamUnavailable(ProviderError):
    code = "upstream_unavailable"
    retryable = True


class StreamCut(ProviderError):
    """The stream ended without its end: the answer so far is incomplete."""

    code = "cut"


class Stalled(ProviderError):
    code = "stalled"


class ConnectFailed(ProviderError):
    code = "connect_failed"
    retryable = True


@dataclass
class ClientConfig:
    base_url: str
    api_key: str = field(repr=False, default="")


class BaseClient:
    """One API style. Subclasses build the payload and parse the stream."""

    path = ""

    def __init__(self, config: ClientConfig, http: aiohttp.ClientSession):
        self.config = config
        self.http = http

    @property
    def url(self) -> str:
        return self.config.base_url.rstrip("/") + self.path

    def headers(self) -> dict[str, str]:
        headers = {"Accept": "text/event-stream", "Content-Type": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    def stream(self, request: StreamRequest) -> AsyncIterator[Event]:
        raise NotImplementedError

    def scrub(self, text: str) -> str:
        """Keys never reach a message, a log line or a socket: some upstreams echo them."""
        key = self.config.api_key
        if key and key in text:
            text = text.replace(key, "***")
        return text


def error_from_response(status: int, body: bytes, scrub: Any = lambda s: s) -> ProviderError:
    """Map a non-2xx upstream answer to a ProviderError with the provider's own message.

    Understands `{"error": {"message", "type", "code"}}` (OpenAI, DeepSeek, new-api),
    Ark's `{"error": {"code": "InvalidParameter", "message": ...}}`, Qianfan's
    `{"error_code", "error_msg"}` and a bare text body.
    """
    message = ""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if isinstance(data, dict):
        message = error_message(data)
    if not message:
        message = body.decode("utf-8", "replace").strip()[:500] or _reason(status)
    message = scrub(f"HTTP {status}: {message}")
    if status in (401, 403):
        return AuthError(message, status=status)
    if status == 429:
        return RateLimited(message, status=status)
    if status in (400, 404, 409, 413, 422):
        return BadRequest(message, status=status)
    if status >= 500:
        return UpstreamUnavailable(message, status=status, retryable=status in (500, 502, 503, 504))
    return ProviderError(message, status=status)


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
