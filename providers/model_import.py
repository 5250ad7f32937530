"""The admin's "Import models": fill in a provider's missing ChatModels from its own list.

DeepSeek, new-api / one-api gateways and vLLM answer `GET {base_url}/models`
(OpenAI's shape: `{"data": [{"id": ...}, ...]}`). Ids the provider's preset knows
get the preset's fields (thinking modes, efforts, limits); others are ids only,
for the admin to fill in. When the provider does not list its models (Ark,
Qianfan, Coreshub: their presets say so) or the request fails, the preset's list
is used instead. Models already there are never changed.

The provider's enabled keys are tried in the order a turn tries them, by the
turn's rules (providers/keys.py `Failover`): a refused key is marked refused and
the next one tried, a rate-limited key cools down, a 5xx is retried. Each model
added is in the audit log (created, by the admin who imported it).

A plain blocking request (the admin action is a sync view) to a base URL that
passes providers/outbound.py, with no redirects followed and no proxy from the
environment, like the streaming clients, so the key goes to the provider's
address only. The key and the provider's error text never
reach the message.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from accounts.audit import AuditEntry, record
from providers import keys as key_state
from providers import presets
from providers.keys import KeyRef
from providers.models import ApiStyle, ChatModel, Provider
from providers.outbound import problem
from providers.wire import ConnectFailed, ProviderError, error_from_response

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
MAX_BODY_BYTES = 4 * 1024 * 1024


class ListFailed(Exception):
    """The provider did not list its models; the message is safe to show."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is then raised as an HTTPError


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirects())


def fetch_model_ids(base_url: str, api_key: str, timeout: float = TIMEOUT_SECONDS) -> list[str]:
    """The ids `GET {base_url}/models` lists, in its order, without repeats.

    Raises a ProviderError (as the streaming clients do: AuthError, RateLimited, ...)
    when the provider answers an error or cannot be reached, ListFailed when its
    answer is no list."""
    request = urllib.request.Request(
        base_url.rstrip("/") + "/models",
        headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
    )
    try:
        with _opener.open(request, timeout=timeout) as response:
            body = response.read(MAX_BODY_BYTES + 1)
    except urllib.error.HTTPError as exc:
        said = exc.read(64 * 1024)
        raise error_from_response(
            exc.code,
            said,
            lambda text: text.replace(api_key, "***"),
            retry_after=exc.headers.get("Retry-After"),
        ) from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ConnectFailed(f"Could not connect to the provider: {exc}") from None
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


def _failure(exc: ProviderError) -> str:
    return f"HTTP {exc.status}" if exc.status else str(_("the provider could not be reached"))


def _listed(provider: Provider, keys: list[KeyRef]) -> list[str]:
    """The provider's list, with its keys tried by a turn's rules."""
    failover = key_state.Failover(keys, during="listing its models (Import models)")
    while True:
        try:
            return fetch_model_ids(provider.base_url, failover.key.secret)
        except ProviderError as exc:
            step = failover.after(exc)
            if step.write is not None:
                step.write[0](*step.write[1:])
            if not step.again:
                raise ListFailed(_failure(exc)) from None
            time.sleep(step.wait)


def import_models(provider: Provider, actor: Any = None) -> ImportResult:
    """Add the models the provider lists (else its preset's) that it does not have yet;
    each one added is in the audit log, by `actor` (None: a command)."""
    preset = presets.preset_for(provider)
    result = ImportResult()
    if provider.style == ApiStyle.DEMO:
        return result
    ids: list[str] | None = None
    if preset is None or preset.lists_models:
        keys = list(key_state.in_order(key_state.decrypted(provider)))
        refused = problem(provider.base_url)
        if refused is not None:
            result.failure = str(refused.messages[0])
        elif not keys:
            result.failure = str(_("it has no enabled API key"))
        else:
            try:
                ids = _listed(provider, keys)
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
    with transaction.atomic():
        result.added = presets.add_models(provider, wanted)
        for model in ChatModel.objects.filter(provider=provider, model_id__in=result.added):
            record(actor, AuditEntry.Action.CREATED, model, "Import models")
    return result
