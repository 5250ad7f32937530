"""Between processes: turn batches and stop requests over Redis pub/sub, one Redis
channel per conversation, one subscriber connection per process.

This replaced channels_redis's `group_send` for turn events. Measured at 250
streams on PostgreSQL + Redis, a group send per batch (a sorted-set read, a Lua
script and msgpack per member, three round trips) kept the process saturated
where SQLite's in-memory path used 0.6 of a core, and each process got its own
batches back. A PUBLISH is one command; a process's own messages come back too,
but are recognised by their first bytes and dropped undecoded. Publishing goes
through the process's pipelined writer (conversations/live/rediswriter.py), after the
batch's log append.

Pub/sub delivers at most once: a message published while a subscriber is
disconnected is lost. redis-py resubscribes when it reconnects, and sockets
that miss a batch notice the gap in `seq` (or the silence: their watchdog) and
read the turn log, which holds every event.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as redis

from conversations.live.rediswriter import Command, get_writer

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


PREFIX = "chat:conv:"


def channel_name(conversation_id: str) -> str:
    return PREFIX + conversation_id


def conversation_of(channel: bytes | str) -> str:
    name = channel.decode() if isinstance(channel, bytes) else channel
    return name.removeprefix(PREFIX)


class RedisBus:
    def __init__(
        self,
        url: str,
        handler: Handler,
        on_subscribed: Callable[[str], Awaitable[None]],
        on_reconnect: Callable[[], None],
    ) -> None:
        self.client = redis.Redis.from_url(url)
        # Subscribe confirmations are wanted: `on_subscribed` hears of each, also when
        # redis-py resubscribes after a reconnect.
        self.pubsub = self.client.pubsub()
        self.handler = handler
        self.on_subscribed = on_subscribed
        self.on_reconnect = on_reconnect
        self.origin = uuid.uuid4().hex.encode()  # this process, on its own messages
        self.confirmed: set[str] = set()  # conversations Redis has us subscribed to
        self._listener: asyncio.Task[None] | None = None

    async def subscribe(self, conversation_id: str) -> None:
        await self.pubsub.subscribe(channel_name(conversation_id))
        if self._listener is None or self._listener.done():
            self._listener = asyncio.create_task(self._listen(), name="bus-listener")

    async def unsubscribe(self, conversation_id: str) -> None:
        await self.pubsub.unsubscribe(channel_name(conversation_id))

    async def publish(self, conversation_id: str, message: dict[str, Any]) -> int:
        """Returns how many subscribers Redis delivered it to, this process included."""
        [receivers] = await get_writer().send(self.command(conversation_id, message))
        return int(receivers)

    def command(self, conversation_id: str, message: dict[str, Any]) -> Command:
        """The PUBLISH of `message` (for the process's Redis writer)."""
        payload = self.origin + b" " + json.dumps(message).encode()
        return ("PUBLISH", channel_name(conversation_id), payload)

    async def _listen(self) -> None:
        while True:
            try:
                message = await self.pubsub.get_message(timeout=None)
            except Exception:  # Redis unreachable: redis-py reconnects and resubscribes
                if cancelled():
                    raise asyncio.CancelledError from None
                logger.warning("bus listener", exc_info=True)
                self.confirmed.clear()
                self.on_reconnect()
                await asyncio.sleep(1)
                continue
            if message is None:
                continue
            kind = message.get("type")
            if kind in ("subscribe", "unsubscribe"):
                conversation_id = conversation_of(message["channel"])
                if kind == "unsubscribe":
                    self.confirmed.discard(conversation_id)
                    continue
                self.confirmed.add(conversation_id)
                try:
                    await self.on_subscribed(conversation_id)
                except Exception:
                    logger.warning("announcing a subscription failed", exc_info=True)
                continue
            if kind != "message":
                continue
            data: bytes = message["data"]
            origin, _, body = data.partition(b" ")
            if origin == self.origin:
                continue  # our own: this process handled it before publishing
            try:
                await self.handler(json.loads(body))
            except Exception:
                logger.warning("bus message not handled", exc_info=True)


def cancelled() -> bool:
    """A cancel that a library turned into another error (redis-py raises TimeoutError)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0
