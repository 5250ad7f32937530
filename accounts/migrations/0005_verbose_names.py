"""The admin in both languages: translated names of models and fields (verbose
names, help texts, choices); nothing in the database changes."""

import django.core.validators
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_admission"),
        ("providers", "0008_verbose_names"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="auditentry",
            options={
                "ordering": ["-when", "-id"],
                "verbose_name": "audit entry",
                "verbose_name_plural": "audit log entries",
            },
        ),
        migrations.AlterModelOptions(
            name="reservation",
            options={
                "verbose_name": "quota reservation",
                "verbose_name_plural": "quota reservations",
            },
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="secret_hash",
            field=models.CharField(
                editable=False, max_length=64, unique=True, verbose_name="secret hash"
            ),
        ),
        migrations.AlterField(
            model_name="dailyusage",
            name="completion_tokens",
            field=models.PositiveBigIntegerField(default=0, verbose_name="completion tokens"),
        ),
        migrations.AlterField(
            model_name="dailyusage",
            name="day",
            field=models.DateField(help_text="Days run from 00:00 UTC.", verbose_name="day"),
        ),
        migrations.AlterField(
            model_name="dailyusage",
            name="model",
            field=models.CharField(max_length=300, verbose_name="model"),
        ),
        migrations.AlterField(
            model_name="dailyusage",
            name="prompt_tokens",
            field=models.PositiveBigIntegerField(default=0, verbose_name="prompt tokens"),
        ),
        migrations.AlterField(
            model_name="dailyusage",
            name="reasoning_tokens",
            field=models.PositiveBigIntegerField(default=0, verbose_name="reasoning tokens"),
        ),
        migrations.AlterField(
            model_name="dailyusage",
            name="team",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="daily_usage",
                to="accounts.team",
                verbose_name="team",
            ),
        ),
        migrations.AlterField(
            model_name="dailyusage",
            name="total_tokens",
            field=models.PositiveBigIntegerField(default=0, verbose_name="total tokens"),
        ),
        migrations.AlterField(
            model_name="dailyusage",
            name="turns",
            field=models.PositiveIntegerField(default=0, verbose_name="turns"),
        ),
        migrations.AlterField(
            model_name="dailyusage",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="daily_usage",
                to=settings.AUTH_USER_MODEL,
                verbose_name="person",
            ),
        ),
        migrations.AlterField(
            model_name="oidcidentity",
            name="created",
            field=models.DateTimeField(auto_now_add=True, verbose_name="created"),
        ),
        migrations.AlterField(
            model_name="reservation",
            name="created",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="created"),
        ),
        migrations.AlterField(
            model_name="reservation",
            name="tokens",
            field=models.PositiveIntegerField(verbose_name="tokens held"),
        ),
        migrations.AlterField(
            model_name="reservation",
            name="turn_id",
            field=models.UUIDField(primary_key=True, serialize=False, verbose_name="turn"),
        ),
        migrations.AlterField(
            model_name="reservation",
            name="user",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="person",
            ),
        ),
        migrations.AlterField(
            model_name="team",
            name="created",
            field=models.DateTimeField(auto_now_add=True, verbose_name="created"),
        ),
        migrations.AlterField(
            model_name="team",
            name="daily_token_quota",
            field=models.PositiveBigIntegerField(
                blank=True,
                help_text="Total tokens (reasoning included) of all members' turns, on any model, per day from 00:00 UTC. Empty: unlimited; 0: no turns.",
                null=True,
                verbose_name="daily token quota",
            ),
        ),
        migrations.AlterField(
            model_name="team",
            name="members",
            field=models.ManyToManyField(
                blank=True,
                related_name="teams",
                to=settings.AUTH_USER_MODEL,
                verbose_name="members",
            ),
        ),
        migrations.AlterField(
            model_name="team",
            name="models",
            field=models.ManyToManyField(
                blank=True,
                help_text="A model given to no team is open to every signed-in user; a model given to teams, only to their members.",
                related_name="teams",
                to="providers.chatmodel",
                verbose_name="models",
            ),
        ),
        migrations.AlterField(
            model_name="team",
            name="name",
            field=models.CharField(max_length=100, verbose_name="name"),
        ),
        migrations.AlterField(
            model_name="team",
            name="reasoning_retention_days",
            field=models.PositiveIntegerField(
                blank=True,
                help_text="Erase the reasoning of members' turns older than this (the answer is kept). Empty: keep it.",
                null=True,
                validators=[django.core.validators.MinValueValidator(1)],
                verbose_name="reasoning retention days",
            ),
        ),
        migrations.AlterField(
            model_name="team",
            name="reviewers",
            field=models.ManyToManyField(
                blank=True,
                help_text="Members who may also read the other members' traces.",
                related_name="reviewed_teams",
                to=settings.AUTH_USER_MODEL,
                verbose_name="reviewers",
            ),
        ),
    ]
