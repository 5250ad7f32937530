"""The admin in both languages: translated names of models and fields (verbose
names, help texts, choices); nothing in the database changes."""

import uuid

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0011_redaction_parts_status_labels"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="conversation",
            options={"verbose_name": "conversation", "verbose_name_plural": "conversations"},
        ),
        migrations.AlterModelOptions(
            name="reviewtag",
            options={
                "ordering": ["name"],
                "verbose_name": "review tag",
                "verbose_name_plural": "review tags",
            },
        ),
        migrations.AlterModelOptions(
            name="turn",
            options={"ordering": ["index"], "verbose_name": "turn", "verbose_name_plural": "turns"},
        ),
        migrations.AlterField(
            model_name="conversation",
            name="created",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="created"),
        ),
        migrations.AlterField(
            model_name="conversation",
            name="id",
            field=models.UUIDField(
                default=uuid.uuid4,
                editable=False,
                primary_key=True,
                serialize=False,
                verbose_name="ID",
            ),
        ),
        migrations.AlterField(
            model_name="conversation",
            name="owner",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="conversations",
                to=settings.AUTH_USER_MODEL,
                verbose_name="owner",
            ),
        ),
        migrations.AlterField(
            model_name="conversation",
            name="title",
            field=models.CharField(blank=True, max_length=200, verbose_name="title"),
        ),
        migrations.AlterField(
            model_name="conversation",
            name="updated",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="updated"),
        ),
        migrations.AlterField(
            model_name="redaction",
            name="by",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
                verbose_name="redacted by",
            ),
        ),
        migrations.AlterField(
            model_name="redaction",
            name="chars",
            field=models.PositiveIntegerField(
                help_text="Characters removed, all occurrences.", verbose_name="characters"
            ),
        ),
        migrations.AlterField(
            model_name="redaction",
            name="created",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="created"),
        ),
        migrations.AlterField(
            model_name="redaction",
            name="occurrences",
            field=models.PositiveIntegerField(verbose_name="occurrences"),
        ),
        migrations.AlterField(
            model_name="redaction",
            name="part",
            field=models.CharField(
                choices=[
                    ("reasoning", "Reasoning"),
                    ("content", "Answer"),
                    ("user", "Person's message"),
                    ("title", "Conversation title"),
                ],
                max_length=16,
                verbose_name="part",
            ),
        ),
        migrations.AlterField(
            model_name="redaction",
            name="turn",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="redactions",
                to="conversations.turn",
                verbose_name="turn",
            ),
        ),
        migrations.AlterField(
            model_name="review",
            name="created",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="created"),
        ),
        migrations.AlterField(
            model_name="review",
            name="reviewer",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="trace_reviews",
                to=settings.AUTH_USER_MODEL,
                verbose_name="reviewer",
            ),
        ),
        migrations.AlterField(
            model_name="review",
            name="turn",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="reviews",
                to="conversations.turn",
                verbose_name="turn",
            ),
        ),
        migrations.AlterField(
            model_name="review",
            name="updated",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="updated"),
        ),
        migrations.AlterField(
            model_name="reviewtag",
            name="review",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="tags",
                to="conversations.review",
                verbose_name="review",
            ),
        ),
        migrations.AlterField(
            model_name="tracesignals",
            name="computed",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="computed"),
        ),
        migrations.AlterField(
            model_name="tracesignals",
            name="repeat_share",
            field=models.FloatField(default=0, verbose_name="share of repeated text"),
        ),
        migrations.AlterField(
            model_name="tracesignals",
            name="turn",
            field=models.OneToOneField(
                on_delete=django.db.models.deletion.CASCADE,
                primary_key=True,
                related_name="signals",
                serialize=False,
                to="conversations.turn",
                verbose_name="turn",
            ),
        ),
        migrations.AlterField(
            model_name="turn",
            name="bot_usage",
            field=models.JSONField(blank=True, null=True, verbose_name="bot usage"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="content",
            field=models.TextField(blank=True, verbose_name="content"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="conversation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="turns",
                to="conversations.conversation",
                verbose_name="conversation",
            ),
        ),
        migrations.AlterField(
            model_name="turn",
            name="created",
            field=models.DateTimeField(default=django.utils.timezone.now, verbose_name="created"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="error",
            field=models.JSONField(blank=True, null=True, verbose_name="error"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="finished",
            field=models.DateTimeField(blank=True, null=True, verbose_name="finished"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="hints",
            field=models.JSONField(blank=True, default=dict, verbose_name="model hints"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="id",
            field=models.UUIDField(
                default=uuid.uuid4,
                editable=False,
                primary_key=True,
                serialize=False,
                verbose_name="ID",
            ),
        ),
        migrations.AlterField(
            model_name="turn",
            name="index",
            field=models.PositiveIntegerField(verbose_name="index"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="lease_expires",
            field=models.DateTimeField(blank=True, null=True, verbose_name="lease expires"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="model",
            field=models.CharField(blank=True, max_length=300, verbose_name="model"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="options",
            field=models.JSONField(blank=True, default=dict, verbose_name="options"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="children",
                to="conversations.turn",
                verbose_name="previous turn",
            ),
        ),
        migrations.AlterField(
            model_name="turn",
            name="reasoning_content",
            field=models.TextField(blank=True, verbose_name="reasoning"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="references",
            field=models.JSONField(blank=True, null=True, verbose_name="sources"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="request_messages",
            field=models.JSONField(blank=True, null=True, verbose_name="request messages"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="role",
            field=models.CharField(
                choices=[("user", "user"), ("assistant", "assistant")],
                max_length=16,
                verbose_name="role",
            ),
        ),
        migrations.AlterField(
            model_name="turn",
            name="seq",
            field=models.PositiveIntegerField(default=0, verbose_name="event sequence number"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="status",
            field=models.CharField(
                choices=[
                    ("streaming", "streaming"),
                    ("completed", "completed"),
                    ("stopped", "stopped"),
                    ("failed", "failed"),
                    ("incomplete", "incomplete"),
                ],
                max_length=16,
                verbose_name="status",
            ),
        ),
        migrations.AlterField(
            model_name="turn",
            name="system_prompt",
            field=models.TextField(blank=True, verbose_name="system prompt"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="timings",
            field=models.JSONField(blank=True, null=True, verbose_name="timings"),
        ),
        migrations.AlterField(
            model_name="turn",
            name="usage",
            field=models.JSONField(blank=True, null=True, verbose_name="usage"),
        ),
    ]
