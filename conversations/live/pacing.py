"""How long a runner gathers deltas into one event: wider when the process is busy.

Each websocket frame costs the process ~55 µs of CPU (JSON, channels, daphne,
autobahn, Twisted's writer), more than the tokens it carries (~30 µs each). Under
load the loop falls behind and every token waits in its queue anyway; widening
the window then cuts the frames, and so the load, instead of adding delay
(measured at 250 streams × 50 tokens/s: a 0.1 s window took daphne from 0.80 to
0.55 cores).

The load signal is the process's CPU use, measured every PROBE seconds and
smoothed: the event loop runs on one core at most (the GIL), so this is how close
it is to falling behind. Below BUSY the window is CHAT_COALESCE_SECONDS; from BUSY
to SATURATED it widens linearly to CHAT_COALESCE_MAX_SECONDS. (The loop's lag
was tried first: it stays small until the loop is already saturated.) It is
measured while turns run, when a runner asks for the window and PROBE has passed
since the last time: a timer of its own woke the loop ten times a second, and a
wake-up costs a process more CPU than the measure (docs/architecture.md).
"""

from __future__ import annotations

import time

from django.conf import settings

from conversations.live.loops import per_loop

PROBE = 0.1
SMOOTHING = 0.3  # weight of the newest sample
BUSY = 0.5  # cores
SATURATED = 0.9


class Pacer:
    def __init__(self) -> None:
        self.cpu = 0.0  # smoothed cores used by this process
        self.users = 0
        self._wall = 0.0  # when CPU use was last measured, and the CPU time then
        self._cpu_time = 0.0

    def window(self) -> float:
        base = settings.CHAT_COALESCE_SECONDS
        if base <= 0:
            return 0.0  # coalescing off (tests, the bench's comparison)
        if self.users > 0:
            self._probe()
        widest = max(base, settings.CHAT_COALESCE_MAX_SECONDS)
        load = min(1.0, max(0.0, (self.cpu - BUSY) / (SATURATED - BUSY)))
        return base + load * (widest - base)

    def join(self) -> None:
        if self.users == 0:
            self._wall, self._cpu_time = time.monotonic(), time.process_time()
        self.users += 1

    def leave(self) -> None:
        self.users -= 1
        if self.users == 0:
            self.cpu = 0.0

    def sample(self, cores: float) -> None:
        self.cpu += SMOOTHING * (cores - self.cpu)

    def _probe(self) -> None:
        wall = time.monotonic()
        if wall - self._wall < PROBE:
            return
        cpu_time = time.process_time()
        self.sample((cpu_time - self._cpu_time) / (wall - self._wall))
        self._wall, self._cpu_time = wall, cpu_time


# The running event loop's pacer.
get_pacer = per_loop(Pacer)
