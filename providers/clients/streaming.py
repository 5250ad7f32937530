"""The request half shared by the HTTP styles: POST, status mapping, transport errors."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from providers.clients.base import (
    BaseClient,
    ConnectFailed,
    ProviderError,
    Stalled,
    StreamCut,
    UpstreamUnavailable,
    error_from_response,
)

CUT_MESSAGE = "The connection to the provider closed before the answer was complete."


@asynccontextmanager
async def open_stream(client: BaseClient, payload: dict[str, Any]) -> AsyncIterator[httpx.Response]:
    """POST `payload` and yield the 2xx streaming response.

    A non-2xx answer raises the provider's own error; transport errors, whether
    before the answer or while the caller reads it, become `ProviderError`s.
    """
    answered = False
    try:
        async with client.http.stream(
            "POST", client.url, json=payload, headers=client.headers()
        ) as response:
            if not response.is_success:
                body = await response.aread()
                raise error_from_response(response.status_code, body, client.scrub)
            answered = True
            yield response
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise ConnectFailed(client.scrub(f"Could not connect to the provider: {exc}")) from exc
    except httpx.ReadTimeout as exc:
        idle = client.http.timeout.read
        waited = f"{idle:g} seconds" if idle is not None else "too long"
        raise Stalled(f"The provider sent no data for {waited}.") from exc
    except (httpx.WriteTimeout, httpx.PoolTimeout) as exc:
        # Nothing was answered yet: trying again is safe.
        raise ConnectFailed(client.scrub(f"Could not send the request: {exc!r}")) from exc
    except httpx.UnsupportedProtocol as exc:
        raise ConnectFailed(
            client.scrub(f"The provider's base URL is not usable: {exc}"), retryable=False
        ) from exc
    except httpx.TransportError as exc:
        if answered:
            raise StreamCut(CUT_MESSAGE) from exc
        raise UpstreamUnavailable(
            "The provider closed the connection without answering.", retryable=True
        ) from exc
    except httpx.InvalidURL as exc:
        raise ConnectFailed(
            client.scrub(f"The provider's base URL is not usable: {exc}"), retryable=False
        ) from exc
    except httpx.HTTPError as exc:  # e.g. a broken gzip body
        raise ProviderError(client.scrub(f"Could not read the provider's answer: {exc}")) from exc


def parse_chunk(client: BaseClient, data: str) -> Any:
    """One event's JSON; a chunk that is not JSON is the provider's fault, said clearly."""
    try:
        return json.loads(data)
    except ValueError as exc:
        raise ProviderError(
            client.scrub(f"The provider sent a stream chunk that is not JSON: {data[:200]!r}")
        ) from exc


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
