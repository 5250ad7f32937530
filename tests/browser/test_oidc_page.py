"""Company sign-in in Chromium: the button, the real provider's login page, back signed
in with the team of the groups claim; the failure page; signing out at the IdP
(through the page's CSP form-action). Screenshots in SCREENSHOT_DIR."""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SHOTS, watch
from tests.oidc_idp import CLIENT_ID, CLIENT_SECRET, RealIdP


@pytest.fixture
def idp_server(daphne_factory, django_user_model):
    from accounts.teams import Team

    django_user_model.objects.create_user("local", password="local-pass-123")
    Team.objects.create(name="Engineering", idp_group="eng")
    idp = RealIdP(
        ["http://placeholder/oidc/callback/"],
        {
            "u-ada": {
                "password": "ada-pw",
                "email": "ada@example.com",
                "email_verified": True,
                "preferred_username": "ada",
                "groups": ["eng"],
            }
        },
    )
    server = daphne_factory(
        OIDC_ISSUER=idp.issuer,
        OIDC_CLIENT_ID=CLIENT_ID,
        OIDC_CLIENT_SECRET=CLIENT_SECRET,
        OIDC_BUTTON_LABEL="Example SSO",
    )
    # The app's address is known now: the IdP learns its redirect URI (same port).
    idp.redirect_uris = [server.url + "/oidc/callback/"]
    idp.stop()
    idp.start()
    yield server, idp
    idp.stop()


def teams_of(username: str) -> list[str]:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.get(username=username)
    return list(user.teams.values_list("name", flat=True))


def shot(page, name: str) -> None:
    os.makedirs(SHOTS, exist_ok=True)
    page.screenshot(path=os.path.join(SHOTS, name), full_page=True)


def test_sign_in_through_the_real_provider(idp_server, browser):
    server, idp = idp_server
    context = browser.new_context(locale="en-US", color_scheme="light")
    page = context.new_page()
    errors = watch(page)
    page.goto(server.url + "/accounts/login/")
    button = page.get_by_role("link", name="Sign in with Example SSO")
    expect(button).to_be_visible()
    shot(page, "oidc-sign-in-en-light.png")
    button.click()
    # The provider's own login page.
    page.wait_for_url(re.compile(re.escape(idp.issuer) + "/interaction/"))
    page.fill("#login", "u-ada")
    page.fill("#password", "ada-pw")
    page.click("#submit")
    page.wait_for_url(server.url + "/")
    page.wait_for_selector("#chat[data-ready]")
    # Playwright's loop runs in this thread: the ORM reads from another one.
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(teams_of, "ada").result() == ["Engineering"]

    # Sign out: the page's form posts here, then the browser goes on to the IdP.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(re.escape(idp.issuer) + "/session/end"))
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(re.compile(re.escape(server.url) + "/accounts/login/"))
    # Signed out at the IdP too: the button leads to its login form again.
    page.get_by_role("link", name="Sign in with Example SSO").click()
    page.wait_for_url(re.compile(re.escape(idp.issuer) + "/interaction/"))
    expect(page.locator("#password")).to_be_visible()
    assert not [e for e in errors if "Content Security Policy" in e], errors
    context.close()


def test_sign_in_page_and_failure_page_in_chinese(idp_server, browser):
    server, _idp = idp_server
    context = browser.new_context(locale="zh-CN", color_scheme="light")
    page = context.new_page()
    errors = watch(page)
    page.goto(server.url + "/accounts/login/")
    expect(page.get_by_role("link", name="使用 Example SSO 登录")).to_be_visible()
    expect(page.locator("#id_password")).to_be_visible()
    shot(page, "oidc-sign-in-zh-light.png")
    page.goto(server.url + "/oidc/callback/?code=forged&state=forged")
    page.wait_for_url(server.url + "/oidc/failed/state/")
    expect(page.get_by_role("heading", name="登录失败")).to_be_visible()
    expect(page.get_by_role("link", name="返回登录页")).to_be_visible()
    shot(page, "oidc-failure-zh-light.png")
    page.get_by_role("link", name="返回登录页").click()
    page.wait_for_url(server.url + "/accounts/login/")
    # The failure page answers 400, which Chromium reports; nothing else may fail.
    assert [e for e in errors if "status of 400" not in e] == [], errors
    context.close()


def test_failure_page_in_english_dark(idp_server, browser):
    server, _idp = idp_server
    context = browser.new_context(locale="en-US", color_scheme="dark")
    page = context.new_page()
    page.goto(server.url + "/oidc/callback/?code=forged&state=forged")
    expect(page.get_by_role("heading", name="Sign-in failed")).to_be_visible()
    shot(page, "oidc-failure-en-dark.png")
    context.close()
