"""What the command line says about itself: version, help that keeps its brackets, plain usage lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from numaopt import __version__

ROOT = Path(__file__).resolve().parents[2]


def numaopt(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "numaopt", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_version() -> None:
    result = numaopt("--version")
    assert result.returncode == 0 and result.stdout == f"numaopt {__version__}\n"


def test_help_keeps_square_brackets() -> None:
    text = " ".join(numaopt("solve", "--help").stdout.split())
    assert "An explicit layout ([guest]) is checked" in text
    assert "A search ([host] + [workload]) places" in text


@pytest.mark.parametrize(
    ("command", "usage"),
    [
        (["solve"], "Usage: numaopt solve [OPTIONS] PROBLEM"),
        (["check"], "Usage: numaopt check [OPTIONS] FILE"),
        (["launch"], "Usage: numaopt launch [OPTIONS] PLAN [-- QEMU_ARGS]..."),
        (["host", "show"], "Usage: numaopt host show [OPTIONS] [SOURCE]..."),
        (["plot"], "Usage: numaopt plot [OPTIONS] SOURCE"),
    ],
)
def test_plain_usage_lines(command: list[str], usage: str) -> None:
    assert numaopt(*command, "--help").stdout.splitlines()[0] == usage


def test_host_show_defaults_to_this_machine() -> None:
    result = numaopt("host", "show")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("available: ")
