"""Re-record the consoles here under Debian's 6.12 cloud kernel: python3 tests/data/guest-reports-x86-6.12/record.py [NAME...]

The kit fetches bookworm-security's linux-image-6.12-cloud-amd64 into its cache (an apt
state of its own, see numaopt guest build --suite); each ``NAME.toml`` boots under it and
its serial console goes to ``NAME.console``, which tests/guest/test_oracles_kernels.py
judges next to the same layout recorded under 6.1 in ../guest-reports.
"""

from __future__ import annotations

import sys
from pathlib import Path

from numaopt.guest.boot import boot
from numaopt.guest.kit import build_kit
from numaopt.problem import load_problem

HERE = Path(__file__).resolve().parent


def record(path: Path) -> str:
    layout = load_problem(path).layout
    assert layout is not None
    kit = build_kit(arch="x86_64", suite="bookworm-security", package="linux-image-6.12-cloud-amd64")
    result = boot(layout, kit)
    path.with_suffix(".console").write_text(result.console, encoding="utf-8")
    return f"{path.stem}: {kit.kernel_release}, {result.wall_time_s:.1f} s, report complete: {result.complete}"


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(p.stem for p in HERE.glob("*.toml")):
        print(record(HERE / f"{name}.toml"))
