"""Generation benchmark: validated, rendered layouts per second (no files written).

Run: python3 benchmarks/bench_generate.py [--quick]

Measures the pipeline ``numaopt generate`` runs for each layout: drawing (vectorised
per node count and family), validation (``numaopt.distances.check_batch`` on (b, n, n)
arrays plus the node-structure rules), classification, dedup keys, and rendering the
problem TOML and the QEMU argument file to strings. Cases: sampled families with
n <= 8 and with n = 32, in one process and in one worker process per core; the
CP-SAT-synthesised family separately; the same sampled cases for aarch64 ``virt``
layouts (clusters, linux-dt) and a q35 + virt mix.

Peers measured in the same run on the same layouts: per-layout validation with
``numaopt.layout.check_layout`` (qemu + the layout's guest rules: linux-acpi on x86,
linux-dt on virt; the reference rules) and per-layout rendering with
``numaopt.render.qemu.shell_text`` plus ``tomli_w.dumps``.

Answers are checked: a sample of every case must pass ``check_layout`` for its rules,
its argument text must equal ``shell_text`` and its TOML must load back to the layout.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from numaopt.generate import (
    Family,
    Generated,
    Knobs,
    Range,
    args_text,
    generate_items,
    problem_dict,
    resolve,
    toml_text,
)
from numaopt.generate.batch import default_jobs, one_numba_thread
from numaopt.layout import check_layout
from numaopt.model import Machine
from numaopt.problem import parse_problem
from numaopt.render.qemu import shell_text
from numaopt.rules import RuleSet, Severity

SAMPLED = tuple(f for f in Family if f not in (Family.SYNTH, Family.REMOTE_10))
CASES = {
    "n<=8 sampled": Knobs(nodes=Range(1, 8), families=SAMPLED),
    "n=32 sampled": Knobs(nodes=Range(32, 32), families=SAMPLED, memoryless=Range(0, 4), cpuless=Range(0, 4)),
    "n<=8 CP-SAT": Knobs(nodes=Range(2, 8), families=(Family.SYNTH,)),
    "n=9-16 CP-SAT": Knobs(nodes=Range(9, 16), families=(Family.SYNTH,)),
    "n<=8 virt": Knobs(nodes=Range(1, 8), families=SAMPLED, machines=(Machine.VIRT,)),
    "n=32 virt": Knobs(nodes=Range(32, 32), families=SAMPLED, memoryless=Range(0, 4), cpuless=Range(0, 4),
                       machines=(Machine.VIRT,)),
    "n<=8 q35+virt": Knobs(nodes=Range(1, 8), families=SAMPLED, machines=(Machine.Q35, Machine.VIRT)),
}
SEED = 2024


def _pipeline(knobs: Knobs, start: int, stop: int, chunk: int) -> tuple[int, int]:
    """Generate, validate, classify, key and render items [start, stop): (layouts, bytes)."""
    space = resolve(knobs)
    layouts = size = 0
    with one_numba_thread():
        for first in range(start, stop, chunk):
            for outcome in generate_items(space, SEED, list(range(first, min(first + chunk, stop)))):
                if isinstance(outcome, Generated):
                    size += len(toml_text(outcome)) + len(args_text(outcome))
                    layouts += 1
    return layouts, size


def one_process(knobs: Knobs, items: int, chunk: int) -> float:
    _pipeline(knobs, 10**6, 10**6 + min(items, 2 * chunk), chunk)  # warm up: JIT, caches
    started = time.perf_counter()
    layouts, _ = _pipeline(knobs, 0, items, chunk)
    return layouts / (time.perf_counter() - started)


def all_cores(knobs: Knobs, items: int, chunk: int, workers: int) -> float:
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("spawn")) as pool:
        warm = [pool.submit(_pipeline, knobs, 10**6 + w * chunk, 10**6 + (w + 1) * chunk, chunk) for w in range(workers)]
        for future in warm:
            future.result()
        share = -(-items // workers)
        started = time.perf_counter()
        futures = [pool.submit(_pipeline, knobs, w * share, min(items, (w + 1) * share), chunk) for w in range(workers)]
        layouts = sum(f.result()[0] for f in futures)
        return layouts / (time.perf_counter() - started)


def peers(knobs: Knobs, items: int) -> tuple[float, float]:
    """Per-layout reference validation and rendering rates on the same layouts."""
    space = resolve(knobs)
    outcomes = [o for o in generate_items(space, SEED, list(range(items))) if isinstance(o, Generated)]
    layouts = [o.layout for o in outcomes]
    started = time.perf_counter()
    for layout in layouts:
        check_layout(layout, RuleSet.QEMU)
        check_layout(layout, layout.machine.default_rules)
    validate = len(layouts) / (time.perf_counter() - started)
    started = time.perf_counter()
    for layout in layouts:
        shell_text(layout)
        tomli_w.dumps(problem_dict(layout))
    render = len(layouts) / (time.perf_counter() - started)
    return validate, render


def check_answers(knobs: Knobs, items: int) -> int:
    space = resolve(knobs)
    checked = 0
    for outcome in generate_items(space, SEED + 1, list(range(items))):
        if not isinstance(outcome, Generated):
            continue
        layout = outcome.layout
        for rules in {RuleSet.QEMU, outcome.rules}:
            bad = [f for f in check_layout(layout, rules) if f.severity is Severity.ERROR]
            assert not bad, (outcome.index, bad)
        assert args_text(outcome) == shell_text(layout), outcome.index
        loaded = parse_problem(toml_text(outcome)).layout
        assert loaded == layout, outcome.index
        checked += 1
    return checked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer items (a smoke run)")
    args = parser.parse_args()
    workers = default_jobs()
    print(f"# numaopt generate benchmark: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"Python {platform.python_version()}, {workers} worker process(es)")
    print(f"# load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    sizes = {
        "n<=8 sampled": (20_000, 60_000, 1024),
        "n=32 sampled": (1_000, 3_000, 256),
        "n<=8 CP-SAT": (60, 200, 16),
        "n=9-16 CP-SAT": (12, 40, 4),
        "n<=8 virt": (20_000, 60_000, 1024),
        "n=32 virt": (1_000, 3_000, 256),
        "n<=8 q35+virt": (20_000, 60_000, 1024),
    }
    if args.quick:
        sizes = {k: (max(8, a // 10), max(8, b // 10), c) for k, (a, b, c) in sizes.items()}
    header = f"{'case':<15} {'1 process /s':>13} {f'{workers} processes /s':>15} {'check_layout /s':>16} {'shell_text+tomli_w /s':>22}"
    print(header)
    print("-" * len(header))
    for name, knobs in CASES.items():
        one_items, many_items, chunk = sizes[name]
        checked = check_answers(knobs, min(200, one_items))
        single = one_process(knobs, one_items, chunk)
        multi = all_cores(knobs, many_items, chunk, workers) if workers > 1 else single
        if "CP-SAT" in name:
            validate = render = float("nan")
        else:
            validate, render = peers(knobs, min(2000, one_items))
        print(f"{name:<15} {single:>13,.0f} {multi:>15,.0f} {validate:>16,.0f} {render:>22,.0f}   ({checked} checked)")
    print("# 1 process / N processes: generation + batch validation + classes + dedup keys + TOML and")
    print("# argument text, no files. check_layout: per-layout reference validation only (qemu + the guest's")
    print("# rules: linux-acpi on q35, linux-dt on virt);")
    print("# shell_text + tomli_w: per-layout reference rendering only. CP-SAT rows: the synth family alone.")


if __name__ == "__main__":
    main()
