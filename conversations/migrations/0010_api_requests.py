"""Requests to the OpenAI-compatible API: their conversations' source, and on their
turns the token's name and the messages sent upstream."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0009_turn_search_vectors"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="source",
            field=models.CharField(
                choices=[("chat", "chat"), ("api", "API")],
                default="chat",
                max_length=8,
                verbose_name="source",
            ),
        ),
        migrations.AddField(
            model_name="turn",
            name="api_token",
            field=models.CharField(blank=True, max_length=100, verbose_name="API token"),
        ),
        migrations.AddField(
            model_name="turn",
            name="request_messages",
            field=models.JSONField(blank=True, null=True),
        ),
    ]
