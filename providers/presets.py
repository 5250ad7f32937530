"""Provider presets: what an admin would otherwise look up for each provider.

A preset names an API style, a base URL (empty for servers that live anywhere:
new-api gateways, vLLM) and the models with the thinking modes, efforts and
output limits each accepts. `add_provider --preset` and the admin's "start from
preset" choice copy a preset into ordinary rows: every field stays editable, and
nothing refers back to the preset afterwards (`preset_for` recognises a provider
by its name, or by its style and base URL, for "Import models").

The request rules follow from the model fields: `conversations/plans.py`
(`resolve_options`) sends a thinking mode whenever the model has a default one
(DeepSeek V4: every request carries `thinking`), drops the default effort when
thinking is off and refuses an effort the model does not list; the clients send
no effort with thinking disabled (chat completions) or only `minimal` (responses),
and never `logprobs`, `top_logprobs` or `logit_bias`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

if TYPE_CHECKING:
    from providers.models import Provider

CHAT = "chat-completions"
RESPONSES = "responses"

ARK_BASE = "https://ark.cn-beijing.volces.com/api/v3"


@dataclass(frozen=True)
class PresetModel:
    """The ChatModel fields of one model id."""

    model_id: str
    display_name: str = ""
    thinking_modes: tuple[str, ...] = ()
    default_thinking: str = ""
    efforts: tuple[str, ...] = ()
    default_effort: str = ""
    max_output_tokens: int | None = None
    max_output_tokens_limit: int | None = None
    # The providers' advice for R1-family models (see ChatModel and conversations/context.py).
    no_system_prompt: bool = False
    think_prefix: bool = False

    def fields(self) -> dict[str, Any]:
        """Keyword arguments for a ChatModel (all but provider and model_id)."""
        return {
            "display_name": self.display_name,
            "thinking_modes": list(self.thinking_modes),
            "default_thinking": self.default_thinking,
            "efforts": list(self.efforts),
            "default_effort": self.default_effort,
            "max_output_tokens": self.max_output_tokens,
            "max_output_tokens_limit": self.max_output_tokens_limit,
            "no_system_prompt": self.no_system_prompt,
            "think_prefix": self.think_prefix,
        }


@dataclass(frozen=True)
class Preset:
    name: str
    style: str
    # Up to the API root (requests go to base_url + "/chat/completions" or
    # "/responses"); empty: the admin gives the server's own.
    base_url: str
    description: str | Promise
    models: tuple[PresetModel, ...] = ()
    # Whether GET {base_url}/models lists the models ("Import models" asks it).
    lists_models: bool = False

    @property
    def needs_base_url(self) -> bool:
        return not self.base_url

    def model(self, model_id: str) -> PresetModel | None:
        return next((m for m in self.models if m.model_id == model_id), None)


def _deepseek_v4(model_id: str, display_name: str) -> PresetModel:
    # Thinking on by default; effort "low", "high" or "max", default high (DeepSeek's
    # thinking guide). DeepSeek maps "minimal" to low, "medium" and "xhigh" to high,
    # "ultra" to max: only the three it tells apart are offered. 1M context, up to
    # 384K output.
    return PresetModel(
        model_id,
        display_name,
        thinking_modes=("enabled", "disabled"),
        default_thinking="enabled",
        efforts=("low", "high", "max"),
        default_effort="high",
        max_output_tokens_limit=384_000,
    )


def _r1(
    model_id: str,
    display_name: str,
    default: int | None,
    limit: int | None,
    *,
    think_prefix: bool = False,
) -> PresetModel:
    # R1 always thinks: no thinking parameter, no effort. DeepSeek's advice for the R1
    # family: no system prompt, every instruction in the user prompt. The "<think>\n"
    # prefill only where the provider documents a final assistant message it continues
    # (Ark); DeepSeek's own prefix completion needs its /beta URL and a `prefix` flag.
    return PresetModel(
        model_id,
        display_name,
        max_output_tokens=default,
        max_output_tokens_limit=limit,
        no_system_prompt=True,
        think_prefix=think_prefix,
    )


# Ark's doubao-seed thinking models: thinking enabled / disabled / auto, effort
# minimal to high (minimal is no thinking; with thinking disabled only minimal).
_DOUBAO_SEED = PresetModel(
    "doubao-seed-1-6-251015",
    "Doubao Seed 1.6",
    thinking_modes=("enabled", "disabled", "auto"),
    default_thinking="enabled",
    efforts=("minimal", "low", "medium", "high"),
    default_effort="medium",
    max_output_tokens_limit=32_768,
)

PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        Preset(
            "deepseek",
            CHAT,
            "https://api.deepseek.com",
            _(
                "DeepSeek API: DeepSeek V4.1 Flash, V4 Flash and V4 Pro, thinking on or off, "
                "effort low, high or max"
            ),
            models=(
                # The id DeepSeek's model list names; the older deepseek-v4-flash is
                # still served (by V4.1 Flash), so kept for providers already using it.
                _deepseek_v4("deepseek-flash", "DeepSeek V4.1 Flash"),
                _deepseek_v4("deepseek-v4-flash", "DeepSeek V4 Flash"),
                _deepseek_v4("deepseek-v4-pro", "DeepSeek V4 Pro"),
            ),
            lists_models=True,
        ),
        Preset(
            "ark",
            CHAT,
            ARK_BASE,
            _("Volcengine Ark, chat completions: DeepSeek R1 and doubao-seed thinking models"),
            models=(
                # Answer 4K tokens by default, 16K at most; the chain of thought up to 32K.
                _r1("deepseek-r1-250528", "DeepSeek R1 (Ark)", 4096, 16_384, think_prefix=True),
                _DOUBAO_SEED,
            ),
        ),
        Preset(
            "ark-responses",
            RESPONSES,
            ARK_BASE,
            _("Volcengine Ark, Responses API: thinking and reasoning effort (minimal to high)"),
            models=(_DOUBAO_SEED,),
        ),
        Preset(
            "ark-bots",
            CHAT,
            f"{ARK_BASE}/bots",
            _("Volcengine Ark web-search bots: add each bot id (bot-…) as a model"),
        ),
        Preset(
            "qianfan",
            CHAT,
            "https://qianfan.baidubce.com/v2",
            _(
                "Baidu Qianfan v2: DeepSeek V4.1 Flash (thinking on or off), DeepSeek R1 "
                "and its Qwen-32B distillation"
            ),
            models=(
                # Qianfan's list gives it `thinking` (enabled / disabled), no effort.
                PresetModel(
                    "deepseek-v4.1-flash",
                    "DeepSeek V4.1 Flash (Qianfan)",
                    thinking_modes=("enabled", "disabled"),
                    default_thinking="enabled",
                ),
                _r1("deepseek-r1", "DeepSeek R1 (Qianfan)", None, None),
                _r1("deepseek-r1-distill-qwen-32b", "DeepSeek R1 Distill Qwen 32B", None, None),
            ),
        ),
        Preset(
            "coreshub",
            CHAT,
            "https://openapi.coreshub.cn/v1",
            _("Coreshub: DeepSeek R1"),
            models=(_r1("DeepSeek-R1", "DeepSeek R1 (Coreshub)", None, None),),
        ),
        Preset(
            "new-api",
            CHAT,
            "",
            _("A new-api or one-api gateway (give its /v1 base URL): deepseek-reasoner"),
            # "DeepSeek reasoning format": the answer counts against max_tokens.
            models=(_r1("deepseek-reasoner", "DeepSeek Reasoner", 4096, 8192),),
            lists_models=True,
        ),
        Preset(
            "vllm",
            CHAT,
            "",
            _("A vLLM or other OpenAI-compatible server (give its /v1 base URL); add its models"),
            lists_models=True,
        ),
    )
}


class UnknownPreset(KeyError):
    pass


def get(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise UnknownPreset(name) from None


def preset_for(provider: Provider) -> Preset | None:
    """The preset a provider was most likely made from: the one it is named after
    (with the same style), else the one with its style and base URL."""
    named = PRESETS.get(provider.name)
    if named is not None and named.style == provider.style:
        return named
    base = provider.base_url.rstrip("/")
    return next(
        (
            p
            for p in PRESETS.values()
            if p.base_url and p.style == provider.style and p.base_url == base
        ),
        None,
    )


def known_model(model_id: str, preset: Preset | None) -> PresetModel | None:
    """The preset fields for a model id: the preset's own, else (no preset) the
    first preset that knows the id."""
    if preset is not None:
        return preset.model(model_id)
    for candidate in PRESETS.values():
        found = candidate.model(model_id)
        if found is not None:
            return found
    return None


def add_models(provider: Provider, models: Iterable[PresetModel | str]) -> list[str]:
    """Create the models the provider does not have yet (a bare id gets no fields);
    existing ones are left as the admin set them. Returns the ids added."""
    from providers.models import ChatModel

    added = []
    for model in models:
        spec = model if isinstance(model, PresetModel) else PresetModel(model)
        _row, made = ChatModel.objects.get_or_create(
            provider=provider, model_id=spec.model_id, defaults=spec.fields()
        )
        if made:
            added.append(spec.model_id)
    return added
