"""A model granted away from a person while they were in a conversation: their next
regenerate or message is refused naming it, what they typed stays in the box, and no
other model answers in its place."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from playwright.sync_api import expect

from providers.fake_upstream import chat_stream
from tests.browser.conftest import SHOTS, answer, sign_in, watch

MODEL = "fake/fake-r1"


def _orm(func: Any) -> Any:
    """ORM work while Playwright's loop runs in this thread: in a thread of its own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(func).result()


@pytest.fixture
def alice_server(transactional_db, chat_provider, daphne_factory, django_user_model):  # type: ignore[no-untyped-def]
    django_user_model.objects.create_user("alice", password="alice-pass-123")
    return daphne_factory(DEMO_DELAY_SECONDS="0.03", CHAT_MODEL_CACHE_SECONDS="0")


def _turns() -> int:
    from conversations.models import Turn

    return Turn.objects.count()


def _grant_away() -> None:
    from accounts.teams import Team
    from providers.models import ChatModel

    model = ChatModel.objects.get(model_id="fake-r1")
    model.display_name = "Fake R1"
    model.save()
    Team.objects.create(name="Research").models.add(model)  # alice is not in it


def test_a_model_taken_away_is_refused_by_name_not_swapped(  # type: ignore[no-untyped-def]
    alice_server, fake_upstream, browser
):
    server = alice_server
    os.makedirs(SHOTS, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = watch(page)
    sign_in(page, server.url)
    page.select_option("#model", MODEL)
    fake_upstream.enqueue(chat_stream(reasoning=["hm"], content=["first answer"]))
    page.get_by_role("textbox", name="Message").fill("first question")
    page.get_by_role("button", name="Send").click()
    answer(page, "first answer")
    asked = len(fake_upstream.requests)

    _orm(_grant_away)
    page.reload()
    page.wait_for_selector("#chat[data-ready]")
    expect(page.locator('[data-role="assistant"]')).to_have_count(1)
    # The picker keeps the conversation's model, marked, rather than its first entry.
    expect(page.locator("#model")).to_have_value(MODEL)
    # (The answer's own header names its model plainly.)
    expect(page.locator('[data-role="assistant"]').last).not_to_contain_text("not available")

    page.locator('[data-role="assistant"]').last.get_by_role("button", name="Regenerate").click()
    notice = page.locator("#notice")
    expect(notice).to_contain_text("You may not use Fake R1 any more")
    expect(page.locator('[data-role="assistant"]')).to_have_count(1)

    box = page.get_by_role("textbox", name="Message")
    box.fill("second question")
    page.get_by_role("button", name="Send").click()
    expect(notice).to_contain_text("You may not use Fake R1 any more")
    expect(box).to_have_value("second question")  # what they typed is kept
    expect(page.locator('[data-role="user"]')).to_have_count(1)
    page.screenshot(path=f"{SHOTS}/chat-model-taken-away.png")
    assert len(fake_upstream.requests) == asked  # nothing went upstream
    assert _orm(_turns) == 2  # the question and its answer: no demo answer
    assert not [e for e in errors if "WebSocket" not in e], errors
