"""The audit log: every admin change of providers, keys, models and teams, and the
operator commands, recorded (never a secret); read-only in the admin."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.audit import AuditEntry, record
from accounts.teams import Team
from providers.models import ApiKey, ChatModel, Provider

pytestmark = pytest.mark.django_db

SECRET = "sk-audit-secret-0123456789wxyz"
NEW_SECRET = "sk-audit-replaced-9876543210abcd"


def _management(prefix: str, total: int, initial: int) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": str(initial),
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def _entries() -> list[tuple[str, str, str, str]]:
    return [
        (e.action, e.object_kind, e.object_repr, e.detail)
        for e in AuditEntry.objects.order_by("id")
    ]


def _assert_no_secret() -> None:
    for entry in AuditEntry.objects.all():
        text = " ".join([entry.object_repr, entry.detail, str(entry)])
        assert SECRET not in text and NEW_SECRET not in text


def _add_provider(client) -> Provider:
    data = {
        "name": "acme",
        "style": "chat-completions",
        "base_url": "https://api.acme.example/v1",
        "enabled": "on",
        **_management("api_keys", 1, 0),
        "api_keys-0-label": "main",
        "api_keys-0-secret": SECRET,
        "api_keys-0-priority": "0",
        "api_keys-0-enabled": "on",
        **_management("models", 1, 0),
        "models-0-model_id": "acme-r1",
        "models-0-display_name": "",
        "models-0-enabled": "on",
    }
    resp = client.post("/admin/providers/provider/add/", data)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    return Provider.objects.get(name="acme")


def test_admin_changes_of_providers_keys_and_models_are_recorded(admin_client, admin_user):
    provider = _add_provider(admin_client)
    key = provider.api_keys.get()
    model = provider.models.get()
    assert _entries() == [
        ("created", "provider", "acme", ""),
        ("created", "key", "acme: main …wxyz", ""),
        ("created", "model", "acme/acme-r1", ""),
    ]
    assert {e.actor for e in AuditEntry.objects.all()} == {admin_user}
    assert {e.actor_name for e in AuditEntry.objects.all()} == {"admin"}

    # One save: the base URL changed, the key's secret replaced and the key disabled,
    # the model deleted.
    AuditEntry.objects.all().delete()
    data = {
        "name": "acme",
        "style": "chat-completions",
        "base_url": "https://api2.acme.example/v1",
        "enabled": "on",
        **_management("api_keys", 1, 1),
        "api_keys-0-id": str(key.pk),
        "api_keys-0-provider": str(provider.pk),
        "api_keys-0-label": "main",
        "api_keys-0-secret": NEW_SECRET,
        "api_keys-0-priority": "0",
        **_management("models", 1, 1),
        "models-0-id": str(model.pk),
        "models-0-provider": str(provider.pk),
        "models-0-model_id": "acme-r1",
        "models-0-display_name": "",
        "models-0-enabled": "on",
        "models-0-DELETE": "on",
    }
    resp = admin_client.post(f"/admin/providers/provider/{provider.pk}/change/", data)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    assert _entries() == [
        ("changed", "provider", "acme", "changed: base_url"),
        ("disabled", "key", "acme: main …abcd", "also secret replaced"),
        ("deleted", "model", "acme/acme-r1", ""),
    ]
    assert AuditEntry.objects.get(action="deleted").object_id == str(model.pk)

    # Saved again unchanged: nothing to record.
    AuditEntry.objects.all().delete()
    data.pop("api_keys-0-secret")
    data.pop("models-0-DELETE")
    data.update(_management("models", 0, 0))
    resp = admin_client.post(f"/admin/providers/provider/{provider.pk}/change/", data)
    assert resp.status_code == 302
    assert _entries() == []

    # Deleting the provider (with its key).
    resp = admin_client.post(f"/admin/providers/provider/{provider.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302
    assert _entries() == [("deleted", "provider", "acme", "with 1 key(s) and 0 model(s)")]
    _assert_no_secret()


def test_chat_model_admin_records_disable_and_enable(admin_client, chat_provider):
    model = ChatModel.objects.get(provider=chat_provider)
    data = {
        "provider": str(chat_provider.pk),
        "model_id": "fake-r1",
        "display_name": "Fake R1",
        "thinking_modes": ["enabled", "disabled"],
        "default_thinking": "",
        "efforts": ["high", "max"],
        "default_effort": "",
        "max_output_tokens": "2048",
        "max_output_tokens_limit": "",
    }
    url = f"/admin/providers/chatmodel/{model.pk}/change/"
    resp = admin_client.post(url, data)  # "enabled" unticked
    assert resp.status_code == 302, resp.content.decode()[:3000]
    resp = admin_client.post(url, {**data, "display_name": "Fake", "enabled": "on"})
    assert resp.status_code == 302
    assert _entries() == [
        ("disabled", "model", "fake/fake-r1", "also changed: display_name"),
        ("enabled", "model", "fake/fake-r1", "also changed: display_name"),
    ]


def test_team_admin_records_create_change_delete(admin_client, alice, bob, chat_provider):
    model = ChatModel.objects.get(provider=chat_provider)
    data = {
        "name": "Research",
        "members": [str(alice.pk)],
        "reviewers": [],
        "models": [str(model.pk)],
        "daily_token_quota": "1000",
        "reasoning_retention_days": "",
    }
    resp = admin_client.post("/admin/accounts/team/add/", data)
    assert resp.status_code == 302, resp.content.decode()[:3000]
    team = Team.objects.get(name="Research")
    resp = admin_client.post(
        f"/admin/accounts/team/{team.pk}/change/",
        {**data, "members": [str(alice.pk), str(bob.pk)], "daily_token_quota": "2000"},
    )
    assert resp.status_code == 302, resp.content.decode()[:3000]
    resp = admin_client.post(f"/admin/accounts/team/{team.pk}/delete/", {"post": "yes"})
    assert resp.status_code == 302
    assert _entries() == [
        ("created", "team", "Research", ""),
        ("changed", "team", "Research", "changed: members, daily_token_quota"),
        ("deleted", "team", "Research", ""),
    ]


def test_bulk_delete_is_recorded(admin_client, chat_provider):
    resp = admin_client.post(
        "/admin/providers/provider/",
        {"action": "delete_selected", "_selected_action": [str(chat_provider.pk)], "post": "yes"},
    )
    assert resp.status_code == 302
    assert _entries() == [("deleted", "provider", "fake", "with 1 key(s) and 1 model(s)")]


def test_commands_record_with_no_actor(monkeypatch, alice):
    monkeypatch.setenv("ACME_KEY", SECRET)
    args = ["--name", "acme", "--style", "chat-completions", "--api-key-env", "ACME_KEY"]
    call_command("add_provider", *args, "--base-url", "https://a.example/v1", "--model", "m1")
    call_command("add_provider", *args, "--base-url", "https://a.example/v1", "--model", "m1")
    monkeypatch.setenv("ACME_KEY", NEW_SECRET)
    call_command("add_provider", *args, "--base-url", "https://b.example/v1", "--model", "m2")
    call_command("add_team", "--name", "Ops", "--model", "acme/m1")
    call_command("add_team", "--name", "Ops", "--member", "alice", "--daily-token-quota", "5")
    call_command("add_team", "--name", "Ops", "--member", "alice")  # nothing new
    assert _entries() == [
        ("created", "provider", "acme", "add_provider"),
        ("created", "key", "acme: from $ACME_KEY …wxyz", "add_provider"),
        ("created", "model", "acme/m1", "add_provider"),
        ("changed", "provider", "acme", "add_provider: changed: base_url"),
        ("changed", "key", "acme: from $ACME_KEY …abcd", "add_provider: secret replaced"),
        ("created", "model", "acme/m2", "add_provider"),
        ("created", "team", "Ops", "add_team"),
        ("changed", "team", "Ops", "add_team: changed: daily_token_quota, members"),
    ]
    assert not AuditEntry.objects.filter(actor__isnull=False).exists()
    assert set(AuditEntry.objects.values_list("actor_name", flat=True)) == {""}
    _assert_no_secret()


def test_record_names_keys_by_label_and_last_four(chat_provider):
    key = ApiKey.objects.get(provider=chat_provider)
    entry = record(None, AuditEntry.Action.INVALIDATED, key, "HTTP 401 before the first token")
    assert entry.object_repr == "fake: test …cdef"
    assert entry.object_kind == "key" and entry.object_id == str(key.pk)
    assert entry.actor is None


def test_audit_log_is_read_only_in_the_admin(admin_client, chat_provider, django_user_model):
    entry = record(None, AuditEntry.Action.TESTED, chat_provider, "ok")
    base = "/admin/accounts/auditentry/"
    assert admin_client.get(base).status_code == 200
    assert (
        admin_client.get(f"{base}?action__exact=tested&object_kind__exact=provider").status_code
        == 200
    )
    assert admin_client.get(f"{base}?q=fake").status_code == 200
    # Viewable, not editable: add, change and delete are refused, superuser or not.
    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}add/", {"action": "created"}).status_code == 403
    page = admin_client.get(f"{base}{entry.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    assert admin_client.post(f"{base}{entry.pk}/change/", {"detail": "x"}).status_code == 403
    assert admin_client.get(f"{base}{entry.pk}/delete/").status_code == 403
    assert admin_client.post(f"{base}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    admin_client.post(
        base, {"action": "delete_selected", "_selected_action": [str(entry.pk)], "post": "yes"}
    )
    assert AuditEntry.objects.filter(pk=entry.pk).exists()
    entry.refresh_from_db()
    assert entry.detail == "ok"

    # Any staff member may read it; others may not.
    from django.test import Client

    staff = django_user_model.objects.create_user("staff", password="x", is_staff=True)
    client = Client()
    client.force_login(staff)
    assert client.get(base).status_code == 200
    assert b"Audit log" in client.get("/admin/").content
    plain = django_user_model.objects.create_user("plain", password="x")
    client.force_login(plain)
    assert client.get(base).status_code == 302  # to the admin's sign-in


def test_key_commands_record_with_no_actor(monkeypatch, chat_provider, settings):
    from cryptography.fernet import Fernet

    monkeypatch.setenv("NEW_KEY", SECRET)
    call_command("add_key", "--provider", "fake", "--label", "spare", "--api-key-env", "NEW_KEY")
    call_command("add_key", "--provider", "fake", "--label", "spare", "--api-key-env", "NEW_KEY")
    monkeypatch.setenv("NEW_KEY", NEW_SECRET)
    call_command("add_key", "--provider", "fake", "--label", "spare", "--api-key-env", "NEW_KEY")
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    call_command("rotate_encryption_key")
    assert _entries() == [
        ("created", "key", "fake: spare …wxyz", "add_key"),
        ("changed", "key", "fake: spare …abcd", "add_key: secret replaced"),
        ("rotated", "key", "fake: test …cdef", "rotate_encryption_key"),
        ("rotated", "key", "fake: spare …abcd", "rotate_encryption_key"),
    ]
    _assert_no_secret()
