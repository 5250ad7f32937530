"""Writes to Redis from all of a process's runners, one pipeline per loop turn.

Each batch of turn events is two writes: its `XADD`s to the turn log, then its
`PUBLISH` to other processes. Sent by each runner on its own, every write took
a pooled connection (an asyncio lock, and a new connection whenever the pool
was short, which under a burst meant hundreds), a redis-py pipeline object and a
round trip. Here the writes of every runner that flushed in the same loop turn
go out together in one pipeline on one connection, in the order they were
asked for: a turn's log append still precedes its publish, and its batches stay
in order.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import redis.asyncio as redis
from django.conf import settings

from conversations.live.loops import per_loop

logger = logging.getLogger(__name__)

Command = tuple[Any, ...]


class RedisWriter:
    def __init__(self, url: str) -> None:
        # Blocking: under a burst, wait for a free connection instead of failing.
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=settings.REDIS_MAX_CONNECTIONS, timeout=10
        )
        self.client = redis.Redis(connection_pool=pool)
        self._queue: list[tuple[list[Command], asyncio.Future[list[Any]]]] = []
        self._task: asyncio.Task[None] | None = None

    async def send(self, *commands: Command) -> list[Any]:
        """Run `commands` in this loop turn's pipeline; their replies, in order."""
        return await self.enqueue(*commands)

    def enqueue(self, *commands: Command) -> asyncio.Future[list[Any]]:
        """`send`, with the commands queued now, before any later caller's: their
        replies when the future is done."""
        future: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._queue.append((list(commands), future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="redis-writer")
        return future

    async def _drain(self) -> None:
        while self._queue:
            batch, self._queue = self._queue, []
            pipe = self.client.pipeline(transaction=False)
            for commands, _ in batch:
                for command in commands:
                    pipe.execute_command(*command)
            try:
                replies = await pipe.execute(raise_on_error=False)
            except Exception as exc:  # e.g. Redis unreachable: every caller hears it
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            except BaseException:  # cancelled (shutdown): no caller may wait forever
                for _, future in [*batch, *self._queue]:
                    future.cancel()
                self._queue = []
                raise
            start = 0
            for commands, future in batch:
                mine = replies[start : start + len(commands)]
                start += len(commands)
                if future.done():
                    continue  # its caller was cancelled
                error = next((r for r in mine if isinstance(r, Exception)), None)
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(mine)


# The running event loop's writer (redis-py connections belong to one loop).
get_writer = per_loop(lambda: RedisWriter(settings.REDIS_URL))
