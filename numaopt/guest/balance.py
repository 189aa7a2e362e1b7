"""Oracle (e) balance: the scheduler at work, judged from the workload's samples.

The guest's init runs a workload (``numaopt.guest.workload``) and samples every CPU and
task a few times a second (``report.WorkloadTrace``). Two invariants, after a settle time
from the first sample:

* **no wasted core** (Lozi et al., "The Linux Scheduler: a Decade of Wasted Cores",
  EuroSys 2016): while at least as many workload tasks are runnable as there are CPUs (at
  both samples, and on average over the interval by the tasks' run and wait times), no
  CPU stays idle while another CPU has two or more runnable tasks allowed to run on the
  idle one, for longer than ``wasted_s``. An interval between two samples is wasted for a
  CPU when the CPU was idle for at least ``idle_share`` of it (not all of it: the sampler
  itself runs somewhere, often on the idle CPU) and another CPU was crowded at both ends;
  consecutive wasted intervals make a stretch, and a stretch of at least ``min_intervals``
  intervals lasting ``wasted_s`` or more is a finding;
* **spread by node**: the busy loops free to move are spread over the nodes in proportion
  to the CPUs each node has left after its pinned loops, within ``spread_slack`` loops on
  the time average (only when there are at least as many free loops as CPUs left: with
  fewer, Linux keeps a small imbalance between nodes on purpose).

Times are the guest's own (its uptime at each sample), so a slow TCG guest is judged by
what its scheduler saw, not by the host's clock. Each finding names the CPUs, their nodes,
the stretch's times and the scheduler domain level involved (the idle CPU's lowest domain
that spans the crowded one, or none).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from numaopt.guest.report import GuestReport, WorkloadSample, WorkloadTrace
from numaopt.units import format_cpulist

__all__ = ["BalanceFinding", "Thresholds", "balance_findings"]

# Busy loops: the roles whose tasks never sleep (pairs do, by design).
_BUSY_ROLES = ("spin", "pinned")
# The runnable tasks averaged over an interval may fall this far below the CPUs and still
# count as enough. The measure's own error, found where the truth is known (as many busy
# loops as CPUs, always runnable: 15 boots of 8 vCPUs, 7 fuzz items of 4-8): down to 1.02
# below the CPUs (8 CPUs: 6.98 to 10.37 tasks). Its causes: a
# wait is added to the run queue's total only when it ends, and /proc/stat counts busy
# time in ticks that a starved vCPU takes late.
RUNNABLE_SLACK = 1.5


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The oracle's limits, in the guest's seconds (see docs/fuzzing.md for how they were chosen)."""

    settle_s: float = 2.0  # samples this long after the first are not judged
    idle_share: float = 0.5  # a CPU idle for at least this share of an interval is idle in it
    wasted_s: float = 5.0  # a wasted stretch this long is a finding
    min_intervals: int = 3  # and it must span this many intervals (one slow sample proves nothing)
    spread_slack: float = 0.75  # free loops a node may hold above or below its share, time-averaged


@dataclass(frozen=True, slots=True)
class BalanceFinding:
    """One complaint of oracle (e): ``code`` is wasted-core, spread or no-samples."""

    code: str
    message: str

    def __str__(self) -> str:
        return f"balance: {self.message}"


@dataclass(frozen=True, slots=True)
class _Stretch:
    """Consecutive wasted intervals of one idle CPU."""

    cpu: int
    start_s: float
    end_s: float
    intervals: int
    idle_s: float  # the idle CPU's idle time within the stretch
    crowded: tuple[int, ...]  # CPUs with two or more runnable tasks allowed on ``cpu``, at some end

    @property
    def length_s(self) -> float:
        return self.end_s - self.start_s


def balance_findings(report: GuestReport, thresholds: Thresholds = Thresholds()) -> list[BalanceFinding]:
    """Oracle (e) on a complete report; [] when it ran no workload."""
    trace = report.workload
    if trace is None or trace.kind == "memory":  # the memory workload has its own oracle (guest.memory)
        return []
    judged = _settled(trace, thresholds.settle_s)
    if len(judged) < thresholds.min_intervals + 1:
        return [
            BalanceFinding(
                "no-samples",
                f"the {trace.kind} workload gave {len(trace.samples)} samples, {len(judged)} after the "
                f"{thresholds.settle_s:g} s settle time; at least {thresholds.min_intervals + 1} are needed",
            )
        ]
    node_of = {cpu: node.node_id for node in report.nodes.values() for cpu in node.cpus}
    found = [_wasted_finding(report, judged, stretch, node_of) for stretch in _stretches(trace, judged, thresholds)]
    return found + _spread_findings(trace, judged, node_of, thresholds)


