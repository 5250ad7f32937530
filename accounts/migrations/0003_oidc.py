"""Company sign-in (OpenID Connect): identities and teams that follow the IdP's groups."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_apitoken"),
    ]

    operations: list[migrations.operations.base.Operation] = []
