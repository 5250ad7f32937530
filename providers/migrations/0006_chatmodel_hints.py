from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0005_auditentry"),
    ]

    operations = [
        migrations.AddField(
            model_name="chatmodel",
            name="no_system_prompt",
            field=models.BooleanField(
                default=False,
                help_text="The provider advises against a system prompt for this model "
                "(DeepSeek R1): a conversation's system prompt is sent at the start of its "
                "first message instead.",
                verbose_name="no system prompt",
            ),
        ),
        migrations.AddField(
            model_name="chatmodel",
            name="think_prefix",
            field=models.BooleanField(
                default=False,
                help_text="For R1 models that skip their reasoning: every request ends with a "
                "partial assistant message, the opening think tag and a line break, which the "
                "model continues (a prefill). Only for providers that accept one, such as "
                "Volcengine Ark.",
                verbose_name="start the reasoning with <think>",
            ),
        ),
    ]
