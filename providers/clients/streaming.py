"""The request half shared by the HTTP styles: POST, status mapping, transport errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import aiohttp

from providers.clients.base import BaseClient
from providers.wire import (
    BAD_URL,
    UNREADABLE,
    ConnectFailed,
    ProviderError,
    Stalled,
    StreamCut,
    UpstreamUnavailable,
    error_from_response,
)

Body = AsyncIterator[bytes]

CUT_MESSAGE = "The connection to the provider closed before the answer was complete."


@asynccontextmanager
async def open_stream(client: BaseClient, payload: dict[str, Any]) -> AsyncIterator[Body]:
    """POST `payload` and yield the 2xx response's body, chunk by chunk as it arrives.

    A non-2xx answer raises the provider's own error; transport errors, whether
    before the answer or while the caller reads it, become `ProviderError`s.
    """
    answered = False
    try:
        async with client.http.post(
            client.url,
            data=json.dumps(payload),
            headers=client.headers(),
            # A redirect is the base URL's mistake: say so rather than resend the key.
            allow_redirects=False,
        ) as response:
            if not 200 <= response.status < 300:
                body = await response.read()
                raise error_from_response(
                    response.status,
                    body,
                    client.scrub,
                    retry_after=response.headers.get("Retry-After"),
                )
            answered = True
            hold = client.config.read_hold
            if hold is None:
                yield response.content.iter_any()
            else:
                reader = _HeldReader(response, hold)
                try:
                    yield reader.chunks()
                finally:
                    reader.resume()
    except aiohttp.ConnectionTimeoutError as exc:
        raise ConnectFailed(
            client.scrub(f"Could not connect to the provider: timed out ({exc})")
        ) from exc
    except aiohttp.SocketTimeoutError as exc:
        idle = client.http.timeout.sock_read
        waited = f"{idle:g} seconds" if idle is not None else "too long"
        raise Stalled(f"The provider sent no data for {waited}.") from exc
    except aiohttp.ClientConnectorError as exc:
        raise ConnectFailed(client.scrub(f"Could not connect to the provider: {exc}")) from exc
    except (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError) as exc:
        raise ConnectFailed(
            client.scrub(f"The provider's base URL is not usable: {exc}"),
            retryable=False,
            plain=BAD_URL,
        ) from exc
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
        # Cut mid-body, reset, or closed before any answer.
        if answered:
            raise StreamCut(CUT_MESSAGE) from exc
        raise UpstreamUnavailable(
            "The provider closed the connection without answering.", retryable=True
        ) from exc
    except aiohttp.ClientError as exc:  # e.g. a malformed response
        raise ProviderError(
            client.scrub(f"Could not read the provider's answer: {exc}"), plain=UNREADABLE
        ) from exc


class _HeldReader:
    """The body, read at most once per `hold()` seconds while the reader wants so.

    A provider sends each token in its own packet, and every packet read is a wake of
    the event loop, a `recv` and aiohttp's parsing. A reader that gathers tokens for a
    window anyway loses nothing if they wait in the kernel meanwhile and are then read
    at once (conversations/live/pump.py asks for that).
    """

    def __init__(self, response: aiohttp.ClientResponse, hold: Callable[[], float]) -> None:
        self.response = response
        self.hold = hold
        self._paused: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None

    async def chunks(self) -> Body:
        async for chunk in self.response.content.iter_any():
            yield chunk
            wait = self.hold()
            if wait > 0 and self._paused is None:
                self._pause(wait)

    def _pause(self, wait: float) -> None:
        connection = self.response.connection
        transport = connection.transport if connection is not None else None
        # Not a closed transport, nor one aiohttp has paused (a full buffer): it
        # resumes those itself.
        if transport is None or transport.is_closing() or not transport.is_reading():
            return
        transport.pause_reading()
        self._paused = transport
        self._timer = asyncio.get_running_loop().call_later(wait, self.resume)

    def resume(self) -> None:
        """Read again; also when the response ends, so no pooled connection stays paused."""
        transport, self._paused = self._paused, None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if transport is not None and not transport.is_closing():
            transport.resume_reading()


def parse_chunk(client: BaseClient, data: str) -> Any:
    """One event's JSON; a chunk that is not JSON is the provider's fault, said clearly."""
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ProviderError(
            # Scrubbed before it is cut: a key cut in two would no longer match.
            f"The provider sent a stream chunk that is not JSON: {client.scrub(data)[:200]!r}",
            plain=UNREADABLE,
        ) from exc


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
