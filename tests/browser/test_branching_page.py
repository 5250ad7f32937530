"""A person regenerates an answer, pages between the attempts, edits a sent message
and resends it; the fake upstream's recorded requests show the context is the path
on screen only."""

from __future__ import annotations

import os

from playwright.sync_api import expect

from providers.fake_upstream import chat_stream
from tests.browser.conftest import SHOTS, answer, sign_in

MODEL = "fake/fake-r1"


def test_regenerate_page_between_attempts_and_edit(  # type: ignore[no-untyped-def]
    transactional_db, chat_provider, fake_upstream, server, browser
):
    os.makedirs(SHOTS, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server.url)
    page.select_option("#model", MODEL)

    for question, reply in (("first question", "first answer"), ("second question", "A")):
        fake_upstream.enqueue(chat_stream(reasoning=["thinking it over"], content=[reply]))
        page.get_by_role("textbox", name="Message").fill(question)
        page.get_by_role("button", name="Send").click()
        answer(page, reply)
    expect(page.get_by_role("textbox", name="Message")).to_have_value("")

    # Regenerate the last answer: a second attempt, "2 / 2", the first one kept.
    fake_upstream.enqueue(chat_stream(reasoning=["again"], content=["B"]))
    last = page.locator('[data-role="assistant"]').last
    last.get_by_role("button", name="Regenerate").click()
    second = answer(page, "B")
    expect(second.locator(".pager-text")).to_have_text("2 / 2")
    assert fake_upstream.requests[-1].json["messages"] == [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
    ]
    expect(page.locator("#notice")).to_be_hidden()
    page.screenshot(path=f"{SHOTS}/chat-siblings.png")
    second.get_by_role("button", name="Previous version").click()
    first = page.locator('[data-role="assistant"]').last
    expect(first.locator('[data-part="content"]')).to_have_text("A")
    expect(first.locator(".pager-text")).to_have_text("1 / 2")
    assert page.locator('[data-role="assistant"]').count() == 2  # one attempt shown

    # Edit the first question and resend: a new branch from the root.
    fake_upstream.enqueue(chat_stream(reasoning=["fresh"], content=["edited answer"]))
    page.locator('[data-role="user"]').first.get_by_role("button", name="Edit").click()
    box = page.get_by_role("textbox", name="Message")
    expect(box).to_have_value("first question")
    box.fill("first question, edited")
    page.get_by_role("button", name="Send").click()
    answer(page, "edited answer")
    assert fake_upstream.requests[-1].json["messages"] == [
        {"role": "user", "content": "first question, edited"}
    ]
    expect(page.locator('[data-role="user"]')).to_have_count(1)
    expect(page.locator('[data-role="user"] .pager-text')).to_have_text("2 / 2")

    # The old branch is still there, whole.
    page.locator('[data-role="user"]').get_by_role("button", name="Previous version").click()
    expect(page.locator('[data-role="user"] .bubble')).to_have_text(
        ["first question", "second question"]
    )
    # Reload: the server's active branch is the newest turn's, the edit.
    page.reload()
    expect(page.locator('[data-role="user"] .bubble')).to_have_text(["first question, edited"])
    for recorded in fake_upstream.requests:
        assert "thinking it over" not in str(recorded.json)
    expect(page.locator("#notice")).to_be_hidden()  # no error along the way
    assert not errors, errors
