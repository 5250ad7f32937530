"""Secrets never reach a log line: every secret the process knows is masked.

`register` is called with each API key as it is encrypted or decrypted
(providers/crypto.py), so the set holds every key this process could ever send.
`redact(text)` replaces each with `…abcd` (its last four characters, as the admin
shows keys). Two ways in to logging, both scrubbing a record in place, once:
`SecretsFilter`, installed on every handler in settings.LOGGING, and a log record
factory (`install_record_factory`, from providers/apps.py) that scrubs each record
as it is made, so handlers added outside LOGGING (pytest's caplog, an error
tracker's) get it clean too. An exception's text and traceback are formatted once,
scrubbed, and kept as the record's `exc_text`; the exception object is dropped
from a record that carried a secret.
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any

# Shorter strings are not treated as secrets: masking them would mangle ordinary text.
MIN_LENGTH = 8

_lock = threading.Lock()
_secrets: frozenset[str] = frozenset()


def mask(secret: str) -> str:
    return f"…{secret[-4:]}"


def register(secret: str) -> None:
    global _secrets
    if len(secret) < MIN_LENGTH or secret in _secrets:
        return
    with _lock:
        _secrets = _secrets | {secret}


def known() -> frozenset[str]:
    return _secrets


def redact(text: str) -> str:
    secrets = _secrets
    if not secrets or not text:
        return text
    # Longest first: a key that contains another is masked whole.
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, mask(secret))
    return text


def redact_value(value: Any) -> Any:
    """`redact` through the strings of a JSON-like value (dicts, lists)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


def _contains_secret(text: str) -> bool:
    return any(secret in text for secret in _secrets)


def scrub_record(record: logging.LogRecord) -> None:
    """Mask secrets in the record's message, exception and stack, in place."""
    if not _secrets or getattr(record, "_secrets_scrubbed", False):
        return
    setattr(record, "_secrets_scrubbed", True)  # noqa: B010
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: leave it to the handler to report
        message = None
    if message is not None and _contains_secret(message):
        record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        text = record.exc_text or "".join(traceback.format_exception(*record.exc_info)).rstrip()
        if _contains_secret(text):
            record.exc_text = redact(text)
            record.exc_info = None  # the exception's own text carries the secret
    elif record.exc_text and _contains_secret(record.exc_text):
        record.exc_text = redact(record.exc_text)
    if record.stack_info and _contains_secret(record.stack_info):
        record.stack_info = redact(record.stack_info)


class SecretsFilter(logging.Filter):
    """For settings.LOGGING: every handler gets `"filters": ["secrets"]`."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub_record(record)
        return True


_installed = False


def install_record_factory() -> None:
    """Scrub every log record as it is made (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        scrub_record(record)
        return record

    logging.setLogRecordFactory(factory)
