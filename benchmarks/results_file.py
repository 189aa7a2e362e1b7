"""benchmarks/RESULTS.md: each benchmark owns one "## ..." section and rewrites only it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_section(title: str, section: str, results: Path = RESULTS) -> None:
    """Replace the section headed ``title`` in RESULTS.md, or append it; other sections stay."""
    text = results.read_text() if results.exists() else "# Benchmark results\n"
    start = text.find(title)
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        following = text.find("\n## ", start + len(title))
        end = len(text) if following < 0 else following + 1
        text = text[:start] + section + ("\n" + text[end:] if following >= 0 else "")
    tmp = results.with_suffix(".md.tmp")
    tmp.write_text(text.rstrip("\n") + "\n")
    os.replace(tmp, results)


def cpu_model() -> str:
    """The CPU model from /proc/cpuinfo ("unknown" elsewhere)."""
    try:
        match = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
    except OSError:
        return "unknown"
    return match.group(1) if match else "unknown"


def free_memory_table() -> str:
    """What `free -g` prints, for the record of the machine a benchmark ran on."""
    if not shutil.which("free"):
        return "n/a"
    return subprocess.run(["free", "-g"], capture_output=True, text=True).stdout.rstrip()
