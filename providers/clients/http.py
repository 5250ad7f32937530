"""The one place that creates the outbound HTTP client.

One `httpx.AsyncClient` per event loop: a client's connection pool belongs to the
loop it was first used on, and daphne, tests and the runner may each run their own.
"""

from __future__ import annotations

import asyncio
import weakref

import httpx
from django.conf import settings

_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _new_client() -> httpx.AsyncClient:
    timeout = httpx.Timeout(
        connect=settings.UPSTREAM_CONNECT_TIMEOUT,
        # The read timeout is the idle timeout: the longest silence between two reads.
        read=settings.UPSTREAM_IDLE_TIMEOUT,
        write=30.0,
        pool=30.0,
    )
    return httpx.AsyncClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=2000, max_keepalive_connections=200),
        # Proxies and .netrc from the environment would route keys to surprising places.
        trust_env=False,
        http1=True,
        http2=False,
    )


def get_http_client() -> httpx.AsyncClient:
    """The shared client of the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = _clients[loop] = _new_client()
    return client


async def close_http_clients() -> None:
    """Close the running loop's client (at shutdown); other loops close their own."""
    client = _clients.pop(asyncio.get_running_loop(), None)
    if client is not None:
        await client.aclose()
