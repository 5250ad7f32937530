"""Where the chat's own database work runs: a few threads that keep their connections.

Django under ASGI runs with CONN_MAX_AGE=0, so `database_sync_to_async` opens and
closes a connection around every call. For the hot paths (starting a turn,
checkpoints, the final save, the socket's lookups) that was most of the cost:
a PostgreSQL backend fork per call, and on SQLite a WAL checkpoint each time the
last connection closed. These threads are few and long-lived, so each keeps one
connection, dropped only when it has failed (or at shutdown).

SQLite gets one thread: it has a single writer anyway, and one thread in order
beats many threads sleeping in SQLite's busy handler. PostgreSQL gets DB_THREADS.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper

P = ParamSpec("P")
R = TypeVar("R")

_lock = threading.Lock()
_executor: ThreadPoolExecutor | None = None
_opened: set[BaseDatabaseWrapper] = set()


def _threads() -> int:
    if connections[DEFAULT_DB_ALIAS].vendor == "sqlite":
        return 1
    return max(1, int(settings.DB_THREADS))


def _get_executor() -> ThreadPoolExecutor:
    global _executor
    with _lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(_threads(), thread_name_prefix="chat-db")
        return _executor


def _call(func: Callable[..., R], args: Any, kwargs: Any) -> R:
    conn = connections[DEFAULT_DB_ALIAS]
    # After an error, keep the connection only if it still works (a restarted
    # PostgreSQL leaves it broken): the caller's retry then reconnects.
    if conn.connection is not None and conn.errors_occurred:
        if conn.is_usable():
            conn.errors_occurred = False
        else:
            conn.close()
    try:
        return func(*args, **kwargs)
    finally:
        if conn.connection is not None:
            with _lock:
                _opened.add(conn)


def keeping_connection(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """`func(*args, **kwargs)` in this long-lived thread, which keeps its database
    connection as the database threads do (the site's threads: chatsite/handler.py)."""
    return _call(func, args, kwargs)


async def run_db(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run `func(*args, **kwargs)` on a database thread and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_get_executor(), functools.partial(_call, func, args, kwargs))


def close_all() -> None:
    """Stop the threads and close their connections (shutdown, and between tests).

    Waits for calls in progress; the next `run_db` starts new threads.
    """
    global _executor
    with _lock:
        executor, _executor = _executor, None
    if executor is not None:
        executor.shutdown(wait=True)
    with _lock:
        opened = list(_opened)
        _opened.clear()
    for conn in opened:
        # Their threads are gone; closing from here is safe once sharing is allowed.
        conn.inc_thread_sharing()
        try:
            conn.close()
        finally:
            conn.dec_thread_sharing()
