"""Key failover for one turn, before its first token (docs/architecture.md, "Keys and
failover"):

- 401/403: the key is marked refused (kept, disabled, with the reason) and the next
  key is tried at once;
- 429 (and 402, out of credit): the key cools down in this process, the provider's
  Retry-After is waited (at most UPSTREAM_RETRY_AFTER_MAX_SECONDS) and the next key
  is tried; on the last key a 429 is retried like a 5xx;
- 5xx and connection errors: the same key again, UPSTREAM_RETRIES times with
  exponential backoff (a 429's Retry-After, bounded, instead when given).

After a token reached the person nothing is retried (it would double text): the
runner asks only before. When no key is left, the turn fails with the last error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings

from conversations.live.db import run_db
from providers import keys as key_state
from providers.keys import KeyRef
from providers.wire import AuthError, ProviderError, RateLimited

logger = logging.getLogger(__name__)

NO_KEY = KeyRef(0, "", "")  # the offline demo's


def _moves_to_next_key(error: ProviderError) -> bool:
    """Errors about the key's account, which another key may not share: 429, 402."""
    return isinstance(error, RateLimited) or error.status == 402


def _bounded(seconds: float) -> float:
    return min(max(seconds, 0.0), settings.UPSTREAM_RETRY_AFTER_MAX_SECONDS)


class KeyFailover:
    """The key to try now (`key`), and after a failure whether to try again."""

    def __init__(self, turn_id: str, keys: Sequence[KeyRef]):
        self.turn_id = turn_id
        self.keys = list(keys) or [NO_KEY]  # the offline demo needs none
        self.index = 0
        self.retries = 0

    @property
    def key(self) -> KeyRef:
        return self.keys[self.index]

    async def try_again(self, exc: ProviderError) -> bool:
        """Record what the provider said of the key, wait if it asked, and say whether
        another attempt (this key or the next) is worth making."""
        key = self.key
        if isinstance(exc, AuthError) and key.id:
            await self._key_state(key_state.mark_refused, key.id, exc.status)
            self.keys.pop(self.index)  # `index` is now the next key's
            if self.index < len(self.keys):
                self._log(exc, key)
                return True
            return False
        if _moves_to_next_key(exc) and key.id:
            key_state.cool_down(key.id, exc.retry_after)
            template = key_state.NO_CREDIT if exc.status == 402 else key_state.RATE_LIMITED
            await self._key_state(key_state.note_failure, key.id, template, exc.status)
            if self.index + 1 < len(self.keys):
                self.index += 1
                self._log(exc, key)
                if exc.retry_after:
                    await asyncio.sleep(_bounded(exc.retry_after))
                return True
        if exc.retryable and self.retries < settings.UPSTREAM_RETRIES:
            if exc.retry_after is not None:
                delay = _bounded(exc.retry_after)
            else:
                delay = settings.UPSTREAM_RETRY_BASE_SECONDS * 2**self.retries
            self.retries += 1
            logger.info(
                "turn %s: %s; retry %d in %.1fs", self.turn_id, exc.code, self.retries, delay
            )
            await asyncio.sleep(delay)
            return True
        return False

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
