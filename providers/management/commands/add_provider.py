"""Create or update a provider, its API key and its models. Idempotent.

The key is read from the environment variable named by --api-key-env, never from
the command line (where it would land in shell history and `ps`).
"""

import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from providers.models import ApiKey, ApiStyle, ChatModel, Provider


class Command(BaseCommand):
    help = "Create or update a provider with its API key (from an env var) and models."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--style", required=True, choices=[ApiStyle.CHAT_COMPLETIONS, ApiStyle.RESPONSES]
        )
        parser.add_argument("--base-url", required=True)
        parser.add_argument("--api-key-env", required=True, metavar="VAR")
        parser.add_argument("--model", action="append", required=True, dest="models")

    def handle(self, *args: Any, **options: Any) -> None:
        var = options["api_key_env"]
        secret = os.environ.get(var, "").strip()
        if not secret:
            raise CommandError(f"Environment variable {var} is not set (or empty).")
        provider = Provider(
            name=options["name"], style=options["style"], base_url=options["base_url"].rstrip("/")
        )
        try:
            provider.full_clean(validate_unique=False)
        except ValidationError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(details) from None
        with transaction.atomic():
            provider, created = Provider.objects.update_or_create(
                name=provider.name,
                defaults={"style": provider.style, "base_url": provider.base_url, "enabled": True},
            )
            key = provider.active_key()
            if key is None or key.secret() != secret:
                key = ApiKey(provider=provider, label=f"from ${var}")
                key.set_secret(secret)
                key.save()
                # The newest key is the active one; older ones stay for the record.
                provider.api_keys.exclude(pk=key.pk).update(enabled=False)
            added = []
            for model_id in options["models"]:
                _model, made = ChatModel.objects.get_or_create(provider=provider, model_id=model_id)
                if made:
                    added.append(model_id)
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} provider {provider.name} ({provider.style}, {provider.base_url}), "
            f"key …{key.last_four}, models added: {', '.join(added) or 'none'}"
        )
