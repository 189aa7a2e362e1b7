"""Re-record the aarch64 guest consoles next to each layout: python3 tests/data/guest-reports-aarch64/record.py [NAME...]

Boots every ``NAME.toml`` here (two at a time) under TCG with the cached arm64 guest kit
and writes the serial console to ``NAME.console``; tests/guest/test_oracles_aarch64.py
reads those files.
"""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from numaopt.guest.boot import boot
from numaopt.guest.kit import load_kit
from numaopt.problem import load_problem

HERE = Path(__file__).resolve().parent


def record(path: Path) -> str:
    layout = load_problem(path).layout
    assert layout is not None
    result = boot(layout, load_kit(arch=layout.machine.arch), accel="tcg")
    path.with_suffix(".console").write_text(result.console, encoding="utf-8")
    return f"{path.stem}: {result.wall_time_s:.1f} s, report complete: {result.complete}"


if __name__ == "__main__":
    names = sys.argv[1:] or sorted(p.stem for p in HERE.glob("*.toml"))
    with ThreadPoolExecutor(max_workers=2) as pool:
        for line in pool.map(record, [HERE / f"{name}.toml" for name in names]):
            print(line)
