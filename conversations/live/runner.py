"""The generation runner: one asyncio task per turn, owned by the server, not the socket.

It reads the provider's stream, coalesces deltas into one event per window
(CHAT_COALESCE_SECONDS, wider when the process is busy: conversations/live/pacing.py),
numbers every event (seq 1 is `turn.started`) and hands them to the conversation's
sockets and the turn log (conversations/live/fanout.py). The process's keeper
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

from conversations import actions
from conversations.errors import INTERNAL, INTERRUPTED, sent_error, stored_error
from conversations.live.db import run_db
from conversations.live.fanout import Fanout, get_fanout
from conversations.live.keeper import get_keeper
from conversations.live.pacing import get_pacer
from conversations.live.turnlog import Event, get_turn_log
from conversations.models import Turn
from conversations.plans import TurnPlan
from providers import keys as key_state
from providers.clients import client_for
from providers.clients.base import (
    AuthError,
    BotUsage,
    ClientConfig,
    ContentDelta,
    Done,
    ProviderError,
    RateLimited,
    ReasoningDelta,
    References,
    Stalled,
    StreamCut,
    Usage,
)
from providers.keys import KeyRef

logger = logging.getLogger(__name__)

# Runners alive in this process, by turn id (also keeps their tasks referenced).
RUNNERS: dict[str, TurnRunner] = {}

NO_KEY = KeyRef(0, "", "")  # the offline demo's


def _ended_by(error: ProviderError) -> tuple[str, ProviderError]:
    if isinstance(error, StreamCut | Stalled):
        return Turn.Status.INCOMPLETE, error
    return Turn.Status.FAILED, error


def _moves_to_next_key(error: ProviderError) -> bool:
    """Errors about the key's account, which another key may not share: 429, 402."""
    return isinstance(error, RateLimited) or error.status == 402


def _bounded(seconds: float) -> float:
    return min(max(seconds, 0.0), settings.UPSTREAM_RETRY_AFTER_MAX_SECONDS)


