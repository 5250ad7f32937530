"""The admin's "Import models": fill in a provider's missing ChatModels from its own list.

DeepSeek, new-api / one-api gateways and vLLM answer `GET {base_url}/models`
(OpenAI's shape: `{"data": [{"id": ...}, ...]}`). Ids the provider's preset knows
get the preset's fields (thinking modes, efforts, limits); others are ids only,
for the admin to fill in. When the provider does not list its models (Ark,
Qianfan, Coreshub: their presets say so) or the request fails, the preset's list
is used instead. Models already there are never changed.

A plain blocking request (the admin action is a sync view) to a base URL that
passes providers/outbound.py, with no redirects followed and no proxy from the
environment, like the streaming clients, so the key goes to the provider's
address only. The key and the provider's error text never
reach the message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from providers import presets
from providers.models import ApiStyle, Provider
from providers.outbound import problem

TIMEOUT_SECONDS = 10.0
MAX_BODY_BYTES = 4 * 1024 * 1024


class ListFailed(Exception):
    """The provider did not list its models; the message is safe to show."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is then raised as an HTTPError


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def fetch_model_ids(base_url: str, api_key: str, timeout: float = TIMEOUT_SECONDS) -> list[str]:
    """The ids `GET {base_url}/models` lists, in its order, without repeats."""
    request = urllib.request.Request(
        base_url.rstrip("/") + "/models",
        headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        raise ListFailed(f"HTTP {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError):
        raise ListFailed(_("the provider could not be reached")) from None
    if len(body) > MAX_BODY_BYTES:
        raise ListFailed(_("the list is too large"))
    try:
        data = json.loads(body)
    except ValueError:
        raise ListFailed(_("the answer is not JSON")) from None
    items = data.get("data") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise ListFailed(_("the answer holds no list of models"))
    ids: list[str] = []
    for item in items:
        model_id = item.get("id") if isinstance(item, dict) else item
        if isinstance(model_id, str) and model_id.strip() and model_id not in ids:
            ids.append(model_id.strip()[:200])
    return ids


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    # "provider" (its own list), "preset" (the preset's list) or "" (neither).
    source: str = ""
    # Why the provider's list was not used ("" when it was, or was not asked).
    failure: str = ""


def import_models(provider: Provider) -> ImportResult:
    """Add the models the provider lists (else its preset's) that it does not have yet."""
    preset = presets.preset_for(provider)
    result = ImportResult()
    if provider.style == ApiStyle.DEMO:
        return result
    ids: list[str] | None = None
    if preset is None or preset.lists_models:
        key = provider.active_key()
        refused = problem(provider.base_url)
        if refused is not None:
            result.failure = str(refused.messages[0])
        elif key is None:
            result.failure = str(_("it has no enabled API key"))
        else:
            try:
                ids = fetch_model_ids(provider.base_url, key.secret())
            except ListFailed as exc:
                result.failure = str(exc)
    if ids is not None:
        result.source = "provider"
        wanted: list[presets.PresetModel | str] = [presets.known_model(i, preset) or i for i in ids]
    elif preset is not None and preset.models:
        result.source = "preset"
        wanted = list(preset.models)
    else:
        return result
    result.added = presets.add_models(provider, wanted)
    return result
