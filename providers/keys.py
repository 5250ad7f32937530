"""The state of API keys as turns use them: refused, rate-limited, last used.

A turn tries its provider's enabled keys in order (conversations/live/runner.py),
by the rules of `Failover` (which the admin's "Import models" follows too).
What it learns about a key is written here, each change in its own transaction,
from async code through conversations/live/db.py `run_db`:

- `mark_refused`: the provider answered 401/403. The key is kept, disabled, with
  the reason in plain words (never the secret) and the time.
- `note_failure`: 429 (rate-limited) or 402 (out of credit). The key stays enabled;
  the reason and time are kept, and this process's new turns try it after the
  provider's other keys for a while (`cool_down`, in memory: nothing to clean up).
- `touch_used`: `last_used`, written inside the turn's final save and at most once a
  minute per key per process (`last_used_due`), so a busy key costs no extra write
  per turn.

Writes that change which keys are enabled without a model save (`update()`) send
`keys_changed` on commit; conversations/catalog.py clears its cached keys on it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.audit import AuditEntry, record
from providers.models import ApiKey
from providers.wire import AuthError, ProviderError, RateLimited

logger = logging.getLogger(__name__)

# Sent (on commit) when keys were enabled or disabled by an update, not a save.
keys_changed = Signal()

# Stored in English, like a turn's error; shown in the admin's key list.
REFUSED = _("The provider refused this key (HTTP %(status)s) on %(when)s.")
RATE_LIMITED = _("The provider rate-limited this key (HTTP %(status)s) on %(when)s.")
NO_CREDIT = _(
    "The provider said this key's account is out of credit (HTTP %(status)s) on %(when)s."
)

LAST_USED_EVERY_SECONDS = 60.0
MAX_COOLDOWN_SECONDS = 600.0


@dataclass(frozen=True)
class KeyRef:
    """A decrypted key as a turn carries it: its row id, label and secret."""

    id: int
    label: str
    secret: str = field(repr=False)

    @classmethod
    def of(cls, key: ApiKey) -> KeyRef:
        return cls(key.pk, key.label, key.secret())


_lock = threading.Lock()
_cooling: dict[int, float] = {}  # key id -> monotonic time it may lead again
_used_written: dict[int, float] = {}  # key id -> monotonic time last_used was written


def decrypted(provider: Any) -> tuple[KeyRef, ...]:
    """The provider's enabled keys, decrypted, by priority. A key that cannot be
    decrypted (FIELD_ENCRYPTION_KEY lost its key) is skipped and logged."""
    refs = []
    for key in provider.enabled_keys():
        try:
            refs.append(KeyRef.of(key))
        except ImproperlyConfigured as exc:
            logger.error("provider %s, key %r: %s", provider.name, key.label, exc)
    return tuple(refs)


def cool_down(key_id: int, seconds: float | None = None) -> None:
    """Try this key after the others for UPSTREAM_KEY_COOLDOWN_SECONDS, or for
    `seconds` (the provider's Retry-After) when longer, at most 10 minutes."""
    wait = max(settings.UPSTREAM_KEY_COOLDOWN_SECONDS, seconds or 0.0)
    wait = min(max(wait, 0.0), MAX_COOLDOWN_SECONDS)
    with _lock:
        _cooling[key_id] = time.monotonic() + wait


def in_order(keys: Sequence[KeyRef]) -> tuple[KeyRef, ...]:
    """`keys` in the order to try them now: keys cooling down after the others,
    each group in its given order."""
    if not _cooling:
        return tuple(keys)
    now = time.monotonic()
    with _lock:
        for key_id in [k for k, until in _cooling.items() if until <= now]:
            del _cooling[key_id]
        cooling = set(_cooling)
    if not cooling:
        return tuple(keys)
    return tuple(
        sorted(keys, key=lambda k: k.id in cooling)  # stable: False (ready) first
    )


@dataclass(frozen=True)
class Step:
    """What a failed attempt leads to (`Failover.after`)."""

    again: bool  # whether another attempt is worth making (`Failover.key` now)
    wait: float = 0.0  # seconds to wait before it
    # The key state to write first (mark_refused or note_failure and its arguments).
    write: tuple[Any, ...] | None = None
    moved: bool = False  # the next attempt uses another key


class Failover:
    """The rules for trying a provider's keys in turn (docs/architecture.md, "Keys and
    failover"), without I/O: the turn's runner (conversations/live/failover.py) and
    the admin's "Import models" drive it, each writing the key state and waiting in
    its own way.

    - 401/403: the key is to be marked refused, and the next key tried at once;
    - 429 and 402: the key cools down in this process, its reason is noted, the
      provider's Retry-After is waited (bounded) and the next key tried; on the
      last key a 429 is retried like a 5xx;
    - 5xx and connection errors: the same key again, UPSTREAM_RETRIES times with
      exponential backoff (a Retry-After, bounded, instead when given).
    """

    def __init__(self, keys: Sequence[KeyRef], during: str = "before the first token"):
        self.keys = list(keys)
        self.index = 0
        self.retries = 0
        self.during = during  # what a refused key's audit entry says was being done

    @property
    def key(self) -> KeyRef:
        return self.keys[self.index]

    def after(self, exc: ProviderError) -> Step:
        """What `exc` on the current key leads to."""
        key = self.key
        if isinstance(exc, AuthError) and key.id:
            self.keys.pop(self.index)  # `index` is now the next key's
            again = self.index < len(self.keys)
            return Step(again, write=(mark_refused, key.id, exc.status, self.during), moved=again)
        write = None
        if (isinstance(exc, RateLimited) or exc.status == 402) and key.id:
            cool_down(key.id, exc.retry_after)
            template = NO_CREDIT if exc.status == 402 else RATE_LIMITED
            write = (note_failure, key.id, template, exc.status)
            if self.index + 1 < len(self.keys):
                self.index += 1
                wait = _bounded(exc.retry_after) if exc.retry_after else 0.0
                return Step(True, wait, write, moved=True)
        if exc.retryable and self.retries < settings.UPSTREAM_RETRIES:
            if exc.retry_after is not None:
                wait = _bounded(exc.retry_after)
            else:
                wait = settings.UPSTREAM_RETRY_BASE_SECONDS * 2**self.retries
            self.retries += 1
            return Step(True, wait, write)
        return Step(False, write=write)


def _bounded(seconds: float) -> float:
    return min(max(seconds, 0.0), settings.UPSTREAM_RETRY_AFTER_MAX_SECONDS)


def forget_state() -> None:
    """This process's in-memory key state (tests)."""
    with _lock:
        _cooling.clear()
        _used_written.clear()


def reason(template: str | Promise, status: int | None, when: Any) -> str:
    with translation.override("en"):
        return str(template) % {
            "status": status if status is not None else "?",
            "when": when.strftime("%Y-%m-%d %H:%M UTC"),
        }


def _announce(key_ids: Iterable[int]) -> None:
    ids = list(key_ids)
    transaction.on_commit(lambda: keys_changed.send(sender=ApiKey, key_ids=ids))


def mark_refused(key_id: int, status: int | None, during: str = "before the first token") -> bool:
    """The provider refused the key (401/403): keep it, disabled, with why and when.
    `during`: what was being done, for the audit log."""
    now = timezone.now()
    with transaction.atomic():
        updated = ApiKey.objects.filter(id=key_id).update(
            enabled=False, last_failed=now, failure_reason=reason(REFUSED, status, now)
        )
        if updated:
            key = ApiKey.objects.select_related("provider").get(pk=key_id)
            record(None, AuditEntry.Action.INVALIDATED, key, f"HTTP {status} {during}")
        _announce([key_id])
    return updated == 1


def note_failure(key_id: int, template: str | Promise, status: int | None) -> bool:
    """A failure that says nothing against the key itself (429, 402): it stays enabled."""
    now = timezone.now()
    with transaction.atomic():
        updated = ApiKey.objects.filter(id=key_id).update(
            last_failed=now, failure_reason=reason(template, status, now)
        )
    return updated == 1


def last_used_due(key_id: int) -> bool:
    """Whether this process should write the key's `last_used` now (once a minute)."""
    now = time.monotonic()
    with _lock:
        last = _used_written.get(key_id)
        if last is not None and now - last < LAST_USED_EVERY_SECONDS:
            return False
        _used_written[key_id] = now
        return True


def touch_used(key_id: int, when: Any) -> None:
    """Set `last_used`, in the caller's transaction (the turn's final save)."""
    ApiKey.objects.filter(id=key_id).update(last_used=when)


def set_enabled(keys: Any, enabled: bool, actor: Any = None) -> int:
    """Enable or disable a queryset of keys (the admin's actions); how many changed."""
    action = AuditEntry.Action.ENABLED if enabled else AuditEntry.Action.DISABLED
    with transaction.atomic():
        changing = list(keys.exclude(enabled=enabled).select_related("provider"))
        ApiKey.objects.filter(id__in=[k.id for k in changing]).update(enabled=enabled)
        for key in changing:
            record(actor, action, key)
        _announce([k.id for k in changing])
    return len(changing)
