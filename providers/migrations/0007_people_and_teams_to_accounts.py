"""Teams, daily usage and the audit log move to `accounts/`: the models leave this
app's state, their tables stay where they are (accounts/migrations/0001 takes them
over under the same names), so an existing install keeps every row."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("providers", "0006_chatmodel_hints"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name="dailyusage",
                    name="team",
                ),
                migrations.RemoveField(
                    model_name="dailyusage",
                    name="user",
                ),
                migrations.RemoveField(
                    model_name="team",
                    name="members",
                ),
                migrations.RemoveField(
                    model_name="team",
                    name="models",
                ),
                migrations.RemoveField(
                    model_name="team",
                    name="reviewers",
                ),
                migrations.DeleteModel(
                    name="AuditEntry",
                ),
                migrations.DeleteModel(
                    name="DailyUsage",
                ),
                migrations.DeleteModel(
                    name="Team",
                ),
            ],
            database_operations=[],
        ),
    ]
