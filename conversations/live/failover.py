"""Key failover for one turn, before its first token (docs/architecture.md, "Keys and
failover"). The rules are providers/keys.py `Failover`'s:

- 401/403: the key is marked refused (kept, disabled, with the reason) and the next
  key is tried at once;
- 429 (and 402, out of credit): the key cools down in this process, the provider's
  Retry-After is waited (at most UPSTREAM_RETRY_AFTER_MAX_SECONDS) and the next key
  is tried; on the last key a 429 is retried like a 5xx;
- 5xx and connection errors: the same key again, UPSTREAM_RETRIES times with
  exponential backoff (a 429's Retry-After, bounded, instead when given).

Here they are followed from async code: key state written through `run_db`, waits
with `asyncio.sleep`. After a token reached the person nothing is retried (it would
double text): the runner asks only before. When no key is left, the turn fails with
the last error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from conversations.live.db import run_db
from providers.keys import Failover, KeyRef
from providers.wire import ProviderError

logger = logging.getLogger(__name__)

NO_KEY = KeyRef(0, "", "")  # the offline demo's


class KeyFailover(Failover):
    """The key to try now (`key`), and after a failure whether to try again."""

    def __init__(self, turn_id: str, keys: Sequence[KeyRef]):
        super().__init__(list(keys) or [NO_KEY])  # the offline demo needs none
        self.turn_id = turn_id

    async def try_again(self, exc: ProviderError) -> bool:
        """Record what the provider said of the key, wait if it asked, and say whether
        another attempt (this key or the next) is worth making."""
        failed = self.key
        step = self.after(exc)
        if step.write is not None:
            await self._key_state(*step.write)
        if not step.again:
            return False
        if step.moved:
            self._log(exc, failed)
        else:
            logger.info(
                "turn %s: %s; retry %d in %.1fs", self.turn_id, exc.code, self.retries, step.wait
            )
        if step.wait:
            await asyncio.sleep(step.wait)
        return True

    async def _key_state(self, func: Any, *args: Any) -> None:
        """Record what the provider said about a key; a database error must not end
        the turn (the next turn learns it again)."""
        try:
            await run_db(func, *args)
        except Exception:
            logger.warning("turn %s: key state not saved", self.turn_id, exc_info=True)

    def _log(self, exc: ProviderError, failed: KeyRef) -> None:
        logger.info(
            "turn %s: %s on key %r; trying key %r",
            self.turn_id,
            exc.code,
            failed.label,
            self.key.label,
        )
