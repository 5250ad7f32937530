"""A reviewer's workflow in Chromium: sort and filter the list, start a queue over it,
work it with the keyboard (score, rate, tag, next, previous; nothing fires while
typing), then compare two traces; and the same pages in Chinese."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, research_team, reviewer_page, sign_in, watch


@pytest.fixture
def traces(server):  # type: ignore[no-untyped-def]
    # ORM work happens here, before the `browser` fixture starts Playwright's loop.
    from datetime import timedelta

    from django.utils import timezone

    from conversations.review import signals
    from tests.review_data import trace

    alice, bob = research_team()
    now = timezone.now()
    specs = [
        (alice, "Integral of 1/x?", "The antiderivative is **ln x**. " * 8, "It is **1**."),
        (bob, "你好", "用户在打招呼，我应该友好地回应。" * 3, "你好！有什么可以帮你？"),
        (bob, "Tides?", "The moon pulls the oceans. " * 30, "The moon, mostly."),
        (alice, "2+2?", "Add them.", "4"),
    ]
    made = []
    for i, (owner, question, reasoning, answer) in enumerate(specs):
        turn = trace(
            owner,
            question=question,
            reasoning=reasoning,
            answer=answer,
            created=now - timedelta(minutes=i),
            thinking_ms=1000 * (i + 2),
        )
        signals.store_for(turn)  # as finish_turn does when a turn ends
        made.append(turn)
    made[2].references = [
        {
            "title": "Tides explained",
            "url": "https://ocean.example/tides",
            "site_name": "Ocean Example",
            "publish_time": "2026-01-15 09:30:00",
            "summary": "The moon's gravity raises two bulges.",
        },
        {"title": "Not a link", "url": "javascript:alert(1)", "site_name": "evil.example"},
    ]
    made[2].save(update_fields=["references"])
    return {"server": server, "turns": made}


def ready(page) -> None:  # type: ignore[no-untyped-def]
    """The page script listens for keys (a module: it runs after the page loads)."""
    page.wait_for_selector('form.review-form[data-shortcuts="ready"]', state="attached")


def test_work_a_queue_with_the_keyboard_then_compare(traces, browser):  # type: ignore[no-untyped-def]
    server, turns = traces["server"], traces["turns"]
    page, errors = reviewer_page(browser, server)

    # Sorting applies at once and stays in the URL; previews are plain text.
    page.goto("/review/")
    rows = page.locator("tr[data-trace]")
    expect(rows).to_have_count(4)
    page.get_by_label("Sort").select_option("longest_reasoning")
    expect(page).to_have_url(re.compile(r"sort=longest_reasoning"))
    expect(rows.first).to_have_attribute("data-trace", str(turns[2].id))  # "The moon…" × 30
    expect(rows.nth(0).locator('[data-preview="answer"]')).to_have_text("The moon, mostly.")
    integral = page.locator(f'tr[data-trace="{turns[0].id}"]')
    expect(integral.locator('[data-preview="answer"]')).to_have_text("It is 1.")
    page.screenshot(path=f"{SHOTS}/review-list-sorted.png", full_page=True)

    # A filter narrows the queue: alice's own two.
    page.get_by_label("Person").fill("alice")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    page.get_by_role("link", name="Review these one by one").click()
    expect(page).to_have_url(re.compile(rf"/review/{turns[0].id}/\?.*queue=1"))
    progress = page.locator("[data-queue-progress]")
    expect(progress).to_have_text("0 of 2 reviewed")

    # 3 sets the score, g rates good and saves, and the next trace opens.
    ready(page)
    page.keyboard.press("3")
    expect(page.get_by_label("Score (1–5)")).to_have_value("3")
    page.keyboard.press("g")
    expect(page).to_have_url(re.compile(rf"/review/{turns[3].id}/\?.*queue=1"))
    expect(progress).to_have_text("1 of 2 reviewed")
    expect(page.locator(".flash")).to_contain_text("Your review is saved.")

    # t goes to the tags; letters typed there stay letters (no j, no g firing).
    ready(page)
    page.keyboard.press("t")
    expect(page.get_by_label("Tags (comma-separated)")).to_be_focused()
    page.keyboard.type("jk, bg")
    expect(page.get_by_label("Tags (comma-separated)")).to_have_value("jk, bg")
    expect(page).to_have_url(re.compile(rf"/review/{turns[3].id}/"))
    page.keyboard.press("Escape")
    page.keyboard.press("n")
    expect(page.get_by_label("Note")).to_be_focused()
    page.keyboard.type("Too terse.")
    page.keyboard.press("Escape")
    page.keyboard.press("?")
    expect(page.locator("dialog#shortcuts")).to_be_visible()
    expect(page.locator("dialog#shortcuts")).to_contain_text("Rate bad and save")
    page.screenshot(path=f"{SHOTS}/review-queue-shortcuts.png")
    page.keyboard.press("Escape")
    expect(page.locator("dialog#shortcuts")).to_be_hidden()
    page.screenshot(path=f"{SHOTS}/review-queue.png", full_page=True)

    # b rates bad and saves: nothing left, the queue says so.
    page.keyboard.press("b")
    expect(page.locator("[data-queue-end]")).to_contain_text("Queue done")
    expect(page.locator("[data-queue-end] [data-queue-progress]")).to_have_text("2 of 2 reviewed")

    # Back into the queue from the start; j and k walk it, the saved review shows.
    page.get_by_role("link", name="Go through it again from the start").click()
    expect(page).to_have_url(re.compile(rf"/review/{turns[0].id}/\?.*queue=1"))
    ready(page)
    page.keyboard.press("j")
    expect(page).to_have_url(re.compile(rf"/review/{turns[3].id}/\?.*queue=1"))
    expect(page.get_by_label("Bad")).to_be_checked()
    expect(page.locator(".reviews")).to_contain_text("Too terse.")
    expect(page.locator(".reviews .tag")).to_have_text(["bg", "jk"])
    ready(page)
    page.keyboard.press("k")
    expect(page).to_have_url(re.compile(rf"/review/{turns[0].id}/\?.*queue=1"))
    expect(page.get_by_label("Good")).to_be_checked()

    # The list shows the ratings; two traces compared, references included.
    page.goto("/review/?rating=good")
    expect(rows).to_have_count(1)
    page.goto("/review/")
    page.locator(f'tr[data-trace="{turns[2].id}"]').get_by_label("Select for comparison").check()
    page.locator(f'tr[data-trace="{turns[1].id}"]').get_by_label("Select for comparison").check()
    page.get_by_role("button", name="Compare selected").click()
    columns = page.locator("[data-compare]")
    expect(columns).to_have_count(2)
    link = columns.nth(1).get_by_role("link", name="Tides explained")
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(columns.nth(1).locator("[data-reference]").nth(1).locator("a")).to_have_count(0)
    page.screenshot(path=f"{SHOTS}/review-compare-references.png", full_page=True)
    assert errors == []


def test_the_queue_in_chinese(traces, browser):  # type: ignore[no-untyped-def]
    server, turns = traces["server"], traces["turns"]
    context = browser.new_context(locale="zh-CN", viewport={"width": 1360, "height": 900})
    page = context.new_page()
    errors = watch(page)
    sign_in(page, server.url)
    page.goto(server.url + "/review/?sort=longest_thinking")
    expect(page.get_by_role("link", name="逐条评审这些记录")).to_be_visible()
    expect(page.get_by_label("排序")).to_have_value("longest_thinking")
    page.screenshot(path=f"{SHOTS}/review-list-sorted-zh.png", full_page=True)
    page.get_by_role("link", name="逐条评审这些记录").click()
    expect(page.locator("[data-queue-progress]")).to_have_text("已评审 0 / 4")
    expect(page).to_have_url(re.compile(rf"/review/{turns[3].id}/"))  # longest thinking
    page.screenshot(path=f"{SHOTS}/review-queue-zh.png", full_page=True)
    assert errors == []
    context.close()
