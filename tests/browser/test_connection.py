"""The socket drops mid-turn: the page says so, reconnects and resumes, nothing
missing or doubled; a turn whose process died ends as the server stored it."""

from __future__ import annotations

import json
import os

from playwright.sync_api import Locator, WebSocketRoute, expect

from tests.browser.conftest import SHOTS, sign_in

SOCKETS = "**/ws/conversations/**"


def stored_turn(page, kind: str = "assistant"):  # type: ignore[no-untyped-def]
    conversation = page.url.rstrip("/").split("/")[-1]
    body = page.request.get(f"/api/conversations/{conversation}/").json()
    return [t for t in body["turns"] if t["role"] == kind][-1]


def rendered(turn: Locator) -> None:
    """Wait until the answer's math and code are upgraded: KaTeX and highlight.js load after
    the text, so comparing before that compares placeholders with MathML."""
    expect(turn.locator('[data-part="content"] math')).not_to_have_count(0)
    expect(turn.locator(".md-math-pending, .md-hl-pending")).to_have_count(0)


def test_a_dropped_socket_resumes_without_gap_or_duplicate(server, browser):  # type: ignore[no-untyped-def]
    os.makedirs(SHOTS, exist_ok=True)
    page = browser.new_page(viewport={"width": 1280, "height": 800}, base_url=server.url)
    sockets: list[WebSocketRoute] = []

    def route(ws: WebSocketRoute) -> None:
        sockets.append(ws)
        if len(sockets) == 2:
            ws.close()  # the server is still away on the first retry
            return
        ws.connect_to_server()

    page.route_web_socket(SOCKETS, route)
    sign_in(page, server.url)
    page.get_by_role("textbox", name="Message").fill("Tell me about rivers")
    page.get_by_role("button", name="Send").click()
    turn = page.locator('[data-role="assistant"]').last
    expect(turn.locator('[data-part="content"]')).not_to_be_empty(timeout=15_000)
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")

    sockets[0].close()
    # The page says what happened, and what it means for the answer.
    expect(page.locator("#connection")).to_have_attribute("data-state", "reconnecting")
    expect(turn.locator(".turn-note")).to_contain_text("Connection lost")
    page.screenshot(path=f"{SHOTS}/chat-reconnecting.png")

    expect(turn).to_have_attribute("data-status", "completed", timeout=30_000)
    expect(page.locator("#connection")).to_have_attribute("data-state", "open")
    expect(turn.locator(".turn-note")).to_be_empty()
    assert len(sockets) >= 3
    # Exactly what the server stored: nothing missing, nothing twice.
    stored = stored_turn(page)
    rendered(turn)
    shown = turn.evaluate(
        "t => [t.querySelector('[data-part=reasoning] .reasoning-text').innerText,"
        " t.querySelector('[data-part=content]').innerText]"
    )
    page.reload()
    again = page.locator('[data-role="assistant"]').last
    expect(again).to_have_attribute("data-status", "completed")
    rendered(again)
    reloaded = again.evaluate(
        "t => [t.querySelector('[data-part=reasoning] .reasoning-text').innerText,"
        " t.querySelector('[data-part=content]').innerText]"
    )
    assert shown == reloaded
    assert stored["status"] == "completed"


def test_a_turn_whose_process_died_ends_incomplete_as_stored(server, browser):  # type: ignore[no-untyped-def]
    """After a reconnect nothing comes (the process writing the turn is gone): the page
    says the server is recovering it; the terminal event then says `interrupted`,
    which the server stores as `incomplete`, and the page shows the same."""
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    routes: list[WebSocketRoute] = []
    state = {"silent": False}

    def route(ws: WebSocketRoute) -> None:
        routes.append(ws)
        upstream = ws.connect_to_server()
        ws.on_message(lambda m: upstream.send(m))
        upstream.on_message(lambda m: None if state["silent"] else ws.send(m))

    page.route_web_socket(SOCKETS, route)
    sign_in(page, server.url)
    page.get_by_role("textbox", name="Message").fill("A long think, please")
    page.get_by_role("button", name="Send").click()
    turn = page.locator('[data-role="assistant"]').last
    expect(turn.locator(".reasoning-text")).not_to_be_empty(timeout=15_000)
    turn_id = turn.get_attribute("data-turn")

    state["silent"] = True  # from now on, as if the runner's process had died
    routes[0].close()
    expect(page.locator("#connection")).to_have_attribute("data-state", "open", timeout=10_000)
    expect(turn.locator(".turn-note")).to_contain_text("Waiting for the server", timeout=10_000)
    page.screenshot(path=f"{SHOTS}/chat-recovering.png")

    terminal = {
        "type": "turn.failed",
        "turn": turn_id,
        "seq": 100_000,
        "usage": None,
        "timings": None,
        "error": {"code": "interrupted", "message": "The server process stopped."},
    }
    routes[-1].send(json.dumps(terminal))
    expect(turn).to_have_attribute("data-status", "incomplete")
    expect(turn.locator(".badge")).to_have_text("Incomplete")
    expect(turn.locator(".turn-note")).to_be_empty()
    expect(page.get_by_role("button", name="Stop")).to_be_hidden()
