"""Turn events to the sockets that follow a conversation: this process's directly,
other processes' through the channel layer, once per process rather than per socket.

Each process (each event loop) keeps its open sockets by conversation. A runner
hands a batch of events to the sockets here by calling them, with no channel-layer
message, queue or task per socket, and, when the layer reaches other processes
(Redis), sends the batch once to the conversation's group. The members of that
group are processes, not sockets: each process with sockets on the conversation
joins it with one channel and relays what arrives to its own sockets. A process
running one of the conversation's turns stays in the group until the turn ends
(`hold`): `stop`, sent from any process to the group, reaches the runner there.

The layer may still drop or delay a batch (channels_redis drops past its
capacity): sockets notice the gap in `seq`, or the silence (their watchdog), and
read the turn log, which holds every event.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from channels.layers import InMemoryChannelLayer, get_channel_layer

from conversations.groups import conversation_group
from conversations.loops import per_loop
from conversations.turnlog import Event, get_turn_log

logger = logging.getLogger(__name__)


class Socket(Protocol):
    async def turn_events(self, message: dict[str, Any]) -> None: ...


class Fanout:
    def __init__(self) -> None:
        self.layer = get_channel_layer()
        # One process (an in-memory layer) needs no layer at all.
        self.remote = not isinstance(self.layer, InMemoryChannelLayer)
        self.sockets: dict[str, set[Socket]] = {}
        self.turns: dict[str, dict[str, Callable[[], None]]] = {}  # running here, by conversation
        self.channel = ""
        self._listener: asyncio.Task[None] | None = None
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
        process stays on the conversation's group while the turn runs, sockets or not."""
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

    async def stop(self, conversation_id: str, turn_id: str) -> None:
        """Ask the process running `turn_id` to stop it."""
        local = self.turns.get(conversation_id, {}).get(turn_id)
        if local is not None:
            local()
        elif self.remote:
            message = {"type": "turn.stop", "conversation": conversation_id, "turn": turn_id}
            await self.layer.group_send(conversation_group(conversation_id), message)

    def _members(self, conversation_id: str) -> int:
        return len(self.sockets.get(conversation_id, ())) + len(self.turns.get(conversation_id, ()))

    async def _enter(self, conversation_id: str) -> None:
        if self.remote and self._members(conversation_id) == 1:
            await self.layer.group_add(conversation_group(conversation_id), await self._own())

    async def _exit(self, conversation_id: str) -> None:
        if self.remote and self.channel and self._members(conversation_id) == 0:
            await self.layer.group_discard(conversation_group(conversation_id), self.channel)

    async def publish(self, conversation_id: str, turn_id: str, events: list[Event]) -> None:
        """Give `events` to every socket on the conversation, in any process, and to
        the turn log. Never raises: a socket that misses them reads the log later.

        This process's sockets first: no round trip. A socket that reads the log
        before this batch is in it sees the gap at the next batch (or its watchdog
        fires) and reads again; batches before this one are all there. Then the log,
        and only then the other processes, which may read the log as soon as they
        hear of a gap.
        """
        message = {
            "type": "turn.events",
            "conversation": conversation_id,
            "turn": turn_id,
            "events": events,
        }
        await self.deliver(message)
        try:
            await get_turn_log().append(turn_id, events)
        except Exception:
            logger.warning("turn log append failed for %s", turn_id, exc_info=True)
        if self.remote:
            try:
                await self.layer.group_send(
                    conversation_group(conversation_id), {**message, "origin": await self._own()}
                )
            except Exception:
                logger.warning("sending to other processes failed for %s", turn_id, exc_info=True)

    async def deliver(self, message: dict[str, Any]) -> None:
        """To this process's sockets on the message's conversation."""
        for socket in list(self.sockets.get(message.get("conversation", ""), ())):
            try:
                await socket.turn_events(message)
            except Exception:  # one broken socket must not starve the others
                logger.warning("delivery to a socket failed", exc_info=True)

    async def _own(self) -> str:
        """This process's channel on the layer, listened to from first use."""
        if not self.channel:
            self.channel = await self.layer.new_channel()
            self._listener = asyncio.create_task(self._listen(), name="fanout-listener")
        return self.channel

    async def _listen(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except Exception:  # e.g. Redis briefly unreachable: sockets catch up from the log
                if cancelled():
                    raise asyncio.CancelledError from None
                logger.warning("fanout listener", exc_info=True)
                await asyncio.sleep(1)
                continue
            if message.get("type") == "turn.stop":
                stop = self.turns.get(message.get("conversation", ""), {}).get(message.get("turn"))
                if stop is not None:
                    stop()
                continue
            if message.get("type") != "turn.events" or message.get("origin") == self.channel:
                continue  # our own batch: our sockets had it directly
            await self.deliver(message)


def cancelled() -> bool:
    """A cancel that a library turned into another error (redis-py raises TimeoutError)."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


# The running event loop's fanout.
get_fanout = per_loop(Fanout)
