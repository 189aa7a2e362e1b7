"""Read what the guest's init printed (``kit.INIT_SCRIPT``), and the kernel's messages.

The report shares the serial console with the kernel, so every report line starts with
``@`` and the report ends with ``@end LINES BYTES``, the number of lines and bytes it
printed: a line cut by a kernel message makes the counts differ and the report is marked
incomplete instead of misread. The format (version 1)::

    @numaopt-report 1
    @stage mount                      before each step that prints nothing while it runs
    @uptime 7.93                      seconds since boot when init ran
    @kernel 6.1.0-56-cloud-amd64
    @cmdline console=ttyS0 sched_verbose ...
    @sys /sys/devices/system/node/online:0-3           sysfs and debugfs files, "path:value"
    @sys /sys/devices/system/node/node0/distance:10 15 20 20
    @sys /sys/devices/system/node/node0/meminfo:Node 0 MemTotal:  481496 kB
    @sys /sys/devices/system/cpu/cpu0/topology/core_id:0
    @sys /sys/kernel/debug/sched/domains/cpu0/domain1/name:NUMA
    @grown /sys/devices/system/node/node1/meminfo:Node 1 MemTotal:  745000 kB   after onlining DIMMs
    @dmesg [    2.643722]  domain-0: span=0-3 level=MC
    @end 620 41237

When the kernel command line asks for a workload (``numaopt.workload=...``, see
``numaopt.guest.workload``), the report also holds, before the dmesg lines::

    @workload spread threads=8 pinned=0 pairs=0 work=100 start=3 pin=0 samples=40 tick=0.25
    @stage workload-start              @stage workload-run, @stage workload-report follow
    @task 109 spin 0-7                 each task: pid, role (spin, pinned, pair), allowed CPUs
    @sample 3.00                       one sample: the guest's uptime, then its lines
    @cpustat cpu0 34 0 86 82 0 0 5 0 0 0          /proc/stat's line for the CPU (USER_HZ jiffies)
    @rq cpu0 0 0 0 0 0 0 1556332978 1040904954 535  /proc/schedstat's (ran ns, waited ns, slices last)
    @ts 109 R 2 340993843 207782831    a task: state, last CPU, ran ns, waited ns (its schedstat)
    @stage reset                      after the report (not counted)

and for the memory workload, instead of the task and CPU lines::

    @memory 104 balancing=1 mib=16 from=0 to=1      the task, kernel.numa_balancing, size, CPUs
    @moved                             the task was moved to "to" (between two samples)
    @vmstat numa_hint_faults=5 numa_pages_migrated=5 ...   in each sample: /proc/vmstat's numa_*
    @pages 0=13140 1=3                 in each sample: the task's anonymous pages per node

Scheduler-domain spans and groups come from the ``sched_verbose`` lines in dmesg
(kernel/sched/topology.c ``sched_domain_debug_one``); names and flags from debugfs
(``/sys/kernel/debug/sched/domains``, the Debian 6.1 kernel has no
/proc/sys/kernel/sched_domain any more).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from numaopt.units import format_cpulist, parse_cpulist

__all__ = [
    "MESSAGE_PATTERNS",
    "CpuSample",
    "CpuView",
    "GuestReport",
    "KernelMessage",
    "NodeView",
    "ReportError",
    "SchedDomain",
    "TaskSample",
    "WorkloadSample",
    "WorkloadTask",
    "WorkloadTrace",
    "kernel_messages",
    "numactl_text",
    "parse_report",
]

BEGIN = "@numaopt-report"
_TIMESTAMP = re.compile(r"^\[\s*\d+\.\d+\]\s?")

# Kernel messages worth a verdict, most specific first: the first match names the message.
# Sources: drivers/acpi/numa/srat.c, arch/x86/kernel/smpboot.c, drivers/of/of_numa.c,
# mm/numa*.c, kernel/sched/topology.c, kernel/watchdog.c, kernel/panic.c, RCU.
MESSAGE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern))
    for code, pattern in (
        ("slit-invalid", r"SLIT table looks invalid"),
        ("not-same-node", r"is not on the same node"),
        ("distance-not-symmetric", r"Node-distance not symmetric"),
        ("invalid-distance", r"[Ii]nvalid distance"),
        ("topology-borken", r"topology borken"),
        ("no-topology-type", r"Failed to find a NUMA topology type"),
        ("numa-disabled", r"No NUMA configuration found|Faking a node at|SRAT not used|Too many proximity domains"),
        ("soft-lockup", r"soft lockup"),
        ("hard-lockup", r"hard LOCKUP"),
        ("rcu-stall", r"rcu: INFO: .* detected stalls|self-detected stall"),
        ("panic", r"Kernel panic"),
        ("error", r"\bERROR:"),
        ("bug", r"\bBUG\b"),
        ("warning", r"\bWARNING:"),
    )
)


class ReportError(ValueError):
    """The console holds no report, or one numaopt cannot read."""


@dataclass(frozen=True, slots=True)
class KernelMessage:
    """One kernel line that matched ``MESSAGE_PATTERNS`` (timestamp removed)."""

    code: str
    text: str

    def __str__(self) -> str:
        return f"{self.code}: {self.text}"


@dataclass(frozen=True, slots=True)
class NodeView:
    node_id: int
    cpus: tuple[int, ...]
    distances: tuple[int, ...]  # to each online node, in id order
    memtotal_kb: int | None
    initiators: tuple[int, ...] = ()  # access0/initiators/nodeN: the nodes that reach this memory best (HMAT)
    performance: tuple[tuple[str, int], ...] = ()  # access0/initiators/read_latency (ns), read_bandwidth (MB/s), ...
    caches: tuple[tuple[int, tuple[tuple[str, str], ...]], ...] = ()  # memory_side_cache/indexN: (N, (file, value)...)


@dataclass(frozen=True, slots=True)
class CpuView:
    cpu: int
    package: int
    die: int
    core: int
    thread_siblings: tuple[int, ...]
    core_siblings: tuple[int, ...]  # the package's CPUs (topology/core_siblings_list)
    cluster: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class SchedGroup:
    first: int
    span: tuple[int, ...]
    mask: tuple[int, ...] | None = None  # balance mask of an overlapping (NUMA) group, when it differs


@dataclass(frozen=True, slots=True)
class SchedDomain:
    """One level of one CPU's domain tree, bottom (0) up."""

    cpu: int
    index: int
    name: str
    flags: tuple[str, ...] = ()
    span: tuple[int, ...] | None = None  # from sched_verbose; None when the log lacks it
    groups: tuple[SchedGroup, ...] | None = None


