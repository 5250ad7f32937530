"""The site's ASGI handler (chatsite/handler.py): Django's request signals and the
response's close run on the loop, a streaming response is still closed in a thread,
and the page is what Django's own handler would give."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core import signals

from tests.conftest import session_cookie

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


def scope(path: str, cookie: str = "") -> dict[str, Any]:
    headers = [(b"host", b"127.0.0.1:8000")]
    if cookie:
        headers.append((b"cookie", f"sessionid={cookie}".encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 5000),
        "server": ("127.0.0.1", 8000),
    }


async def get(path: str, cookie: str = "") -> tuple[int, bytes]:
    from chatsite.asgi import application

    app = ApplicationCommunicator(application, scope(path, cookie))
    await app.send_input({"type": "http.request", "body": b""})
    start = await app.receive_output(10)
    body = b""
    while True:
        message = await app.receive_output(10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await app.wait(10)
    return start["status"], body


@pytest.fixture
def signalled() -> Any:
    seen: list[tuple[str, int]] = []

    def started(**_: Any) -> None:
        seen.append(("started", threading.get_ident()))

    def finished(**_: Any) -> None:
        seen.append(("finished", threading.get_ident()))

    signals.request_started.connect(started)
    signals.request_finished.connect(finished)
    yield seen
    signals.request_started.disconnect(started)
    signals.request_finished.disconnect(finished)


async def test_a_page_sends_the_request_signals_on_the_loop(signalled: Any) -> None:
    status, _ = await get("/")  # to the sign-in page
    loop = threading.get_ident()
    assert status == 302
    assert signalled == [("started", loop), ("finished", loop)]


async def test_a_streamed_export_is_whole_and_closed_in_a_thread(
    signalled: Any, alice: Any, conversation: Any
) -> None:
    from channels.db import database_sync_to_async

    cookie = await database_sync_to_async(session_cookie)(alice)
    status, body = await get("/review/export.jsonl", cookie)
    assert status == 200 and body == b""  # alice has no answered turn yet
    kinds = [kind for kind, _ in signalled]
    assert kinds == ["started", "finished"]
    assert signalled[0][1] == threading.get_ident() != signalled[1][1]
