import gc
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

import django  # noqa: E402

# Django must be set up before the consumers (and their models) are imported.
django.setup(set_prefix=False)

from chatsite.handler import SiteHandler  # noqa: E402

# The pages and JSON: their middleware and view in one thread (chatsite/handler.py).
django_asgi_app = SiteHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatsite.origins import SiteOriginValidator  # noqa: E402
from chatsite.socket_person import SocketPersonMiddleware  # noqa: E402
from conversations.openai_api.completions import chat_completions  # noqa: E402
from conversations.openai_api.handler import ApiHandler  # noqa: E402
from conversations.routing import websocket_urlpatterns  # noqa: E402

# The OpenAI-compatible API skips the site's middleware (conversations/openai_api/handler.py).
api_app = ApiHandler()


async def http_app(scope: dict, receive: Any, send: Any) -> None:
    path = scope["path"]
    if path == "/v1/chat/completions":  # a plain ASGI app (conversations/openai_api/completions.py)
        await chat_completions(scope, receive, send)
    elif path.startswith("/v1/"):
        await api_app(scope, receive, send)
    else:
        await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        # Scheme, host and port of the Origin must be the site's (chatsite/origins.py).
        "websocket": SiteOriginValidator(SocketPersonMiddleware(URLRouter(websocket_urlpatterns))),
    }
)

# Everything made so far (Django, the apps, the URL and template machinery: about
# 140,000 objects) lives as long as the process: kept out of the collector's sight,
# a full collection walks only what came since, and those pauses stop every stream
# at once (in the person bench's sweep, 200 streams, a full collection took 100-125
# ms; with this 50-60 ms, and the token delay's p99 followed). A young generation of
# 10,000 objects rather than 700: most of a stream's short-lived objects are freed
# by their reference counts before a collection comes, and collections come a
# tenth as often (tests/bench/person.py; docs/architecture.md).
gc.freeze()
gc.set_threshold(10_000, 10, 10)
