from django.contrib import admin

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
    )
    readonly_fields = fields


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("title", "owner", "updated")
    search_fields = ("title", "owner__username")
    inlines = [TurnInline]
