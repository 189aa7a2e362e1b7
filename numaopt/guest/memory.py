"""Oracle (memory): automatic NUMA balancing moves a task's pages to the node it runs on.

The memory workload (``numaopt.guest.workload``, ``memory[:MiB]``) builds a string while its
task may run only on one node's CPUs, so first touch puts the pages there, then moves the
task to another node's CPUs, where it keeps reading the string. With
``kernel.numa_balancing`` on, the kernel's scanner unmaps the task's pages, takes hint faults
on the next access and migrates the pages to the faulting CPU's node. Measured under TCG
(Debian 6.1, 2 nodes, 32 MiB): all but 26 of 8207 pages moved within 5 s of guest time;
with balancing off every counter stayed 0 and the pages stayed. So after a settle time the
pages left on the first node must be at most a quarter of what it held before the move;
the finding names the nodes, MiB and the counters' changes. A run with balancing off (the
workload's control) fails this: the oracle claims "the pages followed the task", which is
false there.
"""

from __future__ import annotations

from dataclasses import dataclass

from numaopt.guest.report import GuestReport, WorkloadSample, WorkloadTrace
from numaopt.units import parse_cpulist

__all__ = ["MemoryFinding", "MemoryThresholds", "memory_findings"]

PAGE_BYTES = 4096
MIB = 1024 * 1024
COUNTERS = ("numa_pages_migrated", "numa_hint_faults", "pgmigrate_success")


@dataclass(frozen=True, slots=True)
class MemoryThresholds:
    settle_s: float = 10.0  # guest seconds after the move before the pages are counted
    left_share: float = 0.25  # at most this share of the first node's pages may stay there
    touched_share: float = 0.5  # first touch must put at least this share of the MiB asked there


@dataclass(frozen=True, slots=True)
class MemoryFinding:
    code: str  # "no-samples", "not-touched" or "not-moved"
    message: str

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


def memory_findings(report: GuestReport, thresholds: MemoryThresholds = MemoryThresholds()) -> list[MemoryFinding]:
    """The oracle on a complete report; [] when it ran no memory workload."""
    trace = report.workload
    if trace is None or trace.kind != "memory":
        return []
    if not trace.memory:  # mib=0: the layout had no two nodes to move between
        return []
    moved = trace.moved_after
    if not moved:
        return [MemoryFinding("no-samples", f"the memory workload never moved its task ({len(trace.samples)} samples)")]
    before = trace.samples[moved - 1]
    settled = [s for s in trace.samples[moved:] if s.time_s - before.time_s >= thresholds.settle_s]
    if not settled:
        return [MemoryFinding("no-samples", f"no sample {thresholds.settle_s:g} s after the move ({len(trace.samples) - moved} after it)")]
    node_of = {cpu: node.node_id for node in report.nodes.values() for cpu in node.cpus}
    first = _node(trace.memory["from"], node_of)
    then = _node(trace.memory["to"], node_of)
    return _judge(trace, before, settled[-1], first, then, thresholds)


def _node(cpus: str, node_of: dict[int, int]) -> int:
    return node_of[parse_cpulist(cpus)[0]]


def _judge(
    trace: WorkloadTrace, before: WorkloadSample, last: WorkloadSample, first: int, then: int, thresholds: MemoryThresholds
) -> list[MemoryFinding]:
    mib = int(trace.memory["mib"])
    held = before.pages.get(first, 0)
    where = f"the {mib} MiB task on node {first}'s CPUs {trace.memory['from']}"
    if held * PAGE_BYTES < thresholds.touched_share * mib * MIB:
        return [MemoryFinding("not-touched", f"{where} had {_mib(held)} on node {first} after first touch "
                                             f"(pages by node: {_by_node(before.pages)})")]
    left = last.pages.get(first, 0)
    if left <= thresholds.left_share * held:
        return []
    changes = ", ".join(f"{name} +{last.vmstat.get(name, 0) - before.vmstat.get(name, 0)}" for name in COUNTERS)
    return [MemoryFinding(
        "not-moved",
        f"{where}, moved to node {then}'s CPUs {trace.memory['to']}: {_mib(left)} of {_mib(held)} still on node {first} "
        f"{last.time_s - before.time_s:.1f} s later (numa_balancing={trace.memory.get('balancing', '?')}; {changes}; "
        f"pages by node then: {_by_node(last.pages)})",
    )]


def _mib(pages: int) -> str:
    return f"{pages * PAGE_BYTES / MIB:.1f} MiB"


def _by_node(pages: dict[int, int]) -> str:
    return ", ".join(f"node {node} {_mib(count)}" for node, count in sorted(pages.items())) or "none readable"
