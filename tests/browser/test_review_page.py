"""The trace review pages in Chromium: the list filters, a trace opens with its
context, reasoning and answer side by side, and a rating is saved."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, research_team, reviewer_page


@pytest.fixture
def traces(server):  # type: ignore[no-untyped-def]
    # ORM work happens here, before the `browser` fixture starts Playwright's loop.
    from tests.review_data import trace

    alice, bob = research_team()
    made = [
        trace(
            alice,
            question="What is the integral of 1/x from 1 to e?",
            reasoning="The antiderivative of 1/x is ln x.\n\nSo ln e − ln 1 = **1**.",
            answer="The integral equals **1**.\n\n- antiderivative: `ln x`\n- bounds: 1 and e",
            reasoning_tokens=820,
            completion_tokens=900,
            thinking_ms=12_400,
        ),
        trace(bob, question="你好", reasoning="用户在打招呼。", answer="你好！有什么可以帮你？"),
        trace(bob, question="Tides?", answer="The moon.", status="stopped", model="fake/fake-v4"),
    ]
    from conversations.review import signals

    for turn in made:  # as finish_turn does when a turn ends
        signals.store_for(turn)
    return {"server": server, "integral": made[0]}


def test_filter_open_and_rate_a_trace(traces, browser):  # type: ignore[no-untyped-def]
    server, turn = traces["server"], traces["integral"]
    page, errors = reviewer_page(browser, server)

    page.goto("/review/")
    expect(page.locator("tr[data-trace]")).to_have_count(3)  # alice reviews Research
    page.get_by_label("Search reasoning and answers").fill("antiderivative")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"q=antiderivative"))
    expect(page.locator("tr[data-trace]")).to_have_count(1)
    page.get_by_label("Search reasoning and answers").fill("")
    page.get_by_label("Status", exact=True).select_option("stopped")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-trace]")).to_have_count(1)
    expect(page.locator("tr[data-trace]")).to_contain_text("fake/fake-v4")
    page.goto("/review/")
    page.screenshot(path=f"{SHOTS}/review-list.png", full_page=True)

    page.locator(f'tr[data-trace="{turn.id}"] a').click()
    expect(page).to_have_url(re.compile(rf"/review/{turn.id}/$"))
    sent = page.locator("[data-sent-role]")
    expect(sent).to_have_count(1)
    expect(sent).to_contain_text("What is the integral of 1/x")
    # Reasoning and answer rendered as Markdown, side by side; the source one click away.
    answer = page.locator('[data-view="content"]')
    expect(answer.locator("strong")).to_have_text("1")
    expect(answer.locator("li")).to_have_count(2)
    expect(page.locator('[data-view="reasoning"]')).to_contain_text("antiderivative of 1/x")
    expect(page.locator(".facts")).to_contain_text("12.4 s")

    page.get_by_label("Good").check()
    page.get_by_label("Score (1–5)").select_option("4")
    page.get_by_label("Tags (comma-separated)").fill("calculus, clean")
    page.get_by_label("Note").fill("Short and right.")
    page.get_by_role("button", name="Save review").click()
    expect(page.locator(".flash")).to_contain_text("Your review is saved.")
    expect(page.get_by_label("Good")).to_be_checked()
    expect(page.locator(".reviews")).to_contain_text("Short and right.")
    page.screenshot(path=f"{SHOTS}/review-trace.png", full_page=True)

    # Selecting a passage fills the redaction form; redacting replaces it.
    page.get_by_role("button", name="Show source").first.click()
    page.locator('pre[data-part="reasoning"]').evaluate(
        """pre => { const r = document.createRange(); const t = pre.firstChild;
        const at = t.data.indexOf("ln x"); r.setStart(t, at); r.setEnd(t, at + 4);
        const s = getSelection(); s.removeAllRanges(); s.addRange(r);
        pre.dispatchEvent(new MouseEvent("mouseup", {bubbles: true})); }"""
    )
    expect(page.get_by_label("Passage")).to_have_value("ln x")
    expect(page.get_by_label("Part")).to_have_value("reasoning")
    page.get_by_role("button", name="Redact", exact=True).click()
    expect(page.locator(".flash")).to_contain_text("Redacted 4 characters.")
    expect(page.locator('[data-view="reasoning"]')).to_contain_text("[redacted]")

    page.goto("/review/?rating=good&tag=calculus")
    expect(page.locator("tr[data-trace]")).to_have_count(1)
    expect(page.locator("tr[data-trace]")).to_contain_text("1 good")
    assert errors == []


def test_compare_two_from_the_list(traces, browser):  # type: ignore[no-untyped-def]
    server = traces["server"]
    page, errors = reviewer_page(browser, server)

    page.goto("/review/")
    rows = page.locator("tr[data-trace]")
    expect(rows).to_have_count(3)
    expect(page.locator(".signal-ratio").first).to_be_visible()  # signals stored at the end
    integral = page.locator(f'tr[data-trace="{traces["integral"].id}"]')
    integral.get_by_label("Select for comparison").check()
    rows.filter(has_text="fake/fake-v4").get_by_label("Select for comparison").check()
    page.get_by_role("button", name="Compare selected").click()
    expect(page).to_have_url(re.compile(r"/review/compare/\?turns="))
    columns = page.locator("[data-compare]")
    expect(columns).to_have_count(2)
    expect(columns.nth(0)).to_contain_text("fake/fake-v4")  # newest first, as listed
    # The answer rendered as Markdown, as on the trace page.
    expect(columns.nth(1).locator('[data-view="content"] strong')).to_have_text("1")
    expect(columns.nth(1)).to_contain_text("12.4 s")
    page.screenshot(path=f"{SHOTS}/review-compare.png", full_page=True)
    assert errors == []
