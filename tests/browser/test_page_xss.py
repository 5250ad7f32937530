"""The XSS corpus through the real page: in an answer, its reasoning, a conversation
title and a model's display name. No dialog, no script, no request to another host."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from providers.fake_upstream import chat_stream
from providers.models import ChatModel
from tests.browser.conftest import sign_in
from tests.browser.test_markdown import XSS

HOSTILE = '<img src=x onerror=alert(1)><script>alert(2)</script>"><svg onload=alert(3)>'


@pytest.fixture
def hostile_model(transactional_db, chat_provider):  # type: ignore[no-untyped-def]
    # Before the browser fixture: Playwright's loop makes the ORM refuse sync calls.
    ChatModel.objects.filter(provider=chat_provider).update(display_name=HOSTILE)


def test_hostile_text_everywhere_stays_text(  # type: ignore[no-untyped-def]
    hostile_model, fake_upstream, server, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 900}, base_url=server.url)
    seen: dict[str, list[str]] = {"dialogs": [], "foreign": [], "errors": []}
    page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
    page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
    page.on(
        "request",
        lambda r: (
            None
            if urlsplit(r.url).hostname in ("127.0.0.1", "localhost") or r.url.startswith("data:")
            else seen["foreign"].append(r.url)
        ),
    )
    sign_in(page, server.url)
    page.select_option("#model", "fake/fake-r1")
    expect(page.locator("#model option:checked")).to_have_text(HOSTILE)

    corpus = "\n\n".join(XSS)
    fake_upstream.enqueue(chat_stream(reasoning=[corpus], content=[corpus]))
    page.get_by_role("textbox", name="Message").fill(HOSTILE)
    page.get_by_role("button", name="Send").click()
    turn = page.locator('[data-role="assistant"]').last
    expect(turn).to_have_attribute("data-status", "completed", timeout=15_000)
    # The first message named the conversation: the heading, sidebar and tab show it as text.
    expect(page.locator("#title")).to_have_text(HOSTILE)
    expect(page.locator(".conversation-link.active")).to_have_text(HOSTILE)
    expect(turn.locator(".turn-meta")).to_have_text(HOSTILE)

    # Renamed to the corpus's worst, and reloaded: the server renders it too.
    conversation = page.url.rstrip("/").split("/")[-1]
    page.request.patch(
        f"/api/conversations/{conversation}/",
        data={"title": HOSTILE},
        headers={"X-CSRFToken": page.evaluate("document.cookie.match(/csrftoken=([^;]+)/)[1]")},
    )
    page.reload()
    page.wait_for_selector("#chat[data-ready]")
    page.locator("details[data-part=reasoning] summary").last.click()
    page.wait_for_timeout(300)

    dangerous = (
        "script:not([src]), svg[onload], img, iframe, object, embed, [onerror], [onload], [style]"
    )
    assert page.locator(f"main {dangerous}, aside {dangerous}").count() == 0
    assert page.locator("a[href^='javascript'], a[href^='data:']").count() == 0
    assert page.title().startswith(HOSTILE)
    assert seen == {"dialogs": [], "foreign": [], "errors": []}, seen
