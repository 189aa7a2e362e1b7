"""Re-record the guest consoles of a folder of recorded layouts (each ``tests/data/guest-reports*/record.py``
calls ``main`` with its own kit): every ``NAME.toml`` there, or the names given, boots (two at a
time) under TCG and its serial console goes to ``NAME.console``, which the oracle tests read.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from numaopt.guest.boot import boot
from numaopt.guest.kit import GuestKit
from numaopt.model import GuestLayout
from numaopt.problem import load_problem


def record(path: Path, kit_for: Callable[[GuestLayout], GuestKit]) -> str:
    layout = load_problem(path).layout
    assert layout is not None
    kit = kit_for(layout)
    result = boot(layout, kit, accel="tcg")
    path.with_suffix(".console").write_text(result.console, encoding="utf-8")
    return f"{path.stem}: {kit.kernel_release}, {result.wall_time_s:.1f} s, report complete: {result.complete}"


def main(folder: Path, kit_for: Callable[[GuestLayout], GuestKit]) -> None:
    names = sys.argv[1:] or sorted(p.stem for p in folder.glob("*.toml"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        for line in pool.map(lambda name: record(folder / f"{name}.toml", kit_for), names):
            print(line)
