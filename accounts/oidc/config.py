"""The sign-in settings, read in one place (they are env-driven in chatsite/settings.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.translation import gettext

SESSION_KEY = "oidc"


def enabled() -> bool:
    return bool(getattr(settings, "OIDC_ISSUER", ""))


def password_login() -> bool:
    return bool(getattr(settings, "PASSWORD_LOGIN", True))


def password_allowed(user: Any) -> bool:
    """PASSWORD_LOGIN=0 refuses passwords to all but superusers (the break-glass admin)."""
    return password_login() or bool(getattr(user, "is_superuser", False))


def button_text() -> str:
    label = getattr(settings, "OIDC_BUTTON_LABEL", "")
    if label:
        return gettext("Sign in with %(label)s") % {"label": label}
    return gettext("Sign in with your company account")


def login_context() -> dict[str, Any]:
    """What the sign-in page needs to show the button and, or, the password form."""
    return {
        "oidc_enabled": enabled(),
        "oidc_button": button_text() if enabled() else "",
        "password_login": password_login() or not enabled(),
    }


def renew_seconds() -> int:
    return int(getattr(settings, "OIDC_RENEW_SECONDS", 900))
