"""Limits that protect the service, decided at every turn start by the admission
(accounts/admission.py), after the model, options, quota and conversation are
checked and before anything is written or sent upstream: a refused turn loses
nothing.

- Turns running at once per person (CHAT_MAX_RUNNING_TURNS_PER_USER, default 3):
  the person's reservations, counted under a lock (accounts/admission.py), so a
  burst of starts, in one process or several, admits exactly the limit.
- Messages per minute per person (CHAT_MESSAGES_PER_MINUTE, default 20): new
  messages and regenerations, per clock minute, counted in Django's cache. The
  default cache is local memory, so each process counts its own: with N processes
  a person may send up to N times the limit (configure a shared cache to make it
  exact).

0 turns a limit off.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import ngettext

from conversations.errors import ClientError


class TooManyTurns(ClientError):
    """`too_many_turns`: the person already has the most answers running at once."""

    def __init__(self, limit: int):
        self.limit = limit
        super().__init__("too_many_turns", f"{limit} turns of this user are running.")

    @property
    def message(self) -> str:
        return ngettext(
            "You already have %(limit)s answer being written, the most at once. "
            "Wait for it to finish or stop it, then send again.",
            "You already have %(limit)s answers being written, the most at once. "
            "Wait for one to finish or stop one, then send again.",
            self.limit,
        ) % {"limit": self.limit}


class TooManyMessages(ClientError):
    """`too_many_messages`: the person's messages this minute are at the limit.
    `fields` gives the frame `retry_after` (seconds)."""

    def __init__(self, limit: int, wait: int):
        self.limit = limit
        self.wait = wait
        super().__init__("too_many_messages", f"Over {limit} messages this minute.")

    @property
    def message(self) -> str:
        sent = ngettext(
            "You have sent %(limit)s message in the last minute, the most allowed.",
            "You have sent %(limit)s messages in the last minute, the most allowed.",
            self.limit,
        ) % {"limit": self.limit}
        wait = ngettext(
            "Try again in %(seconds)s second; your message is still in the box.",
            "Try again in %(seconds)s seconds; your message is still in the box.",
            self.wait,
        ) % {"seconds": self.wait}
        return f"{sent} {wait}"

    @property
    def fields(self) -> dict[str, Any]:
        return {"retry_after": self.wait}


def check_rate(user: Any) -> None:
    """Count this turn start against the person's minute; refuse it past the limit."""
    limit = settings.CHAT_MESSAGES_PER_MINUTE
    if limit <= 0:
        return
    now = time.time()
    minute = int(now // 60)
    key = f"chat:messages:{user.pk}:{minute}"
    cache.add(key, 0, timeout=120)
    try:
        sent = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=120)
        sent = 1
    if sent > limit:
        raise TooManyMessages(limit, max(1, math.ceil((minute + 1) * 60 - now)))
