"""Providers, their keys (write-only, shown masked) and their models."""

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest

from providers.models import ApiKey, ChatModel, Effort, Provider, ThinkingMode


class ApiKeyForm(forms.ModelForm):  # type: ignore[type-arg]
    # Write-only: the stored secret is never rendered back, not even encrypted.
    secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Paste a new key to set or replace it; leave empty to keep the current one.",
    )

    class Meta:
        model = ApiKey
        fields = ("label", "secret", "enabled")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.instance.pk and not data.get("secret"):
            self.add_error("secret", "A new key needs its secret.")
        return data

    def save(self, commit: bool = True) -> ApiKey:
        key: ApiKey = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            key.set_secret(self.cleaned_data["secret"])
        if commit:
            key.save()
        return key


class ApiKeyInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ApiKey
    form = ApiKeyForm
    extra = 0
    fields = ("label", "masked", "secret", "enabled", "created")
    readonly_fields = ("masked", "created")

    @admin.display(description="Key")
    def masked(self, obj: ApiKey) -> str:
        return f"••••{obj.last_four}" if obj.pk else "—"


class ChatModelForm(forms.ModelForm):  # type: ignore[type-arg]
    thinking_modes = forms.MultipleChoiceField(
        choices=ThinkingMode.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Modes the model accepts; none: the thinking parameter is never sent.",
    )
    efforts = forms.MultipleChoiceField(
        choices=Effort.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Efforts the model accepts (DeepSeek V4: high, max; Ark: minimal to high).",
    )

    class Meta:
        model = ChatModel
        fields = (
            "provider",
            "model_id",
            "display_name",
            "thinking_modes",
            "default_thinking",
            "efforts",
            "default_effort",
            "max_output_tokens",
            "max_output_tokens_limit",
            "enabled",
        )


class ChatModelInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ChatModel
    form = ChatModelForm
    extra = 0
    fields = ("model_id", "display_name", "enabled")
    show_change_link = True


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "style", "base_url", "enabled", "key")
    list_filter = ("style", "enabled")
    search_fields = ("name", "base_url")
    inlines = [ApiKeyInline, ChatModelInline]

    @admin.display(description="Active key")
    def key(self, obj: Provider) -> str:
        key = obj.active_key()
        return f"••••{key.last_four}" if key else "none"


@admin.register(ChatModel)
class ChatModelAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ChatModelForm
    list_display = ("model_id", "display_name", "provider", "enabled")
    list_filter = ("provider", "enabled")
    search_fields = ("model_id", "display_name")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("provider")


# Teams and usage have admin modules of their own.
from providers import team_admin, usage_admin  # noqa: E402, F401
