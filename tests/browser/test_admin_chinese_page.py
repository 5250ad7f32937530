"""The admin in Simplified Chinese, as the browser shows it once its scripts have run:
the index names the product and its sections, a team's members picker (Django's
filter_horizontal, written by script from the field's name) reads Chinese, and so
do the provider add page and the usage list."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, watch
from tests.test_admin_chinese import english_words


@pytest.fixture
def admin_server(daphne_factory):  # type: ignore[no-untyped-def]
    # ORM work here, before the `browser` fixture starts Playwright's loop.
    from django.contrib.auth import get_user_model

    from accounts.teams import Team
    from accounts.usage import DailyUsage
    from providers.models import ChatModel, Provider

    users = get_user_model().objects
    root = users.create_superuser("root", password="root-pass-123")
    people = [users.create_user(name, password="x-pass-123") for name in ("张三", "李四")]
    Provider.objects.filter(style="demo").delete()  # its model's name is data in English
    provider = Provider.objects.create(name="服务商", style="chat-completions")
    model = ChatModel.objects.create(provider=provider, model_id="模型一")
    team = Team.objects.create(name="研究组", daily_token_quota=2_000_000)
    team.members.add(root, people[0])
    team.models.add(model)
    DailyUsage.objects.create(
        day=datetime.now(UTC).date(),
        user=root,
        team=team,
        model=model.ref,
        prompt_tokens=1200,
        completion_tokens=3400,
        reasoning_tokens=2500,
        total_tokens=4600,
        turns=3,
    )
    server = daphne_factory()
    server.team_id = team.pk
    return server


def test_the_chinese_admin_reads_chinese(admin_server, browser):  # type: ignore[no-untyped-def]
    os.makedirs(SHOTS, exist_ok=True)
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 900}, base_url=admin_server.url
    )
    page = context.new_page()
    errors = watch(page)
    page.goto("/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "root-pass-123")
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_have_text("推理对话管理")

    expect(page.locator("#content-main")).to_contain_text("服务商与模型")
    page.screenshot(path=f"{SHOTS}/admin-index-zh.png", full_page=True)
    assert not english_words(page.content())

    page.goto(f"/admin/accounts/team/{admin_server.team_id}/change/")
    picker = page.locator("#id_members_from")
    expect(picker).to_be_visible()  # drawn by SelectFilter2.js
    members = page.locator(".field-members")
    expect(members).to_contain_text("可用 成员")
    expect(members).not_to_contain_text("members")
    page.screenshot(path=f"{SHOTS}/admin-team-zh.png", full_page=True)
    assert not english_words(page.content())

    page.goto("/admin/accounts/dailyusage/")
    expect(page.locator("#result_list")).to_contain_text("推理 token 数")
    page.screenshot(path=f"{SHOTS}/admin-usage-zh.png", full_page=True)
    assert not english_words(page.content())

    page.goto("/admin/providers/provider/add/")
    expect(page.locator("label[for=id_style]")).to_have_text("接口风格:")
    page.screenshot(path=f"{SHOTS}/admin-provider-add-zh.png", full_page=True)
    assert not english_words(page.content())
    assert not errors, errors
