"""The model a turn asks for, with its provider and key, resolved per process.

Resolving costs two queries and a decryption; every turn start needs it, so the
answer is kept for CHAT_MODEL_CACHE_SECONDS. A change made in the admin clears
this process's copy at once (signals); other processes see it within that time.

Whether the person may use the model is asked of conversations/access.py, before
anything else about the model is said: a model they may not use gets the very
error of a model that does not exist.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from conversations import access
from conversations.errors import ClientError
from providers.models import ApiKey, ApiStyle, ChatModel, Provider


@dataclass(frozen=True)
class Resolved:
    model: ChatModel
    api_key: str = field(repr=False)  # "" for the offline demo


_lock = threading.Lock()
_cache: dict[str, tuple[float, Resolved]] = {}


def _unknown(ref: str) -> ClientError:
    return ClientError("invalid_model", f"No enabled model {ref!r}.")


def resolve_model(ref: Any, user: Any) -> Resolved:
    """`<provider name>/<model id>`, split on the first `/` (ids may contain `/`),
    if `user` may use it (conversations/access.py)."""
    if not isinstance(ref, str) or "/" not in ref:
        raise ClientError("invalid_model", "model must be '<provider>/<model id>'.")
    now = time.monotonic()
    with _lock:
        hit = _cache.get(ref)
    if hit is not None and hit[0] > now:
        if not access.may_use(user, hit[1].model):
            raise _unknown(ref)
        return hit[1]
    provider_name, model_id = ref.split("/", 1)
    model = (
        ChatModel.objects.select_related("provider")
        .filter(provider__name=provider_name, model_id=model_id)
        .filter(enabled=True, provider__enabled=True)
        .first()
    )
    if model is None or not access.may_use(user, model):
        raise _unknown(ref)
    api_key = ""
    if model.provider.style != ApiStyle.DEMO:
        key = model.provider.active_key()
        if key is None:
            raise ClientError("invalid_model", f"Provider {model.provider.name!r} has no API key.")
        api_key = key.secret()
    resolved = Resolved(model, api_key)
    with _lock:
        _cache[ref] = (now + settings.CHAT_MODEL_CACHE_SECONDS, resolved)
    return resolved


def clear(**_kwargs: Any) -> None:
    with _lock:
        _cache.clear()


for _model in (Provider, ApiKey, ChatModel):
    post_save.connect(clear, sender=_model, dispatch_uid=f"catalog-save-{_model.__name__}")
    post_delete.connect(clear, sender=_model, dispatch_uid=f"catalog-delete-{_model.__name__}")
