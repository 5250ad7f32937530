"""What a newcomer sees first: the sign-in page, then the offline demo's answer, which
shows what the page renders (code, a table, math) in the person's language, and Copy
saying that it copied."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, sign_in, watch


def ask_demo(page, base: str, question: str):  # type: ignore[no-untyped-def]
    sign_in(page, base)
    page.fill("#message", question)
    page.keyboard.press("Enter")
    turn = page.locator('[data-role="assistant"]').last
    expect(turn).to_have_attribute("data-status", "completed", timeout=30_000)
    return turn


@pytest.mark.parametrize(
    ("locale", "said", "question"),
    [
        ("en-US", "This is the offline demo.", "Why is the sky blue?"),
        ("zh-CN", "这是离线演示。", "天空为什么是蓝色的？"),
    ],
)
def test_the_demo_answer_shows_code_a_table_and_math(server, browser, locale, said, question):  # type: ignore[no-untyped-def]
    os.makedirs(SHOTS, exist_ok=True)
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    errors = watch(page)
    turn = ask_demo(page, server.url, question)
    answer = turn.locator('[data-part="content"]')
    expect(answer).to_contain_text(said)
    # Rendered, not shown as source: highlighted code with its Copy button, a table,
    # KaTeX's MathML inline and on its own line.
    expect(answer.locator(".md-code code.language-python.hljs")).to_have_count(1)
    assert answer.locator(".md-code .hljs-keyword").count() >= 3
    expect(answer.locator("table th")).to_have_count(3)
    expect(answer.locator("table tbody tr")).to_have_count(2)
    expect(answer.locator('math[display="block"]')).to_have_count(1)
    assert answer.locator("math").count() == 2
    assert "$" not in (answer.inner_text() or "")
    assert answer.locator(".katex-error, .md-math-pending, .md-hl-pending").count() == 0
    turn.scroll_into_view_if_needed()
    name = locale.split("-")[0]
    page.screenshot(path=f"{SHOTS}/demo-{name}-light.png", full_page=True)
    page.emulate_media(color_scheme="dark")
    page.wait_for_timeout(200)
    page.screenshot(path=f"{SHOTS}/demo-{name}-dark.png", full_page=True)
    assert not errors, errors


def test_copy_says_copied(server, browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    turn = ask_demo(page, server.url, "Copy me")
    tools = turn.locator(".turn-tools")
    copy = tools.get_by_role("button", name="Copy", exact=True)
    copy.click()
    copy = tools.locator("button[data-copy]")  # its name changes: found by what it is
    expect(copy).to_have_text("Copied")
    # Said to screen readers too, through a status region.
    expect(tools.get_by_role("status")).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("**This is the offline demo.**") and "```python\n" in copied
    tools.screenshot(path=f"{SHOTS}/copy-copied.png")
    expect(copy).to_have_text("Copy", timeout=5000)
    expect(tools.get_by_role("status")).to_have_text("")


@pytest.mark.parametrize(
    ("width", "locale", "sign_in_name"),
    [(1280, "en-US", "Sign in"), (390, "en-US", "Sign in"), (390, "zh-CN", "登录")],
)
def test_the_sign_in_page_keeps_the_language_menu_apart(
    server, browser, width, locale, sign_in_name
):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale=locale, viewport={"width": width, "height": 800})
    page = context.new_page()
    page.goto(server.url + "/accounts/login/")
    sign = page.get_by_role("button", name=sign_in_name, exact=True).bounding_box()
    menu = page.locator(".auth-card .language-form").bounding_box()
    card = page.locator(".auth-card").bounding_box()
    assert sign and menu and card
    # The menu sits below the button with room between them, inside the card.
    assert menu["y"] - (sign["y"] + sign["height"]) >= 16, (sign, menu)
    assert menu["x"] >= card["x"] and menu["x"] + menu["width"] <= card["x"] + card["width"]
    assert card["x"] >= 0 and card["x"] + card["width"] <= width
    page.screenshot(path=f"{SHOTS}/sign-in-{width}-{locale}.png", full_page=True)
