"""The admin of teams: members, reviewers (who must be members), models, quota.

A team with an IdP group takes its members from company sign-ins (accounts/oidc/
sync.py): they are shown, not edited, here; setting the group recomputes them."""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import Count, IntegerField, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.admin.audited import AuditedAdmin
from accounts.oidc.sync import sync_team
from accounts.teams import Team
from accounts.usage import DailyUsage


class TeamForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Team
        fields = (
            "name",
            "idp_group",
            "members",
            "reviewers",
            "models",
            "daily_token_quota",
            "reasoning_retention_days",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "members" in self.fields:
            members = set(data.get("members") or ())
            if data.get("idp_group") and "members" in self.changed_data:
                self.add_error(
                    "members",
                    gettext(
                        "This team follows an IdP group: its members come from company "
                        "sign-ins. Leave them as they are."
                    ),
                )
        else:  # read-only: the team follows an IdP group
            members = set(self.instance.members.all()) if self.instance.pk else set()
        outside = [u for u in data.get("reviewers") or () if u not in members]
        if outside:
            names = ", ".join(sorted(u.get_username() for u in outside))
            self.add_error(
                "reviewers",
                gettext("Reviewers must also be members: add %(names)s to the members.")
                % {"names": names},
            )
        return data


def _count(through: Any, column: str = "team_id") -> Subquery:
    rows = (
        through.objects.filter(**{column: OuterRef("pk")})
        .values(column)
        .annotate(n=Count("*"))
        .values("n")
    )
    return Subquery(rows, output_field=IntegerField())


def _used_today() -> Subquery:
    today = timezone.now().astimezone(UTC).date()
    members = Team.members.through.objects.filter(team_id=OuterRef(OuterRef("pk")))
    rows = (
        DailyUsage.objects.filter(day=today, user_id__in=members.values("user_id"))
        .values("day")
        .annotate(n=Sum("total_tokens"))
        .values("n")
    )
    return Subquery(rows, output_field=IntegerField())


@admin.register(Team)
class TeamAdmin(AuditedAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = TeamForm
    list_display = (
        "name",
        "idp_managed",
        "member_count",
        "model_count",
        "quota",
        "used_today",
        "reasoning_retention_days",
    )
    list_filter = ("models",)
    search_fields = ("name", "members__username")
    filter_horizontal = ("members", "reviewers", "models")
    readonly_fields = ("created", "used_today")
    fieldsets = (
        (None, {"fields": ("name", "created")}),
        (_("People"), {"fields": ("idp_group", "members", "reviewers")}),
        (_("Models"), {"fields": ("models",)}),
        (
            _("Limits"),
            {"fields": ("daily_token_quota", "used_today", "reasoning_retention_days")},
        ),
    )

    def get_queryset(self, request: HttpRequest) -> Any:
        return (
            super()
            .get_queryset(request)
            .annotate(
                n_members=Coalesce(_count(Team.members.through), 0),
                n_models=Coalesce(_count(Team.models.through), 0),
                used=Coalesce(_used_today(), 0),
            )
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and obj.idp_group:
            return (*fields, "members")  # from company sign-ins, never by hand
        return fields

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if form.instance.idp_group and (not change or "idp_group" in form.changed_data):
            sync_team(form.instance, request.user)

    @admin.display(description=_("Members from"), ordering="idp_group")
    def idp_managed(self, team: Team) -> str:
        if team.idp_group:
            return gettext("IdP group %(group)s") % {"group": team.idp_group}
        return gettext("by hand")

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "models":  # labels name the provider: one query, not one a row
            kwargs["queryset"] = db_field.related_model.objects.select_related("provider")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    @admin.display(description=_("Members"), ordering="n_members")
    def member_count(self, team: Team) -> int:
        return int(getattr(team, "n_members", 0))

    @admin.display(description=_("Models"), ordering="n_models")
    def model_count(self, team: Team) -> int:
        return int(getattr(team, "n_models", 0))

    @admin.display(description=_("Daily token quota"), ordering="daily_token_quota")
    def quota(self, team: Team) -> str:
        if team.daily_token_quota is None:
            return gettext("unlimited")
        return number_format(team.daily_token_quota, force_grouping=True)

    @admin.display(description=_("Tokens used today (UTC)"))
    def used_today(self, team: Team) -> str:
        if team.pk is None:
            return "—"
        return number_format(int(getattr(team, "used", 0)), force_grouping=True)
