"""The admin in Simplified Chinese: every model, field, choice, help text, action,
column, filter and fieldset of the product's own apps is translated, and the
admin's header names the product. Checked twice: on the definitions (each a lazy
translation with a Chinese text), and on the pages a superuser walks (no English
word left in a text node or a label, the fixture's own data aside)."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.sites import site
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.utils.functional import Promise

from accounts.audit import AuditEntry, record
from accounts.teams import Team
from accounts.tokens import create_token
from accounts.usage import DailyUsage
from conversations.models import Conversation, Turn
from providers.models import ApiKey, ChatModel, Provider
from providers.presets import PRESETS

APPS = ("accounts", "providers", "conversations")
ZH = "zh-hans"


def chinese(text: Any) -> str:
    with translation.override(ZH):
        return str(text)


def english(text: Any) -> str:
    with translation.override("en"):
        return str(text)


def untranslated(where: str, text: Any) -> list[str]:
    """`text` must be a lazy translation whose Chinese is not its English (a few
    terms are the same in both: kept in Latin letters by the catalog)."""
    if not text:
        return []
    if not isinstance(text, Promise):
        return [f"{where}: {text!r} is not marked for translation"]
    if chinese(text) == english(text) and english(text) not in SAME_IN_BOTH:
        return [f"{where}: {english(text)!r} has no Chinese translation"]
    return []


SAME_IN_BOTH = {"API", "ID"}


def project_models() -> list[Any]:
    return [m for m in apps.get_models() if m._meta.app_label in APPS]


def test_every_model_field_and_choice_of_the_project_is_translated():
    problems: list[str] = []
    for name in APPS:
        problems += untranslated(f"app {name}", apps.get_app_config(name).verbose_name)
    for model in project_models():
        opts = model._meta
        for attr in ("verbose_name", "verbose_name_plural"):
            if attr not in opts.original_attrs:
                problems.append(f"{opts.label}: no Meta.{attr}")
            problems += untranslated(f"{opts.label} {attr}", getattr(opts, attr))
        for field in opts.get_fields():
            if field.auto_created or not (field.concrete or field.many_to_many):
                continue
            where = f"{opts.label}.{field.name}"
            problems += untranslated(where, field.verbose_name)
            problems += untranslated(f"{where} help_text", field.help_text)
            for value, label in field.flatchoices or ():
                if value != "":
                    problems += untranslated(f"{where} choice {value!r}", label)
    assert not problems, "\n".join(problems)


def test_every_admin_action_column_filter_fieldset_and_form_label_is_translated():
    problems: list[str] = []
    for model, model_admin in site._registry.items():
        if model._meta.app_label not in APPS:
            continue
        label = f"{model._meta.label} admin"
        for name in model_admin.list_display:
            column = getattr(type(model_admin), name, None)
            if inspect.isfunction(column):
                problems += untranslated(f"{label} column {name}", column.short_description)
        for _func, name, description in model_admin._get_base_actions():
            if name != "delete_selected":
                problems += untranslated(f"{label} action {name}", description)
        for title, _options in model_admin.fieldsets or ():
            problems += untranslated(f"{label} fieldset", title)
        for item in model_admin.list_filter:
            if isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
                problems += untranslated(f"{label} filter", item.title)
        forms = [getattr(model_admin, "form", None), getattr(model_admin, "add_form", None)]
        forms += [getattr(inline, "form", None) for inline in model_admin.inlines]
        for form in forms:
            for name, field in getattr(form, "declared_fields", {}).items():
                problems += untranslated(f"{label} form field {name}", field.label)
                problems += untranslated(f"{label} form field {name} help", field.help_text)
        for inline in model_admin.inlines:
            for name in inline.readonly_fields:
                column = getattr(inline, name, None)
                if inspect.isfunction(column):
                    problems += untranslated(f"{label} inline {name}", column.short_description)
    assert not problems, "\n".join(problems)


def test_the_admin_header_names_the_product():
    with translation.override(ZH):
        assert str(site.site_header) == "推理对话管理"
        assert str(site.site_title) == "推理对话管理"
    with translation.override("en"):
        assert str(site.site_header) == "Reasoning chat administration"


# --- The pages ----------------------------------------------------------------------

# The fixture's own data (names a person typed, ids, numbers) and the terms the
# Chinese catalog keeps in Latin letters, as Chinese developer documentation does.
KEPT = {
    # Technical terms and product names
    "API", "URL", "IdP", "UTC", "ID", "token", "tokens", "ms", "sk", "http", "https",
    "DeepSeek", "R1", "V4", "Flash", "Pro", "Volcengine", "Ark", "Responses", "Baidu",
    "Qianfan", "Qwen-32B", "Coreshub", "vLLM", "OpenAI", "Chat", "Completions", "Doubao",
    "Seed", "bot-", "think", "JSON",
    # Names the catalog keeps: the `thinking` parameter, the IdP's `groups` claim,
    # and Django's own help of a multiple choice ("Control", "Command" on a "Mac")
    "thinking", "groups", "Control", "Command", "Mac", "LDAP", "pbkdf2_sha256",
    # Preset names (identifiers, as `add_provider --preset` takes them)
    "deepseek", "ark", "qianfan", "coreshub", "vllm",
    # The fixture's data
    "root",
}  # fmt: skip
# Django's own, written into its templates and icons untranslated: the search
# icon's alt text and the yes/no icons' ("True", "False", "None").
DJANGO_OWN = {"Search", "True", "False", "None"}
# Permission names ("人员与团队 | 团队 | Can add team"): Django stores them in English
# when it migrates, and the permission pickers show them as stored.
PERMISSION = re.compile(r".+ \| .+ \| Can (add|change|delete|view) .+")
# Numbers with a unit or a letter ("8k", "v2") and ids ("deepseek-v4-pro", "new-api").
IDENTIFIER = re.compile(r"[a-z]?\d+\w*|[a-z0-9.]+(-[a-z0-9.]+)+")
TEXT_ATTRS = ("title", "placeholder", "aria-label", "alt", "data-field-name")


class _Texts(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.texts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        values = dict(attrs)
        for name in TEXT_ATTRS:
            if values.get(name):
                self.texts.append(str(values[name]))
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.texts.append(str(values["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.texts.append(data.strip())


def _model_names() -> list[str]:
    """The presets' models, by name and id: product names, shown as they are."""
    names = {n for p in PRESETS.values() for m in p.models for n in (m.display_name, m.model_id)}
    return sorted(names, key=len, reverse=True)


