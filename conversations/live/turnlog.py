"""The per-turn event log: the real copy of every event, readable from any seq.

Live delivery only wakes sockets (and another process may miss a batch); a socket that
connects late, resumes, or notices a gap reads what it missed from here. In
memory by default (one process); a Redis stream when REDIS_URL is set, so every
process reads the same log. A finished turn's log expires after
CHAT_LOG_RETENTION_SECONDS; `resume` then gets the database snapshot instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from typing import Any, Protocol

from django.conf import settings

from conversations.live.rediswriter import Command, get_writer

Event = dict[str, Any]


class TurnLog(Protocol):
    async def append(self, turn_id: str, events: list[Event]) -> None: ...

    async def read(self, turn_id: str, after_seq: int) -> list[Event] | None:
        """Events with seq > after_seq, or None when the turn's log is not kept."""
        ...

    async def close(self, turn_id: str) -> None:
        """The turn has ended: keep its log a while for late readers, then drop it."""
        ...


class MemoryTurnLog:
    def __init__(self) -> None:
        self._logs: dict[str, list[Event]] = {}

    async def append(self, turn_id: str, events: list[Event]) -> None:
        self._logs.setdefault(turn_id, []).extend(events)

    async def read(self, turn_id: str, after_seq: int) -> list[Event] | None:
        log = self._logs.get(turn_id)
        if log is None or not log or log[0]["seq"] > after_seq + 1:
            return None
        # seq numbers are contiguous from the first kept one.
        return log[max(0, after_seq - log[0]["seq"] + 1) :]

    async def close(self, turn_id: str) -> None:
        loop = asyncio.get_running_loop()
        loop.call_later(settings.CHAT_LOG_RETENTION_SECONDS, self._logs.pop, turn_id, None)


class RedisTurnLog:
    """A Redis stream per turn; entry ids are `<seq>-1`, so XRANGE reads from a seq."""

    # A running turn's log outlives a dead process by this much at most.
    RUNNING_TTL = 24 * 3600

    def _redis(self) -> Any:
        return get_writer().client

    @staticmethod
    def key(turn_id: str) -> str:
        return f"chat:turnlog:{turn_id}"

    async def append(self, turn_id: str, events: list[Event]) -> None:
        await get_writer().send(*self.commands(turn_id, events))

    def commands(self, turn_id: str, events: list[Event]) -> list[Command]:
        """The writes that append `events` (for the process's Redis writer)."""
        key = self.key(turn_id)
        commands: list[Command] = [
            ("XADD", key, f"{e['seq']}-1", "e", json.dumps(e)) for e in events
        ]
        if events and events[0]["seq"] == 1:
            commands.append(("EXPIRE", key, self.RUNNING_TTL))
        return commands

    async def read(self, turn_id: str, after_seq: int) -> list[Event] | None:
        key = self.key(turn_id)
        async with self._redis().pipeline(transaction=False) as pipe:
            pipe.exists(key)
            pipe.xrange(key, min=f"{after_seq + 1}-0", max="+")
            exists, entries = await pipe.execute()
        if not exists:
            return None
        return [json.loads(fields[b"e"]) for _id, fields in entries]

    async def close(self, turn_id: str) -> None:
        await self._redis().expire(self.key(turn_id), settings.CHAT_LOG_RETENTION_SECONDS)


_log: TurnLog | None = None


def get_turn_log() -> TurnLog:
    global _log
    if _log is None:
        _log = RedisTurnLog() if settings.REDIS_URL else MemoryTurnLog()
    return _log


@contextlib.contextmanager
def _sync_redis() -> Iterator[Any]:
    """A synchronous Redis client for one call from synchronous code, closed after."""
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        yield client
    finally:
        client.close()


def forget(turn_id: str) -> None:
    """Drop a turn's log now, from synchronous code (a redaction's or a purge's
    commit): a late `resume` must not replay the text they removed. With Redis the
    stream goes for every process; in memory, this process's copy."""
    if settings.REDIS_URL:
        with _sync_redis() as client:
            client.delete(RedisTurnLog.key(turn_id))
    elif isinstance(_log, MemoryTurnLog):
        _log._logs.pop(turn_id, None)


def kept(turn_id: str) -> int | None:
    """How many events of a turn's log are kept (None: no log), from synchronous
    code: the redaction's confirmation says whether there is a log to drop."""
    if settings.REDIS_URL:
        with _sync_redis() as client:
            return int(client.xlen(RedisTurnLog.key(turn_id))) or None
    if isinstance(_log, MemoryTurnLog):
        return len(_log._logs.get(turn_id) or []) or None
    return None


def reset_turn_log() -> None:
    """For tests that change REDIS_URL."""
    global _log
    _log = None
