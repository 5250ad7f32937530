"""WhiteNoise's static files, without a thread hop on every other request.

WhiteNoise's middleware is synchronous only. Under ASGI, Django runs a synchronous
middleware in a worker thread and the rest of the chain back on the event loop: two
thread hops on every request, the API's streamed answers included, for a lookup
that misses for everything but `/static/`. This one is async-capable: a request
whose path is not a static file goes on without leaving the loop; a static file is
served in a thread (its file is opened there).
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any = None, **kwargs: Any) -> None:
        super().__init__(get_response, **kwargs)
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self._async:
            return self._acall(request)
        return super().__call__(request)

    async def _acall(self, request: Any) -> Any:
        if self.autorefresh:  # development: looking a file up reads the disk
            if not request.path_info.startswith(self.static_prefix):
                return await self.get_response(request)
            static_file = await sync_to_async(self.find_file)(request.path_info)
        else:
            static_file = self.files.get(request.path_info)
        if static_file is None:
            return await self.get_response(request)
        return await sync_to_async(self.serve)(static_file, request)
