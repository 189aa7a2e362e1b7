"""Real boots for two guest predictions of check (issue 13.7): broken NUMA scheduler domains
on an asymmetric table, and no SMT for threads on an AMD-vendor CPU without topoext.

Few and small (8 and 4 vCPUs, about 4 s each under TCG): the guest's own words are the
oracle, read from its sched_verbose log and sysfs as the probe initramfs reports them.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from numaopt.distances.sched_groups import broken_domains
from numaopt.guest.boot import BootResult, boot
from numaopt.guest.kit import GuestKit
from numaopt.model import CpuShape, GuestLayout, GuestNode
from numaopt.qemu.args import read_qemu_args
from numaopt.render.qemu import one_line
from numaopt.units import MIB

pytestmark = pytest.mark.qemu

# The two tables of tests/distances/test_sched_groups.py that boot here: SNC-like, nodes 0-1
# see nodes 2-3 at 28 and are seen back at 23 (broken); crossed asymmetric (fine).
SNC_ASYMMETRIC = [[10, 11, 28, 28], [11, 10, 28, 28], [23, 23, 10, 11], [23, 23, 11, 10]]
CROSSED = [[10, 11, 28, 23], [11, 10, 23, 28], [28, 23, 10, 11], [23, 28, 11, 10]]


def four_nodes(table: list[list[int]]) -> GuestLayout:
    nodes = [GuestNode(node_id=i, cpus=(2 * i, 2 * i + 1), memory_bytes=128 * MIB) for i in range(4)]
    return GuestLayout(
        vcpus=8, memory_bytes=512 * MIB, nodes=nodes, shape=CpuShape(sockets=4, cores=2), distances=np.array(table)
    )


def cpus_with_error(result: BootResult) -> list[int]:
    """The CPUs under whose 'attaching sched-domain(s)' the guest printed the error."""
    assert result.report is not None and result.report.complete
    cpu, seen = None, []
    for line in result.report.dmesg:
        if "attaching sched-domain(s)" in line:
            cpu = int(line.split("CPU", 1)[1].split()[0])
        elif "ERROR: groups don't span domain->span" in line:
            seen.append(cpu)
    return sorted(set(seen))


@pytest.mark.parametrize(("table", "expected"), [(SNC_ASYMMETRIC, [0, 1, 2, 3]), (CROSSED, [])], ids=["broken", "fine"])
def test_guest_prints_the_predicted_broken_domains(kit: GuestKit, table: list[list[int]], expected: list[int]) -> None:
    layout = four_nodes(table)
    predicted = sorted(c for d in broken_domains(table, [n.cpus for n in layout.nodes]) for c in d.cpus)
    assert predicted == expected
    assert cpus_with_error(boot(layout, kit, accel="tcg")) == expected


@pytest.mark.parametrize(("cpu", "siblings"), [("max", (0,)), ("max,vendor=GenuineIntel", (0, 1))])
def test_threads_on_an_amd_cpu_are_cores_in_the_guest(
    kit: GuestKit, monkeypatch: pytest.MonkeyPatch, cpu: str, siblings: tuple[int, ...]
) -> None:
    """-smp 4,sockets=2,threads=2: with -cpu max (AMD under TCG) QEMU warns and the guest sees
    each thread as a core of its own; with vendor=GenuineIntel it sees the two threads."""
    # The boot's CPU model is a module constant; this test boots the other one too.
    monkeypatch.setattr(importlib.import_module("numaopt.guest.boot"), "X86_CPU", {"tcg": cpu, "kvm": "host"})
    nodes = [GuestNode(node_id=i, cpus=(2 * i, 2 * i + 1), memory_bytes=256 * MIB) for i in range(2)]
    layout = GuestLayout(vcpus=4, memory_bytes=512 * MIB, nodes=nodes, shape=CpuShape(sockets=2, cores=1, threads=2))
    result = boot(layout, kit, accel="tcg")
    assert result.report is not None and result.report.complete
    view = result.report.cpus[0]
    assert view.thread_siblings == siblings
    assert view.core_siblings == (0, 1)
    qemu_warned = "doesn't support hyperthreading(2)" in result.stderr
    assert qemu_warned == (siblings == (0,))
    # check's own verdict on the same command line agrees with QEMU's stderr.
    checked = read_qemu_args(one_line(layout) + f" -cpu {cpu}")
    assert any(f.code == "smt-amd-no-topoext" for f in checked.findings) == qemu_warned
