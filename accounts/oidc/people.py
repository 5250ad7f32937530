"""Claims → the person: matched by (issuer, sub), never by an e-mail alone.

- An identity with this (issuer, sub) exists: its person.
- Else, with OIDC_LINK_BY_EMAIL=1 and `email_verified` true, the one local account
  with that e-mail (not yet linked to another sub of this issuer) is linked.
- Else a new account: the username from `preferred_username`, else the e-mail,
  made unique; no usable password (they sign in at the IdP).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from accounts.audit import AuditEntry, record
from accounts.oidc.failures import SignInFailed
from accounts.oidc.identity import OidcIdentity

logger = logging.getLogger(__name__)


def groups_of(claims: dict[str, Any]) -> list[str]:
    """The groups claim as a list of names (a lone string is one group)."""
    value = claims.get(settings.OIDC_GROUPS_CLAIM)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return sorted({str(item) for item in value if isinstance(item, str | int)})
    return []


def _verified(claims: dict[str, Any]) -> bool:
    # Some IdPs send the string "true"; anything else is not a verified address.
    return claims.get("email_verified") in (True, "true")


def unique_username(wanted: str) -> str:
    """A free username like `wanted`: Django's allowed characters, at most 150, and a
    number appended while it is taken."""
    field = get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD)
    limit = getattr(field, "max_length", None) or 150
    base = re.sub(r"[^\w.@+-]", "", wanted.strip())[:limit] or "user"
    name, n = base, 1
    users = get_user_model().objects
    while users.filter(**{get_user_model().USERNAME_FIELD: name}).exists():
        n += 1
        suffix = f"-{n}"
        name = base[: limit - len(suffix)] + suffix
    return name


def _link_by_email(issuer: str, claims: dict[str, Any]) -> Any:
    email = str(claims.get("email") or "").strip()
    if not settings.OIDC_LINK_BY_EMAIL or not email or not _verified(claims):
        return None
    candidates = list(get_user_model().objects.filter(email__iexact=email)[:2])
    if len(candidates) != 1:
        return None  # none, or ambiguous: never guess between two accounts
    user = candidates[0]
    if OidcIdentity.objects.filter(user=user, issuer=issuer).exists():
        return None  # already someone else at this IdP
    return user


@transaction.atomic
def person_for(issuer: str, claims: dict[str, Any]) -> Any:
    """The person these verified claims sign in, created or linked as needed; their
    identity remembers this sign-in's groups."""
    sub = str(claims["sub"])
    groups = groups_of(claims)
    identity = (
        OidcIdentity.objects.select_for_update()
        .select_related("user")
        .filter(issuer=issuer, subject=sub)
        .first()
    )
    if identity is None:
        user = _link_by_email(issuer, claims)
        if user is not None:
            record(None, AuditEntry.Action.LINKED, user, f"company sign-in: sub {sub[:80]}")
            logger.info("company sign-in linked %s by verified e-mail", user.get_username())
        else:
            wanted = str(claims.get("preferred_username") or claims.get("email") or sub)
            user = get_user_model()(**{get_user_model().USERNAME_FIELD: unique_username(wanted)})
            user.email = str(claims.get("email") or "")[:254]
            user.first_name = str(claims.get("given_name") or "")[:150]
            user.last_name = str(claims.get("family_name") or "")[:150]
            user.set_unusable_password()
            user.save()
            record(None, AuditEntry.Action.CREATED, user, "company sign-in")
        identity = OidcIdentity.objects.create(user=user, issuer=issuer, subject=sub)
    user = identity.user
    if not user.is_active:
        raise SignInFailed("disabled", f"{user.get_username()} is not active")
    identity.groups = groups
    identity.last_login = timezone.now()
    identity.save(update_fields=["groups", "last_login"])
    email = str(claims.get("email") or "")[:254]
    if email and _verified(claims) and user.email != email:
        user.email = email
        user.save(update_fields=["email"])
    return user
