"""The one place that creates the outbound HTTP client.

aiohttp, not httpx: reading a paced SSE stream costs ~105 µs of CPU per token
with aiohttp (its HTTP parser is C) and ~220 µs with httpx (h11, httpcore and
anyio in Python, several async layers per read), measured on the bench upstream;
that was over half of what a daphne process spent relaying (docs/architecture.md).

One session per event loop: a session's connection pool belongs to the loop it
was created on, and daphne, tests and the runner may each run their own.
Tests point providers' base URLs at the fake upstream, or pass their own session.
"""

from __future__ import annotations

import asyncio
import weakref

import aiohttp
from django.conf import settings

_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, aiohttp.ClientSession] = (
    weakref.WeakKeyDictionary()
)


def new_session(idle_timeout: float | None = None) -> aiohttp.ClientSession:
    timeout = aiohttp.ClientTimeout(
        total=None,
        connect=settings.UPSTREAM_CONNECT_TIMEOUT,
        # The longest silence between two reads: the idle limit. Reasoning models
        # may think for minutes, sending only keep-alive comments.
        sock_read=idle_timeout if idle_timeout is not None else settings.UPSTREAM_IDLE_TIMEOUT,
    )
    return aiohttp.ClientSession(
        timeout=timeout,
        connector=aiohttp.TCPConnector(limit=2000, limit_per_host=0, keepalive_timeout=30),
        # Proxies and .netrc from the environment would route keys to surprising places.
        trust_env=False,
        raise_for_status=False,
    )


def get_http_client() -> aiohttp.ClientSession:
    """The shared session of the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    session = _sessions.get(loop)
    if session is None or session.closed:
        session = _sessions[loop] = new_session()
    return session


async def close_http_clients() -> None:
    """Close the running loop's session (at shutdown); other loops close their own."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()
