"""A person in Chromium: sign in, chat with the offline demo, watch it think, reload."""

from __future__ import annotations

import os

from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, sign_in


def test_chat_with_the_demo_model(server, browser):  # type: ignore[no-untyped-def]
    os.makedirs(SHOTS, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    sign_in(page, server.url)
    expect(page.locator("#model")).to_have_value("demo/reasoner")

    page.fill("#message", "Why is the sky blue? <b>bold?</b>")
    page.keyboard.press("Enter")
    reasoning = page.locator(".turn-assistant .reasoning-text").first
    expect(reasoning).not_to_be_empty(timeout=10_000)
    expect(page.locator(".reasoning-label").first).to_have_text("Thinking…")
    expect(page.locator("#stop")).to_be_visible()
    # The tab follows the conversation's title at once, not after a reload.
    assert page.title().startswith("Why is the sky blue?"), page.title()
    page.wait_for_timeout(600)
    page.screenshot(path=f"{SHOTS}/chat-mid-stream.png")
    timer = page.locator(".reasoning-timer").first.text_content()
    assert timer and timer.endswith(" s")

    answer = page.locator(".turn-assistant .answer").first
    expect(answer).not_to_be_empty(timeout=20_000)
    expect(page.locator(".turn-assistant .turn-status").first).to_contain_text(
        "tokens", timeout=30_000
    )
    expect(page.locator(".reasoning-label").first).to_have_text("Thought")
    page.screenshot(path=f"{SHOTS}/chat-done.png")
    # The question was shown as text, not as HTML.
    expect(page.locator(".turn-user .bubble").first).to_have_text(
        "Why is the sky blue? <b>bold?</b>"
    )
    assert page.locator(".turn-user b").count() == 0
    assert "/c/" in page.url
    stored_answer = answer.text_content()
    stored_reasoning = reasoning.text_content()

    # Reload: everything as stored, reasoning collapsed in its panel.
    page.reload()
    expect(page.locator(".turn-assistant .answer").first).to_have_text(stored_answer or "")
    assert page.locator(".turn-assistant .reasoning-text").first.text_content() == stored_reasoning
    expect(page.locator(".conversation-link.active")).to_contain_text("Why is the sky blue?")
    assert not errors, errors


def test_closing_the_tab_mid_turn_and_coming_back(server, browser):  # type: ignore[no-untyped-def]
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, server.url)
    page.fill("#message", "Tell me a long story")
    page.keyboard.press("Enter")
    expect(page.locator(".turn-assistant .reasoning-text").first).not_to_be_empty(timeout=10_000)
    url = page.url
    partial = page.locator(".turn-assistant .reasoning-text").first.text_content() or ""
    page.close()

    page = context.new_page()
    page.goto(url)
    answer = page.locator(".turn-assistant .answer").first
    expect(page.locator(".turn-assistant .turn-status").first).to_contain_text(
        "tokens", timeout=30_000
    )
    final_reasoning = page.locator(".turn-assistant .reasoning-text").first.text_content() or ""
    # Rendered text: the open block may end in a line break the next words replace.
    assert final_reasoning.startswith(partial.strip())
    # Nothing doubled: the stored answer and the page agree exactly.
    import json
    import urllib.request

    conversation_id = url.rstrip("/").rsplit("/", 1)[1]
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    req = urllib.request.Request(
        f"{server.url}/api/conversations/{conversation_id}/",
        headers={"Cookie": f"sessionid={cookies['sessionid']}"},
    )
    data = json.load(urllib.request.urlopen(req))
    turn = data["turns"][1]
    assert turn["status"] == "completed"
    # The page shows the stored answer rendered as Markdown, once.
    rendered = page.evaluate(
        "async ([t, breaks]) => (await import('/static/chat/markdown.js'))"
        ".renderMarkdown(t, {breaks}).textContent",
        [turn["content"], False],
    )
    assert answer.text_content() == rendered
    rendered_reasoning = page.evaluate(
        "async ([t, breaks]) => (await import('/static/chat/markdown.js'))"
        ".renderMarkdown(t, {breaks}).textContent",
        [turn["reasoning_content"], True],
    )
    assert final_reasoning == rendered_reasoning


def test_phone_width_keeps_the_conversation_list_reachable(server, browser):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 390, "height": 844})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"{exc} {exc.stack}"))
    sign_in(page, server.url)
    page.fill("#message", "Hello from a phone")
    page.keyboard.press("Enter")
    expect(page.locator('[data-role="assistant"]')).to_have_attribute(
        "data-status", "completed", timeout=30_000
    )
    new_chat = page.get_by_role("button", name="New chat")
    expect(new_chat).to_be_hidden()
    menu = page.get_by_role("button", name="Conversations")
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    expect(new_chat).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.locator(".conversation-link.active")).to_contain_text("Hello from a phone")
    page.screenshot(path=f"{SHOTS}/chat-phone-menu.png")
    page.keyboard.press("Escape")
    expect(new_chat).to_be_hidden()
    page.screenshot(path=f"{SHOTS}/chat-phone.png")
    assert not errors, errors


def test_stop_mid_stream_keeps_the_partial(server, browser):  # type: ignore[no-untyped-def]
    page = browser.new_page(viewport={"width": 1280, "height": 800}, base_url=server.url)
    sign_in(page, server.url)
    page.get_by_role("textbox", name="Message").fill("Think for a while")
    page.get_by_role("button", name="Send").click()
    turn = page.locator('[data-role="assistant"]').last
    expect(turn.locator(".reasoning-text")).not_to_be_empty(timeout=10_000)
    page.get_by_role("button", name="Stop").click()
    expect(turn).to_have_attribute("data-status", "stopped", timeout=10_000)
    expect(turn.locator(".badge")).to_have_text("Stopped")
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    expect(page.get_by_role("button", name="Send")).to_be_enabled()
    shown = turn.locator(".reasoning-text").inner_text()
    assert shown.strip()
    # Stored as shown: the partial is kept, marked stopped.
    conversation = page.url.rstrip("/").split("/")[-1]
    stored = page.request.get(f"/api/conversations/{conversation}/").json()["turns"][-1]
    assert stored["status"] == "stopped" and stored["reasoning_content"].strip()
    page.reload()
    again = page.locator('[data-role="assistant"]').last
    expect(again).to_have_attribute("data-status", "stopped")
    again.locator("summary").click()
    assert again.locator(".reasoning-text").inner_text() == shown
