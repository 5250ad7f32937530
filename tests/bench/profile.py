"""Where daphne's time goes under load: py-spy on the process, summarized by function.

Optional (`--profile`): py-spy is not a project dependency; install it into the
venv with `.venv/bin/pip install py-spy`. Sampling is non-blocking, so the
process under test is not paused (the price: a stack may be slightly torn).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


class Profiler:
    def __init__(self, pid: int, seconds: float, output: Path) -> None:
        exe = py_spy()
        if exe is None:
            raise RuntimeError("py-spy is not installed (.venv/bin/pip install py-spy)")
        self.output = output
        self.proc = subprocess.Popen(
            [
                exe,
                "record",
                "--pid",
                str(pid),
                "--rate",
                "200",
                "--format",
                "raw",
                "--nonblocking",
                "--duration",
                str(max(1, round(seconds))),
                "--output",
                str(output),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def finish(self, top: int = 25) -> dict[str, Any]:
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(10)
        if not self.output.exists():
            return {"error": "py-spy wrote nothing (ptrace not permitted?)"}
        return summarize(self.output.read_text(errors="replace"), top)


def _name(frame: str) -> str:
    """`func (path/file.py:123)` -> `func (pkg/file.py)`: lines merged, paths shortened."""
    frame = _LINE.sub(")", frame.strip())
    for marker in ("site-packages/", "/work/main/", "/lib/python3"):
        if marker in frame:
            head, _, tail = frame.partition("(")
            frame = f"{head}({tail.split(marker, 1)[-1]}"
    return frame


def summarize(raw: str, top: int = 25) -> dict[str, Any]:
    """Self and inclusive shares of samples per function, from py-spy's collapsed stacks."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_s = line.rpartition(" ")
        if not stack or not count_s.isdigit():
            continue
        count = int(count_s)
        frames = [_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count

    def share(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in counter.most_common(top)]

    return {"samples": total, "self_pct": share(own), "inclusive_pct": share(inclusive)}
