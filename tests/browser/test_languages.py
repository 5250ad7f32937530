"""The page in Simplified Chinese: chosen by the browser's language or the switcher,
remembered, with no English product string left in the page's own text."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, sign_in

LOCALE = Path(__file__).resolve().parents[2] / "locale" / "zh_Hans" / "LC_MESSAGES"


def english_strings() -> set[str]:
    """Every product string (msgid) of the templates and page scripts, English."""
    found: set[str] = set()
    for po in LOCALE.glob("*.po"):
        for block in po.read_text(encoding="utf-8").split("\n\n"):
            match = re.search(r'^msgid ((?:".*"\n?)+)msgstr', block, re.M)
            if match:
                text = "".join(re.findall(r'"(.*)"', match.group(1)))
                # The words around placeholders, e.g. "reasoning tokens".
                for part in re.split(r"%\(\w+\)s", text):
                    if re.search(r"[A-Za-z]{3,}", part):
                        found.add(part.strip(" :().·"))
    found.discard("")
    return found - KEPT_AS_IS


# Technical terms the Chinese catalog keeps in Latin letters, as Chinese developer
# documentation does ("API 令牌", "推理 120 tokens").
KEPT_AS_IS = {"API", "token", "tokens"}


def chrome_text(page) -> str:  # type: ignore[no-untyped-def]
    """The page's own words: everything but what the model and the person wrote."""
    return page.evaluate(
        """() => {
          const clone = document.body.cloneNode(true);
          for (const n of clone.querySelectorAll('[data-part], .bubble, .conversation-link, .turn-meta, .sidebar-foot .muted, option, script')) n.remove();
          const attrs = [...document.querySelectorAll('[placeholder],[title],[aria-label]')]
            .flatMap((n) => ['placeholder', 'title', 'aria-label'].map((a) => n.getAttribute(a) || ''));
          const options = [...document.querySelectorAll('#thinking option, #effort option')].map((o) => o.textContent);
          return [clone.innerText, ...attrs, ...options, document.title].join('\\n');
        }"""
    )


def test_the_chinese_page_has_no_english_product_string(server, browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(server.url + "/")
    expect(page.get_by_role("button", name="登录")).to_be_visible()
    sign_in(page, server.url)
    page.get_by_role("textbox", name="消息").fill("为什么天空是蓝色的？")
    page.get_by_role("button", name="发送").click()
    turn = page.locator('[data-role="assistant"]')
    expect(turn).to_have_attribute("data-status", "completed", timeout=30_000)
    expect(turn.locator(".reasoning-label")).to_have_text("已思考")
    expect(turn.locator(".turn-status")).to_contain_text("推理")
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    page.screenshot(path=f"{SHOTS}/chat-zh.png")

    text = chrome_text(page)
    left = sorted(s for s in english_strings() if s in text)
    assert not left, left
    context.close()


def test_the_language_switcher_remembers_the_choice(server, browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="en-US")
    page = context.new_page()
    sign_in(page, server.url)
    expect(page.get_by_role("button", name="New chat")).to_be_visible()
    page.get_by_label("Language").select_option("zh-hans")
    page.get_by_role("button", name="Switch language").click()
    expect(page.get_by_role("button", name="新对话")).to_be_visible()
    page.goto(server.url + "/")  # remembered, though the browser still asks for English
    expect(page.get_by_role("button", name="新对话")).to_be_visible()
    context.close()


@pytest.fixture
def unreachable_model(transactional_db):  # type: ignore[no-untyped-def]
    """A provider at an address nothing listens on (port 9, discard)."""
    from tests.conftest import TEST_API_KEY, _make_provider

    _make_provider("down", "chat-completions", "http://127.0.0.1:9/v1", TEST_API_KEY)
    return "down/fake-r1"


@pytest.fixture
def down_server(unreachable_model, daphne_factory, django_user_model):  # type: ignore[no-untyped-def]
    # Before the browser fixture: Playwright's loop makes the ORM refuse sync calls.
    django_user_model.objects.create_user("alice", password="alice-pass-123")
    return daphne_factory(UPSTREAM_RETRIES="0")


@pytest.mark.parametrize(
    "locale, failed, sentence",
    [
        ("en-US", "Failed", "The model's provider could not be reached."),
        ("zh-CN", "失败", "无法连接到模型的服务商。"),
    ],
)
def test_a_failed_turn_says_what_failed_in_plain_words(  # type: ignore[no-untyped-def]
    unreachable_model, down_server, browser, locale, failed, sentence
):
    server = down_server
    context = browser.new_context(locale=locale)
    page = context.new_page()
    sign_in(page, server.url)
    page.locator("#model").select_option(unreachable_model)
    page.locator("#message").fill("Hello?")
    page.locator("#send").click()
    turn = page.locator('[data-role="assistant"]')
    expect(turn).to_have_attribute("data-status", "failed", timeout=30_000)
    expect(turn.locator(".badge-error")).to_have_text(failed)
    # The stored sentence, in the page's language (errors.js loads on first use);
    # never the library's text.
    expect(turn.locator(".turn-error")).to_contain_text(sentence)
    assert "Connect call failed" not in turn.inner_text()
    if locale == "zh-CN":
        page.screenshot(path=f"{SHOTS}/chat-error-zh.png")
    page.reload()
    expect(page.locator('[data-role="assistant"] .turn-error')).to_contain_text(sentence)
    context.close()
