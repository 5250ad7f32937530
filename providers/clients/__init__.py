"""One streaming client per API style; `client_for` picks it."""

from __future__ import annotations

import aiohttp

from providers.clients.base import BaseClient, ClientConfig
from providers.clients.chat_completions import ChatCompletionsClient
from providers.clients.demo import DemoClient
from providers.clients.http import close_http_clients, get_http_client
from providers.clients.responses import ResponsesClient
from providers.wire import (
    AuthError,
    BadRequest,
    BotUsage,
    ConnectFailed,
    ContentDelta,
    Done,
    Event,
    Message,
    ProviderError,
    RateLimited,
    ReasoningDelta,
    References,
    Stalled,
    StreamCut,
    StreamRequest,
    UpstreamUnavailable,
    Usage,
)

__all__ = [
    "AuthError",
    "BadRequest",
    "BaseClient",
    "BotUsage",
    "ChatCompletionsClient",
    "ClientConfig",
    "ConnectFailed",
    "ContentDelta",
    "DemoClient",
    "Done",
    "Event",
    "Message",
    "ProviderError",
    "RateLimited",
    "ReasoningDelta",
    "References",
    "ResponsesClient",
    "Stalled",
    "StreamCut",
    "StreamRequest",
    "UpstreamUnavailable",
    "Usage",
    "client_for",
    "close_http_clients",
    "get_http_client",
]

HTTP_STYLES: dict[str, type[BaseClient]] = {
    "chat-completions": ChatCompletionsClient,
    "responses": ResponsesClient,
}


def client_for(
    style: str, config: ClientConfig, http: aiohttp.ClientSession | None = None
) -> BaseClient:
    """The client for a provider's API style ("chat-completions", "responses", "demo")."""
    if style == "demo":
        return DemoClient(config)
    try:
        cls = HTTP_STYLES[style]
    except KeyError:
        raise ValueError(f"Unknown API style: {style!r}") from None
    return cls(config, http if http is not None else get_http_client())
