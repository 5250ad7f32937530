"""The add-provider page's preset choice, followed by what each preset fills in.

Every preset's preview is rendered here, in the reader's language, hidden;
static/admin/js/preset-preview.js shows the one picked (no inline script: the CSP),
so the admin sees the style, base URL and models before anything is saved.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext

from providers import presets
from providers.models import ApiStyle, Provider


def _models(preset: presets.Preset) -> str:
    if not preset.models:
        return gettext("none: add them, or use “Import models” once it is saved")
    return ", ".join(
        f"{m.display_name} ({m.model_id})" if m.display_name else m.model_id for m in preset.models
    )


def _label(field: str) -> str:
    """The form's own label of a provider field, so the preview says it the same way."""
    return capfirst(str(getattr(Provider._meta.get_field(field), "verbose_name", field)))


def _rows(preset: presets.Preset) -> list[tuple[str, str]]:
    base_url = preset.base_url or gettext("none: give the server's base URL")
    return [
        (_label("name"), gettext("%(name)s, if left empty") % {"name": preset.name}),
        (_label("style"), str(ApiStyle(preset.style).label)),
        (_label("base_url"), base_url),
        (gettext("Models"), _models(preset)),
    ]


class PresetSelect(forms.Select):
    class Media:
        js = ("admin/js/preset-preview.js",)

    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        select = super().render(name, value, attrs, renderer)
        blocks = format_html_join(
            "",
            '<div data-preset="{}" hidden><p>{}</p><dl>{}</dl></div>',
            (
                (
                    preset.name,
                    gettext("Saving with the %(preset)s preset fills in:")
                    % {"preset": preset.name},
                    format_html_join("", "<dt>{}</dt><dd>{}</dd>", _rows(preset)),
                )
                for preset in presets.PRESETS.values()
            ),
        )
        return format_html(
            '{}<div id="preset-preview" class="preset-preview" aria-live="polite" hidden>{}</div>',
            select,
            blocks,
        )
