from typing import Any

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from conversations.models import Conversation, Turn


class TurnInline(admin.StackedInline):  # type: ignore[type-arg]
    model = Turn
    extra = 0
    can_delete = False
    fields = (
        "index",
        "role",
        "status",
        "model",
        "reasoning_content",
        "content",
        "usage",
        "timings",
        "error",
        "error_detail",
        "key_label",
        "attempts",
    )
    readonly_fields = fields

    @admin.display(description=_("Error detail"))
    def error_detail(self, turn: Turn) -> Any:
        # The provider's or library's own text (keys scrubbed): what the person was
        # spared, and what an admin needs to fix a provider.
        error = turn.error
        return error.get("detail", "") if isinstance(error, dict) else ""


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "owner", "updated")
    search_fields = ("title", "owner__username")
    inlines = [TurnInline]
