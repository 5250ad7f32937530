"""A web-search bot's sources under the answer: numbered, http(s) ones as links that
open in a new tab, anything else (a `javascript:` URL) as text; hostile titles stay
text. Live from `turn.references`, and the same after a reload (from the API)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from providers.fake_upstream import chat_stream
from tests.browser.conftest import sign_in

HOSTILE = "<img src=x onerror=alert(1)>"
REFERENCES = [
    {
        "title": "Beijing weather today",
        "url": "https://weather.example.com/beijing",
        "site_name": "Weather Example",
        "summary": "Sunny.",
        "publish_time": "2026-01-15 09:30:00",
    },
    {"title": "Click me", "url": "javascript:alert(1)", "site_name": "evil.example"},
    {"title": HOSTILE, "url": "http://news.example.org/a", "site_name": "News"},
]


@pytest.fixture
def bot_model(transactional_db, chat_provider):  # type: ignore[no-untyped-def]
    # Before the browser fixture: Playwright's loop makes the ORM refuse sync calls.
    return "fake/fake-r1"


def check_sources(page) -> None:  # type: ignore[no-untyped-def]
    turn = page.locator('[data-role="assistant"]').last
    refs = turn.locator('[data-part="references"]')
    expect(refs).to_be_visible()
    items = refs.locator("li")
    expect(items).to_have_count(3)
    links = refs.locator("a")
    expect(links).to_have_count(2)
    assert [links.nth(i).get_attribute("href") for i in range(2)] == [
        "https://weather.example.com/beijing",
        "http://news.example.org/a",
    ]
    for i in range(2):
        assert links.nth(i).get_attribute("target") == "_blank"
        assert links.nth(i).get_attribute("rel") == "noopener noreferrer"
    expect(links.nth(0)).to_have_text("Beijing weather today")
    expect(links.nth(1)).to_have_text(HOSTILE)  # as text, not an element
    expect(items.nth(1)).to_contain_text("Click me")
    assert items.nth(1).locator("a").count() == 0
    expect(items.nth(0)).to_contain_text("Weather Example · 2026-01-15 09:30:00")
    assert page.locator("main img, main [onerror], a[href^='javascript']").count() == 0
    # After the answer, inside the turn.
    order = turn.evaluate(
        "t => [...t.querySelectorAll('[data-part]')].map(e => e.dataset.part).join(',')"
    )
    assert order.endswith("content,references"), order


def test_bot_sources_shown_live_and_after_reload(  # type: ignore[no-untyped-def]
    bot_model, fake_upstream, server, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=server.url)
    dialogs: list[str] = []
    errors: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server.url)
    page.select_option("#model", bot_model)
    fake_upstream.enqueue(
        chat_stream(
            reasoning=["Searching the web."],
            content=["It is sunny in Beijing."],
            references=REFERENCES,
            bot_usage={},
        )
    )
    page.get_by_role("textbox", name="Message").fill("Weather in Beijing?")
    page.get_by_role("button", name="Send").click()
    turn = page.locator('[data-role="assistant"]').last
    expect(turn).to_have_attribute("data-status", "completed", timeout=15_000)
    check_sources(page)

    page.reload()
    page.wait_for_selector("#chat[data-ready]")
    expect(page.locator('[data-role="assistant"]').last).to_have_attribute(
        "data-status", "completed"
    )
    check_sources(page)
    assert dialogs == [] and errors == [], (dialogs, errors)
