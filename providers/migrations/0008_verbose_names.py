"""The admin in both languages: translated names of models and fields (verbose
names, help texts, choices); nothing in the database changes."""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

import providers.models


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0007_people_and_teams_to_accounts"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="chatmodel",
            options={
                "ordering": ["provider__name", "model_id"],
                "verbose_name": "model",
                "verbose_name_plural": "models",
            },
        ),
        migrations.AlterModelOptions(
            name="provider",
            options={
                "ordering": ["name"],
                "verbose_name": "provider",
                "verbose_name_plural": "providers",
            },
        ),
        migrations.AlterField(
            model_name="apikey",
            name="encrypted_secret",
            field=models.TextField(editable=False, verbose_name="encrypted secret"),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="last_four",
            field=models.CharField(
                editable=False, max_length=4, verbose_name="last four characters"
            ),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="provider",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="api_keys",
                to="providers.provider",
                verbose_name="provider",
            ),
        ),
        migrations.AlterField(
            model_name="chatmodel",
            name="default_effort",
            field=models.CharField(
                blank=True,
                choices=[
                    ("minimal", "Minimal"),
                    ("low", "Low"),
                    ("medium", "Medium"),
                    ("high", "High"),
                    ("max", "Max"),
                ],
                max_length=16,
                verbose_name="default reasoning effort",
            ),
        ),
        migrations.AlterField(
            model_name="chatmodel",
            name="default_thinking",
            field=models.CharField(
                blank=True,
                choices=[("enabled", "Enabled"), ("disabled", "Disabled"), ("auto", "Auto")],
                max_length=16,
                verbose_name="default thinking mode",
            ),
        ),
        migrations.AlterField(
            model_name="chatmodel",
            name="display_name",
            field=models.CharField(blank=True, max_length=200, verbose_name="display name"),
        ),
        migrations.AlterField(
            model_name="chatmodel",
            name="efforts",
            field=models.JSONField(blank=True, default=list, verbose_name="reasoning efforts"),
        ),
        migrations.AlterField(
            model_name="chatmodel",
            name="enabled",
            field=models.BooleanField(default=True, verbose_name="enabled"),
        ),
        migrations.AlterField(
            model_name="chatmodel",
            name="max_output_tokens",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Sent by default.",
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
                verbose_name="max output tokens",
            ),
        ),
        migrations.AlterField(
            model_name="chatmodel",
            name="max_output_tokens_limit",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Upper bound.",
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
                verbose_name="max output tokens limit",
            ),
        ),
        migrations.AlterField(
            model_name="chatmodel",
            name="model_id",
            field=models.CharField(
                help_text="The upstream id, e.g. deepseek-v4-pro",
                max_length=200,
                verbose_name="model ID",
            ),
        ),
        migrations.AlterField(
            model_name="chatmodel",
            name="provider",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="models",
                to="providers.provider",
                verbose_name="provider",
            ),
        ),
        migrations.AlterField(
            model_name="chatmodel",
            name="thinking_modes",
            field=models.JSONField(blank=True, default=list, verbose_name="thinking modes"),
        ),
        migrations.AlterField(
            model_name="provider",
            name="base_url",
            field=models.URLField(
                blank=True,
                help_text="Up to the API root, with any /v1, /api/v3 or /v2: requests go to base URL + /chat/completions or /responses.",
                max_length=500,
                verbose_name="base URL",
            ),
        ),
        migrations.AlterField(
            model_name="provider",
            name="created",
            field=models.DateTimeField(auto_now_add=True, verbose_name="created"),
        ),
        migrations.AlterField(
            model_name="provider",
            name="enabled",
            field=models.BooleanField(default=True, verbose_name="enabled"),
        ),
        migrations.AlterField(
            model_name="provider",
            name="name",
            field=models.CharField(
                max_length=64,
                unique=True,
                validators=[providers.models.validate_provider_name],
                verbose_name="name",
            ),
        ),
        migrations.AlterField(
            model_name="provider",
            name="style",
            field=models.CharField(
                choices=[
                    ("chat-completions", "Chat completions"),
                    ("responses", "Responses"),
                    ("demo", "Offline demo"),
                ],
                max_length=32,
                verbose_name="API style",
            ),
        ),
    ]