@dataclass(frozen=True, slots=True)
class WorkloadTask:
    """One task of the workload: its pid, role (spin, pinned, pair) and the CPUs it may run on."""

    pid: int
    role: str
    allowed: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class CpuSample:
    """One CPU at one sample: /proc/stat's jiffies (user ... steal) and its run queue's totals."""

    cpu: int
    jiffies: tuple[int, ...]  # user nice system idle iowait irq softirq steal [guest guest_nice]
    ran_ns: int | None = None  # /proc/schedstat: time tasks ran on this CPU
    waited_ns: int | None = None  # and time they waited on its run queue

    @property
    def idle(self) -> int:
        """Idle and iowait jiffies."""
        return self.jiffies[3] + self.jiffies[4]

    @property
    def total(self) -> int:
        return sum(self.jiffies[:8])


@dataclass(frozen=True, slots=True)
class TaskSample:
    """One task at one sample: its state (R runnable, S sleeping...), last CPU and schedstat."""

    pid: int
    state: str
    cpu: int
    ran_ns: int
    waited_ns: int


@dataclass(frozen=True, slots=True)
class WorkloadSample:
    time_s: float  # the guest's uptime
    cpus: dict[int, CpuSample]
    tasks: dict[int, TaskSample]
    vmstat: dict[str, int] = field(default_factory=dict)  # memory workload: /proc/vmstat's numa_* counters
    pages: dict[int, int] = field(default_factory=dict)  # memory workload: node -> the task's anonymous pages


