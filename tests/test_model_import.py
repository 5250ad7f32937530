"""The admin's "Import models": the provider's keys tried as a turn tries them, and
every model it adds in the audit log."""

from __future__ import annotations

import pytest

from accounts.audit import AuditEntry
from providers.model_import import import_models
from providers.models import ApiKey, ChatModel, Provider
from tests.conftest import TEST_API_KEY

STALE = "sk-stale-aaaaaaaaaaaa1111"
ALSO_STALE = "sk-stale-bbbbbbbbbbbb2222"


def vllm_with_keys(base_url: str, *keys: tuple[str, str]) -> Provider:
    """A vLLM provider (it lists its models) with `(label, secret)` keys, in that order."""
    provider = Provider.objects.create(name="vllm", style="chat-completions", base_url=base_url)
    for label, secret in keys:
        key = ApiKey(provider=provider, label=label)
        key.set_secret(secret)
        key.save()
    return provider


def bearers(fake_upstream) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.headers["authorization"].removeprefix("Bearer ") for r in fake_upstream.requests]


@pytest.mark.django_db
def test_a_stale_first_key_gives_way_to_the_next_as_in_a_turn(fake_upstream, admin_user):
    provider = vllm_with_keys(fake_upstream.base_url, ("old", STALE), ("current", TEST_API_KEY))
    fake_upstream.listed_models = ["Qwen/QwQ-32B", "deepseek-r1"]

    result = import_models(provider, admin_user)

    assert (result.source, result.failure) == ("provider", "")
    assert result.added == ["Qwen/QwQ-32B", "deepseek-r1"]
    assert bearers(fake_upstream) == [STALE, TEST_API_KEY]
    # The refused key: kept, disabled, with why, as a turn leaves it.
    old = ApiKey.objects.get(label="old")
    assert not old.enabled
    assert old.failure_reason.startswith("The provider refused this key (HTTP 401)")
    assert ApiKey.objects.get(label="current").enabled
    # Each model added is in the audit log, by the admin who imported it.
    created = AuditEntry.objects.filter(
        action=AuditEntry.Action.CREATED, object_kind=AuditEntry.Kind.MODEL
    )
    assert sorted(e.object_repr for e in created) == sorted(
        str(m) for m in ChatModel.objects.filter(provider=provider)
    )
    assert {e.actor_id for e in created} == {admin_user.pk}
    refused = AuditEntry.objects.get(action=AuditEntry.Action.INVALIDATED)
    assert refused.detail == "HTTP 401 listing its models (Import models)"


@pytest.mark.django_db
def test_when_every_key_is_refused_the_failure_says_so(fake_upstream):
    provider = vllm_with_keys(fake_upstream.base_url, ("old", STALE), ("older", ALSO_STALE))
    result = import_models(provider)
    assert bearers(fake_upstream) == [STALE, ALSO_STALE]
    assert (result.source, result.failure, result.added) == ("", "HTTP 401", [])
    assert not ApiKey.objects.filter(enabled=True).exists()
    # Nothing is left to try: the next import does not call the provider.
    assert import_models(provider).failure == "it has no enabled API key"
    assert len(fake_upstream.requests) == 2


@pytest.mark.django_db
def test_import_action_names_what_it_added_and_logs_it(admin_client, fake_upstream):
    provider = vllm_with_keys(
        fake_upstream.base_url, ("old", STALE), ("older", ALSO_STALE), ("current", TEST_API_KEY)
    )
    fake_upstream.listed_models = ["deepseek-r1"]
    response = admin_client.post(
        "/admin/providers/provider/",
        {"action": "import_models", "_selected_action": [provider.pk]},
        follow=True,
    )
    page = response.content.decode()
    # The provider's name as it is spelt, not capitalised by the message.
    assert "vllm: 1 model added from the provider&#x27;s list: deepseek-r1." in page
    assert "could not be read" not in page
    entry = AuditEntry.objects.get(action=AuditEntry.Action.CREATED)
    assert entry.actor_name == "admin" and "deepseek-r1" in entry.object_repr