def _settled(trace: WorkloadTrace, settle_s: float) -> list[WorkloadSample]:
    if not trace.samples:
        return []
    first = trace.samples[0].time_s
    return [sample for sample in trace.samples if sample.time_s >= first + settle_s]


# ---------------------------------------------------------------------------------------
# Wasted cores


def _runnable(sample: WorkloadSample) -> dict[int, list[int]]:
    """CPU -> pids of the workload tasks runnable on its queue (running or waiting)."""
    queues: dict[int, list[int]] = {}
    for task in sample.tasks.values():
        if task.state == "R":
            queues.setdefault(task.cpu, []).append(task.pid)
    return queues


def _runnable_average(before: WorkloadSample, after: WorkloadSample) -> float | None:
    """How many tasks were runnable on average over the interval: the CPUs' busy shares
    (/proc/stat) plus the time tasks waited on their run queues (/proc/schedstat) over the
    interval's length. Two instants are not enough for tasks that sleep (pairs): a task
    just woken counts as runnable there although the tasks are mostly asleep. None without
    the run queues' figures."""
    length_s = after.time_s - before.time_s
    if length_s <= 0:
        return None
    busy = waited = 0.0
    for cpu, end in after.cpus.items():
        start = before.cpus.get(cpu)
        if start is None or start.waited_ns is None or end.waited_ns is None:
            return None
        busy += 1.0 - _idle_share(before, after, cpu)
        waited += (end.waited_ns - start.waited_ns) / 1e9
    return busy + waited / length_s


def _crowded_for(cpu: int, queues: dict[int, list[int]], allowed: dict[int, tuple[int, ...]]) -> list[int]:
    """CPUs other than ``cpu`` with two or more runnable tasks, one of them allowed on ``cpu``."""
    return [
        other
        for other, pids in queues.items()
        if other != cpu and len(pids) >= 2 and any(cpu in allowed.get(pid, ()) for pid in pids)
    ]


def _idle_share(before: WorkloadSample, after: WorkloadSample, cpu: int) -> float:
    """The share of the interval ``cpu`` spent idle, from its own /proc/stat jiffies."""
    start, end = before.cpus.get(cpu), after.cpus.get(cpu)
    if start is None or end is None or end.total <= start.total:
        return 0.0
    return (end.idle - start.idle) / (end.total - start.total)


def _stretches(trace: WorkloadTrace, samples: list[WorkloadSample], thresholds: Thresholds) -> list[_Stretch]:
    """Per idle CPU, its longest wasted stretch, when it passes the thresholds."""
    allowed = {task.pid: task.allowed for task in trace.tasks}
    cpus = sorted(samples[0].cpus)
    open_: dict[int, _Stretch] = {}
    longest: dict[int, _Stretch] = {}
    for before, after in itertools.pairwise(samples):
        ends = (_runnable(before), _runnable(after))
        at_ends = min(sum(len(pids) for pids in queues.values()) for queues in ends)
        average = _runnable_average(before, after)
        enough = at_ends >= len(cpus) and (average is None or average >= len(cpus) - RUNNABLE_SLACK)
        for cpu in cpus:
            share = _idle_share(before, after, cpu)
            crowded = [_crowded_for(cpu, queues, allowed) for queues in ends]
            if not (enough and share >= thresholds.idle_share and all(crowded)):
                open_.pop(cpu, None)
                continue
            stretch = _extend(open_.get(cpu), cpu, before.time_s, after.time_s, share, crowded)
            open_[cpu] = stretch
            if cpu not in longest or stretch.length_s > longest[cpu].length_s:
                longest[cpu] = stretch
    return [
        stretch
        for cpu, stretch in sorted(longest.items())
        if stretch.length_s >= thresholds.wasted_s and stretch.intervals >= thresholds.min_intervals
    ]


def _extend(
    previous: _Stretch | None, cpu: int, start_s: float, end_s: float, share: float, crowded: list[list[int]]
) -> _Stretch:
    """``previous`` (or a new stretch) with one more wasted interval."""
    seen = {other for cpus in crowded for other in cpus}
    idle_s = share * (end_s - start_s)
    if previous is None:
        return _Stretch(cpu, start_s, end_s, 1, idle_s, tuple(sorted(seen)))
    return _Stretch(
        cpu,
        previous.start_s,
        end_s,
        previous.intervals + 1,
        previous.idle_s + idle_s,
        tuple(sorted(seen | set(previous.crowded))),
    )


