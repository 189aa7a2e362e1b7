"""Verification time per layout (level 1 and level 2, 4 and 16 vCPUs) and fuzz campaign
throughput (layouts per minute with --jobs 1 and --jobs 2), on the real QEMU and guest.

    python3 benchmarks/bench_verify.py [--repeat N] [--campaign N] [--machine q35|virt]
                                       [--workload SPEC] [--campaigns-only]

Every measurement also checks the answer: level 1 finds no mismatch, level 2 shows the
asked table, and every campaign item is journaled. Times are medians of ``--repeat``
runs; the accelerator (KVM or TCG) is printed, since TCG is 5-10x slower. ``--machine virt``
runs the campaigns on aarch64 virt guests (linux-dt); the level rows stay x86.
``--workload SPEC`` (as ``numaopt fuzz --workload``) runs each campaign twice in the same
run, without and with that workload, so the two rates share the machine's load;
``--campaigns-only`` skips the level rows.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from numaopt.fuzz.executor import RunSettings, run_campaign  # noqa: E402
from numaopt.fuzz.items import generated_items  # noqa: E402
from numaopt.generate import Family, Knobs, Range, SocketMode  # noqa: E402
from numaopt.guest.boot import choose_accel  # noqa: E402
from numaopt.guest.kit import GuestKit, load_kit  # noqa: E402
from numaopt.guest.verify import verify_boot, verify_qemu  # noqa: E402
from numaopt.guest.workload import parse_workload  # noqa: E402
from numaopt.model import GuestLayout, Machine  # noqa: E402
from numaopt.problem import parse_problem  # noqa: E402
from numaopt.units import MIB  # noqa: E402


def layout(vcpus: int) -> GuestLayout:
    """The seed article's shape: 4 nodes, 15 within a pair, 20 across, ``vcpus`` vCPUs."""
    per = vcpus // 4
    nodes = ", ".join(f'{{ cpus = "{i * per}-{i * per + per - 1}" }}' for i in range(4))
    text = f"""
[guest]
vcpus = {vcpus}
memory = "1GiB"
nodes = [ {nodes} ]
distances = [ {{ a = 0, b = 1, value = 15 }}, {{ a = 2, b = 3, value = 15 }} ]
default_distance = 20
"""
    parsed = parse_problem(text).layout
    assert parsed is not None
    return parsed


def median_time(action, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def campaign(count: int, jobs: int, machine: Machine = Machine.Q35, workload: str | None = None) -> tuple[float, int]:
    knobs = Knobs(nodes=Range(1, 4), vcpus_per_node=Range(1, 2), threads=(1,), memory_per_node=Range(128 * MIB, 128 * MIB),
                  families=(Family.FLAT, Family.SOCKET, Family.RING), sockets=(SocketMode.WHOLE,), machines=(machine,))
    with tempfile.TemporaryDirectory() as out:
        summary = run_campaign(generated_items(knobs, 2024, range(count)), Path(out), {"bench": jobs},
                               RunSettings(shrink=False, workload=workload), total=count, jobs=jobs)
    assert summary.done == count, summary
    return summary.per_minute, summary.verdicts["pass"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--campaign", type=int, default=8, help="layouts per campaign run")
    parser.add_argument("--machine", type=Machine, default=Machine.Q35, help="the campaigns' machine: q35 or virt")
    parser.add_argument("--workload", help="also run each campaign with this workload (spread, pairs:4, ...)")
    parser.add_argument("--campaigns-only", action="store_true", help="skip the level 1/level 2 rows")
    args = parser.parse_args()
    workload = str(parse_workload(args.workload)) if args.workload else None
    kit = load_kit()
    accel = choose_accel("x86_64")
    qemu = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {qemu}; guest {kit.kernel_source}; {accel}")
    if not args.campaigns_only:
        levels(kit, args.repeat)
    for jobs in (1, 2):
        for spec in (None, workload) if workload else (None,):
            per_minute, passed = campaign(args.campaign, jobs, args.machine, spec)
            print(f"campaign --machine {args.machine.value} --jobs {jobs} --workload {spec or '-'}: "
                  f"{per_minute:.1f} layouts/min ({args.campaign} layouts, {passed} passed; "
                  f"load {os.getloadavg()[0]:.1f})", flush=True)


def levels(kit: GuestKit, repeat: int) -> None:
    print(f"{'what':<36} {'4 vCPUs':>10} {'16 vCPUs':>10}")
    for name, action in (
        ("level 1 (QEMU -S + QMP), s", lambda lay: verify_qemu(lay)),
        ("level 2 (boot + compare), s", lambda lay: verify_boot(lay, kit)),
    ):
        row = []
        for vcpus in (4, 16):
            lay = layout(vcpus)
            checked = action(lay)
            assert checked.mismatches == [], checked.mismatches
            row.append(median_time(lambda lay=lay, action=action: action(lay), repeat))
        print(f"{name:<36} {row[0]:>10.2f} {row[1]:>10.2f}")


if __name__ == "__main__":
    main()
