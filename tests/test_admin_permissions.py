"""Every admin action needs a permission beyond viewing: a view-only staff member is
neither offered one nor served a forged POST of it."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client

from accounts.audit import AuditEntry
from providers.models import ApiKey, ChatModel

pytestmark = pytest.mark.django_db

PROVIDERS = "/admin/providers/provider/"
KEYS = "/admin/providers/apikey/"
VIEW_ONLY = [
    ("providers", "view_provider"),
    ("providers", "view_apikey"),
    ("providers", "view_chatmodel"),
    ("accounts", "view_team"),
]


@pytest.fixture
def viewer(django_user_model) -> Client:  # type: ignore[no-untyped-def]
    user = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
    for app, codename in VIEW_ONLY:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    client = Client()
    client.force_login(user)
    return client


def _offered(client: Client, url: str) -> list[str]:
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["action_form"]
    return [] if form is None else [name for name, _ in form.fields["action"].choices if name]


def _post(client: Client, url: str, action: str, pk: object) -> None:
    client.post(url, {"action": action, "_selected_action": [str(pk)], "index": "0"})


def test_a_viewer_is_offered_no_action(viewer, chat_provider):
    assert _offered(viewer, PROVIDERS) == []
    assert _offered(viewer, KEYS) == []
    assert _offered(viewer, "/admin/providers/chatmodel/") == []
    assert _offered(viewer, "/admin/accounts/team/") == []


def test_a_forged_test_connection_calls_nothing(viewer, chat_provider, fake_upstream):
    _post(viewer, PROVIDERS, "test_connection", chat_provider.pk)
    assert fake_upstream.requests == []
    assert not AuditEntry.objects.filter(action="tested").exists()


def test_a_forged_import_adds_no_model(viewer, chat_provider, fake_upstream):
    fake_upstream.listed_models = ["fake-r1", "new-model"]
    before = ChatModel.objects.count()
    _post(viewer, PROVIDERS, "import_models", chat_provider.pk)
    assert ChatModel.objects.count() == before
    assert fake_upstream.requests == []


@pytest.mark.parametrize(("action", "enabled"), [("disable_keys", True), ("enable_keys", False)])
def test_a_forged_key_toggle_changes_nothing(viewer, chat_provider, action, enabled):
    key = ApiKey.objects.get(provider=chat_provider)
    ApiKey.objects.filter(pk=key.pk).update(enabled=enabled)
    _post(viewer, KEYS, action, key.pk)
    key.refresh_from_db()
    assert key.enabled is enabled
    assert not AuditEntry.objects.exists()


def test_importing_also_needs_adding_models(django_user_model, chat_provider):
    user = django_user_model.objects.create_user("editor", password="x", is_staff=True)
    for codename in ("view_provider", "change_provider"):
        user.user_permissions.add(Permission.objects.get(codename=codename))
    client = Client()
    client.force_login(user)
    assert _offered(client, PROVIDERS) == ["test_connection"]
    user.user_permissions.add(Permission.objects.get(codename="add_chatmodel"))
    assert _offered(client, PROVIDERS) == ["test_connection", "import_models"]


def test_a_changer_is_offered_them(admin_client, chat_provider):
    assert {"test_connection", "import_models"} <= set(_offered(admin_client, PROVIDERS))
    assert {"disable_keys", "enable_keys"} <= set(_offered(admin_client, KEYS))


def test_every_action_declares_a_permission():
    for model_admin in admin.site._registry.values():
        for action in model_admin.actions or ():
            func = action if callable(action) else getattr(model_admin, action)
            assert getattr(func, "allowed_permissions", ()), f"{model_admin}: {action}"
