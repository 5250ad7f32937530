"""Browser fixtures: Debian's Chromium driven by Playwright; a signed-in person."""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import IN_CI

CHROMIUM = shutil.which("chromium")

SHOTS = os.environ.get("SCREENSHOT_DIR", "var/screenshots")


@pytest.fixture
def browser():  # type: ignore[no-untyped-def]
    if not CHROMIUM:
        if IN_CI:
            pytest.fail("CI=true: Debian's chromium is required for the browser tests")
        pytest.skip("chromium is not installed")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def server(daphne_factory, django_user_model):  # type: ignore[no-untyped-def]
    django_user_model.objects.create_user("alice", password="alice-pass-123")
    return daphne_factory(DEMO_DELAY_SECONDS="0.03")


def sign_in(page, base: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base + "/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-pass-123")
    page.click("button[type=submit]")
    page.wait_for_selector("#chat[data-ready]")  # the page script is listening


def answer(page, text: str):  # type: ignore[no-untyped-def]
    """The last assistant turn on screen, once its answer reads `text` and it is done."""
    turn = page.locator('[data-role="assistant"]').last
    expect(turn.locator('[data-part="content"]')).to_have_text(text, timeout=15_000)
    expect(turn).to_have_attribute("data-status", "completed", timeout=15_000)
    return turn


def watch(page) -> list[str]:  # type: ignore[no-untyped-def]
    """The page's script errors and console errors, as they come."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    return errors


def research_team():  # type: ignore[no-untyped-def]
    """alice (the server's user, the team's reviewer) and bob in the team Research.
    Call it from a fixture: ORM work before the `browser` fixture starts Playwright's loop."""
    from django.contrib.auth import get_user_model

    from accounts.teams import Team

    alice = get_user_model().objects.get(username="alice")
    bob = get_user_model().objects.create_user("bob", password="bob-pass-123")
    team = Team.objects.create(name="Research")
    team.members.add(alice, bob)
    team.reviewers.add(alice)
    return alice, bob


def reviewer_page(browser, server, width: int = 1360):  # type: ignore[no-untyped-def]
    """alice signed in on a desktop-sized page; the errors it logs, watched."""
    page = browser.new_page(viewport={"width": width, "height": 900}, base_url=server.url)
    errors = watch(page)
    sign_in(page, server.url)
    os.makedirs(SHOTS, exist_ok=True)
    return page, errors
