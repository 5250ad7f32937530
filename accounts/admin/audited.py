"""The audit log in the admin: written by `AuditedAdmin`, read (never edited) by staff."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.forms import BaseModelFormSet, ModelForm
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.audit import AuditEntry, record, record_change


def _deleted_detail(obj: Model) -> str:
    """What goes with a deleted provider (its keys and models are deleted too)."""
    from providers.models import Provider

    if isinstance(obj, Provider) and obj.pk:
        keys, models = obj.api_keys.count(), obj.models.count()
        return f"with {keys} key(s) and {models} model(s)"
    return ""


class ReadOnlyAdmin:
    """Rows the admin shows and nobody adds, changes or deletes there, superusers
    included: they are written by the code that records them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditedAdmin:
    """A ModelAdmin mixin: every save and delete made in it (its inlines' too) is
    recorded, with the names of the changed fields (form.changed_data).

    Must come before admin.ModelAdmin in the bases. The admin wraps each save in a
    transaction, so an entry is kept exactly when the change is."""

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm, change: bool) -> None:  # type: ignore[type-arg]
        super().save_model(request, obj, form, change)  # type: ignore[misc]
        if change:
            record_change(request.user, obj, list(form.changed_data))
        else:
            record(request.user, AuditEntry.Action.CREATED, obj)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        record(request.user, AuditEntry.Action.DELETED, obj, _deleted_detail(obj))
        super().delete_model(request, obj)  # type: ignore[misc]

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            record(request.user, AuditEntry.Action.DELETED, obj, _deleted_detail(obj))
        super().delete_queryset(request, queryset)  # type: ignore[misc]

    def save_formset(
        self,
        request: HttpRequest,
        form: ModelForm,  # type: ignore[type-arg]
        formset: BaseModelFormSet,  # type: ignore[type-arg]
        change: bool,
    ) -> None:
        # Recorded before the delete: afterwards the objects have lost their ids.
        for deleted in formset.deleted_forms:
            if deleted.instance.pk is not None:
                record(request.user, AuditEntry.Action.DELETED, deleted.instance)
        super().save_formset(request, form, formset, change)  # type: ignore[misc]
        for obj in formset.new_objects:
            record(request.user, AuditEntry.Action.CREATED, obj)
        for obj, changed in formset.changed_objects:
            record_change(request.user, obj, list(changed))


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("when", "who", "action", "object_kind", "object_repr", "detail")
    list_filter = ("action", "object_kind", "when")
    search_fields = ("object_repr", "detail", "actor_name")
    fields = (
        "when",
        "who",
        "action",
        "object_kind",
        "object_id",
        "object_repr",
        "detail",
    )
    readonly_fields = fields
    show_full_result_count = False  # the log grows without end: no COUNT(*) of it all

    @admin.display(description=_("actor"), ordering="actor_name")
    def who(self, entry: AuditEntry) -> str:
        return entry.actor_name or gettext("— (command or system)")

    # Read-only for everyone, superusers included (ReadOnlyAdmin); readable by all staff.

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_active and request.user.is_staff)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_staff)
