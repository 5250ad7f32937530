from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0006_trace_signals"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="system_prompt",
            field=models.TextField(blank=True, verbose_name="system prompt"),
        ),
        migrations.AddField(
            model_name="turn",
            name="system_prompt",
            field=models.TextField(blank=True),
        ),
        migrations.AddField(
            model_name="turn",
            name="hints",
            field=models.JSONField(blank=True, default=dict),
        ),
    ]
