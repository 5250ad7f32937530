"""The offline demo provider: a person can chat at once, with no key and no network."""

from typing import Any

from django.conf import settings

DEMO_PROVIDER_NAME = "demo"
DEMO_MODEL_ID = "reasoner"


def ensure_demo_provider(**kwargs: Any) -> None:
    if not settings.DEMO_PROVIDER:
        return
    from providers.models import ApiStyle, ChatModel, Provider

    provider, _ = Provider.objects.get_or_create(
        name=DEMO_PROVIDER_NAME, defaults={"style": ApiStyle.DEMO}
    )
    ChatModel.objects.get_or_create(
        provider=provider,
        model_id=DEMO_MODEL_ID,
        defaults={
            "display_name": "Offline demo",
            "thinking_modes": ["enabled", "disabled"],
            "default_thinking": "enabled",
        },
    )
