"""Personal API tokens."""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("created", "created"),
                    ("changed", "changed"),
                    ("deleted", "deleted"),
                    ("disabled", "disabled"),
                    ("enabled", "enabled"),
                    ("tested", "tested"),
                    ("rotated", "rotated"),
                    ("invalidated", "invalidated"),
                    ("revoked", "revoked"),
                ],
                max_length=16,
                verbose_name="action",
            ),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="object_kind",
            field=models.CharField(
                choices=[
                    ("provider", "provider"),
                    ("key", "API key"),
                    ("model", "model"),
                    ("team", "team"),
                    ("token", "API token"),
                ],
                max_length=16,
                verbose_name="object kind",
            ),
        ),
        migrations.CreateModel(
            name="ApiToken",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100, verbose_name="name")),
                ("secret_hash", models.CharField(editable=False, max_length=64, unique=True)),
                (
                    "prefix",
                    models.CharField(editable=False, max_length=7, verbose_name="starts with"),
                ),
                (
                    "last_four",
                    models.CharField(editable=False, max_length=4, verbose_name="ends with"),
                ),
                (
                    "created",
                    models.DateTimeField(
                        default=django.utils.timezone.now, editable=False, verbose_name="created"
                    ),
                ),
                (
                    "last_used",
                    models.DateTimeField(
                        blank=True, editable=False, null=True, verbose_name="last used"
                    ),
                ),
                ("expires", models.DateTimeField(blank=True, null=True, verbose_name="expires")),
                (
                    "revoked",
                    models.DateTimeField(
                        blank=True, editable=False, null=True, verbose_name="revoked"
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="api_tokens",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="owner",
                    ),
                ),
            ],
            options={
                "verbose_name": "API token",
                "verbose_name_plural": "API tokens",
                "ordering": ["-created", "-id"],
                "indexes": [models.Index(fields=["user", "-created"], name="apitoken_user_recent")],
            },
        ),
    ]