@dataclass(frozen=True, slots=True)
class WorkloadTrace:
    """The workload the init ran (its ``@workload`` line) and what it sampled."""

    kind: str
    settings: dict[str, str]
    tasks: tuple[WorkloadTask, ...]
    samples: tuple[WorkloadSample, ...]
    memory: dict[str, str] = field(default_factory=dict)  # the memory workload's line: pid, balancing, mib, from, to
    moved_after: int | None = None  # the memory workload: samples taken before the task was moved


@dataclass(frozen=True, slots=True)
class GuestReport:
    """Everything the guest printed, parsed. ``complete`` is False for a cut or garbled report."""

    version: int
    complete: bool
    problems: tuple[str, ...]
    kernel: str = ""
    cmdline: str = ""
    uptime_s: float | None = None
    node_sets: dict[str, tuple[int, ...]] = field(default_factory=dict)
    cpu_sets: dict[str, tuple[int, ...]] = field(default_factory=dict)
    nodes: dict[int, NodeView] = field(default_factory=dict)
    cpus: dict[int, CpuView] = field(default_factory=dict)
    domains: dict[int, tuple[SchedDomain, ...]] = field(default_factory=dict)
    dmesg: tuple[str, ...] = ()
    console: tuple[str, ...] = ()  # console lines outside the report (kernel notices before init, errors after)
    stages: tuple[str, ...] = ()  # the init's steps, as announced by "@stage" lines
    grown_kb: dict[int, int] = field(default_factory=dict)  # node -> MemTotal after onlining every memory block
    workload: WorkloadTrace | None = None  # None: the boot ran no workload

    @property
    def node_ids(self) -> list[int]:
        return sorted(self.nodes)

    def distance_matrix(self) -> npt.NDArray[np.int64]:
        """Rows and columns in ``node_ids`` order; a short row is padded with -1."""
        ids = self.node_ids
        matrix = np.full((len(ids), len(ids)), -1, dtype=np.int64)
        for row, node_id in enumerate(ids):
            values = self.nodes[node_id].distances[: len(ids)]
            matrix[row, : len(values)] = values
        return matrix

    def messages(self) -> list[KernelMessage]:
        """Kernel messages of interest from dmesg and from the console, each once."""
        return kernel_messages([*self.dmesg, *self.console])


def _strip_timestamp(line: str) -> str:
    return _TIMESTAMP.sub("", line, count=1)


def kernel_messages(lines: list[str] | tuple[str, ...]) -> list[KernelMessage]:
    """The lines matching ``MESSAGE_PATTERNS``, timestamps dropped, duplicates (dmesg and console) once."""
    seen: set[str] = set()
    found: list[KernelMessage] = []
    for raw in lines:
        if raw in seen:
            continue
        seen.add(raw)
        text = _strip_timestamp(raw).strip()
        if text.startswith(("Command line:", "Kernel command line:")):
            continue  # our own cmdline (panic=-1) is no message
        for code, pattern in MESSAGE_PATTERNS:
            if pattern.search(text):
                found.append(KernelMessage(code, text))
                break
    return found


# ---------------------------------------------------------------------------------------
# sched_verbose


_ATTACH = re.compile(r"^CPU(\d+) attaching sched-domain\(s\):")
_ATTACH_NULL = re.compile(r"^CPU(\d+) attaching NULL sched-domain")
_DOMAIN = re.compile(r"^\s*domain-(\d+): span=(\S*) level=(\S+)")
_GROUPS = re.compile(r"^\s*groups:(.*)$")
_GROUP = re.compile(r"(\d+):\{ span=(\S*)((?: [a-z_]+=\S+)*) \}")


_VerboseLevel = tuple[int, str, tuple[int, ...], list[SchedGroup]]  # index, level name, span, groups


def _groups(text: str) -> list[SchedGroup]:
    groups = []
    for match in _GROUP.finditer(text):
        extras = dict(item.split("=", 1) for item in match.group(3).split())
        mask = parse_cpulist(extras["mask"]) if "mask" in extras else None
        groups.append(SchedGroup(int(match.group(1)), parse_cpulist(match.group(2)), mask))
    return groups


