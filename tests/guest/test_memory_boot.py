"""Oracle (memory) on real TCG boots of a 2-node x86 guest (one vCPU and 256 MiB a node).

The memory workload's task builds its 16 MiB string on one node, is moved to the other
node's CPUs and keeps reading it. With kernel.numa_balancing on (the workload's default)
the pages follow it and every oracle passes; with it off (the control, balancing=0) the
counters stay 0, the pages stay, and the oracle names both nodes and the counters. About
35 s a boot under TCG, one at a time; the same on an arm64 virt guest takes about 60 s.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from numaopt.guest.boot import boot
from numaopt.guest.kit import load_kit
from numaopt.guest.oracles import Oracle, judge
from numaopt.guest.workload import Workload, WorkloadKind, WorkloadSpec, parse_workload
from numaopt.model import CpuShape, GuestLayout, GuestNode, Machine
from numaopt.units import MIB

TWO_NODES = GuestLayout(
    vcpus=2, memory_bytes=512 * MIB, nodes=(GuestNode(0, (0,), 256 * MIB), GuestNode(1, (1,), 256 * MIB)),
    shape=CpuShape(sockets=2, cores=1),
)


def memory_workload(balancing: int) -> Workload:
    return replace(WorkloadSpec(WorkloadKind.MEMORY).for_layout(TWO_NODES, 7), balancing=balancing)


def test_the_memory_workload_moves_between_two_nodes_with_room() -> None:
    workload = WorkloadSpec(WorkloadKind.MEMORY, 32).for_layout(TWO_NODES, 3)
    assert {workload.start, workload.pin} == {(0,), (1,)}
    assert workload.kernel_argument().endswith(",mib=32,balancing=1")
    assert parse_workload("memory:8") == WorkloadSpec(WorkloadKind.MEMORY, 8)
    too_big = WorkloadSpec(WorkloadKind.MEMORY, 256).for_layout(TWO_NODES, 3)  # 512 MiB a node needed
    assert too_big.mib == 0 and too_big.kernel_argument().endswith(",mib=0,balancing=1")


@pytest.mark.qemu
def test_a_layout_with_one_node_runs_nothing_and_is_not_judged() -> None:
    one = GuestLayout(vcpus=2, memory_bytes=256 * MIB, nodes=(GuestNode(0, (0, 1), 256 * MIB),), shape=CpuShape(sockets=1, cores=2))
    workload = WorkloadSpec(WorkloadKind.MEMORY).for_layout(one, 7)
    result = boot(one, load_kit(), extra_append=[workload.kernel_argument()])
    assert result.report is not None and result.report.workload is not None
    assert result.report.workload.memory == {} and judge(one, result) == []


@pytest.mark.qemu
def test_with_balancing_on_the_pages_follow_the_task_and_the_oracles_pass() -> None:
    result = boot(TWO_NODES, load_kit(), extra_append=[memory_workload(1).kernel_argument()])
    assert result.report is not None and result.report.workload is not None
    trace = result.report.workload
    assert trace.memory["balancing"] == "1" and trace.moved_after
    before, last = trace.samples[trace.moved_after - 1], trace.samples[-1]
    first = int(trace.memory["from"])  # one vCPU a node: the CPU is the node
    assert before.pages[first] > 2000  # 16 MiB are 4096 pages
    assert last.vmstat["numa_pages_migrated"] > before.vmstat["numa_pages_migrated"]
    assert judge(TWO_NODES, result) == []


@pytest.mark.qemu
def test_with_balancing_off_the_pages_stay_and_the_oracle_names_nodes_and_counters() -> None:
    result = boot(TWO_NODES, load_kit(), extra_append=[memory_workload(0).kernel_argument()])
    failures = judge(TWO_NODES, result)
    assert [(f.oracle, f.code) for f in failures] == [(Oracle.MEMORY, "not-moved")]
    message = failures[0].message
    assert "numa_balancing=0" in message and "numa_pages_migrated +0" in message
    assert "node 0" in message and "node 1" in message


@pytest.mark.qemu
def test_an_arm64_guest_moves_the_pages_too() -> None:
    layout = replace(TWO_NODES, machine=Machine.VIRT, distances=np.array([[10, 20], [20, 10]]))
    workload = WorkloadSpec(WorkloadKind.MEMORY).for_layout(layout, 7)
    result = boot(layout, load_kit(arch="aarch64"), accel="tcg", extra_append=[workload.kernel_argument()])
    assert result.report is not None and result.report.workload is not None
    trace = result.report.workload
    assert trace.moved_after and trace.samples[-1].vmstat["numa_pages_migrated"] > 2000
    assert judge(layout, result) == []
