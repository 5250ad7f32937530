"""The small base every provider client stands on: its configuration and the
request it sends. The vocabulary it speaks (requests, events, errors) is
`providers/wire.py`, which does no I/O."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import aiohttp

from providers.wire import Event, StreamRequest


@dataclass
class ClientConfig:
    base_url: str
    api_key: str = field(repr=False, default="")
    # Asked after each read of a streamed answer: seconds its next bytes may wait in
    # the kernel (the reader's coalescing window: providers/clients/streaming.py).
    read_hold: Callable[[], float] | None = field(repr=False, default=None)


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
