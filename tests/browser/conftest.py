"""Browser fixtures: Debian's Chromium driven by Playwright; a signed-in person."""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.sync_api import sync_playwright

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
