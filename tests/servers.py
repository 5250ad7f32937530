"""A real serving process for the end-to-end tests and the benchmark: daphne on uvloop
(`python -m chatsite.serve`, as in production) on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def terminate(proc: subprocess.Popen[Any]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within 10 s."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


class DaphneServer:
    """Started and ready (its /healthz answers) once constructed; its output in a log file."""

    def __init__(
        self,
        env: dict[str, str],
        log_path: Path | None = None,
        *,
        ready_within: float = 30.0,
        preexec_fn: Callable[[], None] | None = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = log_path or ROOT / "var" / f"daphne-{self.port}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log: IO[str] = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        server = os.environ.get("BENCH_SERVER", "chatsite.serve")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", server, "-b", "127.0.0.1", "-p", str(self.port)]
            + ["chatsite.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
        self._wait_ready(ready_within)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daphne exited:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"daphne was not ready in {timeout:.0f}s:\n{self.log_tail()}")

    def log_tail(self, chars: int = 3000) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def stop(self) -> None:
        terminate(self.proc)
        self.log.close()
