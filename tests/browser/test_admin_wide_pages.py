"""The admin's wide lists at 1280 px, in English and Simplified Chinese: the key list,
the daily usage and the audit log fit the page (a wide table scrolls inside its own
box, nothing is cut off); the usage chart names models by their display names; the
add-provider page shows what a preset will fill in before anything is saved."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, watch

LONG_DETAIL = (
    "failed: auth (HTTP 401) while listing the models of a provider whose gateway "
    "answered with a very long explanation that goes on and on, "
    "https://gateway.example.internal/v1/models?page=1&per_page=500&include=everything"
)


@pytest.fixture
def admin_server(daphne_factory):  # type: ignore[no-untyped-def]
    # ORM work here, before the `browser` fixture starts Playwright's loop.
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from accounts.audit import AuditEntry, record
    from accounts.teams import Team
    from accounts.usage import DailyUsage
    from providers.models import ApiKey, ChatModel, Provider

    root = get_user_model().objects.create_superuser("root", password="root-pass-123")
    provider = Provider.objects.create(
        name="local-fake",
        style="chat-completions",
        base_url="https://gateway.example.internal/v1/with/a/long/path",
    )
    model = ChatModel.objects.create(
        provider=provider, model_id="deepseek-reasoner-2026-12", display_name="DeepSeek Reasoner"
    )
    team = Team.objects.create(name="Research and development")
    now = timezone.now()
    for i in range(6):
        key = ApiKey(
            provider=provider,
            label=f"account-{i}-billing-department-shared",
            priority=i,
            last_used=now,
            last_failed=now,
            failure_reason=(
                "The provider said this key's account is out of credit (HTTP 402) on "
                "2026-12-07 10:22 UTC."
            ),
        )
        key.set_secret(f"sk-test-{i:04d}-abcdefghijklmnop")
        key.save()
        record(root, AuditEntry.Action.TESTED, key, LONG_DETAIL)
    for _ in range(5):
        record(None, AuditEntry.Action.INVALIDATED, key, "HTTP 401 before the first token")
    today = now.date()
    for i in range(8):
        DailyUsage.objects.create(
            day=today - timedelta(days=i),
            user=root,
            team=team if i % 2 else None,
            model=model.ref,
            prompt_tokens=1_234_567 + i,
            completion_tokens=2_345_678,
            reasoning_tokens=3_456_789,
            total_tokens=7_037_034 + i,
            turns=1234,
        )
    return daphne_factory()


def _admin_page(browser, server, locale: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        locale=locale, viewport={"width": 1280, "height": 900}, base_url=server.url
    )
    page = context.new_page()
    errors = watch(page)
    page.goto("/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", "root-pass-123")
    page.click("input[type=submit]")
    page.wait_for_selector("#site-name")
    return page, errors


def _fits(page) -> None:  # type: ignore[no-untyped-def]
    """Nothing wider than the window: the page does not scroll sideways, and every
    cell's text can be read (not clipped by its cell)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page is {overflow}px wider than the window"
    hidden = page.evaluate(
        "(() => { const r = document.querySelector('.results');"
        " return r.scrollWidth - r.clientWidth; })()"
    )
    assert hidden <= 0, f"{hidden}px of the list are cut off (behind a sideways scroll)"
    clipped = page.evaluate(
        """[...document.querySelectorAll('#result_list td, #result_list th')]
            .filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.textContent)"""
    )
    assert not clipped, clipped


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_wide_admin_lists_fit_at_1280(admin_server, browser, locale):  # type: ignore[no-untyped-def]
    os.makedirs(SHOTS, exist_ok=True)
    page, errors = _admin_page(browser, admin_server, locale)
    lang = "zh" if locale == "zh-CN" else "en"

    for name, url in (
        ("keys", "/admin/providers/apikey/"),
        ("usage", "/admin/accounts/dailyusage/"),
        ("audit", "/admin/accounts/auditentry/"),
    ):
        page.goto(url)
        expect(page.locator("#result_list")).to_be_visible()
        page.screenshot(path=f"{SHOTS}/admin-{name}-{lang}.png", full_page=True)
        _fits(page)

    # The audit log's detail is there whole, and its count names entries, not "log".
    page.goto("/admin/accounts/auditentry/")
    expect(page.locator("#result_list")).to_contain_text("include=everything")
    paginator = page.locator("p.paginator")
    if lang == "en":
        expect(paginator).to_contain_text("11 audit log entries")

    # The chart names models as the picker does.
    page.goto("/admin/accounts/dailyusage/chart/")
    expect(page.locator("#content-main")).to_contain_text("DeepSeek Reasoner")
    assert "local-fake/deepseek-reasoner-2026-12" not in page.locator("svg").last.inner_html()
    page.screenshot(path=f"{SHOTS}/admin-usage-chart-{lang}.png", full_page=True)

    # Picking a preset shows what it will fill in, before saving.
    page.goto("/admin/providers/provider/add/")
    preview = page.locator("#preset-preview")
    expect(preview).to_be_hidden()
    page.select_option("#id_preset", "deepseek")
    expect(preview).to_be_visible()
    expect(preview).to_contain_text("https://api.deepseek.com")
    expect(preview).to_contain_text("deepseek-v4-flash")
    page.screenshot(path=f"{SHOTS}/admin-preset-preview-{lang}.png", full_page=True)
    page.select_option("#id_preset", "")
    expect(preview).to_be_hidden()
    assert not errors, errors
