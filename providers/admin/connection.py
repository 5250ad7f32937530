"""The admin action "Test connection": results as admin messages, each one audited."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import translation
from django.utils.translation import gettext

from accounts.audit import AuditEntry, record
from providers.connection_test import Result, test_providers
from providers.models import Provider


def _key_name(result: Result) -> str:
    return f"{result.key.label or 'key'} {result.key.masked}"


def _message(result: Result) -> str:
    names = {"provider": result.provider.name, "key": _key_name(result)}
    if result.ok and result.via_models_list:
        return gettext(
            "%(provider)s, key %(key)s: connected; the models list answered in %(ms)s ms."
        ) % {**names, "ms": result.latency_ms}
    if result.ok:
        return gettext(
            "%(provider)s, key %(key)s: connected; a one-token request to %(model)s "
            "answered in %(ms)s ms."
        ) % {**names, "ms": result.latency_ms, "model": result.model_id}
    assert result.error is not None
    return gettext(
        "%(provider)s, key %(key)s: failed. %(error)s (The provider said: %(detail)s)"
    ) % {
        **names,
        "error": result.error.user_message(),
        "detail": result.error.message,
    }


def _detail(result: Result) -> str:
    """The audit entry's detail, in English like every stored detail; no secret."""
    if result.ok:
        how = "models list" if result.via_models_list else f"one-token request to {result.model_id}"
        return f"ok: {how}, {result.latency_ms} ms"
    assert result.error is not None
    status = f" (HTTP {result.error.status})" if result.error.status else ""
    return f"failed: {result.error.code}{status}"


def test_connection(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
    results, skipped = test_providers(list(queryset.order_by("name")))
    for result in results:
        record(request.user, AuditEntry.Action.TESTED, result.key, _detail(result))
        level = messages.SUCCESS if result.ok else messages.ERROR
        modeladmin.message_user(request, _message(result), level)
    for skip in skipped:
        with translation.override("en"):
            reason = str(skip.reason)
        record(request.user, AuditEntry.Action.TESTED, skip.provider, f"not called: {reason}")
        modeladmin.message_user(
            request,
            gettext("%(provider)s was not called: %(reason)s")
            % {"provider": skip.provider.name, "reason": skip.reason},
            messages.WARNING,
        )
