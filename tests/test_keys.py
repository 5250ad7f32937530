"""API keys: encryption and rotation, add_key, the admin, and a canary secret that
must appear in no page, socket frame, stored error or log record."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from typing import Any

import pytest
from channels.db import database_sync_to_async
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client

from conversations import catalog
from conversations.models import Turn
from providers import crypto, redact
from providers.fake_upstream import error_response
from providers.models import ApiKey, Provider
from tests.conftest import TEST_API_KEY, server_env
from tests.helpers import run_turn

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()
SECRET = "sk-live-abcdefghijklmnop1234"
CANARY = "sk-canary-0123456789abcdef"


def provider_named(name: str = "p") -> Provider:
    return Provider.objects.create(name=name, style="chat-completions", base_url="https://x/v1")


# --- encryption ----------------------------------------------------------------


@pytest.mark.django_db
def test_secrets_are_encrypted_at_rest_and_round_trip():
    key = ApiKey(provider=provider_named(), label="main")
    key.set_secret(SECRET)
    key.save()
    stored = ApiKey.objects.values_list("encrypted_secret", flat=True).get()
    assert SECRET not in stored and stored != SECRET
    assert ApiKey.objects.get().secret() == SECRET
    assert key.last_four == "1234" and key.masked == "…1234"


@pytest.mark.django_db
def test_rotation_re_encrypts_with_the_first_key_and_the_old_one_can_go(settings, capsys):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    provider = provider_named()
    for label in ("one", "two"):
        key = ApiKey(provider=provider, label=label)
        key.set_secret(f"{SECRET}-{label}")
        key.save()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]  # a new key first, the old one kept
    call_command("rotate_encryption_key")
    assert "Re-encrypted 2 API keys" in capsys.readouterr().out
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]  # the old key removed
    assert sorted(k.secret() for k in ApiKey.objects.all()) == [
        f"{SECRET}-one",
        f"{SECRET}-two",
    ]
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]  # and the old key alone no longer reads them
    with pytest.raises(ImproperlyConfigured):
        ApiKey.objects.first().secret()  # type: ignore[union-attr]


@pytest.mark.django_db
def test_rotation_without_the_old_key_changes_nothing(settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    key = ApiKey(provider=provider_named(), label="one")
    key.set_secret(SECRET)
    key.save()
    before = ApiKey.objects.get().encrypted_secret
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]  # the old key dropped too early
    with pytest.raises(CommandError, match="Nothing was changed"):
        call_command("rotate_encryption_key")
    assert ApiKey.objects.get().encrypted_secret == before


@pytest.mark.django_db(transaction=True)
def test_rotate_command_from_the_environment_then_the_old_key_removed(settings):
    """As an operator does it: FIELD_ENCRYPTION_KEY="B,A", rotate, then "B" only."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
    key = ApiKey(provider=provider_named(), label="one")
    key.set_secret(SECRET)
    key.save()
    env = server_env(FIELD_ENCRYPTION_KEY=f"{KEY_B},{KEY_A}")
    result = subprocess.run(
        [sys.executable, "manage.py", "rotate_encryption_key"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Re-encrypted 1 API key " in result.stdout
    assert SECRET not in result.stdout + result.stderr
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    assert ApiKey.objects.get().secret() == SECRET


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_chats_still_work_after_rotation_with_the_old_key_removed(
    ws_for, alice, conversation, chat_provider, fake_upstream, settings
):
    def encrypt_under_a() -> None:
        settings.FIELD_ENCRYPTION_KEYS = [KEY_A]
        key = chat_provider.api_keys.get()
        key.set_secret(TEST_API_KEY)
        key.save()

    await database_sync_to_async(encrypt_under_a)()
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B, KEY_A]
    await database_sync_to_async(call_command)("rotate_encryption_key")
    settings.FIELD_ENCRYPTION_KEYS = [KEY_B]
    catalog.clear()  # decrypt afresh, with B only
    frames, turn = await run_turn(ws_for, alice, conversation)
    assert frames[-1]["type"] == "turn.completed"
    assert turn.status == Turn.Status.COMPLETED


# --- add_key ----------------------------------------------------------------------


@pytest.mark.django_db
def test_add_key_adds_then_replaces_the_secret_of_a_label(monkeypatch, capsys):
    provider = provider_named("deepseek")
    monkeypatch.setenv("DS_KEY", SECRET)
    call_command(
        "add_key", "--provider", "deepseek", "--label", "team-a", "--api-key-env", "DS_KEY"
    )
    out = capsys.readouterr().out
    assert out.startswith("Added: key 'team-a' of provider deepseek (…1234)")
    assert SECRET not in out
    key = ApiKey.objects.get(provider=provider, label="team-a")
    assert key.secret() == SECRET and key.enabled

    call_command(
        "add_key", "--provider", "deepseek", "--label", "team-a", "--api-key-env", "DS_KEY"
    )
    assert capsys.readouterr().out.startswith("Unchanged:")

    # A refused key gets a new secret: replaced, enabled again, its failure forgotten.
    ApiKey.objects.filter(pk=key.pk).update(enabled=False, failure_reason="refused")
    monkeypatch.setenv("DS_KEY", SECRET + "-new-9876")
    call_command(
        "add_key", "--provider", "deepseek", "--label", "team-a", "--api-key-env", "DS_KEY"
    )
    out = capsys.readouterr().out
    assert out.startswith("Replaced: key 'team-a' of provider deepseek (…9876)")
    key.refresh_from_db()
    assert key.secret() == SECRET + "-new-9876" and key.enabled and not key.failure_reason
    assert ApiKey.objects.filter(provider=provider).count() == 1

    # Another label is another key, tried after the first.
    call_command(
        "add_key", "--provider", "deepseek", "--label", "team-b", "--api-key-env", "DS_KEY"
    )
    assert [k.label for k in provider.enabled_keys()] == ["team-a", "team-b"]


@pytest.mark.django_db
@pytest.mark.parametrize("value", [None, "", "   "])
def test_add_key_needs_the_env_var(monkeypatch, value):
    provider_named("deepseek")
    if value is None:
        monkeypatch.delenv("DS_KEY", raising=False)
    else:
        monkeypatch.setenv("DS_KEY", value)
    with pytest.raises(CommandError, match="DS_KEY"):
        call_command("add_key", "--provider", "deepseek", "--label", "a", "--api-key-env", "DS_KEY")
    assert not ApiKey.objects.exists()


@pytest.mark.django_db
def test_add_key_refuses_an_unknown_provider(monkeypatch):
    monkeypatch.setenv("DS_KEY", SECRET)
    with pytest.raises(CommandError, match="No provider named 'nope'"):
        call_command("add_key", "--provider", "nope", "--label", "a", "--api-key-env", "DS_KEY")


def test_add_key_exits_non_zero_without_the_env_var():
    env = {k: v for k, v in __import__("os").environ.items() if k != "NOPE_KEY"}
    result = subprocess.run(
        [sys.executable, "manage.py", "add_key", "--provider", "x", "--label", "a"]
        + ["--api-key-env", "NOPE_KEY"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode != 0
    assert "NOPE_KEY" in result.stderr


@pytest.mark.django_db
def test_labels_are_unique_per_provider():
    one, two = provider_named("one"), provider_named("two")
    for provider in (one, two):
        key = ApiKey(provider=provider, label="main")
        key.set_secret(SECRET)
        key.save()  # the same label on another provider is fine
    key = ApiKey(provider=one, label="main")
    key.set_secret(SECRET)
    with pytest.raises(IntegrityError), transaction.atomic():
        key.save()


# --- the admin ------------------------------------------------------------------------


@pytest.fixture
def keyed_provider(db):  # type: ignore[no-untyped-def]
    provider = provider_named("canaried")
    key = ApiKey(provider=provider, label="canary")
    key.set_secret(CANARY)
    key.save()
    return provider


@pytest.mark.django_db
def test_admin_shows_keys_masked_and_never_pre_fills_the_secret(admin_client, keyed_provider):
    key = keyed_provider.api_keys.get()
    pages = [
        admin_client.get(f"/admin/providers/provider/{keyed_provider.pk}/change/"),
        admin_client.get("/admin/providers/provider/"),
        admin_client.get("/admin/providers/apikey/"),
        admin_client.get(f"/admin/providers/apikey/{key.pk}/change/"),
    ]
    for page in pages:
        assert page.status_code == 200
        html = page.content.decode()
        assert CANARY not in html and key.encrypted_secret not in html
    change = pages[3].content.decode()
    assert "…cdef" in change and 'type="password"' in change
    assert 'name="secret" value' not in change  # render_value=False
    changelist = pages[2].content.decode()
    assert "…cdef" in changelist and "Disable selected keys" in changelist


@pytest.mark.django_db
def test_admin_edit_with_an_empty_secret_keeps_it(admin_client, keyed_provider):
    key = keyed_provider.api_keys.get()
    data = {"label": "renamed", "secret": "", "priority": "3", "enabled": "on"}
    response = admin_client.post(f"/admin/providers/apikey/{key.pk}/change/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    key.refresh_from_db()
    assert (key.label, key.priority, key.secret()) == ("renamed", 3, CANARY)

    data["secret"] = SECRET
    admin_client.post(f"/admin/providers/apikey/{key.pk}/change/", data)
    key.refresh_from_db()
    assert key.secret() == SECRET and key.last_four == "1234"


@pytest.mark.django_db
def test_admin_adds_a_key_and_refuses_a_label_taken(admin_client, keyed_provider):
    url = "/admin/providers/apikey/add/"
    data = {"provider": keyed_provider.pk, "label": "second", "secret": SECRET, "priority": "0"}
    assert admin_client.post(url, {**data, "enabled": "on"}).status_code == 302
    assert [k.label for k in keyed_provider.enabled_keys()] == ["canary", "second"]
    page = admin_client.post(url, {**data, "label": "canary"})
    assert page.status_code == 200
    assert "already has a key with this label" in page.content.decode()
    page = admin_client.post(url, {**data, "label": "third", "secret": ""})
    assert "A new key needs its secret." in page.content.decode()


@pytest.mark.django_db
def test_admin_actions_disable_and_enable_keys(
    admin_client, keyed_provider, django_capture_on_commit_callbacks
):
    from conversations.catalog import _cache

    key = keyed_provider.api_keys.get()
    _cache["canaried/x"] = (1e18, None)  # type: ignore[assignment]
    url = "/admin/providers/apikey/"
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = admin_client.post(
            url, {"action": "disable_keys", "_selected_action": [key.pk]}, follow=True
        )
    assert callbacks  # the catalogue is told once the change is committed
    assert "1 key disabled." in response.content.decode()
    key.refresh_from_db()
    assert not key.enabled
    assert "canaried/x" not in _cache  # the catalogue forgot the keys at once
    response = admin_client.post(
        url, {"action": "enable_keys", "_selected_action": [key.pk]}, follow=True
    )
    assert "1 key enabled." in response.content.decode()
    key.refresh_from_db()
    assert key.enabled
    from accounts.audit import AuditEntry

    audit = AuditEntry.objects.order_by("id").values_list("action", "object_kind", "actor_name")
    assert list(audit) == [("disabled", "key", "admin"), ("enabled", "key", "admin")]


@pytest.mark.django_db
def test_keys_list_filters_and_columns(admin_client, keyed_provider):
    page = admin_client.get("/admin/providers/apikey/?enabled__exact=1").content.decode()
    for column in ("Label", "Provider", "Enabled", "Priority", "Last used", "Last failed"):
        assert column in page
    assert "Failure reason" in page
    assert "canary" in page


# --- logs -------------------------------------------------------------------------------


def test_the_log_filter_masks_every_known_secret(caplog):
    redact.register(CANARY)
    logger = logging.getLogger("tests.keys")
    with caplog.at_level(logging.DEBUG):
        logger.warning("calling with %s", CANARY)
        logger.info(f"header Authorization: Bearer {CANARY}")
        try:
            raise RuntimeError(f"upstream said: bad key {CANARY}")
        except RuntimeError:
            logger.exception("request failed")
        logger.error("stack", stack_info=True, extra={"x": 1})
    assert CANARY not in caplog.text
    assert "…cdef" in caplog.text
    assert (
        "Traceback" in caplog.text and "RuntimeError: upstream said: bad key …cdef" in caplog.text
    )
    for record in caplog.records:
        assert CANARY not in record.getMessage()
        assert CANARY not in (record.exc_text or "")
        assert record.exc_info is None or CANARY not in str(record.exc_info[1])


def test_the_filter_is_on_every_configured_handler():
    from django.conf import settings

    handlers = settings.LOGGING["handlers"]
    assert handlers and all("secrets" in h.get("filters", []) for h in handlers.values())
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "key %s", (CANARY,), None)
    redact.register(CANARY)
    assert redact.SecretsFilter().filter(record)
    assert record.getMessage() == "key …cdef"


def test_short_strings_are_not_treated_as_secrets():
    redact.register("abc")
    assert redact.redact("abc abc") == "abc abc"


# --- the canary, end to end ---------------------------------------------------------------


def admin_pages(provider_id: int, conversation_id: Any) -> str:
    from django.contrib.auth import get_user_model

    admin = get_user_model().objects.create_superuser("root", password="root-pass-123")
    client = Client()
    client.force_login(admin)
    key = ApiKey.objects.get(provider_id=provider_id)
    urls = [
        f"/admin/providers/provider/{provider_id}/change/",
        "/admin/providers/provider/",
        "/admin/providers/apikey/",
        f"/admin/providers/apikey/{key.pk}/change/",
        f"/admin/conversations/conversation/{conversation_id}/change/",
    ]
    pages = []
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(response.content.decode())
    return "\n".join(pages)


def api_as(user: Any, conversation_id: Any, *, staff: bool = False) -> str:
    """The conversation in the JSON API; as staff, with the errors' detail."""
    user.is_staff = staff
    user.save(update_fields=["is_staff"])
    client = Client()
    client.force_login(user)
    response = client.get(f"/api/conversations/{conversation_id}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_the_canary_key_is_never_shown_sent_stored_or_logged(
    ws_for, alice, conversation, fake_upstream, monkeypatch, caplog, settings
):
    settings.UPSTREAM_RETRIES = 0

    def make() -> Provider:
        provider = Provider.objects.create(
            name="fake", style="chat-completions", base_url=fake_upstream.base_url
        )
        key = ApiKey(provider=provider, label="canary")
        key.set_secret(CANARY)
        key.save()
        provider.models.create(model_id="fake-r1")
        return provider

    provider = await database_sync_to_async(make)()
    # This upstream checks no key and echoes the whole key in its 401, as some do.
    monkeypatch.setattr(fake_upstream, "api_key", None)
    fake_upstream.enqueue(
        error_response(
            401,
            {"error": {"message": f"Incorrect API key provided: {CANARY}", "code": "invalid"}},
            {"WWW-Authenticate": f'Bearer realm="{CANARY}"'},
        )
    )
    with caplog.at_level(logging.DEBUG):
        frames, turn = await run_turn(ws_for, alice, conversation)
        # A library logging the secret, or an exception carrying it, is masked too.
        logging.getLogger("somelib").warning("Authorization: Bearer %s", CANARY)
        try:
            raise ValueError(f"bad header {CANARY}")
        except ValueError:
            logging.getLogger("somelib").exception("request failed")
    assert fake_upstream.requests[0].headers["authorization"] == f"Bearer {CANARY}"  # it was sent
    assert frames[-1]["type"] == "turn.failed" and frames[-1]["error"]["code"] == "auth"

    key = await database_sync_to_async(ApiKey.objects.get)(provider=provider)
    assert not key.enabled and "refused this key (HTTP 401)" in key.failure_reason
    seen = {
        "websocket frames": json.dumps(frames),
        "stored error": json.dumps(turn.error),
        "failure reason": key.failure_reason,
        "json api": await database_sync_to_async(api_as)(alice, conversation.id),
        "json api for staff": await database_sync_to_async(api_as)(
            alice, conversation.id, staff=True
        ),
        "admin pages": await database_sync_to_async(admin_pages)(provider.pk, conversation.id),
        "log text": caplog.text,
        "log records": "\n".join(
            f"{r.getMessage()}\n{r.exc_text or ''}\n{r.exc_info and r.exc_info[1]}"
            for r in caplog.records
        ),
    }
    assert turn.error["detail"] and turn.error["message"]
    for where, text in seen.items():
        assert CANARY not in text, where
        assert CANARY[3:-4] not in text, where  # nor most of it
    assert "…cdef" in caplog.text  # the log lines are there, masked
    assert "Traceback" in caplog.text
    # The last four, as the admin shows them, are all that is left.
    assert "…cdef" in seen["admin pages"]
    assert crypto.decrypt(key.encrypted_secret) == CANARY