def _sched_verbose(dmesg: list[str]) -> dict[int, list[_VerboseLevel]]:
    """Per CPU, its last ``attaching sched-domain(s)`` block: (index, level, span, groups)."""
    trees: dict[int, list[_VerboseLevel]] = {}
    current: list[_VerboseLevel] | None = None
    for raw in dmesg:
        line = _strip_timestamp(raw)
        if match := _ATTACH.match(line):
            current = trees[int(match.group(1))] = []
        elif match := _ATTACH_NULL.match(line):
            trees[int(match.group(1))] = []
            current = None
        elif current is not None and (match := _DOMAIN.match(line)):
            current.append((int(match.group(1)), match.group(3), parse_cpulist(match.group(2)), []))
        elif current is not None and current and (match := _GROUPS.match(line)):
            current[-1][3].extend(_groups(match.group(1)))
        elif current is not None and current and _GROUP.match(line.strip()):
            current[-1][3].extend(_groups(line))  # printk split a long groups line
        elif current is not None and not line.startswith((" ", "ERROR")):
            current = None
    return trees


# ---------------------------------------------------------------------------------------
# The report


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        return tuple(int(value) for value in text.split())
    except ValueError:
        raise ReportError(f"{what}: expected integers, got {text!r}") from None


def _cpulist(text: str, what: str) -> tuple[int, ...]:
    try:
        return parse_cpulist(text)
    except ValueError as exc:
        raise ReportError(f"{what}: {exc}") from None


_NODE_FILE = re.compile(r"^/sys/devices/system/node/node(\d+)/(cpulist|distance|meminfo)$")
_CPU_FILE = re.compile(r"^/sys/devices/system/cpu/cpu(\d+)/topology/(\w+)$")
_SD_FILE = re.compile(r"^/sys/kernel/debug/sched/domains/cpu(\d+)/domain(\d+)/(name|flags)$")
_SET_FILE = re.compile(r"^/sys/devices/system/(node|cpu)/(possible|online|present|has_cpu|has_memory)$")
_ACCESS_FILE = re.compile(r"^/sys/devices/system/node/node(\d+)/access0/initiators/(?:node(\d+)|(\w+))$")
_CACHE_FILE = re.compile(r"^/sys/devices/system/node/node(\d+)/memory_side_cache/index(\d+)/(\w+)$")
_MEMTOTAL = re.compile(r"MemTotal:\s*(\d+)\s*kB")


