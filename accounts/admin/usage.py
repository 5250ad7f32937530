"""The usage aggregate in the admin: read-only rows, and a 30-day chart page."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext_lazy as _

from accounts.admin.audited import ReadOnlyAdmin
from accounts.admin.usage_chart import DAYS, chart_context
from accounts.usage import DailyUsage


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnlyAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    change_list_template = "admin/accounts/dailyusage/change_list.html"
    list_display = (
        "day",
        "user",
        "team",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "reasoning_tokens",
        "total_tokens",
        "turns",
    )
    list_filter = ("day", "team", "model")
    list_select_related = ("user", "team")
    search_fields = ("user__username", "model")
    date_hierarchy = "day"
    show_full_result_count = False  # no second COUNT(*) over a large table

    # Written only when turns end (conversations.actions.count_usage): ReadOnlyAdmin.

    def get_urls(self) -> list[URLPattern]:
        chart = path(
            "chart/",
            self.admin_site.admin_view(self.chart_view),
            name="accounts_dailyusage_chart",
        )
        return [chart, *super().get_urls()]

    def chart_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Usage per team and model, last %(days)d days") % {"days": DAYS},
            **chart_context(),
        }
        return TemplateResponse(request, "admin/accounts/dailyusage/chart.html", context)
