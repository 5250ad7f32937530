"""The provider admin's presets: the "start from preset" add form and "Import models".

`ProviderAdmin` (providers/admin.py) uses `ProviderAddForm` to add a provider and
`add_preset_models` after saving it; its "Import models" action calls `import_models`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.audit import AuditEntry, record
from providers import model_import, presets
from providers.admin.preset_preview import PresetSelect
from providers.models import ChatModel, Provider


def _preset_choices() -> list[tuple[str, str]]:
    choices = [("", gettext("None: fill in every field by hand"))]
    choices += [(p.name, f"{p.name} — {p.description}") for p in presets.PRESETS.values()]
    return choices


class ProviderAddForm(forms.ModelForm):  # type: ignore[type-arg]
    """Adding a provider: a preset fills in the fields left empty (the name, the
    style, the base URL) and, on save, its models. Nothing refers to the preset
    afterwards: every field stays editable."""

    preset = forms.ChoiceField(
        label=_("Start from preset"),
        choices=_preset_choices,
        required=False,
        widget=PresetSelect,
        help_text=_(
            "Fills in the style, the base URL and the models of that provider. Leave the "
            "name empty to name the provider after the preset. Everything stays editable."
        ),
    )

    class Meta:
        model = Provider
        fields = ("preset", "name", "style", "base_url", "enabled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # A preset can give these; without one clean() requires them.
        self.fields["name"].required = False
        self.fields["style"].required = False

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        preset = presets.PRESETS.get(data.get("preset") or "")
        if preset is not None:
            data["name"] = data.get("name") or preset.name
            data["style"] = data.get("style") or preset.style
            if not data.get("base_url") and "base_url" not in self.errors:
                if preset.base_url:
                    data["base_url"] = preset.base_url
                else:
                    self.add_error(
                        "base_url",
                        gettext(
                            "The %(preset)s preset has no fixed address: give the server's "
                            "base URL."
                        )
                        % {"preset": preset.name},
                    )
        for name in ("name", "style"):
            if not data.get(name) and name not in self.errors:
                self.add_error(name, forms.Field.default_error_messages["required"])
        return data


def add_preset_models(form: forms.ModelForm, actor: Any = None) -> list[str]:  # type: ignore[type-arg]
    """After an add form with a preset is saved (inlines included): its models the
    provider does not have yet, each in the audit log. Returns the ids added."""
    preset = presets.PRESETS.get(form.cleaned_data.get("preset") or "")
    if preset is None:
        return []
    added = presets.add_models(form.instance, preset.models)
    for model in ChatModel.objects.filter(provider=form.instance, model_id__in=added):
        record(actor, AuditEntry.Action.CREATED, model, f"Start from preset {preset.name}")
    return added


def _report(result: model_import.ImportResult, provider: Provider) -> str:
    count = len(result.added)
    values = {"provider": provider.name, "count": count, "models": ", ".join(result.added)}
    if result.source == "provider":
        if not count:
            return (
                gettext("%(provider)s: no new models; every model it lists is there already.")
                % values
            )
        return (
            ngettext(
                "%(provider)s: %(count)d model added from the provider's list: %(models)s.",
                "%(provider)s: %(count)d models added from the provider's list: %(models)s.",
                count,
            )
            % values
        )
    said = ""
    if result.failure:
        said = " " + gettext("Its own list could not be read (%(reason)s).") % {
            "reason": result.failure
        }
    if result.source == "preset":
        if not count:
            return (
                gettext("%(provider)s: no new models; the preset's are there already.") % values
                + said
            )
        return (
            ngettext(
                "%(provider)s: %(count)d model added from the preset: %(models)s.",
                "%(provider)s: %(count)d models added from the preset: %(models)s.",
                count,
            )
            % values
            + said
        )
    return gettext("%(provider)s: nothing to import.") % values + said


def may_import_models(request: HttpRequest) -> bool:
    """Importing adds models: the add permission on models, beside the provider's change."""
    opts = ChatModel._meta
    return request.user.has_perm(f"{opts.app_label}.{get_permission_codename('add', opts)}")


def import_models(
    modeladmin: admin.ModelAdmin,  # type: ignore[type-arg]
    request: HttpRequest,
    queryset: QuerySet[Provider],
) -> None:
    for provider in queryset:
        result = model_import.import_models(provider, request.user)
        level = messages.SUCCESS if result.added else messages.WARNING
        if result.source == "provider" and not result.added:
            level = messages.INFO
        modeladmin.message_user(request, _report(result, provider), level)