class _Sysfs:
    """The ``@sys path:value`` lines, gathered per node, CPU and domain."""

    def __init__(self) -> None:
        self.node_sets: dict[str, tuple[int, ...]] = {}
        self.cpu_sets: dict[str, tuple[int, ...]] = {}
        self.node_files: dict[int, dict[str, str]] = {}
        self.cpu_files: dict[int, dict[str, str]] = {}
        self.sd_files: dict[int, dict[int, dict[str, str]]] = {}
        self.initiators: dict[int, list[int]] = {}
        self.performance: dict[int, dict[str, int]] = {}
        self.caches: dict[int, dict[int, dict[str, str]]] = {}

    def add(self, path: str, value: str) -> None:
        if match := _SET_FILE.match(path):
            target = self.node_sets if match.group(1) == "node" else self.cpu_sets
            target[match.group(2)] = _cpulist(value, path)
        elif match := _NODE_FILE.match(path):
            self.node_files.setdefault(int(match.group(1)), {})[match.group(2)] = value
        elif match := _CPU_FILE.match(path):
            self.cpu_files.setdefault(int(match.group(1)), {})[match.group(2)] = value
        elif match := _SD_FILE.match(path):
            cpu, index = int(match.group(1)), int(match.group(2))
            self.sd_files.setdefault(cpu, {}).setdefault(index, {})[match.group(3)] = value
        elif match := _ACCESS_FILE.match(path):
            self._access(int(match.group(1)), match.group(2), match.group(3), value)
        elif match := _CACHE_FILE.match(path):
            node, index = int(match.group(1)), int(match.group(2))
            self.caches.setdefault(node, {}).setdefault(index, {})[match.group(3)] = value
        else:
            raise ReportError(f"unexpected file {path}")

    def _access(self, node: int, initiator: str | None, name: str | None, value: str) -> None:
        if initiator is not None:
            self.initiators.setdefault(node, []).append(int(initiator))
        elif name is not None:
            self.performance.setdefault(node, {})[name] = int(value)

    def hmat_of(self, node: int) -> dict[str, Any]:
        """The NodeView fields of one node's HMAT files, sorted."""
        caches = self.caches.get(node, {})
        return {
            "initiators": tuple(sorted(self.initiators.get(node, ()))),
            "performance": tuple(sorted(self.performance.get(node, {}).items())),
            "caches": tuple((index, tuple(sorted(caches[index].items()))) for index in sorted(caches)),
        }

    def views(self) -> tuple[dict[int, NodeView], dict[int, CpuView], dict[int, dict[int, tuple[str, tuple[str, ...]]]]]:
        nodes = {}
        for node, files in sorted(self.node_files.items()):
            memory = _MEMTOTAL.search(files.get("meminfo", ""))
            nodes[node] = NodeView(
                node_id=node,
                cpus=_cpulist(files.get("cpulist", ""), f"node{node}/cpulist"),
                distances=_ints(files.get("distance", ""), f"node{node}/distance"),
                memtotal_kb=int(memory.group(1)) if memory else None,
                **self.hmat_of(node),
            )
        cpus = {}
        for cpu, files in sorted(self.cpu_files.items()):
            cpus[cpu] = CpuView(
                cpu=cpu,
                package=int(files.get("physical_package_id", "-1")),
                die=int(files.get("die_id", "-1")),
                core=int(files.get("core_id", "-1")),
                thread_siblings=_cpulist(files.get("thread_siblings_list", ""), f"cpu{cpu} thread_siblings_list"),
                core_siblings=_cpulist(files.get("core_siblings_list", ""), f"cpu{cpu} core_siblings_list"),
                cluster=_cpulist(files.get("cluster_cpus_list", ""), f"cpu{cpu} cluster_cpus_list"),
            )
        debugfs = {
            cpu: {index: (files.get("name", "?"), tuple(files.get("flags", "").split())) for index, files in levels.items()}
            for cpu, levels in self.sd_files.items()
        }
        return nodes, cpus, debugfs


def parse_report(console: str) -> GuestReport:
    """The report in ``console`` (the whole serial output of one boot).

    Raises ``ReportError`` when there is no report at all; a report cut short (a panic,
    a timeout) or garbled by an interleaved kernel line comes back with ``complete``
    False and the reasons in ``problems``.
    """
    lines = [line.rstrip("\r") for line in console.split("\n")]
    begin, version = _header(lines)
    framed = _frame(lines[begin + 1 :])
    fields, field_problems = _read_fields(framed.fields)
    problems = (*framed.problems, *field_problems)
    nodes, cpus, debugfs = fields.sysfs.views()
    return GuestReport(
        version=version,
        complete=not problems,
        problems=problems,
        kernel=fields.kernel,
        cmdline=fields.cmdline,
        uptime_s=fields.uptime,
        node_sets=fields.sysfs.node_sets,
        cpu_sets=fields.sysfs.cpu_sets,
        nodes=nodes,
        cpus=cpus,
        domains=_domains(debugfs, _sched_verbose(fields.dmesg)),
        dmesg=tuple(fields.dmesg),
        console=(*lines[:begin], *framed.outside),
        stages=tuple(fields.stages),
        grown_kb=fields.grown,
        workload=fields.workload.trace(),
    )


