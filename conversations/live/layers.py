"""The in-memory channel layer, made to scale with the number of sockets.

channels' `InMemoryChannelLayer` walks every channel and group to expire old
messages on each `send`, `receive` and `group_send`, and starts a task per member
on `group_send`: quadratic once hundreds of sockets stream at once (the relay
benchmark showed it). This one expires at most once a second and sends inline.
Single-process only, as before: production uses channels_redis.
"""

from __future__ import annotations

import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

CLEAN_EVERY = 1.0


class LocalChannelLayer(InMemoryChannelLayer):
    _last_clean = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_clean < CLEAN_EVERY:
            return
        self._last_clean = now
        super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        assert isinstance(message, dict), "Message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        for channel in list(self.groups.get(group, ())):
            try:
                await self.send(channel, message)
            except ChannelFull:
                pass  # as channels_redis does; a socket recovers from the turn log
