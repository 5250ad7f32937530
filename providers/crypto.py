"""Encryption of API keys at rest: MultiFernet over FIELD_ENCRYPTION_KEY.

The variable holds one or more Fernet keys, comma-separated, newest first. New
secrets are encrypted with the first; any of them decrypts. `rotate_encryption_key`
re-encrypts every stored secret with the first (`rotate`), after which the older
keys can be removed from the environment.

Every secret this process encrypts or decrypts is registered with
providers/redact.py, so that no log line can carry it.
"""

from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed

from providers import redact


@cache
def _fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY holds no key.")
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEY is not a valid Fernet key: {exc}"
        ) from None


def _settings_changed(*, setting: str, **_kwargs: Any) -> None:
    if setting == "FIELD_ENCRYPTION_KEYS":  # tests switch keys
        _fernet.cache_clear()


setting_changed.connect(_settings_changed, dispatch_uid="providers-crypto-keys")


def encrypt(secret: str) -> str:
    redact.register(secret)
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        secret = _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "An API key cannot be decrypted with FIELD_ENCRYPTION_KEY "
            "(was the key rotated without keeping the old one?)"
        ) from None
    redact.register(secret)
    return secret


def rotate(token: str) -> str:
    """Re-encrypt under the newest key (the first of FIELD_ENCRYPTION_KEY)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "An API key cannot be decrypted with any key of FIELD_ENCRYPTION_KEY "
            "(was an old key removed before rotating?)"
        ) from None
