"""The generation runner: one asyncio task per turn, owned by the server, not the socket.

It reads the provider's stream, trying the provider's keys in turn before the first
token (conversations/live/failover.py), and feeds the events to its pump, which
coalesces, numbers and publishes them (conversations/live/pump.py). The process's keeper
checkpoints its text about once a second (never per token) and renews its lease
(conversations/live/keeper.py); the runner stores the final state before it sends the
terminal event.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from django.conf import settings
from django.utils import translation

from accounts import admission
from conversations import actions
from conversations.errors import INTERNAL, INTERRUPTED, sent_error, stored_error
from conversations.live.db import run_db
from conversations.live.failover import NO_KEY, KeyFailover
from conversations.live.fanout import Fanout, get_fanout
from conversations.live.keeper import get_keeper
from conversations.live.pacing import get_pacer
from conversations.live.pump import EventPump
from conversations.live.turnlog import Event, get_turn_log
from conversations.models import Turn
from conversations.plans import TurnPlan
from providers.clients import client_for
from providers.clients.base import ClientConfig
from providers.keys import KeyRef
from providers.wire import (
    BotUsage,
    ContentDelta,
    Done,
    ProviderError,
    ReasoningDelta,
    References,
    Stalled,
    StreamCut,
    Usage,
)

logger = logging.getLogger(__name__)

# Runners alive in this process, by turn id (also keeps their tasks referenced).
RUNNERS: dict[str, TurnRunner] = {}


def _ended_by(error: ProviderError) -> tuple[str, ProviderError]:
    if isinstance(error, StreamCut | Stalled):
        return Turn.Status.INCOMPLETE, error
    return Turn.Status.FAILED, error


class TurnRunner(EventPump):
    def __init__(self, plan: TurnPlan):
        self.plan = plan
        self.turn_id = plan.turn_id
        self.conversation_id = plan.conversation_id
        self.log = get_turn_log()
        self._init_pump()
        self.usage: Usage | None = None
        self.bot_usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.key: KeyRef = NO_KEY  # the key of the current (or last) attempt
        self.served_by: KeyRef | None = None  # the key whose stream answered
        self.attempts = 0  # upstream requests made for this turn
        self.stop_requested = False
        self.lost = False  # another process expired our lease
        self.task: asyncio.Task[None] | None = None
        self._upstream: asyncio.Task[tuple[str, ProviderError | None]] | None = None
        self.checkpointed_seq = 0
        self.last_write = time.monotonic()  # of the turn's row (for lease renewal)

    # --- lifecycle -------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        RUNNERS[self.turn_id] = self
        self.pacer = get_pacer()
        self.pacer.join()
        # Resolved once the turn is stored (or with why it could not be).
        self.stored: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.task = asyncio.create_task(self.run(), name=f"turn-{self.turn_id}")
        # Retrieved here too, so a socket gone meanwhile leaves no "never retrieved" noise.
        self.stored.add_done_callback(lambda f: f.cancelled() or f.exception())
        self.task.add_done_callback(self._done)
        return self.task

    def _done(self, _task: asyncio.Task[None]) -> None:
        RUNNERS.pop(self.turn_id, None)
        self.pacer.leave()
        if not self.stored.done():
            self.stored.cancel()

    def request_stop(self) -> None:
        self.stop_requested = True
        if self._upstream is not None:
            self._upstream.cancel()

    async def run(self) -> None:
        # The upstream request goes out first, while the turn is written: it is
        # what the user waits for. Nothing is published before the turn is stored;
        # deltas that arrive meanwhile wait in `pending`.
        started = self._event(
            "turn.started", user_turn=self.plan.user_turn_id, model=self.plan.model_ref
        )
        upstream = self._upstream = asyncio.create_task(self._consume())
        # Two passes of the loop first, for the request to be written: once the database
        # thread is storing the turn it holds the GIL, and the request would wait for it
        # (3 to 4 ms of the first token, tests/bench/person.py). aiohttp sends the
        # headers in the first and, before Python 3.12, the body from a task of its own
        # in the second (without it the upstream answered 0.3 ms later: tests/bench/api.py).
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        try:
            await run_db(actions.store_turn, self.plan)
        except BaseException as exc:
            self._abandon()
            await asyncio.shield(self._release_admission())
            if isinstance(exc, asyncio.CancelledError):
                raise
            self.stored.set_exception(exc)  # the consumer reports it (e.g. Busy)
            return
        self.stored.set_result(None)
        fanout = get_fanout()
        try:
            await fanout.hold(self.plan.conversation_id, self.turn_id, self.request_stop)
        except Exception:  # e.g. Redis unreachable: only a stop from elsewhere is lost
            logger.warning("turn %s: cannot hear stop from other processes", self.turn_id)
        try:
            await self._run_stored(started, upstream)
        finally:
            await asyncio.shield(self._release(fanout))

    async def _release_admission(self) -> None:
        """The turn was not stored: its reservation goes now, not at the next sweep."""
        try:
            await run_db(admission.release, self.turn_id)
        except Exception:  # the sweeper drops it once it is older than a lease
            logger.warning("turn %s: reservation not released", self.turn_id, exc_info=True)

    async def _release(self, fanout: Fanout) -> None:
        try:
            await fanout.release(self.plan.conversation_id, self.turn_id)
        except Exception:
            logger.warning("turn %s: unsubscribing from the conversation failed", self.turn_id)

    async def _run_stored(
        self, started: Event, upstream: asyncio.Task[tuple[str, ProviderError | None]]
    ) -> None:
        keeper = get_keeper()
        keeper.add(self)
        status: str = Turn.Status.FAILED
        error: ProviderError | None = None
        try:
            await self._publish([started])
            self._open.set()
            try:
                status, error = await upstream
            except asyncio.CancelledError:
                if self.stop_requested or self.lost:
                    status = Turn.Status.STOPPED
                else:
                    raise
        except asyncio.CancelledError:
            # The process is going away (shutdown): keep what we have, mark it.
            status = Turn.Status.INCOMPLETE
            error = ProviderError(
                "Cancelled: the server process was shutting down.", plain=INTERRUPTED
            )
            error.code = "interrupted"
            await asyncio.shield(self._finish(status, error))
            raise
        except Exception as exc:  # a bug must not leave the turn streaming forever
            logger.exception("turn %s failed", self.turn_id)
            # Only the type: the text could carry anything (the log has the traceback).
            error = ProviderError(f"Internal error: {type(exc).__name__}", plain=INTERNAL)
            error.code = "internal"
            status = Turn.Status.FAILED
        finally:
            keeper.discard(self)
        await self._finish(status, error)

    def _abandon(self) -> None:
        """The turn was not stored: drop the upstream and anything waiting to publish."""
        if self._upstream is not None:
            self._upstream.cancel()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self.pending = []
        self._open.set()  # lets a waiting flush end (it finds nothing to send)

    # --- checkpoints (written by the process's keeper) --------------------

    def checkpoint(self) -> actions.Checkpoint:
        return actions.Checkpoint(
            self.turn_id, "".join(self.reasoning), "".join(self.content), self.seq
        )

    def lose(self) -> None:
        """Another process finished this turn (our lease had expired): stop."""
        self.lost = True
        if self._upstream is not None:
            self._upstream.cancel()

    # --- upstream --------------------------------------------------------

    async def _consume(self) -> tuple[str, ProviderError | None]:
        """Stream the answer, trying the provider's keys in turn before the first
        token (conversations/live/failover.py)."""
        plan = self.plan
        failover = KeyFailover(self.turn_id, plan.keys)
        while True:
            key = self.key = failover.key
            self.attempts += 1
            client = client_for(
                plan.style,
                ClientConfig(base_url=plan.base_url, api_key=key.secret, read_hold=self.read_hold),
            )
            try:
                # The offline demo writes in the person's language (gettext).
                with translation.override(plan.language or settings.LANGUAGE_CODE):
                    async for event in client.stream(plan.request):
                        self.served_by = key
                        if isinstance(event, ReasoningDelta):
                            self._delta("reasoning", event.text)
                        elif isinstance(event, ContentDelta):
                            self._delta("content", event.text)
                        elif isinstance(event, Usage):
                            self.usage = event
                        elif isinstance(event, References):
                            self._queue_references(event.items)
                        elif isinstance(event, BotUsage):
                            self.bot_usage = event.data
                        elif isinstance(event, Done):
                            self.finish_reason = event.finish_reason
                return Turn.Status.COMPLETED, None
            except ProviderError as exc:
                # Once a token reached the person: no retry, no other key.
                if self.got_delta or not await failover.try_again(exc):
                    return _ended_by(exc)

    def _timings(self) -> dict[str, int | None]:
        end = time.monotonic()

        def ms(t: float | None) -> int | None:
            return None if t is None else round((t - self._t0) * 1000)

        reasoning_duration = None
        if self._first_reasoning is not None:
            until = self._first_content if self._first_content is not None else end
            reasoning_duration = round((until - self._first_reasoning) * 1000)
        return {
            "reasoning_first_token": ms(self._first_reasoning),
            "content_first_token": ms(self._first_content),
            "reasoning_duration": reasoning_duration,
            "total": ms(end),
        }

    async def _finish(self, status: str, error: ProviderError | None) -> None:
        get_keeper().discard(self)  # no checkpoint after (or racing) the final save
        if error is None and status not in (Turn.Status.COMPLETED, Turn.Status.STOPPED):
            error = ProviderError("The turn failed without an error.", plain=INTERNAL)
            error.code = "failed"  # should not happen; still, the person is told something
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._open.set()
        if self._flusher is not None and not self._flusher.done():
            # A batch on its way to Redis goes first: one write at a time per turn.
            await asyncio.wait([self._flusher])
        await self._flush()
        if self._references_saver is not None:
            await self._references_saver  # before the final save, never after it
        async with self._publish_lock:
            usage = (self.usage or Usage()).as_dict()
            timings = self._timings()
            error_dict = stored_error(error) if error else None
            seq = self.seq + 1
            stored = await self._store_final(status, seq, usage, timings, error_dict)
            if not stored:
                return  # finished elsewhere (our lease expired); that process told the sockets
            type_ = {
                Turn.Status.COMPLETED: "turn.completed",
                Turn.Status.STOPPED: "turn.stopped",
            }.get(status, "turn.failed")  # type: ignore[call-overload]
            fields: dict[str, Any] = {"usage": usage, "timings": timings}
            if type_ == "turn.failed" and error_dict is not None:
                # The detail is for admins: the socket gets the code and the sentence.
                fields["error"] = sent_error(error_dict)
            await self._send([self._event(type_, **fields)])
        try:
            await self.log.close(self.turn_id)
        except Exception:
            logger.warning("turn log close failed for %s", self.turn_id, exc_info=True)

    async def _store_final(
        self, status: str, seq: int, usage: dict[str, Any], timings: dict[str, Any], error: Any
    ) -> bool:
        """The final save is retried; a database that stays down is logged loudly."""
        delay = 0.2
        for attempt in range(6):
            try:
                return bool(
                    await run_db(
                        actions.finish_turn,
                        self.turn_id,
                        status=status,
                        reasoning="".join(self.reasoning),
                        content="".join(self.content),
                        seq=seq,
                        usage=usage,
                        timings=timings,
                        error=error,
                        key_label=(self.served_by or self.key).label,
                        attempts=self.attempts,
                        used_key_id=self.served_by.id if self.served_by else None,
                        references=self.references,
                        bot_usage=self.bot_usage,
                        known=(self.plan.conversation_id, self.plan.owner_id, self.plan.model_ref),
                    )
                )
            except Exception:
                logger.warning(
                    "final save of turn %s failed (try %d)",
                    self.turn_id,
                    attempt + 1,
                    exc_info=True,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
        logger.error("final save of turn %s lost after retries", self.turn_id)
        return False


def start_runner(plan: TurnPlan) -> TurnRunner:
    runner = TurnRunner(plan)
    runner.start()
    return runner
