"""Teams, daily usage and the audit log, taken over from `providers/` with their
tables (state only: nothing is created or copied). Their content types are renamed,
so permissions given on them stay given."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

MOVED = ("team", "dailyusage", "auditentry")


def rename_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    for model in MOVED:
        if content_type.objects.filter(app_label="accounts", model=model).exists():
            continue
        content_type.objects.filter(app_label="providers", model=model).update(app_label="accounts")


def restore_content_types(apps, schema_editor):
    content_type = apps.get_model("contenttypes", "ContentType")
    content_type.objects.filter(app_label="accounts", model__in=MOVED).update(app_label="providers")


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("providers", "0007_people_and_teams_to_accounts"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Team",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("name", models.CharField(max_length=100)),
                        (
                            "daily_token_quota",
                            models.PositiveBigIntegerField(
                                blank=True,
                                help_text="Total tokens (reasoning included) of all members' turns, on any model, per day from 00:00 UTC. Empty: unlimited; 0: no turns.",
                                null=True,
                            ),
                        ),
                        (
                            "reasoning_retention_days",
                            models.PositiveIntegerField(
                                blank=True,
                                help_text="Erase the reasoning of members' turns older than this (the answer is kept). Empty: keep it.",
                                null=True,
                                validators=[django.core.validators.MinValueValidator(1)],
                            ),
                        ),
                        ("created", models.DateTimeField(auto_now_add=True)),
                        (
                            "members",
                            models.ManyToManyField(
                                blank=True, related_name="teams", to=settings.AUTH_USER_MODEL
                            ),
                        ),
                        (
                            "models",
                            models.ManyToManyField(
                                blank=True,
                                help_text="A model given to no team is open to every signed-in user; a model given to teams, only to their members.",
                                related_name="teams",
                                to="providers.chatmodel",
                            ),
                        ),
                        (
                            "reviewers",
                            models.ManyToManyField(
                                blank=True,
                                help_text="Members who may also read the other members' traces.",
                                related_name="reviewed_teams",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "team",
                        "verbose_name_plural": "teams",
                        "db_table": "providers_team",
                        "ordering": ["name"],
                    },
                ),
                migrations.CreateModel(
                    name="DailyUsage",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        ("day", models.DateField(help_text="UTC")),
                        ("model", models.CharField(max_length=300)),
                        ("prompt_tokens", models.PositiveBigIntegerField(default=0)),
                        ("completion_tokens", models.PositiveBigIntegerField(default=0)),
                        ("reasoning_tokens", models.PositiveBigIntegerField(default=0)),
                        ("total_tokens", models.PositiveBigIntegerField(default=0)),
                        ("turns", models.PositiveIntegerField(default=0)),
                        (
                            "user",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="daily_usage",
                                to=settings.AUTH_USER_MODEL,
                            ),
                        ),
                        (
                            "team",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="daily_usage",
                                to="accounts.team",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "daily usage",
                        "verbose_name_plural": "daily usage",
                        "db_table": "providers_dailyusage",
                        "ordering": ["-day", "user_id", "model"],
                    },
                ),
                migrations.CreateModel(
                    name="AuditEntry",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True,
                                primary_key=True,
                                serialize=False,
                                verbose_name="ID",
                            ),
                        ),
                        (
                            "when",
                            models.DateTimeField(
                                default=django.utils.timezone.now,
                                editable=False,
                                verbose_name="when",
                            ),
                        ),
                        (
                            "actor_name",
                            models.CharField(blank=True, max_length=150, verbose_name="actor name"),
                        ),
                        (
                            "action",
                            models.CharField(
                                choices=[
                                    ("created", "created"),
                                    ("changed", "changed"),
                                    ("deleted", "deleted"),
                                    ("disabled", "disabled"),
                                    ("enabled", "enabled"),
                                    ("tested", "tested"),
                                    ("rotated", "rotated"),
                                    ("invalidated", "invalidated"),
                                ],
                                max_length=16,
                                verbose_name="action",
                            ),
                        ),
                        (
                            "object_kind",
                            models.CharField(
                                choices=[
                                    ("provider", "provider"),
                                    ("key", "API key"),
                                    ("model", "model"),
                                    ("team", "team"),
                                ],
                                max_length=16,
                                verbose_name="object kind",
                            ),
                        ),
                        ("object_id", models.CharField(max_length=64, verbose_name="object id")),
                        ("object_repr", models.CharField(max_length=200, verbose_name="object")),
                        (
                            "detail",
                            models.CharField(blank=True, max_length=500, verbose_name="detail"),
                        ),
                        (
                            "actor",
                            models.ForeignKey(
                                blank=True,
                                null=True,
                                on_delete=django.db.models.deletion.SET_NULL,
                                related_name="+",
                                to=settings.AUTH_USER_MODEL,
                                verbose_name="actor",
                            ),
                        ),
                    ],
                    options={
                        "verbose_name": "audit entry",
                        "verbose_name_plural": "audit log",
                        "db_table": "providers_auditentry",
                        "ordering": ["-when", "-id"],
                        "indexes": [
                            models.Index(fields=["-when", "-id"], name="auditentry_recent"),
                            models.Index(
                                fields=["object_kind", "object_id"], name="auditentry_object"
                            ),
                        ],
                    },
                ),
                migrations.AddConstraint(
                    model_name="team",
                    constraint=models.UniqueConstraint(fields=("name",), name="team_unique_name"),
                ),
                migrations.AddIndex(
                    model_name="dailyusage",
                    index=models.Index(fields=["day", "user"], name="dailyusage_day_user"),
                ),
                migrations.AddConstraint(
                    model_name="dailyusage",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("team__isnull", False)),
                        fields=("day", "user", "team", "model"),
                        name="dailyusage_unique_team",
                    ),
                ),
                migrations.AddConstraint(
                    model_name="dailyusage",
                    constraint=models.UniqueConstraint(
                        condition=models.Q(("team__isnull", True)),
                        fields=("day", "user", "model"),
                        name="dailyusage_unique_no_team",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(rename_content_types, restore_content_types),
    ]
