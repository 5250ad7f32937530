"""Personal API tokens: a person's scripts and editors use the team's models with one.

A token's secret is `sk-` and 32 random bytes, URL-safe (43 characters). It is
shown once, when made, and stored only as its SHA-256: a stolen database gives no
usable token. 32 random bytes need no slow hash (there is nothing to guess), so a
request is looked up by its hash in one indexed query, and the stored hash is
compared with the computed one in constant time. For display the row keeps the
secret's first characters and last four (`sk-Ab12…wxyz`), as the providers' own
consoles do.

Failed authentications are counted per client address, like failed sign-ins
(accounts/throttle.py): API_TOKEN_MAX_FAILURES bad tokens from one address within
API_TOKEN_LOCKOUT_MINUTES and that address gets 429 until the window from its
first failure ends, good tokens included, so guessing stops.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts import access, audit, throttle

PREFIX = "sk-"
SHOWN_CHARS = 7  # "sk-" and four random characters: enough to tell tokens apart
# last_used is written at most this often per token: not one UPDATE per request.
LAST_USED_EVERY = timedelta(minutes=1)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiTokenQuerySet(models.QuerySet["ApiToken"]):
    def active(self) -> ApiTokenQuerySet:
        """Neither revoked nor expired."""
        now = timezone.now()
        return self.filter(revoked__isnull=True).filter(
            Q(expires__isnull=True) | Q(expires__gt=now)
        )

    def for_user(self, user: Any) -> ApiTokenQuerySet:
        """A person's own tokens: everyone else's do not exist for them (404)."""
        if user is None or not user.is_authenticated:
            return self.none()
        return self.filter(user=user)


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        on_delete=models.CASCADE,
        related_name="api_tokens",
    )
    name = models.CharField(_("name"), max_length=100)
    # SHA-256 of the whole secret, hex: the only form of the secret the server keeps.
    secret_hash = models.CharField(_("secret hash"), max_length=64, unique=True, editable=False)
    prefix = models.CharField(_("starts with"), max_length=SHOWN_CHARS, editable=False)
    last_four = models.CharField(_("ends with"), max_length=4, editable=False)
    created = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    expires = models.DateTimeField(_("expires"), null=True, blank=True)
    # Revoked tokens are kept (the audit log and the turns name them), never accepted.
    revoked = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created", "-id"]
        indexes = [models.Index(fields=["user", "-created"], name="apitoken_user_recent")]

    def __str__(self) -> str:
        return f"{self.name} ({self.masked})"

    @property
    def masked(self) -> str:
        return f"{self.prefix}…{self.last_four}"

    def audit_name(self) -> str:
        """As the audit log names it: owner, name and the masked secret, never the secret."""
        return f"{self.user.get_username()}: {self.name} {self.masked}"

    @property
    def is_expired(self) -> bool:
        return self.expires is not None and self.expires <= timezone.now()


def create_token(
    user: Any, name: str, expires_days: int | None = None, *, actor: Any, via: str
) -> tuple[ApiToken, str]:
    """A new token for `user`, and its secret (the only time it exists in full),
    recorded in the audit log in the same transaction (`actor`: who made it, None
    for a command; `via`: where)."""
    secret = PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user,
            name=name.strip()[:100],
            secret_hash=digest(secret),
            prefix=secret[:SHOWN_CHARS],
            last_four=secret[-4:],
            created=now,
            expires=now + timedelta(days=expires_days) if expires_days else None,
        )
        audit.record(actor, audit.AuditEntry.Action.CREATED, token, via)
    return token, secret


def revoke(token: ApiToken, *, actor: Any, via: str) -> bool:
    """Revoke it now, with its audit entry; False when it already was."""
    now = timezone.now()
    with transaction.atomic():
        done = ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=now)
        if done:
            token.revoked = now
            audit.record(actor, audit.AuditEntry.Action.REVOKED, token, via)
    return bool(done)


@dataclass(frozen=True)
class Authenticated:
    user: Any
    token_id: int
    token_name: str


# The token's columns the read puts beside its owner's, as `token_<name>` (`_read`).
TOKEN_COLUMNS = ("id", "name", "hash", "active", "stale")


def authenticate(secret: str) -> Authenticated | None:
    """The active token with this secret and its active owner, or None (unknown,
    revoked, expired, or the owner is inactive: the caller answers 401 alike)."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None
    wanted = digest(secret)
    now = timezone.now()
    ops = connection.ops
    # The owner, with the token's fields beside its own (`token_*`), in one read.
    params = [
        ops.adapt_datetimefield_value(now),
        ops.adapt_datetimefield_value(now - LAST_USED_EVERY),
        wanted,
    ]
    user = next(iter(get_user_model().objects.raw(_read(connection.vendor), params)), None)
    if user is None:
        return None
    token = {name: user.__dict__.pop(f"token_{name}") for name in TOKEN_COLUMNS}
    if not hmac.compare_digest(token["hash"], wanted):
        return None
    if not token["active"] or not user.is_active:
        return None
    # The checks the request's plan makes next find the owner's teams at hand.
    access.remember_teams(user.pk, user.__dict__.pop("owner_teams"))
    if token["stale"]:
        ApiToken.objects.filter(pk=token["id"]).update(last_used=now)
    return Authenticated(user, token["id"], token["name"])


@functools.cache
def _read(vendor: str) -> str:
    """A token by its hash, with its owner and the owner's teams: the read of every
    API request, written out once per database (compiled by the ORM per request, the
    token and its owner took longer than the rest of its plan: tests/bench/api.py;
    the teams are a round trip the plan would make at most requests). Whether the
    token is active and its last use is older than LAST_USED_EVERY are decided by
    the database."""
    q, people, tokens = connection.ops.quote_name, get_user_model()._meta, ApiToken._meta
    owner = f"u.{q(people.pk.column)}"  # type: ignore[union-attr,arg-type]
    return (
        f"SELECT u.*, {access.teams_column(vendor, owner)} AS owner_teams,"
        f" t.{q('id')} AS token_id, t.{q('name')} AS token_name,"
        f" t.{q('secret_hash')} AS token_hash,"
        f" (t.{q('revoked')} IS NULL AND (t.{q('expires')} IS NULL OR t.{q('expires')} > %s))"
        " AS token_active,"
        f" (t.{q('last_used')} IS NULL OR t.{q('last_used')} < %s) AS token_stale"
        f" FROM {q(tokens.db_table)} t JOIN {q(people.db_table)} u"
        f" ON u.{q(people.pk.column)} = t.{q('user_id')}"  # type: ignore[union-attr,arg-type]
        f" WHERE t.{q('secret_hash')} = %s"
    )


# --- failed authentications per address (counted as sign-ins are: accounts/throttle.py)


def _window() -> float:
    return settings.API_TOKEN_LOCKOUT_MINUTES * 60


def locked_for(address: str) -> float:
    """Seconds this address must still wait; 0 when it may try."""
    return throttle.waiting("api-token", address, settings.API_TOKEN_MAX_FAILURES, _window())


def note_failure(address: str) -> None:
    throttle.note("api-token", address, _window())
