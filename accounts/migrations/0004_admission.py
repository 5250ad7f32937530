"""Admission of turns: a reservation per running turn."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_oidc"),
    ]

    operations: list[migrations.operations.base.Operation] = []
