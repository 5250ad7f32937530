"""Checkpoints and lease renewals of all this process's running turns, one write a tick.

Every CHAT_CHECKPOINT_SECONDS one task per process (per event loop) collects the
turns whose text changed since their last checkpoint, and those silent long
enough to need their lease renewed, and writes them all in one transaction on a
database thread (`actions.keep_turns`). One ORM update and commit per turn per
second cost the process ~200 µs of CPU per turn on SQLite and ~450 µs on
PostgreSQL, most of it holding the GIL the event loop needs: at 250 streams, a
fifth of the process. Batched in one statement per 500 turns: ~50 µs on SQLite
(mostly in SQLite's C, without the GIL), ~20 µs on PostgreSQL.

A turn that another process has finished meanwhile (its lease had expired) comes
back as no longer ours: its runner stops. The final save is the runner's own
(`actions.finish_turn`), after it has left the keeper; a batch in flight then
finds the turn no longer streaming and writes nothing to it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Protocol

from django.conf import settings

from conversations import actions
from conversations.live.db import run_db
from conversations.live.loops import per_loop

logger = logging.getLogger(__name__)


class Kept(Protocol):
    """What the keeper needs of a running turn (the runner is one; tests use others)."""

    turn_id: str
    seq: int
    checkpointed_seq: int
    last_write: float

    def checkpoint(self) -> actions.Checkpoint: ...

    def lose(self) -> None:
        """Another process finished the turn: stop it."""


class Keeper:
    def __init__(self) -> None:
        self.runners: set[Kept] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, runner: Kept) -> None:
        self.runners.add(runner)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="turn-keeper")

    def discard(self, runner: Kept) -> None:
        self.runners.discard(runner)

    async def _run(self) -> None:
        while self.runners:
            await asyncio.sleep(settings.CHAT_CHECKPOINT_SECONDS)
            try:
                await self.tick()
            except Exception:
                # The next tick tries again; the final save has its own retries.
                logger.warning("checkpoints failed", exc_info=True)

    async def tick(self) -> None:
        renew_every = max(settings.CHAT_CHECKPOINT_SECONDS, settings.CHAT_LEASE_SECONDS / 3)
        now = time.monotonic()
        checkpoints: dict[Kept, actions.Checkpoint] = {}
        renewals: list[Kept] = []
        for runner in self.runners:
            if runner.seq != runner.checkpointed_seq:
                checkpoints[runner] = runner.checkpoint()
            elif now - runner.last_write >= renew_every:
                renewals.append(runner)
        if not checkpoints and not renewals:
            return
        lost = await run_db(
            actions.keep_turns,
            list(checkpoints.values()),
            [runner.turn_id for runner in renewals],
        )
        for runner in [*checkpoints, *renewals]:
            if runner not in self.runners:
                continue  # finished meanwhile: its final save is what counts
            if runner.turn_id in lost:
                logger.warning("turn %s was finished elsewhere; stopping", runner.turn_id)
                runner.lose()
                continue
            checkpoint = checkpoints.get(runner)
            if checkpoint is not None:
                runner.checkpointed_seq = checkpoint.seq
            runner.last_write = now


# The running event loop's keeper.
get_keeper = per_loop(Keeper)
