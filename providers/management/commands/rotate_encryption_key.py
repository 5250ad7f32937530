"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEY.

FIELD_ENCRYPTION_KEY holds Fernet keys, comma-separated, newest first. To rotate:
put a new key first and keep the old ones after it, run this command, and then the
old keys can be removed from the environment. One transaction: a failure (a secret
that no key decrypts) changes nothing. Secrets are never printed.
"""

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.audit import AuditEntry, record
from providers import crypto
from providers.models import ApiKey


class Command(BaseCommand):
    help = "Re-encrypt every stored API key with the first key of FIELD_ENCRYPTION_KEY."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic():
                keys = list(
                    ApiKey.objects.select_for_update(of=("self",))
                    .select_related("provider")
                    .order_by("id")
                )
                for key in keys:
                    key.encrypted_secret = crypto.rotate(key.encrypted_secret)
                ApiKey.objects.bulk_update(keys, ["encrypted_secret"], batch_size=500)
                for key in keys:
                    record(None, AuditEntry.Action.ROTATED, key, "rotate_encryption_key")
        except ImproperlyConfigured as exc:
            raise CommandError(f"Nothing was changed: {exc}") from None
        noun = "API key" if len(keys) == 1 else "API keys"
        self.stdout.write(
            f"Re-encrypted {len(keys)} {noun} with the first key of FIELD_ENCRYPTION_KEY; "
            "the older keys can now be removed from it."
        )