def _header(lines: list[str]) -> tuple[int, int]:
    """The index of the ``@numaopt-report VERSION`` line and the version; ``ReportError`` unless 1."""
    begin = next((i for i, line in enumerate(lines) if line.startswith(BEGIN)), None)
    if begin is None:
        raise ReportError("the console holds no numaopt report")
    try:
        version = int(lines[begin].split()[1])
    except (IndexError, ValueError):
        raise ReportError(f"unreadable report header {lines[begin]!r}") from None
    if version != 1:
        raise ReportError(f"report format {version} is not one this numaopt reads (1)")
    return begin, version


@dataclass(frozen=True, slots=True)
class _Framed:
    """The console after the header, sorted: report lines, other lines, and what the counts say."""

    fields: tuple[str, ...]  # the report's lines up to @end, without their "@"
    outside: tuple[str, ...]  # non-blank lines that are not the report's (kernel messages, after @end)
    problems: tuple[str, ...]  # a missing or unreadable @end, or counts that differ


def _frame(body: list[str]) -> _Framed:
    """Split the lines after the header at the first ``@end`` and check its counts."""
    end_at = next((i for i, line in enumerate(body) if line.startswith("@end")), None)
    report, after = (body, []) if end_at is None else (body[:end_at], body[end_at + 1 :])
    fields = tuple(line[1:] for line in report if line.startswith("@"))
    outside = tuple(line for line in report if not line.startswith("@") and line.strip())
    outside += tuple(line for line in after if line.strip())
    if end_at is None:
        return _Framed(fields, outside, (f"the report was cut short after {len(fields)} lines (no @end line)",))
    return _Framed(fields, outside, _end_problems(body[end_at], fields))


def _end_problems(end_line: str, fields: tuple[str, ...]) -> tuple[str, ...]:
    """Why ``@end LINES [BYTES]`` disagrees with the report read: unreadable, or other counts."""
    counted = len(fields)
    counted_bytes = sum(len(text.encode()) + 1 for text in fields)  # + 1: the "@"
    counts = _end_counts(end_line)
    problems = () if counts is not None else (f"unreadable end line {end_line!r}",)
    end_count, end_bytes = counts or (-1, None)  # an unreadable line matches no report
    if end_count == counted and end_bytes in (None, counted_bytes):
        return problems
    return (
        *problems,
        f"the report has {counted} lines of {counted_bytes} bytes but the guest printed {end_count} of "
        f"{end_bytes}: a kernel message cut a line",
    )


def _end_counts(end_line: str) -> tuple[int, int | None] | None:
    """LINES and BYTES of ``@end LINES [BYTES]`` (BYTES None when absent); None when unreadable."""
    parts = end_line.split()
    try:
        return int(parts[1]), (int(parts[2]) if len(parts) > 2 else None)
    except (IndexError, ValueError):
        return None


class _Fields:
    """The report's lines by key: ``@kernel``, ``@cmdline``, ``@uptime``, ``@stage``, ``@dmesg``, ``@sys``."""

    def __init__(self) -> None:
        self.kernel = ""
        self.cmdline = ""
        self.uptime: float | None = None
        self.stages: list[str] = []
        self.dmesg: list[str] = []
        self.sysfs = _Sysfs()
        self.grown: dict[int, int] = {}
        self.workload = _Workload()

    def add(self, key: str, rest: str) -> bool:
        """Take one line (``@key rest``); False for a key this numaopt does not know."""
        reader = _FIELD_READERS.get(key)
        if reader is None:
            return False
        reader(self, rest)
        return True

    def _dmesg(self, rest: str) -> None:
        self.dmesg.append(rest)

    def _stage(self, rest: str) -> None:
        self.stages.append(rest.strip())

    def _kernel(self, rest: str) -> None:
        self.kernel = rest.strip()

    def _cmdline(self, rest: str) -> None:
        self.cmdline = rest.strip()

    def _uptime(self, rest: str) -> None:
        self.uptime = float(rest)

    def _grown(self, rest: str) -> None:
        """A node's MemTotal again, after the init onlined every offline memory block."""
        path, _, value = rest.partition(":")
        node, memory = _NODE_FILE.match(path), _MEMTOTAL.search(value)
        if node is None or memory is None:
            raise ReportError(f"expected nodeN/meminfo:... MemTotal: N kB, got {rest[:60]!r}")
        self.grown[int(node.group(1))] = int(memory.group(1))

    def _sys(self, rest: str) -> None:
        path, _, value = rest.partition(":")
        self.sysfs.add(path, value.strip())


    def _workload(self, rest: str) -> None:
        self.workload.header(rest)

    def _task(self, rest: str) -> None:
        self.workload.task(rest)

    def _sample(self, rest: str) -> None:
        self.workload.sample(rest)

    def _cpustat(self, rest: str) -> None:
        self.workload.cpustat(rest)

    def _rq(self, rest: str) -> None:
        self.workload.rq(rest)

    def _ts(self, rest: str) -> None:
        self.workload.task_sample(rest)

    def _memory(self, rest: str) -> None:
        pid, *pairs = rest.split()
        self.workload.memory = {"pid": str(int(pid)), **dict(pair.split("=", 1) for pair in pairs)}

    def _moved(self, rest: str) -> None:
        self.workload.moved_after = len(self.workload.samples)

    def _vmstat(self, rest: str) -> None:
        self.workload.counters(rest, self.workload.vmstat, str)

    def _pages(self, rest: str) -> None:
        self.workload.counters(rest, self.workload.pages, int)


