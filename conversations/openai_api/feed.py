"""Following one turn's events from an API request, the way a socket does.

The feed joins the conversation on this process's fanout (conversations/live/fanout.py)
before the runner starts, so it is handed every batch the runner publishes, `turn.started`
included, with no message or task per event. Like a socket it keeps each seq once and in
order: a gap, or a quiet spell of CHAT_WATCHDOG_SECONDS, is filled from the turn log
(conversations/live/turnlog.py), which holds every event. A turn finished by another
process (this one's lease had expired) is ended from the database.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from django.conf import settings

from conversations.live.db import run_db
from conversations.live.fanout import get_fanout
from conversations.live.turnlog import Event, get_turn_log
from conversations.models import Turn

TERMINAL = frozenset({"turn.completed", "turn.failed", "turn.stopped"})


class TurnFeed:
    def __init__(self, conversation_id: str, turn_id: str) -> None:
        self.conversation_id = conversation_id
        self.turn_id = turn_id
        self.last = 0  # the highest seq taken
        self._queue: asyncio.Queue[list[Event] | None] = asyncio.Queue()
        self._joined = False

    async def join(self) -> None:
        await get_fanout().join(self.conversation_id, self)
        self._joined = True

    async def leave(self) -> None:
        if self._joined:
            self._joined = False
            await get_fanout().leave(self.conversation_id, self)

    async def turn_events(self, message: dict[str, Any]) -> None:
        """Called by the fanout with each batch of the conversation's events."""
        if message.get("turn") == self.turn_id:
            self._queue.put_nowait(message["events"])

    async def batches(self) -> AsyncIterator[list[Event]]:
        """The turn's events in order, each once, a batch at a time as the runner
        published them, until its terminal event."""
        while True:
            batch = await self._next()
            if batch is None:  # a quiet spell
                batch = await self._from_log() or await self._ended_elsewhere()
            elif batch and batch[0]["seq"] > self.last + 1:
                batch = await self._from_log() + batch  # a batch was lost on the way
            new: list[Event] = []
            for event in batch:
                if event["seq"] != self.last + 1:
                    continue
                self.last = event["seq"]
                new.append(event)
                if event["type"] in TERMINAL:
                    yield new
                    return
            if new:
                yield new

    async def followed(self, stop: Callable[[], None]) -> AsyncGenerator[list[Event]]:
        """`batches()`, then leaving the fanout; a client gone before the terminal
        event calls `stop` (the turn stops, its partial answer kept)."""
        ended = False
        try:
            async for batch in self.batches():
                yield batch
            ended = True
        finally:
            if not ended:
                stop()
            await asyncio.shield(self.leave())

    async def _next(self) -> list[Event] | None:
        """The next batch, or None after CHAT_WATCHDOG_SECONDS without one. A timer
        that puts None, not `asyncio.wait_for`, which makes a task per batch: at 200
        streams that was a good part of what an API stream cost over a socket."""
        if not self._queue.empty():
            return self._queue.get_nowait()
        loop = asyncio.get_running_loop()
        timer = loop.call_later(settings.CHAT_WATCHDOG_SECONDS, self._queue.put_nowait, None)
        try:
            return await self._queue.get()
        finally:
            timer.cancel()

    async def _from_log(self) -> list[Event]:
        return await get_turn_log().read(self.turn_id, self.last) or []

    async def _ended_elsewhere(self) -> list[Event]:
        """Nothing new anywhere: if the stored turn has ended (its log gone or never
        reaching us), its terminal event from the row; else keep waiting."""
        turn = await run_db(
            lambda: (
                Turn.objects.only("status", "seq", "usage", "timings", "error")
                .filter(id=self.turn_id)
                .first()
            )
        )
        if turn is None or turn.status == Turn.Status.STREAMING:
            return []
        kind = {"completed": "turn.completed", "stopped": "turn.stopped"}.get(
            turn.status, "turn.failed"
        )
        event: Event = {
            "type": kind,
            "turn": self.turn_id,
            "seq": self.last + 1,
            "usage": turn.usage or {},
            "timings": turn.timings or {},
        }
        if kind == "turn.failed":
            error = turn.error or {}
            event["error"] = {
                "code": error.get("code", "failed"),
                "message": error.get("message", ""),
            }
        return [event]
