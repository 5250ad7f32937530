# Several keys per provider: label unique per provider, priority, usage and failure state.

from django.db import migrations, models


def label_every_key(apps, schema_editor):  # type: ignore[no-untyped-def]
    """Give every key a label unique within its provider before the constraint:
    add_provider used to add a key labelled "from $VAR" per new secret, and labels
    could be empty."""
    ApiKey = apps.get_model("providers", "ApiKey")
    seen: set[tuple[int, str]] = set()
    for key in ApiKey.objects.order_by("provider_id", "created", "id"):
        base = (key.label or "").strip() or "key"
        label, n = base, 1
        while (key.provider_id, label) in seen:
            n += 1
            label = f"{base} ({n})"[:100]
        seen.add((key.provider_id, label))
        if label != key.label:
            key.label = label
            key.save(update_fields=["label"])


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0002_teams_and_usage"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="apikey",
            options={
                "ordering": ["provider__name", "priority", "created", "id"],
                "verbose_name": "API key",
                "verbose_name_plural": "API keys",
            },
        ),
        migrations.AddField(
            model_name="apikey",
            name="failure_reason",
            field=models.CharField(
                blank=True, editable=False, max_length=300, verbose_name="failure reason"
            ),
        ),
        migrations.AddField(
            model_name="apikey",
            name="last_failed",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="last failed"
            ),
        ),
        migrations.AddField(
            model_name="apikey",
            name="last_used",
            field=models.DateTimeField(
                blank=True, editable=False, null=True, verbose_name="last used"
            ),
        ),
        migrations.AddField(
            model_name="apikey",
            name="priority",
            field=models.IntegerField(
                default=0,
                help_text="Keys are tried from the lowest priority up; keys of equal "
                "priority in the order they were added.",
                verbose_name="priority",
            ),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="created",
            field=models.DateTimeField(auto_now_add=True, verbose_name="added"),
        ),
        migrations.AlterField(
            model_name="apikey",
            name="enabled",
            field=models.BooleanField(default=True, verbose_name="enabled"),
        ),
        migrations.RunPython(label_every_key, migrations.RunPython.noop),
    ]