_CPU_NAME = re.compile(r"^cpu(\d+)$")


def _cpu_number(name: str) -> int:
    match = _CPU_NAME.match(name)
    if match is None:
        raise ReportError(f"expected cpuN, got {name!r}")
    return int(match.group(1))


class _Workload:
    """The workload lines (``@workload``, ``@task``, ``@sample`` and the lines of each sample)."""

    def __init__(self) -> None:
        self.kind: str | None = None
        self.settings: dict[str, str] = {}
        self.tasks: list[WorkloadTask] = []
        self.samples: list[tuple[float, dict[int, list[int]], dict[int, tuple[int, int]], dict[int, TaskSample]]] = []
        self.memory: dict[str, str] = {}
        self.moved_after: int | None = None
        self.vmstat: dict[int, dict[str, int]] = {}  # sample index -> counters
        self.pages: dict[int, dict[int, int]] = {}  # sample index -> node -> pages

    def header(self, rest: str) -> None:
        kind, *pairs = rest.split()
        self.kind = kind
        self.settings = dict(pair.split("=", 1) for pair in pairs)

    def task(self, rest: str) -> None:
        pid, role, allowed = rest.split()
        self.tasks.append(WorkloadTask(int(pid), role, _cpulist(allowed, f"task {pid}")))

    def sample(self, rest: str) -> None:
        if self.kind is None:
            raise ReportError("a sample before the @workload line")
        self.samples.append((float(rest), {}, {}, {}))

    def _current(self) -> tuple[float, dict[int, list[int]], dict[int, tuple[int, int]], dict[int, TaskSample]]:
        if not self.samples:
            raise ReportError("a sampled value before the first @sample line")
        return self.samples[-1]

    def cpustat(self, rest: str) -> None:
        name, *values = rest.split()
        self._current()[1][_cpu_number(name)] = [int(value) for value in values]

    def rq(self, rest: str) -> None:
        name, *values = rest.split()
        ran, waited = int(values[-3]), int(values[-2])  # the last three: ran ns, waited ns, timeslices
        self._current()[2][_cpu_number(name)] = (ran, waited)

    def task_sample(self, rest: str) -> None:
        pid, state, cpu, ran, waited = rest.split()
        self._current()[3][int(pid)] = TaskSample(int(pid), state, int(cpu), int(ran), int(waited))

    def counters(self, rest: str, into: dict[int, dict[Any, int]], key: Callable[[str], Any]) -> None:
        """``NAME=VALUE ...`` of the current sample (an empty line: the file was unreadable)."""
        self._current()
        into[len(self.samples) - 1] = {key(name): int(value) for name, value in (pair.split("=", 1) for pair in rest.split())}

    def trace(self) -> WorkloadTrace | None:
        if self.kind is None:
            return None
        samples = []
        for index, (time_s, jiffies, queues, tasks) in enumerate(self.samples):
            cpus = {
                cpu: CpuSample(cpu, tuple(values), *queues.get(cpu, (None, None)))
                for cpu, values in sorted(jiffies.items())
            }
            samples.append(WorkloadSample(time_s, cpus, tasks, self.vmstat.get(index, {}), self.pages.get(index, {})))
        return WorkloadTrace(self.kind, self.settings, tuple(self.tasks), tuple(samples), self.memory, self.moved_after)


