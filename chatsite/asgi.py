import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatsite.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

# Django must be set up before the consumers (and their models) are imported.
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from chatsite.origins import SiteOriginValidator  # noqa: E402
from conversations.openai_api.handler import ApiHandler  # noqa: E402
from conversations.routing import websocket_urlpatterns  # noqa: E402

# The OpenAI-compatible API skips the site's middleware (conversations/openai_api/handler.py).
api_app = ApiHandler()


async def http_app(scope: dict, receive: Any, send: Any) -> None:
    app = api_app if scope["path"].startswith("/v1/") else django_asgi_app
    await app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http_app,
        # Scheme, host and port of the Origin must be the site's (chatsite/origins.py).
        "websocket": SiteOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
