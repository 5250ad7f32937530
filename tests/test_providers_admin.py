"""Keys encrypted at rest and write-only in the admin; add_provider is idempotent."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from providers.models import ApiKey, ChatModel, Provider

pytestmark = pytest.mark.django_db

SECRET = "sk-live-abcdefghijklmnop1234"


def test_add_provider_creates_and_updates(monkeypatch):
    monkeypatch.setenv("ARK_KEY", SECRET)
    args = [
        "--name",
        "ark",
        "--style",
        "responses",
        "--base-url",
        "https://ark.example/api/v3/",
        "--api-key-env",
        "ARK_KEY",
        "--model",
        "deepseek-r1-250528",
        "--model",
        "Qwen/QwQ-32B",
    ]
    call_command("add_provider", *args)
    call_command("add_provider", *args)  # idempotent
    provider = Provider.objects.get(name="ark")
    assert provider.style == "responses" and provider.base_url == "https://ark.example/api/v3"
    assert sorted(provider.models.values_list("model_id", flat=True)) == [
        "Qwen/QwQ-32B",
        "deepseek-r1-250528",
    ]
    assert ApiKey.objects.filter(provider=provider).count() == 1
    key = provider.enabled_keys()[0]
    assert key.secret() == SECRET and key.last_four == "1234"
    assert SECRET not in key.encrypted_secret

    # Models not named are kept; a new key replaces the active one.
    monkeypatch.setenv("ARK_KEY", SECRET + "X")
    call_command("add_provider", *args[:-4], "--model", "doubao-seed-1-6")
    assert provider.models.count() == 3
    assert provider.enabled_keys()[0].secret() == SECRET + "X"


def test_add_provider_requires_the_env_var(monkeypatch):
    monkeypatch.delenv("MISSING_KEY", raising=False)
    with pytest.raises(CommandError, match="MISSING_KEY"):
        call_command(
            "add_provider",
            "--name",
            "x",
            "--style",
            "chat-completions",
            "--base-url",
            "https://x.example/v1",
            "--api-key-env",
            "MISSING_KEY",
            "--model",
            "m",
        )
    assert not Provider.objects.filter(name="x").exists()


def test_add_provider_exits_non_zero(monkeypatch):
    import subprocess
    import sys

    env = {k: v for k, v in __import__("os").environ.items() if k != "NOPE_KEY"}
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "add_provider",
            "--name",
            "x",
            "--style",
            "chat-completions",
            "--base-url",
            "https://x.example/v1",
            "--api-key-env",
            "NOPE_KEY",
            "--model",
            "m",
        ],
        capture_output=True,
        text=True,
        env=env,
    )
    assert result.returncode != 0
    assert "NOPE_KEY" in result.stderr


def test_admin_keys_are_write_only(admin_client, chat_provider):
    page = admin_client.get(
        f"/admin/providers/provider/{chat_provider.pk}/change/"
    ).content.decode()
    from tests.conftest import TEST_API_KEY

    key = chat_provider.enabled_keys()[0]
    assert TEST_API_KEY not in page
    assert key.encrypted_secret not in page
    assert "…cdef" in page


def test_admin_adds_a_provider_with_key_and_model(admin_client):
    data = {
        "name": "deepseek",
        "style": "chat-completions",
        "base_url": "https://api.deepseek.com",
        "enabled": "on",
        "api_keys-TOTAL_FORMS": "1",
        "api_keys-INITIAL_FORMS": "0",
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
        "api_keys-0-label": "main",
        "api_keys-0-secret": SECRET,
        "api_keys-0-enabled": "on",
        "models-TOTAL_FORMS": "1",
        "models-INITIAL_FORMS": "0",
        "models-MIN_NUM_FORMS": "0",
        "models-MAX_NUM_FORMS": "1000",
        "models-0-model_id": "deepseek-v4-pro",
        "models-0-display_name": "DeepSeek V4 Pro",
        "models-0-enabled": "on",
    }
    resp = admin_client.post("/admin/providers/provider/add/", data)
    assert resp.status_code == 302, resp.content.decode()[:2000]
    provider = Provider.objects.get(name="deepseek")
    assert provider.enabled_keys()[0].secret() == SECRET
    assert ChatModel.objects.get(provider=provider).model_id == "deepseek-v4-pro"


def test_provider_name_cannot_contain_slash():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        Provider(name="a/b", style="chat-completions", base_url="https://x.example").full_clean()


def test_key_repr_never_shows_secret(chat_provider):
    key = chat_provider.enabled_keys()[0]
    assert "cdef" in repr(key) and "sk-test" not in repr(key) and "sk-test" not in str(key)
