"""Everyone's API tokens, for superusers: list them (name, owner, the masked secret,
last used) and revoke them. Nobody adds or edits a token here: a token is made by its
owner (/settings/tokens/) or by `add_api_token`, the only places its secret is shown.
Revoking is in the audit log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts.admin.audited import ReadOnlyAdmin
from accounts.tokens import ApiToken, revoke


class TokenState(admin.SimpleListFilter):
    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("active", _("active")), ("revoked", _("revoked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> QuerySet[ApiToken]:
        if self.value() == "active":
            return queryset.active()  # type: ignore[attr-defined,no-any-return]
        if self.value() == "revoked":
            return queryset.filter(revoked__isnull=False)
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "user", "masked", "created", "last_used", "expires", "revoked")
    list_filter = (TokenState, "created", "last_used")
    list_select_related = ("user",)
    search_fields = ("name", "user__username", "prefix")
    readonly_fields = list_display
    fields = list_display
    actions = ("revoke_selected",)
    show_full_result_count = False

    @admin.display(description=_("token"))
    def masked(self, token: ApiToken) -> str:
        return token.masked

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    @admin.action(description=_("Revoke selected tokens"), permissions=["revoke"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        done = 0
        for token in queryset.filter(revoked__isnull=True).select_related("user"):
            if revoke(token, actor=request.user, via="admin"):
                done += 1
        self.message_user(
            request,
            ngettext("%(count)d token revoked.", "%(count)d tokens revoked.", done)
            % {"count": done},
            messages.SUCCESS,
        )
