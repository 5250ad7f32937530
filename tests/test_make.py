"""The Makefile's `make test`: what a newcomer runs first, so its summary must explain
itself (README: a skipped group shows its reason)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _pytest_command() -> list[str]:
    # `make -n` prints the recipe without running it (nor the install steps).
    out = subprocess.run(
        ["make", "-n", "test"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    lines = [line for line in out.splitlines() if "bin/pytest" in line]
    assert len(lines) == 1, out
    return shlex.split(lines[0])


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_reports_why_tests_were_skipped():
    args = _pytest_command()
    # -r with s (skipped), a (all but passed) or A (all) lists each skip's reason.
    chars = "".join(arg[2:] for arg in args if arg.startswith("-r") and len(arg) > 2)
    chars += "".join(args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "-r")
    assert set(chars) & set("saA"), args
