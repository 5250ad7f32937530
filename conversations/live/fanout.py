"""Turn events to the sockets that follow a conversation: this process's directly,
other processes' over Redis pub/sub (conversations/live/bus.py), once per process
rather than per socket.

Each process (each event loop) keeps its open sockets by conversation. A runner
hands a batch of events to the sockets here by calling them, with no message,
queue or task per socket, and, with Redis, publishes the batch once on the
conversation's Redis channel, which each process with sockets on the
conversation subscribes to and relays to its own sockets. A process running one
of the conversation's turns stays subscribed until the turn ends (`hold`):
`stop`, published from any process, reaches the runner there.

Another process may miss a batch (pub/sub is at most once): its sockets notice
the gap in `seq`, or the silence (their watchdog), and read the turn log, which
holds every event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from django.conf import settings

from conversations.live.bus import RedisBus
from conversations.live.loops import per_loop
from conversations.live.rediswriter import get_writer
from conversations.live.turnlog import Event, RedisTurnLog, get_turn_log

logger = logging.getLogger(__name__)


class Socket(Protocol):
    async def turn_events(self, message: dict[str, Any]) -> None: ...


class Fanout:
    def __init__(self) -> None:
        # One process (no Redis) needs no bus at all.
        self.bus = (
            RedisBus(settings.REDIS_URL, self._heard, self._subscribed, self._reconnected)
            if settings.REDIS_URL
            else None
        )
        # Conversations no other process subscribes to, as of our last publish there:
        # their batches are not published (see `_learn_alone`).
        self.alone: set[str] = set()
        self._joins = 0  # "process.joined" messages heard (and reconnects)
        self.sockets: dict[str, set[Socket]] = {}
        self.turns: dict[str, dict[str, Callable[[], None]]] = {}  # running here, by conversation
        self._membership = asyncio.Lock()

    async def join(self, conversation_id: str, socket: Socket) -> None:
        async with self._membership:
            self.sockets.setdefault(conversation_id, set()).add(socket)
            await self._enter(conversation_id)

    async def leave(self, conversation_id: str, socket: Socket) -> None:
        async with self._membership:
            members = self.sockets.get(conversation_id)
            if members is None:
                return
            members.discard(socket)
            if not members:
                del self.sockets[conversation_id]
            await self._exit(conversation_id)

    async def hold(self, conversation_id: str, turn_id: str, stop: Callable[[], None]) -> None:
        """A runner's turn: `stop` sent from any process calls `stop()` here. The
        process stays subscribed to the conversation while the turn runs, sockets or not."""
        async with self._membership:
            self.turns.setdefault(conversation_id, {})[turn_id] = stop
            await self._enter(conversation_id)

    async def release(self, conversation_id: str, turn_id: str) -> None:
        async with self._membership:
            turns = self.turns.get(conversation_id, {})
            turns.pop(turn_id, None)
            if not turns:
                self.turns.pop(conversation_id, None)
            await self._exit(conversation_id)

    async def stop_elsewhere(self, conversation_id: str, turn_id: str) -> None:
        """Ask the other process running `turn_id` to stop it (the consumer stops a
        runner of its own process directly)."""
        if self.bus is not None:
            message = {"type": "turn.stop", "conversation": conversation_id, "turn": turn_id}
            await self.bus.publish(conversation_id, message)

    def _members(self, conversation_id: str) -> int:
        return len(self.sockets.get(conversation_id, ())) + len(self.turns.get(conversation_id, ()))

    async def _enter(self, conversation_id: str) -> None:
        if self.bus is not None and self._members(conversation_id) == 1:
            await self.bus.subscribe(conversation_id)

    async def _exit(self, conversation_id: str) -> None:
        if self.bus is not None and self._members(conversation_id) == 0:
            self.alone.discard(conversation_id)
            await self.bus.unsubscribe(conversation_id)

    async def publish(self, conversation_id: str, turn_id: str, events: list[Event]) -> None:
        """Give `events` to every socket on the conversation, in any process, and to
        the turn log; returns once the log and the other processes have them. Never
        raises: a socket that misses them reads the log later."""
        await (await self.hand_out(conversation_id, turn_id, events))

    async def hand_out(
        self, conversation_id: str, turn_id: str, events: list[Event]
    ) -> asyncio.Future[None]:
        """`publish`, returning once this process's sockets have the events: the
        future is done when the log and the other processes have them.

        This process's sockets first: no round trip. A socket that reads the log
        before this batch is in it sees the gap at the next batch (or its watchdog
        fires) and reads again; batches before this one are all there. Then the log,
        and only then the other processes, which may read the log as soon as they
        hear of a gap: both in one round trip, queued on the process's Redis writer
        (conversations/live/rediswriter.py) before this returns, so a turn's next
        batch, handed out before this one's round trip is back, is written after it.
        """
        message = {
            "type": "turn.events",
            "conversation": conversation_id,
            "turn": turn_id,
            "events": events,
        }
        await self.deliver(message)
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        log = get_turn_log()
        if self.bus is None or not isinstance(log, RedisTurnLog):
            try:
                await log.append(turn_id, events)
            except Exception:
                logger.warning("turn log append failed for %s", turn_id, exc_info=True)
            written.set_result(None)
            return written
        commands = log.commands(turn_id, events)
        remote = conversation_id not in self.alone
        if remote:
            commands.append(self.bus.command(conversation_id, message))
        joins = self._joins
        replies = get_writer().enqueue(*commands)

        def done(replies: asyncio.Future[list[Any]]) -> None:
            if replies.cancelled():
                pass
            elif replies.exception() is not None:
                logger.warning(
                    "turn log append or sending to other processes failed for %s: %r",
                    turn_id,
                    replies.exception(),
                )
            elif remote:
                self._learn_alone(conversation_id, int(replies.result()[-1]), joins)
            if not written.done():
                written.set_result(None)

        replies.add_done_callback(done)
        return written

    def _learn_alone(self, conversation_id: str, receivers: int, joins: int) -> None:
        """Learn from a PUBLISH's reply whether anyone else listens.

        The reply counts its receivers, us included while Redis has us subscribed.
        One receiver: nobody else is there, and the conversation's batches stay in
        this process until a process subscribing to it announces itself
        ("process.joined", sent once Redis confirms its subscription, also after a
        reconnect). A reply that was on its way while an announcement arrived
        (`joins` has moved) proves nothing, so it is not trusted.
        """
        assert self.bus is not None
        subscribed = conversation_id in self.bus.confirmed and self._members(conversation_id)
        if receivers <= 1 and subscribed and joins == self._joins:
            self.alone.add(conversation_id)

    async def deliver(self, message: dict[str, Any]) -> None:
        """To this process's sockets on the message's conversation."""
        for socket in list(self.sockets.get(message.get("conversation", ""), ())):
            try:
                await socket.turn_events(message)
            except Exception:  # one broken socket must not starve the others
                logger.warning("delivery to a socket failed", exc_info=True)

    async def _subscribed(self, conversation_id: str) -> None:
        """Redis confirmed our subscription: tell the processes already there."""
        assert self.bus is not None
        self.alone.discard(conversation_id)
        await self.bus.publish(
            conversation_id, {"type": "process.joined", "conversation": conversation_id}
        )

    def _reconnected(self) -> None:
        # Announcements may have been missed while we were away.
        self._joins += 1
        self.alone.clear()

    async def _heard(self, message: dict[str, Any]) -> None:
        """A message another process published on one of our conversations."""
        if message.get("type") == "process.joined":
            self._joins += 1
            self.alone.discard(message.get("conversation", ""))
        elif message.get("type") == "turn.stop":
            stop = self.turns.get(message.get("conversation", ""), {}).get(message.get("turn", ""))
            if stop is not None:
                stop()
        elif message.get("type") == "turn.events":
            await self.deliver(message)


# The running event loop's fanout.
get_fanout = per_loop(Fanout)
