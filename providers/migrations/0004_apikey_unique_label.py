# A key's label is unique within its provider (0003 gave every key one).
# Apart from 0003: on PostgreSQL a constraint cannot be added in the transaction
# that updated the table's rows.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0003_apikey_failover"),
    ]

    operations = [
        migrations.AlterField(
            model_name="apikey",
            name="label",
            field=models.CharField(
                help_text="A name for this key, unique within the provider (e.g. the "
                "account it is from).",
                max_length=100,
                verbose_name="label",
            ),
        ),
        migrations.AddConstraint(
            model_name="apikey",
            constraint=models.UniqueConstraint(
                fields=("provider", "label"), name="apikey_unique_label"
            ),
        ),
    ]