_FIELD_READERS: dict[str, Callable[[_Fields, str], None]] = {
    "dmesg": _Fields._dmesg,
    "stage": _Fields._stage,
    "kernel": _Fields._kernel,
    "cmdline": _Fields._cmdline,
    "uptime": _Fields._uptime,
    "sys": _Fields._sys,
    "grown": _Fields._grown,
    "workload": _Fields._workload,
    "task": _Fields._task,
    "sample": _Fields._sample,
    "cpustat": _Fields._cpustat,
    "rq": _Fields._rq,
    "ts": _Fields._ts,
    "memory": _Fields._memory,
    "moved": _Fields._moved,
    "vmstat": _Fields._vmstat,
    "pages": _Fields._pages,
}


def _read_fields(fields: tuple[str, ...]) -> tuple[_Fields, list[str]]:
    """The report's lines by key, and one problem per line that could not be read."""
    read = _Fields()
    problems: list[str] = []
    for number, text in enumerate(fields, start=1):
        key, _, rest = text.partition(" ")
        try:
            known = read.add(key, rest)
        except (ValueError, IndexError, KeyError, ReportError) as exc:
            problems.append(f"report line {number} ({text[:60]!r}): {exc}")
            continue
        if not known:
            problems.append(f"report line {number}: unknown key {key!r}")
    return read, problems


def _domains(
    debugfs: dict[int, dict[int, tuple[str, tuple[str, ...]]]], verbose: dict[int, list[_VerboseLevel]]
) -> dict[int, tuple[SchedDomain, ...]]:
    """Every CPU's domain tree, from debugfs (names, flags) and sched_verbose (spans, groups)."""
    return {
        cpu: _domain_tree(cpu, debugfs.get(cpu, {}), verbose.get(cpu, []))
        for cpu in sorted(set(debugfs) | set(verbose))
    }


def _domain_tree(
    cpu: int, named: dict[int, tuple[str, tuple[str, ...]]], levels: list[_VerboseLevel]
) -> tuple[SchedDomain, ...]:
    """One CPU's domains bottom up. A level debugfs lacks takes sched_verbose's level name and
    no flags; a level sched_verbose lacks has no span and no groups."""
    spans = {index: (level, span, groups) for index, level, span, groups in levels}
    tree = []
    for index in sorted(set(named) | set(spans)):
        if index not in spans:
            name, flags = named[index]
            tree.append(SchedDomain(cpu, index, name, flags))
            continue
        level, span, groups = spans[index]
        name, flags = named.get(index, (level, ()))
        tree.append(SchedDomain(cpu, index, name, flags, span, tuple(groups)))
    return tuple(tree)


def numactl_text(report: GuestReport) -> str:
    """The guest's nodes as ``numactl --hardware`` prints them (sizes: MemTotal in MB)."""
    ids = report.node_ids
    lines = [f"available: {len(ids)} nodes ({format_cpulist(ids)})"]
    for node_id in ids:
        node = report.nodes[node_id]
        lines.append(f"node {node_id} cpus:" + "".join(f" {cpu}" for cpu in node.cpus))
        size = "?" if node.memtotal_kb is None else str(node.memtotal_kb // 1024)
        lines.append(f"node {node_id} size: {size} MB")
    lines.append("node distances:")
    lines.append("node " + "".join(f"{nid:>4}" for nid in ids) + " ")
    matrix = report.distance_matrix()
    for row, node_id in zip(matrix, ids, strict=True):
        lines.append(f"{node_id:>3}: " + "".join(f"{int(v):>4}" for v in row) + " ")
    return "\n".join(lines) + "\n"
