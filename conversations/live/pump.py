"""The event pump of a running turn: deltas coalesced into one event per window
(CHAT_COALESCE_SECONDS, wider when the process is busy: conversations/live/pacing.py),
every event numbered (seq 1 is `turn.started`) and handed, in order, to the
conversation's sockets and the turn log (conversations/live/fanout.py).

`TurnRunner` (conversations/live/runner.py) is an `EventPump`: the keeper reads its
published text and seq for checkpoints, the runner feeds it the provider's events.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from conversations import actions
from conversations.live.db import run_db
from conversations.live.fanout import get_fanout
from conversations.live.pacing import Pacer
from conversations.live.turnlog import Event

logger = logging.getLogger(__name__)

# The upstream's bytes are read this long before the window's flush, which then
# sends them at once (read_hold).
READ_AHEAD = 0.002
# The longest they wait unread. A first answer token is not held by the window, but
# may be by this: no longer than a busy process's window holds every token (0.07 s
# by default), which nobody notices.
READ_HOLD_MAX = 0.07
# A hold costs a timer and two changes to what the loop polls: it pays only when the
# provider sends this many packets or more meanwhile (tests/bench/person.py).
READ_HOLD_GATHERS = 3


class EventPump:
    turn_id: str
    conversation_id: str
    pacer: Pacer

    def _init_pump(self) -> None:
        self.seq = 0
        self.reasoning: list[str] = []  # published text, as of self.seq
        self.content: list[str] = []
        # What waits to be published, in order: ("reasoning" | "content", texts) or
        # ("references", [items]).
        self.pending: list[tuple[str, list[Any]]] = []
        self.references: list[dict[str, Any]] | None = None  # as published
        self._references_queued = False  # only a turn's first references are kept
        self._references_saver: asyncio.Task[None] | None = None
        self._deltas = 0  # read from the provider, and when the first came: its pace
        self._first_delta = 0.0
        self._flush_handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._flush_delayed = False  # the handle waits for the window (not call_soon)
        self._flush_due = 0.0  # when it does
        self._flusher: asyncio.Task[None] | None = None  # kept: the loop holds tasks weakly
        self._flush_again = False  # deltas came while it ran: it flushes once more
        self._publish_lock = asyncio.Lock()
        self._open = asyncio.Event()  # set once turn.started (seq 1) is out
        self._last_flush = 0.0
        self._t0 = time.monotonic()
        self._first_reasoning: float | None = None
        self._first_content: float | None = None

    def _delta(self, kind: str, text: str) -> None:
        if not text:
            return
        now = time.monotonic()
        urgent = False  # the first token of each kind goes out at once: the user waits for it
        if kind == "reasoning" and self._first_reasoning is None:
            self._first_reasoning = now
            urgent = True
        if kind == "content" and self._first_content is None:
            self._first_content = now
            urgent = True
        if not self._deltas:
            self._first_delta = now
        self._deltas += 1
        if self.pending and self.pending[-1][0] == kind:
            self.pending[-1][1].append(text)
        else:
            self.pending.append((kind, [text]))
        self._schedule_flush(now, urgent)

    @property
    def got_delta(self) -> bool:
        """Whether a token came (after it, no retry: conversations/live/failover.py)."""
        return self._deltas > 0

    def read_hold(self) -> float:
        """Seconds the upstream's next bytes may wait unread: until just before the
        window's flush, where their tokens would wait anyway, if the provider sends
        fast enough for that to gather several (0: read as they come)."""
        window = self.pacer.window()
        if window <= 0 or self._deltas < READ_HOLD_GATHERS:
            return 0.0  # coalescing off, or too early to know the provider's pace
        now = time.monotonic()
        if self._flush_handle is not None:
            due = self._flush_due if self._flush_delayed else now + window
        else:
            due = self._last_flush + window
        hold = min(due - READ_AHEAD - now, READ_HOLD_MAX)
        pace = (now - self._first_delta) / (self._deltas - 1)  # seconds between deltas
        return hold if hold >= READ_HOLD_GATHERS * pace else 0.0

    def _queue_references(self, items: list[dict[str, Any]]) -> None:
        """A bot's sources: one `turn.references` event, in order with the deltas, at
        once. A later list (another key's attempt, a repeat) is dropped."""
        if self._references_queued or not items:
            return
        self._references_queued = True
        self.pending.append(("references", [items]))
        self._schedule_flush(time.monotonic(), urgent=True)

    def _schedule_flush(self, now: float, urgent: bool) -> None:
        if urgent and self._flush_handle is not None and self._flush_delayed:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._flush_handle is None:
            # Leading edge: a delta after a quiet spell goes out at once (first
            # tokens, slow streams); within the window, deltas wait and merge.
            delay = self._last_flush + self.pacer.window() - now
            loop = asyncio.get_running_loop()
            # A flush due about READ_AHEAD from now goes now: the held bytes were read
            # for it (twice as long: uvloop's timers keep whole milliseconds).
            self._flush_delayed = delay > 2 * READ_AHEAD and not urgent
            if self._flush_delayed:
                self._flush_due = now + delay
                self._flush_handle = loop.call_later(delay, self._flush_soon)
            else:
                self._flush_handle = loop.call_soon(self._flush_soon)

    def _flush_soon(self) -> None:
        self._flush_handle = None
        if self._flusher is not None and not self._flusher.done():
            # One flush at a time: under load (a slow Redis, a busy loop) what
            # arrives meanwhile goes out in one batch when it is done, instead of
            # a queue of tasks waiting on the publish lock.
            self._flush_again = True
            return
        self._flusher = asyncio.create_task(self._flushes())

    async def _flushes(self) -> None:
        while True:
            self._flush_again = False
            self._last_flush = time.monotonic()
            await self._flush()
            if not self._flush_again:
                return

    async def _flush(self) -> None:
        await self._open.wait()
        async with self._publish_lock:
            pending, self.pending = self.pending, []
            events = []
            for kind, parts in pending:
                if kind == "references":
                    self.references = parts[0]
                    events.append(self._event("turn.references", items=parts[0]))
                    self._references_saver = asyncio.create_task(self._save_references())
                    continue
                text = "".join(parts)
                (self.reasoning if kind == "reasoning" else self.content).append(text)
                events.append(self._event(f"{kind}.delta", text=text))
            written = await self._hand_out(events) if events else None
        if written is not None:
            # Outside the lock: the next batch goes to this process's sockets while
            # Redis answers for this one (the writer keeps their order).
            await written

    async def _save_references(self) -> None:
        if self.references is None:
            return
        try:
            await run_db(actions.save_references, self.turn_id, self.references)
        except Exception:  # the final save stores them too
            logger.warning("turn %s: references not saved early", self.turn_id, exc_info=True)

    def _event(self, type_: str, **fields: Any) -> Event:
        self.seq += 1
        return {"type": type_, "turn": self.turn_id, "seq": self.seq, **fields}

    async def _publish(self, events: list[Event]) -> None:
        async with self._publish_lock:
            written = await self._hand_out(events)
        await written

    async def _send(self, events: list[Event]) -> None:
        await get_fanout().publish(self.conversation_id, self.turn_id, events)

    async def _hand_out(self, events: list[Event]) -> asyncio.Future[None]:
        return await get_fanout().hand_out(self.conversation_id, self.turn_id, events)
