"""The audit log: who created, changed, disabled, tested or rotated which provider, key,
model or team, and when. Never a secret: a key is named by its label and last four
characters, and a replaced secret is recorded as "secret replaced".

Everyone writes through `record()`: the admin (accounts/admin/audited.py's
`AuditedAdmin`), the operator commands (actor None), the connection test and the
key failover. Entries are read-only in the admin, for staff.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATED = "created", _("created")
        CHANGED = "changed", _("changed")
        DELETED = "deleted", _("deleted")
        DISABLED = "disabled", _("disabled")
        ENABLED = "enabled", _("enabled")
        TESTED = "tested", _("tested")
        ROTATED = "rotated", _("rotated")
        INVALIDATED = "invalidated", _("invalidated")
        MEMBER_ADDED = "member_added", _("member added")
        MEMBER_REMOVED = "member_removed", _("member removed")
        LINKED = "linked", _("linked")
        REVOKED = "revoked", _("revoked")

    class Kind(models.TextChoices):
        PROVIDER = "provider", _("provider")
        KEY = "key", _("API key")
        MODEL = "model", _("model")
        TEAM = "team", _("team")
        PERSON = "person", _("person")
        TOKEN = "token", _("API token")

    when = models.DateTimeField(_("when"), default=timezone.now, editable=False)
    # Null for commands and the system (failover); kept as a name when the user goes.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_name = models.CharField(_("actor name"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    object_kind = models.CharField(_("object kind"), max_length=16, choices=Kind.choices)
    object_id = models.CharField(_("object id"), max_length=64)
    # What the object was called then (it may since be renamed or deleted).
    object_repr = models.CharField(_("object"), max_length=200)
    detail = models.CharField(_("detail"), max_length=500, blank=True)

    class Meta:
        db_table = "providers_auditentry"  # kept from when the model lived in providers/
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log entries")
        ordering = ["-when", "-id"]
        indexes = [
            models.Index(fields=["-when", "-id"], name="auditentry_recent"),
            models.Index(fields=["object_kind", "object_id"], name="auditentry_object"),
        ]

    def __str__(self) -> str:
        # The admin's heading of an entry: in the reader's language.
        who = self.actor_name or gettext("system")
        action, kind = self.get_action_display(), self.get_object_kind_display()
        return f"{self.when:%Y-%m-%d %H:%M} {who} {action} {kind} {self.object_repr}"


# The audited models by their app label, so that this module imports none of them
# (providers' models import nothing of accounts, and accounts nothing of them here).
KINDS = {
    "providers.provider": AuditEntry.Kind.PROVIDER,
    "providers.apikey": AuditEntry.Kind.KEY,
    "providers.chatmodel": AuditEntry.Kind.MODEL,
    "accounts.team": AuditEntry.Kind.TEAM,
    "auth.user": AuditEntry.Kind.PERSON,  # company sign-in: created, linked
    "accounts.apitoken": AuditEntry.Kind.TOKEN,
}


def kind_of(obj: Any) -> str:
    meta = getattr(obj, "_meta", None)
    kind = KINDS.get(meta.label_lower) if meta is not None else None
    if kind is None:
        raise TypeError(f"Not an audited object: {type(obj).__name__}")
    return str(kind)


def describe(obj: Any) -> str:
    """The object's name for the log; a key's is its provider, label and last four
    (an object may say it with `audit_name()`)."""
    name = getattr(obj, "audit_name", None)
    return str(name()) if callable(name) else str(obj)


def record(actor: Any, action: str, obj: Any, detail: str = "") -> AuditEntry:
    """Write one entry. `actor`: the user who did it, or None (a command, the system).
    `detail` is short and never holds a secret (names of changed fields only)."""
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return AuditEntry.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        object_kind=kind_of(obj),
        object_id=str(obj.pk),
        object_repr=describe(obj)[:200],
        detail=detail[:500],
    )


def change_detail(changed: list[str], secret_fields: tuple[str, ...] = ("secret",)) -> str:
    """What a change touched, by field name; a secret is only said to be replaced."""
    parts = []
    if any(name in changed for name in secret_fields):
        parts.append("secret replaced")
    rest = [name for name in changed if name not in secret_fields]
    if rest:
        parts.append("changed: " + ", ".join(rest))
    return "; ".join(parts)


def record_change(actor: Any, obj: Any, changed: list[str], via: str = "") -> AuditEntry | None:
    """A save that changed `changed` (field names). Toggling `enabled` is recorded as
    `enabled`/`disabled` (the other fields in the detail); nothing changed, nothing
    recorded."""
    if not changed:
        return None
    action = AuditEntry.Action.CHANGED
    rest = list(changed)
    if "enabled" in rest and hasattr(obj, "enabled"):
        rest.remove("enabled")
        action = AuditEntry.Action.ENABLED if obj.enabled else AuditEntry.Action.DISABLED
    detail = change_detail(rest)
    if action != AuditEntry.Action.CHANGED and detail:
        detail = "also " + detail
    if via:
        detail = f"{via}: {detail}" if detail else via
    return record(actor, action, obj, detail)
