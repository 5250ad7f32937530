"""Turns whose process died, and this process's own orderly shutdown.

- `sweep()` marks turns whose lease expired `incomplete` (their runner's process
  died: SIGKILL, OOM, power), folds in the deltas the turn log holds beyond the
  last checkpoint, and sends the terminal `turn.failed` so open sockets learn.
  It runs when a socket connects to a conversation, when a conversation is read,
  and every half lease in each serving process.
- On daphne's shutdown (SIGTERM) running turns get CHAT_SHUTDOWN_GRACE_SECONDS to
  finish; then they are cancelled, which checkpoints them and marks them
  `incomplete` with a clear message.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
import weakref
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings

from conversations import actions
from conversations.live import db
from conversations.live.db import run_db
from conversations.live.fanout import get_fanout
from conversations.live.turnlog import Event, get_turn_log
from conversations.models import Turn
from providers.clients import close_http_clients

logger = logging.getLogger(__name__)

_started: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def _fold(turn: Turn, extra: list[Event]) -> tuple[str, str, int, Event]:
    """The expired turn's text as far as its log got, and its terminal event."""
    reasoning, content, seq = turn.reasoning_content, turn.content, turn.seq
    for event in extra:
        if event["type"] == "reasoning.delta":
            reasoning += event["text"]
        elif event["type"] == "content.delta":
            content += event["text"]
        seq = max(seq, event["seq"])
    seq += 1
    terminal = {
        "type": "turn.failed",
        "turn": str(turn.id),
        "seq": seq,
        "usage": dict.fromkeys(
            ("prompt_tokens", "completion_tokens", "reasoning_tokens", "total_tokens")
        ),
        "timings": dict.fromkeys(
            ("reasoning_first_token", "content_first_token", "reasoning_duration", "total")
        ),
        "error": turn.error,
    }
    return reasoning, content, seq, terminal


async def _read_log(turn: Turn) -> list[Event]:
    try:
        return await get_turn_log().read(str(turn.id), turn.seq) or []
    except Exception:
        logger.warning("reading the log of expired turn %s failed", turn.id, exc_info=True)
        return []


async def _announce(turn: Turn, terminal: Event) -> None:
    turn_id = str(turn.id)
    await get_fanout().publish(str(turn.conversation_id), turn_id, [terminal])
    try:
        await get_turn_log().close(turn_id)
    except Exception:
        logger.warning("closing the log of expired turn %s failed", turn_id, exc_info=True)
    logger.warning("turn %s expired: its process stopped renewing the lease", turn_id)


async def sweep(conversation_id: Any | None = None) -> int:
    """Expire dead turns (of one conversation, or all); returns how many."""
    return await settle(await run_db(actions.claim_stale_turns, conversation_id))


async def settle(claimed: list[Turn]) -> int:
    """Store and announce the turns `actions.claim_stale_turns` claimed."""
    for turn in claimed:
        reasoning, content, seq, terminal = _fold(turn, await _read_log(turn))
        await run_db(actions.settle_claimed_turn, str(turn.id), reasoning, content, seq)
        await _announce(turn, terminal)
    return len(claimed)


def sweep_sync(conversation_id: Any) -> int:
    """`sweep` for sync views: the database work stays in the caller's thread."""
    claimed = actions.claim_stale_turns(conversation_id)
    for turn in claimed:
        reasoning, content, seq, terminal = _fold(turn, async_to_sync(_read_log)(turn))
        actions.settle_claimed_turn(str(turn.id), reasoning, content, seq)
        async_to_sync(_announce)(turn, terminal)
    return len(claimed)


async def _sweep_forever() -> None:
    while True:
        # Jitter: processes started together should not sweep in lockstep.
        await asyncio.sleep(settings.CHAT_LEASE_SECONDS / 2 * random.uniform(0.8, 1.2))
        try:
            await sweep()
        except Exception:
            logger.warning("sweep failed", exc_info=True)


async def drain(grace: float) -> None:
    """Let running turns finish for `grace` seconds, then stop them as incomplete."""
    from conversations.live.runner import RUNNERS

    tasks = [r.task for r in list(RUNNERS.values()) if r.task is not None]
    if tasks:
        logger.warning("shutdown: waiting up to %.0fs for %d running turns", grace, len(tasks))
        _done, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=10)
    # Connections are closed, not dropped on the floor.
    await close_http_clients()
    await asyncio.get_running_loop().run_in_executor(None, db.close_all)


def _install_shutdown_hook() -> None:
    # Only under daphne (Twisted's reactor already installed); importing the
    # reactor elsewhere would install one.
    if "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import defer, reactor

    def before_shutdown() -> defer.Deferred[None]:
        future = asyncio.ensure_future(drain(settings.CHAT_SHUTDOWN_GRACE_SECONDS))
        return defer.Deferred.fromFuture(future)

    # (zope interface stubs drop `self`, so mypy misreads the arguments)
    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)  # type: ignore[attr-defined,arg-type]


def ensure_started() -> None:
    """Start this process's sweeper and shutdown hook, once per event loop."""
    loop = asyncio.get_running_loop()
    if loop in _started:
        return
    _started.add(loop)
    if settings.CHAT_BACKGROUND_SWEEP:
        loop.create_task(_sweep_forever(), name="turn-sweeper")
    _install_shutdown_hook()
