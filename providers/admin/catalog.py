"""The admin of providers, their keys (write-only, shown masked) and their models."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from accounts.admin.audited import AuditedAdmin
from providers.admin import connection as connection_admin
from providers.admin import presets as preset_admin
from providers.keys import set_enabled
from providers.models import ApiKey, ChatModel, Effort, Provider, ThinkingMode


class ApiKeyForm(forms.ModelForm):  # type: ignore[type-arg]
    # Write-only: the stored secret is never rendered back, not even encrypted.
    secret = forms.CharField(
        label=_("Secret"),
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text=_("Paste a new key to set or replace it; leave empty to keep the current one."),
    )

    class Meta:
        model = ApiKey
        fields = ("provider", "label", "secret", "priority", "enabled")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "priority" in self.fields:  # left empty: the default, tried in the order added
            self.fields["priority"].required = False

    def clean_priority(self) -> int:
        priority = self.cleaned_data.get("priority")
        return 0 if priority is None else int(priority)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.instance.pk and not data.get("secret"):
            self.add_error("secret", gettext("A new key needs its secret."))
        # The form may not carry the provider (an inline, or a key being changed):
        # the label's uniqueness is checked here rather than left to the database.
        provider_id = getattr(data.get("provider"), "pk", None) or self.instance.provider_id
        label = data.get("label")
        if provider_id and label:
            taken = ApiKey.objects.filter(provider_id=provider_id, label=label)
            if self.instance.pk:
                taken = taken.exclude(pk=self.instance.pk)
            if taken.exists():
                self.add_error("label", gettext("This provider already has a key with this label."))
        return data

    def save(self, commit: bool = True) -> ApiKey:
        key: ApiKey = super().save(commit=False)
        if self.cleaned_data.get("secret"):
            key.set_secret(self.cleaned_data["secret"])
            # A new secret: the old one's failures are no longer this key's.
            key.last_failed, key.failure_reason = None, ""
        if commit:
            key.save()
        return key


def _masked(obj: ApiKey) -> str:
    return obj.masked if obj.pk else "—"


class ApiKeyInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ApiKey
    form = ApiKeyForm
    extra = 0
    fields = (
        "label",
        "masked",
        "secret",
        "priority",
        "enabled",
        "last_used",
        "last_failed",
        "failure_reason",
    )
    readonly_fields = ("masked", "last_used", "last_failed", "failure_reason")
    ordering = ApiKey.TRY_ORDER

    @admin.display(description=_("Key"))
    def masked(self, obj: ApiKey) -> str:
        return _masked(obj)


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = ApiKeyForm
    list_display = (
        "label",
        "provider",
        "masked",
        "enabled",
        "priority",
        "last_used",
        "last_failed",
        "failure_reason",
    )
    list_filter = ("enabled", "provider", "last_failed", "last_used")
    search_fields = ("label", "provider__name", "failure_reason")
    list_select_related = ("provider",)
    ordering = ("provider__name", *ApiKey.TRY_ORDER)
    readonly_fields = ("masked", "created", "last_used", "last_failed", "failure_reason")
    actions = ("disable_keys", "enable_keys")

    def get_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        fields = ["provider", "label", "masked", "secret", "priority", "enabled"]
        if obj is not None:
            fields += ["created", "last_used", "last_failed", "failure_reason"]
        return fields

    def get_readonly_fields(self, request: HttpRequest, obj: ApiKey | None = None) -> Any:
        # A key belongs to the provider it was made for.
        extra = ("provider",) if obj is not None else ()
        return (*self.readonly_fields, *extra)

    @admin.display(description=_("Key"))
    def masked(self, obj: ApiKey) -> str:
        return _masked(obj)

    @admin.action(description=_("Disable selected keys"), permissions=["change"])
    def disable_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        changed = set_enabled(queryset, False, request.user)
        self.message_user(
            request,
            ngettext("%(count)d key disabled.", "%(count)d keys disabled.", changed)
            % {"count": changed},
            messages.SUCCESS,
        )

    @admin.action(description=_("Enable selected keys"), permissions=["change"])
    def enable_keys(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        changed = set_enabled(queryset, True, request.user)
        self.message_user(
            request,
            ngettext("%(count)d key enabled.", "%(count)d keys enabled.", changed)
            % {"count": changed},
            messages.SUCCESS,
        )


class ChatModelForm(forms.ModelForm):  # type: ignore[type-arg]
    thinking_modes = forms.MultipleChoiceField(
        label=_("Thinking modes"),
        choices=ThinkingMode.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("Modes the model accepts; none: the thinking parameter is never sent."),
    )
    efforts = forms.MultipleChoiceField(
        label=_("Reasoning efforts"),
        choices=Effort.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_(
            "Efforts the model accepts (DeepSeek V4: low, high, max; Ark: minimal to high)."
        ),
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
            "no_system_prompt",
            "think_prefix",
            "enabled",
        )


class ChatModelInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ChatModel
    form = ChatModelForm
    extra = 0
    fields = ("model_id", "display_name", "no_system_prompt", "think_prefix", "enabled")
    show_change_link = True


@admin.register(Provider)
class ProviderAdmin(AuditedAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("name", "style", "base_url", "enabled", "key")
    list_filter = ("style", "enabled")
    search_fields = ("name", "base_url")
    inlines = [ApiKeyInline, ChatModelInline]
    actions = ("test_connection", "import_models")
    # Adding: "start from preset" (providers/admin/presets.py); changing: every field.
    add_form = preset_admin.ProviderAddForm

    # Testing sends the keys to the base URL and writes audit entries: an editor's act.
    @admin.action(description=_("Test connection"), permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        connection_admin.test_connection(self, request, queryset)

    @admin.action(description=_("Import models"), permissions=["import_models"])
    def import_models(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        preset_admin.import_models(self, request, queryset)

    def has_import_models_permission(self, request: HttpRequest) -> bool:
        return preset_admin.may_import_models(request) and self.has_change_permission(request)

    def get_form(
        self, request: HttpRequest, obj: Any | None = None, change: bool = False, **kwargs: Any
    ) -> Any:
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, change, **kwargs)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        if not change:
            preset_admin.add_preset_models(form, request.user)

    @admin.display(description=_("Keys"))
    def key(self, obj: Provider) -> str:
        enabled = getattr(obj, "enabled_key_count", None)
        total = getattr(obj, "key_count", None)
        if enabled is None or total is None:
            enabled = obj.api_keys.filter(enabled=True).count()
            total = obj.api_keys.count()
        return gettext("%(enabled)d of %(total)d enabled") % {"enabled": enabled, "total": total}

    def get_queryset(self, request: HttpRequest) -> Any:
        # The key counts of the list in the list's query (no query per row).
        return (
            super()
            .get_queryset(request)
            .annotate(
                key_count=Count("api_keys", distinct=True),
                enabled_key_count=Count(
                    "api_keys", filter=Q(api_keys__enabled=True), distinct=True
                ),
            )
        )


@admin.register(ChatModel)
class ChatModelAdmin(AuditedAdmin, admin.ModelAdmin):  # type: ignore[type-arg]
    form = ChatModelForm
    list_display = (
        "model_id",
        "display_name",
        "provider",
        "no_system_prompt",
        "think_prefix",
        "enabled",
    )
    list_filter = ("provider", "enabled", "no_system_prompt", "think_prefix")
    search_fields = ("model_id", "display_name")

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).select_related("provider")
