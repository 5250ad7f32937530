"""A message whose frame would pass the server's websocket frame limit (1 MiB) is
refused by the page before it is sent: said in plain words, in the page's language,
the text kept in the box and the socket still open."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, sign_in, watch

# 300,000 emoji: 300,000 characters (under the limit set below), 1.2 MB of UTF-8.
HUGE = "\U0001f600" * 300_000


@pytest.fixture
def roomy_server(daphne_factory, django_user_model):  # type: ignore[no-untyped-def]
    # A character limit raised by the operator: the frame limit is then what binds.
    django_user_model.objects.create_user("alice", password="alice-pass-123")
    return daphne_factory(DEMO_DELAY_SECONDS="0.01", CHAT_MAX_MESSAGE_CHARS="1000000")


def _fill(page, text: str) -> None:  # type: ignore[no-untyped-def]
    # Set at once: typing a megabyte key by key would take minutes.
    page.evaluate("(t) => { document.getElementById('message').value = t; }", text)


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("en-US", "This message is too large to send: 1.1 MB once encoded, and the limit is 1 MB."),
        ("zh-CN", "这条消息太大，无法发送：编码后为 1.1 MB，上限为 1 MB。"),
    ],
)
def test_an_oversized_frame_is_refused_before_sending(roomy_server, browser, locale, said):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    errors = watch(page)
    sent: list[int] = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda f: sent.append(len(f))))
    sign_in(page, roomy_server.url)
    page.fill("#message", "first")
    page.keyboard.press("Enter")
    expect(page.locator('[data-role="assistant"]').last).to_have_attribute(
        "data-status", "completed", timeout=15_000
    )
    frames_before = len(sent)

    _fill(page, HUGE)
    page.keyboard.press("Enter")
    expect(page.locator("#notice")).to_contain_text(said)
    page.screenshot(path=f"{SHOTS}/frame-limit-{locale}.png")
    assert page.eval_on_selector("#message", "e => e.value.length") == len(HUGE) * 2
    assert len(sent) == frames_before  # nothing went out
    assert page.locator(".turn-user").count() == 1

    # The socket is still open: the next message is answered.
    page.fill("#message", "second")
    page.keyboard.press("Enter")
    expect(page.locator(".turn-user")).to_have_count(2)
    expect(page.locator('[data-role="assistant"]').last).to_have_attribute(
        "data-status", "completed", timeout=15_000
    )
    assert not errors, errors
    context.close()
