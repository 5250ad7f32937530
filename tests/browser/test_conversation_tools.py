"""What a person does around the turns: rename, delete, search, download, the new-chat
shortcut, the thinking controls, the growing box, following a long answer, and a
refused first message that leaves nothing behind."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from providers.fake_upstream import chat_stream
from tests.browser.conftest import SHOTS, sign_in


def chat_once(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.locator('[data-role="assistant"]').last).to_have_attribute(
        "data-status", "completed", timeout=30_000
    )


def test_rename_search_download_and_delete(server, browser):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 800}, base_url=server.url)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server.url)
    chat_once(page, "Tides and the moon")
    expect(page.locator("#title")).to_have_text("Tides and the moon")
    first_url = page.url

    # Rename: the heading, the tab and the sidebar follow, and it is stored.
    page.get_by_role("button", name="Rename").click()
    box = page.get_by_role("textbox", name="Conversation title")
    box.fill("Ocean notes")
    box.press("Enter")
    expect(page.locator("#title")).to_have_text("Ocean notes")
    assert page.title().startswith("Ocean notes")
    expect(page.locator(".conversation-link.active")).to_have_text("Ocean notes")
    page.reload()
    expect(page.locator("#title")).to_have_text("Ocean notes")

    # Download: the branch on screen as Markdown, reasoning folded.
    with page.expect_download() as info:
        page.get_by_role("link", name="Download").click()
    download = info.value
    assert download.suggested_filename == "ocean-notes.md"
    text = open(download.path(), encoding="utf-8").read()
    assert text.startswith("# Ocean notes\n")
    assert "Tides and the moon" in text and "<details>" in text and "offline demo" in text

    # Search: over titles and message text.
    page.get_by_role("button", name="New chat").click()
    page.wait_for_selector("#chat[data-ready]")
    chat_once(page, "Volcanoes of Iceland")
    search = page.get_by_role("searchbox", name="Search conversations")
    search.fill("tides")
    expect(page.locator(".conversation-link")).to_have_count(1)
    expect(page.locator(".conversation-link")).to_have_text("Ocean notes")
    search.fill("nothing like this")
    expect(page.locator(".conversation-list")).to_contain_text("No conversation matches.")
    search.fill("")
    expect(page.locator(".conversation-link")).to_have_count(2)

    # Delete asks first; Cancel keeps it.
    page.goto(first_url)
    page.get_by_role("button", name="Delete").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Delete this conversation?")
    page.screenshot(path=f"{SHOTS}/chat-delete-dialog.png")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert page.request.get(f"/api/conversations/{first_url.split('/')[-2]}/").status == 200
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    page.wait_for_url(server.url + "/")
    assert page.request.get(f"/api/conversations/{first_url.split('/')[-2]}/").status == 404
    expect(page.locator(".conversation-link")).to_have_count(1)

    # Ctrl+Shift+O: a new chat from anywhere.
    page.locator(".conversation-link").first.click()
    page.wait_for_selector("#chat[data-ready]")
    page.keyboard.press("Control+Shift+O")
    page.wait_for_url(server.url + "/")
    assert not errors, errors


@pytest.fixture
def small_limit_server(daphne_factory, django_user_model):  # type: ignore[no-untyped-def]
    # Before the browser fixture: Playwright's loop makes the ORM refuse sync calls.
    django_user_model.objects.create_user("alice", password="alice-pass-123")
    return daphne_factory(CHAT_MAX_MESSAGE_CHARS="40")


def test_a_long_message_is_kept_and_nothing_is_created(small_limit_server, browser):  # type: ignore[no-untyped-def]
    page = browser.new_page(base_url=small_limit_server.url)
    sign_in(page, small_limit_server.url)
    text = "x" * 41
    page.get_by_role("textbox", name="Message").fill(text)
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#notice")).to_contain_text("the limit is 40")
    expect(page.get_by_role("textbox", name="Message")).to_have_value(text)
    expect(page.locator(".turn")).to_have_count(0)
    assert page.request.get("/api/conversations/").json()["conversations"] == []


def test_a_refused_first_message_leaves_no_empty_conversation(server, browser):  # type: ignore[no-untyped-def]
    page = browser.new_page(base_url=server.url)
    sign_in(page, server.url)
    # A model that went away after the page loaded: the server refuses the turn.
    page.locator("#model").evaluate("s => { s.options[0].value = 'demo/gone'; }")
    page.get_by_role("textbox", name="Message").fill("Hello there")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#notice")).to_be_visible()
    expect(page.get_by_role("textbox", name="Message")).to_have_value("Hello there")
    expect(page.locator(".turn")).to_have_count(0)
    expect(page).to_have_url(server.url + "/")
    page.wait_for_timeout(300)  # the DELETE of the empty conversation
    assert page.request.get("/api/conversations/").json()["conversations"] == []
    expect(page.locator(".conversation-link")).to_have_count(0)


def test_thinking_controls_follow_the_model(  # type: ignore[no-untyped-def]
    transactional_db, chat_provider, responses_provider, fake_upstream, server, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, server.url)
    thinking = page.get_by_role("combobox", name="Thinking")
    effort = page.get_by_role("combobox", name="Effort")

    # The demo thinks or not, with no effort to choose.
    page.select_option("#model", "demo/reasoner")
    expect(thinking).to_be_visible()
    expect(effort).to_be_hidden()

    # DeepSeek-like: efforts high/max, none with thinking off.
    page.select_option("#model", "fake/fake-r1")
    expect(effort).to_be_visible()
    thinking.select_option("disabled")
    expect(effort).to_be_hidden()
    fake_upstream.enqueue(chat_stream(reasoning=[], content=["plain answer"]))
    page.get_by_role("textbox", name="Message").fill("No thinking, please")
    page.get_by_role("button", name="Send").click()
    expect(page.locator('[data-role="assistant"]').last).to_have_attribute(
        "data-status", "completed", timeout=15_000
    )
    body = fake_upstream.requests[-1].json
    assert body["thinking"] == {"type": "disabled"}
    assert "reasoning_effort" not in body

    # Ark-responses-like: with thinking off, only "minimal" effort.
    page.select_option("#model", "fake-resp/fake-r1")
    thinking.select_option("disabled")
    values = effort.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert values == ["", "minimal"], values
    thinking.select_option("enabled")
    values = effort.locator("option").evaluate_all("os => os.map(o => o.value)")
    assert values == ["", "minimal", "low", "medium", "high"], values
    effort.select_option("low")

    # Remembered per conversation: the first one keeps its choice after a reload.
    page.reload()
    page.wait_for_selector("#chat[data-ready]")
    expect(page.locator("#model")).to_have_value("fake-resp/fake-r1")
    expect(effort).to_have_value("low")


def test_the_view_follows_a_long_answer_until_the_person_scrolls_up(  # type: ignore[no-untyped-def]
    transactional_db, chat_provider, fake_upstream, server, browser
):
    page = browser.new_page(viewport={"width": 1280, "height": 720})
    sign_in(page, server.url)
    page.select_option("#model", "fake/fake-r1")
    box = page.get_by_role("textbox", name="Message")
    # The box grows with its text.
    before = box.bounding_box()["height"]
    box.fill("one\ntwo\nthree\nfour\nfive")
    assert box.bounding_box()["height"] > before + 30

    lines = [f"Paragraph {i} of a long answer.\n\n" for i in range(120)]
    fake_upstream.enqueue(chat_stream(reasoning=["Let me think."], content=lines, delay=0.03))
    box.fill("Write a long answer")
    page.get_by_role("button", name="Send").click()
    messages = page.locator("#messages")
    turn = page.locator('[data-role="assistant"]').last
    expect(turn.locator('[data-part="content"]')).to_contain_text("Paragraph 40", timeout=15_000)
    at_end = "m => m.scrollHeight - m.scrollTop - m.clientHeight < 40"
    assert messages.evaluate(at_end)

    # Scrolled up: the view stays put and offers a way back.
    messages.hover()
    page.mouse.wheel(0, -600)
    jump = page.get_by_role("button", name="Jump to latest")
    expect(jump).to_be_visible()
    top = messages.evaluate("m => m.scrollTop")
    page.wait_for_timeout(500)
    assert abs(messages.evaluate("m => m.scrollTop") - top) < 2
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=f"{SHOTS}/chat-jump-to-latest.png")
    jump.click()
    expect(jump).to_be_hidden()

    # Followed to the very end of the finished answer.
    expect(turn).to_have_attribute("data-status", "completed", timeout=30_000)
    page.wait_for_timeout(300)
    assert messages.evaluate(at_end)
    tools = turn.locator(".turn-tools").bounding_box()
    assert (
        tools["y"] + tools["height"]
        <= messages.bounding_box()["y"] + messages.bounding_box()["height"] + 1
    )