def _domain_level(report: GuestReport, cpu: int, other: int) -> str:
    """The lowest scheduler domain of ``cpu`` whose span holds ``other``, as the guest built it."""
    for domain in report.domains.get(cpu, ()):
        if domain.span is not None and other in domain.span:
            return f"domain{domain.index} {domain.name} (span {format_cpulist(domain.span)})"
    return "no domain of it spans that CPU"


def _nodes_text(cpus: tuple[int, ...] | list[int], node_of: dict[int, int]) -> str:
    nodes = sorted({node_of[cpu] for cpu in cpus if cpu in node_of})
    return f"node{'s' if len(nodes) > 1 else ''} {format_cpulist(nodes) or '?'}"


def _queue_wait_s(samples: list[WorkloadSample], stretch: _Stretch) -> float | None:
    """Seconds tasks waited on the crowded CPUs' run queues during the stretch (/proc/schedstat)."""
    start = next(sample for sample in samples if sample.time_s == stretch.start_s)
    end = next(sample for sample in samples if sample.time_s == stretch.end_s)
    total = 0
    for cpu in stretch.crowded:
        before, after = start.cpus.get(cpu), end.cpus.get(cpu)
        if before is None or after is None or before.waited_ns is None or after.waited_ns is None:
            return None
        total += after.waited_ns - before.waited_ns
    return total / 1e9


def _wasted_finding(
    report: GuestReport, samples: list[WorkloadSample], stretch: _Stretch, node_of: dict[int, int]
) -> BalanceFinding:
    nearest = stretch.crowded[0]
    share = stretch.idle_s / stretch.length_s if stretch.length_s else 0.0
    waited = _queue_wait_s(samples, stretch)
    queues = f", tasks waited {waited:.1f} s on their run queues meanwhile" if waited is not None else ""
    return BalanceFinding(
        "wasted-core",
        f"CPU {stretch.cpu} ({_nodes_text([stretch.cpu], node_of)}) was idle {share:.0%} of {stretch.length_s:.1f} s "
        f"(guest uptime {stretch.start_s:.1f}-{stretch.end_s:.1f} s, {stretch.intervals} samples) while CPU(s) "
        f"{format_cpulist(stretch.crowded)} ({_nodes_text(stretch.crowded, node_of)}) had two or more runnable tasks "
        f"allowed on it{queues}; CPU {stretch.cpu}'s level for CPU {nearest}: {_domain_level(report, stretch.cpu, nearest)}",
    )


# ---------------------------------------------------------------------------------------
# Spread by node


def _spread_findings(
    trace: WorkloadTrace, samples: list[WorkloadSample], node_of: dict[int, int], thresholds: Thresholds
) -> list[BalanceFinding]:
    """Free busy loops per node, time-averaged, against each node's share of the CPUs left."""
    everything = set(node_of)
    free = [task.pid for task in trace.tasks if task.role in _BUSY_ROLES and set(task.allowed) >= everything]
    pinned = [task.pid for task in trace.tasks if task.role in _BUSY_ROLES and task.pid not in free]
    nodes = sorted(set(node_of.values()))
    if len(nodes) < 2 or not free:
        return []
    held = {node: 0.0 for node in nodes}
    pinned_on = {node: 0.0 for node in nodes}
    for sample in samples:
        for pids, tally in ((free, held), (pinned, pinned_on)):
            for pid in pids:
                task = sample.tasks.get(pid)
                if task is not None and task.cpu in node_of:
                    tally[node_of[task.cpu]] += 1 / len(samples)
    cpus_of = {node: sum(1 for cpu in node_of if node_of[cpu] == node) for node in nodes}
    room = {node: max(0.0, cpus_of[node] - pinned_on[node]) for node in nodes}
    if sum(room.values()) <= 0 or len(free) < sum(room.values()) - thresholds.spread_slack:
        return []  # fewer free loops than free CPUs: Linux may keep them together on purpose
    found = []
    for node in nodes:
        share = len(free) * room[node] / sum(room.values())
        if abs(held[node] - share) > thresholds.spread_slack:
            found.append(
                BalanceFinding(
                    "spread",
                    f"node {node} held {held[node]:.1f} of the {len(free)} free busy loops on average over "
                    f"{samples[-1].time_s - samples[0].time_s:.1f} s (from guest uptime {samples[0].time_s:.1f} s); "
                    f"its share of the CPUs left ({room[node]:.1f} of {sum(room.values()):.1f}) is {share:.1f} "
                    f"(tolerance {thresholds.spread_slack:g})",
                )
            )
    return found
