"""Personal API tokens."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
    ]

    operations: list[migrations.operations.base.Operation] = []
