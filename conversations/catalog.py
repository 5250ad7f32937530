"""The model a turn asks for, with its provider and keys, resolved per process.

Resolving costs two queries and a decryption per key; every turn start needs it,
so the answer is kept for CHAT_MODEL_CACHE_SECONDS. A change made in the admin,
or a key the provider refused (providers/keys.py), clears this process's copy at
once (signals); other processes see it within that time.

The keys are the provider's enabled ones in the order a turn tries them (priority,
then the order they were added); `Resolved.keys_now()` puts keys this process saw
rate-limited a moment ago last.

Whether the person may use the model is asked of accounts/access.py, before
anything else about the model is said: a model they may not use is refused with
`invalid_model` naming it (NOT_YOUR_MODEL), so the person knows which model to
replace; the turn is never moved to another model.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models.signals import post_delete, post_save

from accounts import access
from conversations.errors import NOT_YOUR_MODEL, ClientError
from providers import keys as key_state
from providers import outbound
from providers.keys import KeyRef
from providers.models import ApiKey, ApiStyle, ChatModel, Provider

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resolved:
    model: ChatModel
    # Enabled keys in the order they are tried; empty for the offline demo.
    keys: tuple[KeyRef, ...] = field(default=(), repr=False)

    def keys_now(self) -> tuple[KeyRef, ...]:
        return key_state.in_order(self.keys)


_lock = threading.Lock()
_cache: dict[str, tuple[float, Resolved]] = {}


def _unknown(ref: str) -> ClientError:
    return ClientError("invalid_model", f"No enabled model {ref!r}.")


def _not_theirs(model: ChatModel) -> ClientError:
    return ClientError(
        "invalid_model",
        f"{model.ref!r} is given to teams the user is not in.",
        message=NOT_YOUR_MODEL,
        values={"model": model.label},
    )


def resolve_model(ref: Any, user: Any) -> Resolved:
    """`<provider name>/<model id>`, split on the first `/` (ids may contain `/`),
    if `user` may use it (accounts/access.py)."""
    if not isinstance(ref, str) or "/" not in ref:
        raise ClientError("invalid_model", "model must be '<provider>/<model id>'.")
    now = time.monotonic()
    with _lock:
        hit = _cache.get(ref)
    if hit is not None and hit[0] > now:
        if not access.may_use(user, hit[1].model):
            raise _not_theirs(hit[1].model)
        return hit[1]
    provider_name, model_id = ref.split("/", 1)
    model = (
        ChatModel.objects.select_related("provider")
        .filter(provider__name=provider_name, model_id=model_id)
        .filter(enabled=True, provider__enabled=True)
        .first()
    )
    if model is None:
        raise _unknown(ref)
    if not access.may_use(user, model):
        raise _not_theirs(model)
    refs: tuple[KeyRef, ...] = ()
    if model.provider.style != ApiStyle.DEMO:
        # A row saved before UPSTREAM_ALLOWED_HOSTS was set (or narrowed) is not called.
        refused = outbound.problem(model.provider.base_url)
        if refused is not None:
            logger.warning("provider %s: %s", model.provider.name, refused.messages[0])
            raise ClientError("invalid_model", f"Provider {model.provider.name!r}: URL refused.")
        refs = key_state.decrypted(model.provider)
        if not refs:
            raise ClientError("invalid_model", f"Provider {model.provider.name!r} has no API key.")
    resolved = Resolved(model, refs)
    with _lock:
        _cache[ref] = (now + settings.CHAT_MODEL_CACHE_SECONDS, resolved)
    return resolved


def clear(**_kwargs: Any) -> None:
    with _lock:
        _cache.clear()


key_state.keys_changed.connect(clear, dispatch_uid="catalog-keys-changed")
for _model in (Provider, ApiKey, ChatModel):
    post_save.connect(clear, sender=_model, dispatch_uid=f"catalog-save-{_model.__name__}")
    post_delete.connect(clear, sender=_model, dispatch_uid=f"catalog-delete-{_model.__name__}")
