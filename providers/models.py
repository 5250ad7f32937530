from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from providers import crypto


class ApiStyle(models.TextChoices):
    CHAT_COMPLETIONS = "chat-completions", _("Chat completions")
    RESPONSES = "responses", _("Responses")
    DEMO = "demo", _("Offline demo")


class ThinkingMode(models.TextChoices):
    ENABLED = "enabled", _("Enabled")
    DISABLED = "disabled", _("Disabled")
    AUTO = "auto", _("Auto")


class Effort(models.TextChoices):
    MINIMAL = "minimal", _("Minimal")
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")
    MAX = "max", _("Max")


def validate_provider_name(value: str) -> None:
    # A model reference is "<provider name>/<model id>", split on the first "/".
    if "/" in value:
        raise ValidationError(_("A provider name cannot contain '/'."))


class Provider(models.Model):
    name = models.CharField(
        _("name"), max_length=64, unique=True, validators=[validate_provider_name]
    )
    style = models.CharField(_("API style"), max_length=32, choices=ApiStyle.choices)
    base_url = models.URLField(
        _("base URL"),
        max_length=500,
        blank=True,
        help_text=_(
            "Up to the API root, with any /v1, /api/v3 or /v2: requests go to "
            "base URL + /chat/completions or /responses."
        ),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        verbose_name = _("provider")
        verbose_name_plural = _("providers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # An outbound request on an admin's word: http(s) only, to an allowed host.
        if self.base_url:
            from providers.outbound import problem

            error = problem(self.base_url)
            if error is not None:
                raise ValidationError({"base_url": error})

    def enabled_keys(self) -> list[ApiKey]:
        """The keys a turn may use, in the order they are tried: by priority (lower
        first), then in the order they were added."""
        return list(self.api_keys.filter(enabled=True).order_by(*ApiKey.TRY_ORDER))


class ApiKey(models.Model):
    """One secret of a provider. A provider may have several: a turn tries its
    enabled keys in order (conversations/live/runner.py) and moves on when the
    provider refuses or rate-limits one (providers/keys.py keeps their state)."""

    # Lower priority first, then the order the keys were added.
    TRY_ORDER = ("priority", "created", "id")

    provider = models.ForeignKey(
        Provider, verbose_name=_("provider"), on_delete=models.CASCADE, related_name="api_keys"
    )
    label = models.CharField(
        _("label"),
        max_length=100,
        help_text=_(
            "A name for this key, unique within the provider (e.g. the account it is from)."
        ),
    )
    # Fernet token; the plaintext never leaves `secret()`.
    encrypted_secret = models.TextField(_("encrypted secret"), editable=False)
    last_four = models.CharField(_("last four characters"), max_length=4, editable=False)
    priority = models.IntegerField(
        _("priority"),
        default=0,
        help_text=_(
            "Keys are tried from the lowest priority up; keys of equal priority in the "
            "order they were added."
        ),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    created = models.DateTimeField(_("added"), auto_now_add=True)
    last_used = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    last_failed = models.DateTimeField(_("last failed"), null=True, blank=True, editable=False)
    # Plain words, never the secret: "The provider refused this key (HTTP 401) on ...".
    failure_reason = models.CharField(
        _("failure reason"), max_length=300, blank=True, editable=False
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["provider__name", "priority", "created", "id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "label"], name="apikey_unique_label"),
        ]

    def __str__(self) -> str:
        return f"{self.label or 'key'} (…{self.last_four})"

    def __repr__(self) -> str:
        return f"<ApiKey {self.pk} …{self.last_four}>"

    def audit_name(self) -> str:
        """The key in the audit log: its provider, label and last four, never more."""
        provider = self.provider.name if self.provider_id else "?"
        return f"{provider}: {self.label or 'key'} …{self.last_four}"

    @property
    def masked(self) -> str:
        return f"…{self.last_four}"

    def set_secret(self, secret: str) -> None:
        self.encrypted_secret = crypto.encrypt(secret)
        self.last_four = secret[-4:]

    def secret(self) -> str:
        return crypto.decrypt(self.encrypted_secret)


class ChatModel(models.Model):
    provider = models.ForeignKey(
        Provider, verbose_name=_("provider"), on_delete=models.CASCADE, related_name="models"
    )
    model_id = models.CharField(
        _("model ID"), max_length=200, help_text=_("The upstream id, e.g. deepseek-v4-pro")
    )
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    # Which thinking modes / efforts the model accepts; empty: the parameter is never sent.
    thinking_modes = models.JSONField(_("thinking modes"), default=list, blank=True)
    default_thinking = models.CharField(
        _("default thinking mode"), max_length=16, choices=ThinkingMode.choices, blank=True
    )
    efforts = models.JSONField(_("reasoning efforts"), default=list, blank=True)
    default_effort = models.CharField(
        _("default reasoning effort"), max_length=16, choices=Effort.choices, blank=True
    )
    max_output_tokens = models.PositiveIntegerField(
        _("max output tokens"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Sent by default."),
    )
    max_output_tokens_limit = models.PositiveIntegerField(
        _("max output tokens limit"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("Upper bound."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # Hints from the providers' own advice for R1-family models, applied only by the
    # context builder (conversations/context.py).
    no_system_prompt = models.BooleanField(
        _("no system prompt"),
        default=False,
        help_text=_(
            "The provider advises against a system prompt for this model (DeepSeek R1): a "
            "conversation's system prompt is sent at the start of its first message instead."
        ),
    )
    think_prefix = models.BooleanField(
        _("start the reasoning with <think>"),
        default=False,
        help_text=_(
            "For R1 models that skip their reasoning: every request ends with a partial "
            "assistant message, the opening think tag and a line break, which the model "
            "continues (a prefill). Only for providers that accept one, such as Volcengine Ark."
        ),
    )

    class Meta:
        verbose_name = _("model")
        verbose_name_plural = _("models")
        ordering = ["provider__name", "model_id"]
        constraints = [
            # The model reference "<provider>/<model id>" must name exactly one row.
            models.UniqueConstraint(fields=["provider", "model_id"], name="chatmodel_unique_id"),
        ]

    def __str__(self) -> str:
        return self.label

    @property
    def ref(self) -> str:
        return f"{self.provider.name}/{self.model_id}"

    def audit_name(self) -> str:
        return self.ref if self.provider_id else self.model_id

    @property
    def label(self) -> str:
        return self.display_name or self.ref

    def clean(self) -> None:
        bad = [m for m in self.thinking_modes if m not in ThinkingMode.values]
        bad += [e for e in self.efforts if e not in Effort.values]
        if bad:
            raise ValidationError(
                _("Unknown values: %(values)s") % {"values": ", ".join(map(str, bad))}
            )
        if self.default_thinking and self.default_thinking not in self.thinking_modes:
            raise ValidationError({"default_thinking": _("Not one of the model's thinking modes.")})
        if self.default_effort and self.default_effort not in self.efforts:
            raise ValidationError({"default_effort": _("Not one of the model's efforts.")})
        limit, default = self.max_output_tokens_limit, self.max_output_tokens
        if limit and default and default > limit:
            raise ValidationError({"max_output_tokens": _("Above the limit.")})
