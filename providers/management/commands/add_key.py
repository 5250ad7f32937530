"""Add an API key to a provider, or replace the secret of its key with that label.

    python manage.py add_key --provider NAME --label LABEL --api-key-env VAR

The secret is read from the environment variable named by --api-key-env, never
from the command line (where it would land in shell history and `ps`), and never
printed: the output shows its last four characters. The key is left enabled, and
a replaced secret forgets the old one's failure (a key the provider had refused
is used again). Idempotent: the same secret again changes nothing.
"""

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.audit import AuditEntry, record, record_change
from providers.models import ApiKey, Provider


def secret_from_env(var: str) -> str:
    secret = os.environ.get(var, "").strip()
    if not secret:
        raise CommandError(f"Environment variable {var} is not set (or empty).")
    return secret


class Command(BaseCommand):
    help = "Add an API key (from an env var) to a provider, or replace the secret of a label."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--provider", required=True, metavar="NAME")
        parser.add_argument("--label", required=True)
        parser.add_argument("--api-key-env", required=True, metavar="VAR")

    def handle(self, *args: Any, **options: Any) -> None:
        secret = secret_from_env(options["api_key_env"])
        label = " ".join(options["label"].split())
        if not label or len(label) > ApiKey._meta.get_field("label").max_length:  # type: ignore[operator]
            raise CommandError("--label must be 1 to 100 characters.")
        with transaction.atomic():
            provider = Provider.objects.filter(name=options["provider"]).first()
            if provider is None:
                raise CommandError(f"No provider named {options['provider']!r}.")
            key = ApiKey.objects.select_for_update().filter(provider=provider, label=label).first()
            if key is None:
                key = ApiKey(provider=provider, label=label)
                key.set_secret(secret)
                key.save()
                record(None, AuditEntry.Action.CREATED, key, "add_key")
                verb = "Added"
            elif key.secret() == secret and key.enabled:
                verb = "Unchanged"
            else:
                changed = [] if key.enabled else ["enabled"]
                if key.secret() != secret:
                    key.set_secret(secret)
                    key.last_failed = None
                    key.failure_reason = ""
                    changed.insert(0, "secret")
                key.enabled = True
                key.save()
                record_change(None, key, changed, via="add_key")
                verb = "Replaced"
        self.stdout.write(f"{verb}: key {key.label!r} of provider {provider.name} ({key.masked}).")
