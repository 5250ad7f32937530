"""Indexes for the trace list's signal orders (conversations/review/sorting.py)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0007_conversation_system_prompt"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="tracesignals",
            index=models.Index(fields=["reasoning_chars", "turn"], name="signals_sort_reasoning"),
        ),
        migrations.AddIndex(
            model_name="tracesignals",
            index=models.Index(
                condition=models.Q(("thinking_ms__isnull", False)),
                fields=["thinking_ms", "turn"],
                name="signals_sort_thinking",
            ),
        ),
        migrations.AddIndex(
            model_name="tracesignals",
            index=models.Index(
                condition=models.Q(("ratio__isnull", False)),
                fields=["ratio", "turn"],
                name="signals_sort_ratio",
            ),
        ),
    ]