def english_words(html: str) -> list[str]:
    """Text nodes and labels of a page with a word in Latin letters that is neither a
    kept term nor the fixture's data."""
    parser = _Texts()
    parser.feed(html)
    found = []
    names = _model_names()
    for text in parser.texts:
        if text in DJANGO_OWN or PERMISSION.fullmatch(text) or "****" in text:
            continue
        for name in names:
            text = text.replace(name, " ")
        rest = re.sub(r"\S*[/@]\S*|sk-\S*", " ", text)  # paths, URLs, addresses, keys
        words = re.findall(r"[A-Za-z][A-Za-z0-9_-]*", rest)
        if [w for w in words if w not in KEPT and not IDENTIFIER.fullmatch(w)]:
            found.append(text)
    return found


@pytest.fixture
def data(db, django_user_model):  # type: ignore[no-untyped-def]
    Provider.objects.filter(style="demo").delete()  # its model's name is data in English
    root = django_user_model.objects.create_superuser("root", password="root-pass-123")
    provider = Provider.objects.create(name="服务商", style="chat-completions")
    key = ApiKey(provider=provider, label="主密钥")
    key.set_secret("sk-0123456789")
    key.save()
    model = ChatModel.objects.create(provider=provider, model_id="模型一")
    team = Team.objects.create(name="研究组", daily_token_quota=1000)
    team.members.add(root)
    team.models.add(model)
    create_token(root, "脚本", actor=root, via="admin")
    # An entry's detail is stored in English (accounts/audit.py): one without.
    AuditEntry.objects.all().delete()
    record(root, AuditEntry.Action.CREATED, provider)
    DailyUsage.objects.create(
        day=datetime.now(UTC).date(), user=root, team=team, model="服务商/模型一", turns=1
    )
    conversation = Conversation.objects.create(owner=root, title="对话")
    Turn.objects.create(conversation=conversation, index=0, role="user", status="completed")
    return root


def admin_pages(request: Any) -> list[str]:
    """The index, and each list, add page and a change page of the product's models
    and of the people and groups (Django's own, which a new team sets up first)."""
    urls = [reverse("admin:index")]
    for model, model_admin in site._registry.items():
        opts = model._meta
        if opts.app_label not in (*APPS, "auth"):
            continue
        urls.append(reverse("admin:app_list", args=[opts.app_label]))
        urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        if model_admin.has_add_permission(request):
            urls.append(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
        first = model._default_manager.first()
        if first is not None:
            urls.append(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[first.pk])
            )
    urls.append(reverse("admin:accounts_dailyusage_chart"))
    return list(dict.fromkeys(urls))


def test_the_chinese_admin_pages_have_no_english_word(client, data):  # type: ignore[no-untyped-def]
    client.force_login(data)
    client.cookies["django_language"] = ZH
    problems: list[str] = []
    request = RequestFactory().get("/")
    request.user = data
    for url in admin_pages(request):
        response = client.get(url)
        assert response.status_code == 200, url
        problems += [f"{url}: {text!r}" for text in english_words(response.content.decode())]
    assert not problems, "\n".join(problems)
