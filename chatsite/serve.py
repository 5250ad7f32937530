"""Serve the chat: daphne, on uvloop.

    python -m chatsite.serve -b 0.0.0.0 -p 8000 [any daphne option]

The same as `daphne ... chatsite.asgi:application`, with asyncio's event loop
replaced by uvloop (libuv, in C) before daphne builds its reactor on it: the
relay spends most of its time in the loop's callbacks, timers and socket reads
(the relay benchmark: docs/architecture.md). Without uvloop installed, plain
asyncio.
"""

from __future__ import annotations

import asyncio
import sys
from pprint import pformat


def main(argv: list[str]) -> None:
    try:
        import uvloop
    except ImportError:
        pass
    else:
        # Before daphne imports its server module, which creates the loop.
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    _quiet_autobahn()
    from daphne.cli import CommandLineInterface

    if not any(arg.endswith(":application") for arg in argv):
        argv = [*argv, "chatsite.asgi:application"]
    CommandLineInterface().run(argv)


class _Formatted:
    """`pprint.pformat(obj)`, done only if the log line is written."""

    def __init__(self, obj: object) -> None:
        self.obj = obj

    def __str__(self) -> str:
        return pformat(self.obj)


def _quiet_autobahn() -> None:
    # Autobahn pretty-prints its forty protocol options into a debug line on every
    # websocket it accepts, whether or not debug lines are written: about a
    # millisecond of each socket's connect (tests/bench/person.py).
    from autobahn.websocket import protocol

    protocol.pformat = _Formatted  # type: ignore[assignment]


if __name__ == "__main__":
    main(sys.argv[1:])
