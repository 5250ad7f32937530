"""The ASGI handler of `/v1/`: Django's, without the site's middleware.

Under ASGI every middleware built on Django's `MiddlewareMixin` runs its
`process_request` and `process_response` in a worker thread (`sync_to_async`), so
the site's ten middlewares cost about sixteen thread hops per request: 3 ms before
an API request could even ask the upstream, where the websocket path pays none.
None of them does anything for the API: it has no session, no cookie, no CSRF (a
Bearer token), no page to frame or to give a CSP, and answers in the language of
its `Accept-Language` by itself (views.py). `chatsite/asgi.py` sends `/v1/` here,
but for the chat completions, a plain ASGI app (completions.py); URLs, views and
Django's exception handling are the site's. Like the site's handler
it starts no thread per request (chatsite/handler.py).
"""

from __future__ import annotations

from typing import Any

from django.core.handlers.exception import convert_exception_to_response

from chatsite.handler import LoopHandler


class ApiHandler(LoopHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        # What BaseHandler.load_middleware builds for an empty MIDDLEWARE.
        self._view_middleware: list[Any] = []
        self._template_response_middleware: list[Any] = []
        self._exception_middleware: list[Any] = []
        # (Django's private names, absent from its type stubs.)
        get_response = self._get_response_async if is_async else self._get_response  # type: ignore[attr-defined]
        self._middleware_chain = convert_exception_to_response(get_response)
