"""Create or update a provider, its API key and its models. Idempotent.

The key is read from the environment variable named by --api-key-env, never from
the command line (where it would land in shell history and `ps`).

With --preset NAME (providers/presets.py) the preset gives the style, the base URL
and its models (created with their thinking modes, efforts and limits; models
already there are left as they are); --model adds more, --base-url overrides the
preset's (and is required for presets without one: new-api, vllm), and the
provider is named after the preset unless --name. --list-presets prints the
presets, one a line: the name, a tab, a description.
"""

import os
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts.audit import AuditEntry, record, record_change
from providers import presets
from providers.models import ApiKey, ApiStyle, Provider

# The audit log records what this command changed, with no actor (accounts/audit.py).
VIA = "add_provider"
AUDITED = ("style", "base_url", "enabled")


class Command(BaseCommand):
    help = "Create or update a provider with its API key (from an env var) and models."

    def add_arguments(self, parser: CommandParser) -> None:
        # Required unless --preset (or --list-presets): checked in handle().
        parser.add_argument("--name")
        parser.add_argument("--style", choices=[ApiStyle.CHAT_COMPLETIONS, ApiStyle.RESPONSES])
        parser.add_argument("--base-url")
        parser.add_argument("--api-key-env", metavar="VAR")
        parser.add_argument("--model", action="append", default=[], dest="models")
        parser.add_argument(
            "--preset",
            choices=sorted(presets.PRESETS),
            help="Fill in the style, base URL and models from a preset (see --list-presets).",
        )
        parser.add_argument(
            "--list-presets", action="store_true", help="Print the presets and exit."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["list_presets"]:
            for each in presets.PRESETS.values():
                self.stdout.write(f"{each.name}\t{each.description}")
            return
        preset = presets.get(options["preset"]) if options["preset"] else None
        if preset is not None:
            if options["style"]:
                raise CommandError("--preset gives the style: leave out --style.")
            name = options["name"] or preset.name
            style = preset.style
            base_url = options["base_url"] or preset.base_url
            if not base_url:
                raise CommandError(
                    f"The {preset.name} preset has no fixed address: give the server's --base-url."
                )
        else:
            wanted = ("name", "style", "base_url", "api_key_env", "models")
            missing = [f"--{k.replace('_', '-')}" for k in wanted if not options[k]]
            if missing:
                raise CommandError(
                    "the following arguments are required (or use --preset): " + ", ".join(missing)
                )
            name, style, base_url = options["name"], options["style"], options["base_url"]
        var = options["api_key_env"]
        if not var:
            raise CommandError("the following arguments are required: --api-key-env")
        secret = os.environ.get(var, "").strip()
        if not secret:
            raise CommandError(f"Environment variable {var} is not set (or empty).")
        provider = Provider(name=name, style=style, base_url=base_url.rstrip("/"))
        try:
            provider.full_clean(validate_unique=False)
        except ValidationError as exc:
            details = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            raise CommandError(details) from None
        with transaction.atomic():
            before = Provider.objects.filter(name=provider.name).values(*AUDITED).first()
            provider, created = Provider.objects.update_or_create(
                name=provider.name,
                defaults={"style": provider.style, "base_url": provider.base_url, "enabled": True},
            )
            if created:
                record(None, AuditEntry.Action.CREATED, provider, VIA)
            elif before is not None:
                changed = [f for f in AUDITED if before[f] != getattr(provider, f)]
                record_change(None, provider, changed, via=VIA)
            # The provider's key from this variable (more keys: add_key); a new
            # secret replaces its old one and forgets the old one's failures.
            label = f"from ${var}"
            key = provider.api_keys.filter(label=label).first() or ApiKey(
                provider=provider, label=label
            )
            key_changed: list[str] = []  # for the audit log
            if key.pk is None or key.secret() != secret or not key.enabled:
                if key.pk is None or key.secret() != secret:
                    key.set_secret(secret)
                    key.last_failed, key.failure_reason = None, ""
                    key_changed.append("secret")
                if not key.enabled:
                    key_changed.append("enabled")
                key.enabled = True
                key_created = key.pk is None
                key.save()
                if key_created:
                    record(None, AuditEntry.Action.CREATED, key, VIA)
                else:
                    record_change(None, key, key_changed, via=VIA)
            # A preset's models, then those named (an id the preset knows gets its fields).
            wanted_models: list[presets.PresetModel | str] = list(preset.models) if preset else []
            wanted_models += [(preset.model(m) or m) if preset else m for m in options["models"]]
            added = presets.add_models(provider, wanted_models)
            for model in provider.models.filter(model_id__in=added):
                record(None, AuditEntry.Action.CREATED, model, VIA)
        verb = "Created" if created else "Updated"
        self.stdout.write(
            f"{verb} provider {provider.name} ({provider.style}, {provider.base_url}), "
            f"key …{key.last_four}, models added: {', '.join(added) or 'none'}"
        )
