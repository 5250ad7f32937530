"""The state of API keys as turns use them: refused, rate-limited, last used.

A turn tries its provider's enabled keys in order (conversations/live/runner.py).
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

import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from accounts.audit import AuditEntry, record
from providers.models import ApiKey

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


def mark_refused(key_id: int, status: int | None) -> bool:
    """The provider refused the key (401/403): keep it, disabled, with why and when."""
    now = timezone.now()
    with transaction.atomic():
        updated = ApiKey.objects.filter(id=key_id).update(
            enabled=False, last_failed=now, failure_reason=reason(REFUSED, status, now)
        )
        if updated:
            key = ApiKey.objects.select_related("provider").get(pk=key_id)
            record(
                None, AuditEntry.Action.INVALIDATED, key, f"HTTP {status} before the first token"
            )
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
