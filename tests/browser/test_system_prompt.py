"""A person sets the conversation's system prompt in the page: chosen before the first
message it is stored with the new conversation, changed later it is saved at once;
the fake upstream's recorded requests show it sent first, or folded into the first
message for a model that takes no system prompt (with a note saying so)."""

from __future__ import annotations

import os

import pytest
from playwright.sync_api import expect

from providers.fake_upstream import chat_stream
from tests.browser.conftest import SHOTS, answer, sign_in

MODEL = "fake/fake-r1"
NO_SYSTEM = "fake/fake-r1-nosys"


@pytest.fixture
def models(transactional_db, chat_provider):  # type: ignore[no-untyped-def]
    # Before the browser fixture: Playwright's loop makes the ORM refuse sync calls.
    from providers.models import ChatModel

    ChatModel.objects.create(
        provider=chat_provider, model_id="fake-r1-nosys", no_system_prompt=True
    )
    return MODEL, NO_SYSTEM


def set_prompt(page, text: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("button", name="System prompt").click()
    dialog = page.get_by_role("dialog", name="System prompt")
    expect(dialog).to_be_visible()
    dialog.get_by_role("textbox", name="System prompt").fill(text)
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()


def test_system_prompt_is_sent_and_saved(models, fake_upstream, server, browser):  # type: ignore[no-untyped-def]
    os.makedirs(SHOTS, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, server.url)
    page.select_option("#model", MODEL)

    # A new chat: the prompt is kept until the first message creates the conversation.
    set_prompt(page, "Answer in French.")
    expect(page.locator("#system-prompt-open")).to_have_class("link small is-set")
    fake_upstream.enqueue(chat_stream(reasoning=["hmm"], content=["Bonjour."]))
    page.get_by_role("textbox", name="Message").fill("Hello")
    page.get_by_role("button", name="Send").click()
    answer(page, "Bonjour.")
    assert fake_upstream.requests[-1].json["messages"] == [
        {"role": "system", "content": "Answer in French."},
        {"role": "user", "content": "Hello"},
    ]

    # Changed in an open conversation: saved at once, sent with the next message.
    page.get_by_role("button", name="System prompt").click()
    box = page.get_by_role("textbox", name="System prompt")
    expect(box).to_have_value("Answer in French.")
    expect(page.locator("#system-note")).to_be_hidden()  # this model takes one
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    set_prompt(page, "Answer in Italian.")
    fake_upstream.enqueue(chat_stream(reasoning=["hmm"], content=["Ciao."]))
    page.get_by_role("textbox", name="Message").fill("Again")
    page.get_by_role("button", name="Send").click()
    answer(page, "Ciao.")
    assert fake_upstream.requests[-1].json["messages"][0] == {
        "role": "system",
        "content": "Answer in Italian.",
    }

    # A model that takes no system prompt: the dialog says so, and the prompt opens
    # the first message instead.
    page.select_option("#model", NO_SYSTEM)
    page.get_by_role("button", name="System prompt").click()
    note = page.locator("#system-note")
    expect(note).to_be_visible()
    expect(note).to_contain_text("works best without a system prompt")
    page.screenshot(path=f"{SHOTS}/system-prompt-dialog.png")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    fake_upstream.enqueue(chat_stream(reasoning=["hmm"], content=["Va bene."]))
    page.get_by_role("textbox", name="Message").fill("Third")
    page.get_by_role("button", name="Send").click()
    answer(page, "Va bene.")
    assert fake_upstream.requests[-1].json["messages"] == [
        {"role": "user", "content": "Answer in Italian.\n\nHello"},
        {"role": "assistant", "content": "Bonjour."},
        {"role": "user", "content": "Again"},
        {"role": "assistant", "content": "Ciao."},
        {"role": "user", "content": "Third"},
    ]

    # Reloaded: the stored prompt is what the dialog shows.
    page.reload()
    page.wait_for_selector("#chat[data-ready]")
    expect(page.locator("#system-prompt-open")).to_have_class("link small is-set")
    page.get_by_role("button", name="System prompt").click()
    expect(page.get_by_role("textbox", name="System prompt")).to_have_value("Answer in Italian.")
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    page.set_viewport_size({"width": 390, "height": 760})
    expect(page.get_by_role("button", name="System prompt")).to_be_in_viewport()
    page.screenshot(path=f"{SHOTS}/system-prompt-phone.png")
    assert errors == []


def test_system_prompt_dialog_in_chinese(models, server, browser):  # type: ignore[no-untyped-def]
    os.makedirs(SHOTS, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    host = server.url.split("//", 1)[1].split(":", 1)[0]
    context.add_cookies(
        [{"name": "django_language", "value": "zh-hans", "domain": host, "path": "/"}]
    )
    page = context.new_page()
    sign_in(page, server.url)
    page.select_option("#model", NO_SYSTEM)
    page.get_by_role("button", name="系统提示词").click()
    dialog = page.get_by_role("dialog", name="系统提示词")
    expect(dialog).to_be_visible()
    dialog.get_by_role("textbox", name="系统提示词").fill("请用简洁的中文回答。")
    expect(page.locator("#system-note")).to_contain_text("不使用系统提示词时效果最好")
    expect(dialog.get_by_role("button", name="保存")).to_be_visible()
    page.screenshot(path=f"{SHOTS}/system-prompt-dialog-zh.png")
    context.close()
