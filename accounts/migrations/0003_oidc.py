"""Company sign-in (OpenID Connect): identities and teams that follow the IdP's groups.

The audit log's choices are the whole list as of this migration (0002's token
values included): choices live in the state only, and the last AlterField wins."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_apitoken"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="team",
            name="idp_group",
            field=models.CharField(
                blank=True,
                default="",
                help_text="A group name from the identity provider's groups claim. Set, the members are the people whose latest company sign-in carried it, and nobody edits them by hand. Empty: members are managed here.",
                max_length=200,
                verbose_name="IdP group",
            ),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="action",
            field=models.CharField(
                choices=[
                    ("created", "created"),
                    ("changed", "changed"),
                    ("deleted", "deleted"),
                    ("disabled", "disabled"),
                    ("enabled", "enabled"),
                    ("tested", "tested"),
                    ("rotated", "rotated"),
                    ("invalidated", "invalidated"),
                    ("member_added", "member added"),
                    ("member_removed", "member removed"),
                    ("linked", "linked"),
                    ("revoked", "revoked"),
                ],
                max_length=16,
                verbose_name="action",
            ),
        ),
        migrations.AlterField(
            model_name="auditentry",
            name="object_kind",
            field=models.CharField(
                choices=[
                    ("provider", "provider"),
                    ("key", "API key"),
                    ("model", "model"),
                    ("team", "team"),
                    ("person", "person"),
                    ("token", "API token"),
                ],
                max_length=16,
                verbose_name="object kind",
            ),
        ),
        migrations.CreateModel(
            name="OidcIdentity",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("issuer", models.CharField(max_length=255, verbose_name="issuer")),
                ("subject", models.CharField(max_length=255, verbose_name="subject (sub)")),
                (
                    "groups",
                    models.JSONField(
                        blank=True, default=list, verbose_name="groups at the latest sign-in"
                    ),
                ),
                ("created", models.DateTimeField(auto_now_add=True)),
                (
                    "last_login",
                    models.DateTimeField(blank=True, null=True, verbose_name="latest sign-in"),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="oidc_identities",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="person",
                    ),
                ),
            ],
            options={
                "verbose_name": "company sign-in identity",
                "verbose_name_plural": "company sign-in identities",
                "constraints": [
                    models.UniqueConstraint(
                        fields=("issuer", "subject"), name="oidcidentity_unique_sub"
                    )
                ],
            },
        ),
    ]