class TurnRunner:
    def __init__(self, plan: TurnPlan):
        self.plan = plan
        self.turn_id = plan.turn_id
        self.log = get_turn_log()
        self.seq = 0
        self.reasoning: list[str] = []  # published text, as of self.seq
        self.content: list[str] = []
        # What waits to be published, in order: ("reasoning" | "content", texts) or
        # ("references", [items]).
        self.pending: list[tuple[str, list[Any]]] = []
        self.usage: Usage | None = None
        self.references: list[dict[str, Any]] | None = None  # as published
        self._references_queued = False  # only a turn's first references are kept
        self._references_saver: asyncio.Task[None] | None = None
        self.bot_usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.got_delta = False
        self.key: KeyRef = NO_KEY  # the key of the current (or last) attempt
        self.served_by: KeyRef | None = None  # the key whose stream answered
        self.attempts = 0  # upstream requests made for this turn
        self.stop_requested = False
        self.lost = False  # another process expired our lease
        self.task: asyncio.Task[None] | None = None
        self._upstream: asyncio.Task[tuple[str, ProviderError | None]] | None = None
        self._flush_handle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._flush_delayed = False  # the handle waits for the window (not call_soon)
        self._flusher: asyncio.Task[None] | None = None  # kept: the loop holds tasks weakly
        self._flush_again = False  # deltas came while it ran: it flushes once more
        self._publish_lock = asyncio.Lock()
        self._open = asyncio.Event()  # set once turn.started (seq 1) is out
        self.checkpointed_seq = 0
        self.last_write = time.monotonic()  # of the turn's row (for lease renewal)
        self._last_flush = 0.0
        self._t0 = time.monotonic()
        self._first_reasoning: float | None = None
        self._first_content: float | None = None

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
        try:
            await run_db(actions.store_turn, self.plan)
        except BaseException as exc:
            self._abandon()
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
        """Stream the answer, failing over between the provider's keys before the
        first token (docs/architecture.md, "Keys and failover"):

        - 401/403: the key is marked refused (kept, disabled, with the reason) and the
          next key is tried at once;
        - 429 (and 402, out of credit): the key cools down in this process, the
          provider's Retry-After is waited (at most UPSTREAM_RETRY_AFTER_MAX_SECONDS)
          and the next key is tried; on the last key a 429 is retried like a 5xx;
        - 5xx and connection errors: the same key again, UPSTREAM_RETRIES times with
          exponential backoff (a 429's Retry-After, bounded, instead when given).

        After a token reached the person nothing is retried: it would double text.
        When no key is left, the turn fails with the last error.
        """
        plan = self.plan
        keys = list(plan.keys) or [NO_KEY]  # the offline demo needs none
        index = 0
        retries = 0
        while True:
            key = self.key = keys[index]
            self.attempts += 1
            client = client_for(
                plan.style, ClientConfig(base_url=plan.base_url, api_key=key.secret)
            )
            try:
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
                if self.got_delta:  # a token reached the person: no retry, no other key
                    return _ended_by(exc)
                if isinstance(exc, AuthError) and key.id:
                    await self._key_state(key_state.mark_refused, key.id, exc.status)
                    keys.pop(index)  # `index` is now the next key's
                    if index < len(keys):
                        self._log_failover(exc, key, keys[index])
                        continue
                    return _ended_by(exc)
                if _moves_to_next_key(exc) and key.id:
                    key_state.cool_down(key.id, exc.retry_after)
                    template = key_state.NO_CREDIT if exc.status == 402 else key_state.RATE_LIMITED
                    await self._key_state(key_state.note_failure, key.id, template, exc.status)
                    if index + 1 < len(keys):
                        index += 1
                        self._log_failover(exc, key, keys[index])
                        if exc.retry_after:
                            await asyncio.sleep(_bounded(exc.retry_after))
                        continue
                if exc.retryable and retries < settings.UPSTREAM_RETRIES:
                    if exc.retry_after is not None:
                        delay = _bounded(exc.retry_after)
                    else:
                        delay = settings.UPSTREAM_RETRY_BASE_SECONDS * 2**retries
                    retries += 1
                    logger.info(
                        "turn %s: %s; retry %d in %.1fs", self.turn_id, exc.code, retries, delay
                    )
                    await asyncio.sleep(delay)
                    continue
                return _ended_by(exc)

    async def _key_state(self, func: Any, *args: Any) -> None:
        """Record what the provider said about a key; a database error must not end
        the turn (the next turn learns it again)."""
        try:
            await run_db(func, *args)
        except Exception:
            logger.warning("turn %s: key state not saved", self.turn_id, exc_info=True)

    def _log_failover(self, exc: ProviderError, failed: KeyRef, following: KeyRef) -> None:
        logger.info(
            "turn %s: %s on key %r; trying key %r",
            self.turn_id,
            exc.code,
            failed.label,
            following.label,
        )

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
        self.got_delta = True
        if self.pending and self.pending[-1][0] == kind:
            self.pending[-1][1].append(text)
        else:
            self.pending.append((kind, [text]))
        self._schedule_flush(now, urgent)

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
            self._flush_delayed = delay > 0 and not urgent
            if self._flush_delayed:
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
            if events:
                await self._send(events)

    async def _save_references(self) -> None:
        if self.references is None:
            return
        try:
            await run_db(actions.save_references, self.turn_id, self.references)
        except Exception:  # the final save stores them too
            logger.warning("turn %s: references not saved early", self.turn_id, exc_info=True)

    # --- events ----------------------------------------------------------

    def _event(self, type_: str, **fields: Any) -> Event:
        self.seq += 1
        return {"type": type_, "turn": self.turn_id, "seq": self.seq, **fields}

    async def _publish(self, events: list[Event]) -> None:
        async with self._publish_lock:
            await self._send(events)

    async def _send(self, events: list[Event]) -> None:
        await get_fanout().publish(self.plan.conversation_id, self.turn_id, events)

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
