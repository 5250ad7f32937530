"""The trace review pages in Chromium: the list filters, a trace opens with its
context, reasoning and answer side by side, and a rating is saved."""

from __future__ import annotations

import os
import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, research_team, reviewer_page, sign_in, watch


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

    page.locator(f'tr[data-trace="{turn.id}"] a[data-preview="answer"]').click()
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
    page.get_by_role("button", name="Review the redaction").click()
    # A confirmation first: every place and how often, nothing removed yet.
    confirm = page.locator("[data-redact-confirm]")
    expect(confirm).to_contain_text("Reasoning of this trace")
    expect(confirm.locator("[data-redact-passage]")).to_have_text("ln x")
    page.screenshot(path=f"{SHOTS}/review-redact-confirm.png", full_page=True)
    page.get_by_role("button", name="Redact 1 occurrence").click()
    expect(page.locator(".flash")).to_contain_text("Redacted 4 characters.")
    expect(page.locator('[data-view="reasoning"]')).to_contain_text("[redacted]")
    # A selection in the person's message or the title picks that part.
    for pane, word in (("user", "integral"), ("title", "What")):
        page.locator(f'[data-pane="{pane}"]').evaluate(
            """(el, word) => { const r = document.createRange();
            const w = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
            let t; while ((t = w.nextNode()) && !t.data.includes(word));
            const at = t.data.indexOf(word); r.setStart(t, at); r.setEnd(t, at + word.length);
            const s = getSelection(); s.removeAllRanges(); s.addRange(r);
            el.dispatchEvent(new MouseEvent("mouseup", {bubbles: true})); }""",
            word,
        )
        expect(page.get_by_label("Part")).to_have_value(pane)
        expect(page.get_by_label("Passage")).to_have_value(word)

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


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
def test_the_list_reads_on_a_phone_and_a_desktop(traces, browser, scheme, locale):  # type: ignore[no-untyped-def]
    server = traces["server"]
    context = browser.new_context(
        locale=locale, color_scheme=scheme, viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    errors = watch(page)
    sign_in(page, server.url)
    os.makedirs(SHOTS, exist_ok=True)
    page.goto(server.url + "/review/")
    rows = page.locator("tr[data-trace]")
    expect(rows).to_have_count(3)
    # The question leads each card; nothing is wider than the phone.
    expect(rows.first.locator("[data-preview]").first).to_have_attribute("data-preview", "question")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    table = page.locator("table.traces").bounding_box()
    answer = rows.first.locator("td.answer").bounding_box()
    assert table and answer and table["width"] <= 390 and answer["width"] >= 300
    name = f"{SHOTS}/review-list-390-{scheme}-{locale[:2]}.png"
    page.screenshot(path=name, full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    answer = rows.first.locator("td.answer").bounding_box()
    assert answer and answer["width"] >= 200
    page.screenshot(path=name.replace("-390-", "-1280-"), full_page=True)

    # The person's message can be redacted too; the confirmation names the title as well.
    page.set_viewport_size({"width": 390, "height": 844})
    rows.filter(has_text="Tides?").locator('a[data-preview="answer"]').click()
    form = page.locator(".redact-form")
    form.locator('select[name="part"]').select_option("user")
    form.locator('textarea[name="passage"]').fill("Tides")
    form.locator('button[type="submit"]').click()
    expect(page.locator("[data-place]")).to_have_count(2)  # the message and the title
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=name.replace("list", "redact-user"), full_page=True)
    context.close()
    assert errors == []
