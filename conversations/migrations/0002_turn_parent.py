import django.db.models.deletion
from django.db import migrations, models


def link_in_order(apps, schema_editor):
    """Conversations stored before branching are one path: each turn follows the
    turn before it."""
    Turn = apps.get_model("conversations", "Turn")
    previous: dict = {}
    rows = Turn.objects.order_by("conversation_id", "index").values_list("id", "conversation_id")
    for turn_id, conversation_id in rows.iterator():
        parent = previous.get(conversation_id)
        if parent is not None:
            Turn.objects.filter(id=turn_id).update(parent_id=parent)
        previous[conversation_id] = turn_id


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="turn",
            name="parent",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="children",
                to="conversations.turn",
            ),
        ),
        migrations.RunPython(link_in_order, migrations.RunPython.noop),
    ]
