"""The review charts in Chromium: reached from the list with its filters, drawn
without a CSP complaint, in English and Simplified Chinese (screenshots of both)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, reviewer_page, sign_in

MODELS = ("deepseek/deepseek-r1", "deepseek/deepseek-v4", "openai/o4-mini")


@pytest.fixture
def charted(server):  # type: ignore[no-untyped-def]
    # ORM work happens here, before the `browser` fixture starts Playwright's loop.
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from conversations.review.models import Review
    from tests.review_data import trace

    alice = get_user_model().objects.get(username="alice")
    stranger = get_user_model().objects.create_user("zed", password="zed-pass-123")
    now = timezone.now()
    for i in range(48):
        model = MODELS[i % 3]
        turn = trace(
            alice,
            model=model,
            created=now - timedelta(days=(i * 37) % 70, hours=i),
            reasoning_tokens=[1800, 600, 1100][i % 3] + (i * 97) % 900,
            completion_tokens=[2300, 1000, 1500][i % 3] + (i * 53) % 500,
            thinking_ms=[45_000, 6_000, 20_000][i % 3] * (1 + (i * 7) % 5) // 2,
        )
        if i % 4:
            good = (i * 5) % 7 > 1 + (i % 3)
            Review.objects.create(
                turn=turn, reviewer=alice, rating="good" if good else "bad", score=1 + (i * 3) % 5
            )
    # Someone else's traces: never drawn for alice.
    for _ in range(5):
        trace(stranger, model="secret/model")
    return server


def test_charts_from_the_list_in_both_languages(charted, browser):  # type: ignore[no-untyped-def]
    server = charted
    page, errors = reviewer_page(browser, server, width=1280)

    page.goto("/review/?status=completed")
    page.locator("a[data-link=charts]").click()
    expect(page).to_have_url(f"{server.url}/review/charts/?status=completed")
    expect(page.get_by_role("heading", name="Charts per model")).to_be_visible()
    expect(page.locator("svg.chart")).to_have_count(1 + 3 + 3)  # tokens, 3 histograms, 3 panels
    expect(page.locator(".chart-summary")).to_contain_text("48 traces")
    assert "secret/model" not in page.content()
    page.locator("#chart-tokens ~ details summary").click()  # the numbers, as a table
    expect(page.locator("table[data-table=tokens] tbody tr")).to_have_count(3)
    page.screenshot(path=f"{SHOTS}/review-charts.png", full_page=True)

    page.locator("a[data-link=list]").click()
    expect(page).to_have_url(f"{server.url}/review/?status=completed")
    page.goto("/review/charts/?model=nobody/none")
    expect(page.locator(".chart-empty")).to_contain_text("No trace matches these filters")
    assert errors == []

    context = browser.new_context(
        locale="zh-CN", viewport={"width": 1280, "height": 900}, base_url=server.url
    )
    zh = context.new_page()
    sign_in(zh, server.url)
    zh.goto("/review/charts/")
    expect(zh.get_by_role("heading", name="按模型的图表")).to_be_visible()
    zh.locator("#chart-thinking ~ details summary").click()
    zh.screenshot(path=f"{SHOTS}/review-charts-zh.png", full_page=True)
    context.close()
