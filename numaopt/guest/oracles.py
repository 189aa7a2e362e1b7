"""What Linux should show for a layout, and the four oracles that judge a boot against it.

``expected_view(layout)`` predicts the guest's view from the rules of
docs/rules.md #linux-acpi, #linux-dt and #scheduler (``linux=True``) or states what was asked
(``linux=False``, for ``numaopt verify``: the same node mapping, but the distances and
SMT siblings as given, so a discarded SLIT or a split core shows up as a mismatch):

* node numbering (#linux-acpi): an ACPI guest numbers proximity domains in first-seen order (QEMU's
  SRAT lists the vCPUs first, then memory) and never sees a node with neither CPUs nor
  memory (#linux-acpi); ``layout.guest_node_order`` is that rule. A device-tree guest keeps the
  ids. ``guest_node_ids`` maps QEMU node ids to guest node ids;
* distances (#linux-acpi, #linux-dt): an ACPI guest drops a SLIT whose diagonal is not 10 or whose remote
  entries are not all above 10 and uses 10/20 (``SLIT table looks invalid``); a
  device-tree guest drops all NUMA instead;
* CPU topology (x86 with the boot's Intel-vendor CPU model): package = socket, die id by
  the guest's kernel release (``die_numbering``: before 6.7 the die's index in its package,
  from 6.7 on machine-wide, socket x dies + die; an unknown release predicts none),
  core id = (die << bits(cores)) | core, thread siblings = the core's threads on the same
  node (``topology_sane`` refuses a sibling on another node), core siblings = the package;
  arm64 on virt (its device tree's cpu-map, drivers/base/arch_topology.c): package =
  socket, core id = the core's index in its cluster, no die (the guest shows -1, not
  predicted), cluster CPUs = the cluster's, thread and package siblings as -smp says
  (arm64 clips none of them to the node);
* scheduler (#scheduler): levels = distinct distances among CPU nodes; NUMA domain spans from
  each node's own row; the topology type by ``distances.topology_type``. The levels
  below NUMA have the architecture's names (x86: SMT, CLS, MC, DIE or PKG; arm64: SMT,
  CLS for clusters, MC, DIE or PKG) and are judged alike: nested, their groups covering
  them;
* kernel messages: the expected ones (SLIT discarded, a split core or socket, an
  asymmetric table under sched_verbose; on a device-tree guest an invalid distance-map
  entry and the one fake node that follows) must appear; any other message of interest
  fails (on arm64 a split core or cluster shows as ``BUG: arch topology borken``).

The oracles (``Oracle``): (a) TOPOLOGY the guest sees the predicted nodes, CPUs, memory,
distances and CPU topology; (b) MESSAGES no unexpected kernel error or warning, and every
expected one present; (c) SCHED scheduler domains consistent (child spans inside parent
spans, groups covering each span, a CLS level inside its cluster, NUMA domains equal to
the predicted masks, levels and topology type as predicted); (d) HANG the guest kept showing progress until its report
was out (``numaopt.guest.progress``: no console line for the quiet limit of the guest's
own time, or still running at the hard cap, is a hang; a guest that is merely slow
because the host is busy is not).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE, REMOTE_DISTANCE, TopologyType, distinct_levels, topology_type
from numaopt.guest.balance import balance_findings
from numaopt.guest.boot import BootResult
from numaopt.guest.memory import memory_findings
from numaopt.guest.report import GuestReport, KernelMessage, SchedDomain, kernel_messages
from numaopt.layout import check_layout, guest_node_order
from numaopt.model import CpuPosition, GuestLayout, GuestNode, Machine
from numaopt.rules import RuleSet
from numaopt.units import MIB, format_cpulist

__all__ = [
    "MACHINE_WIDE_DIES_SINCE",
    "MEMORY_HOLE_BYTES",
    "CpuExpectation",
    "ExpectedView",
    "Failure",
    "Oracle",
    "die_numbering",
    "expected_view",
    "guest_node_ids",
    "hang_failure",
    "judge",
    "judge_report",
    "memory_present",
    "message_problems",
    "sched_problems",
    "topology_failures",
    "topology_problems",
]

# Firmware holes QEMU leaves in a node's RAM (the first page, 640 KiB-1 MiB, the ACPI
# tables at the top of low memory): a node may show this much less as present memory.
MEMORY_HOLE_BYTES = 2 * MIB
# What the kernel keeps for itself out of the present memory (its image, the initramfs,
# swiotlb's 64 MiB, struct pages at 1.6 %): MemTotal over all nodes may be this much lower.
KERNEL_RESERVE_BYTES = 256 * MIB
KERNEL_RESERVE_FRACTION = 0.03


class Oracle(enum.StrEnum):
    """The four oracles of a fuzzing boot."""

    TOPOLOGY = "topology"  # (a) the guest sees the intended topology
    MESSAGES = "messages"  # (b) no unexpected kernel error or warning; expected ones present
    SCHED = "sched"  # (c) scheduler domains consistent
    HANG = "hang"  # (d) the probe kept making progress until it finished
    BALANCE = "balance"  # (e) with a workload: no core idle while work waits, loops spread by node (guest.balance)
    PREDICTIONS = "predictions"  # (f) check's guest predictions confirmed by the guest, and nothing else (guest.predictions)
    MEMORY = "memory"  # with the memory workload: pages follow their task to its node (guest.memory)


@dataclass(frozen=True, slots=True)
class Failure:
    """One oracle's complaint. ``code`` is stable (for grouping), ``message`` says it all."""

    oracle: Oracle
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.oracle.value}: {self.message}"


@dataclass(frozen=True, slots=True)
class CpuExpectation:
    node: int  # guest node id
    package: int
    die: int | None  # None: not predicted
    core: int | None
    thread_siblings: tuple[int, ...]
    core_siblings: tuple[int, ...] | None
    cluster: tuple[int, ...] | None = None  # cluster_cpus_list (virt only)


@dataclass(frozen=True, slots=True, eq=False)
class ExpectedView:
    """The guest's view as predicted (or asked): everything indexed by guest node id."""

    qemu_ids: tuple[int, ...]  # guest node id -> QEMU node id
    cpus: tuple[tuple[int, ...], ...]
    memory_bytes: tuple[int, ...]
    distances: npt.NDArray[np.int64]
    cpu_topology: dict[int, CpuExpectation]
    expected_messages: dict[str, str]  # message code -> why it must appear
    allowed_messages: dict[str, str]  # message code -> why it may appear
    slit_discarded: bool = False
    numa_disabled: bool = False
    notes: tuple[str, ...] = field(default=())
    dimm_bytes: tuple[int, ...] = ()  # guest node id -> its DIMMs plugged at start (() without DIMMs)

    @property
    def num_nodes(self) -> int:
        return len(self.qemu_ids)

    @property
    def cpu_nodes_mask(self) -> npt.NDArray[np.bool_]:
        return np.array([bool(cpus) for cpus in self.cpus], dtype=bool)

    @property
    def levels(self) -> int:
        return int(distinct_levels(self.distances, self.cpu_nodes_mask)[0]) if self.cpu_nodes_mask.any() else 0

    @property
    def topology_type(self) -> TopologyType:
        return topology_type(self.distances, self.cpu_nodes_mask)


def _visible_order(layout: GuestLayout) -> list[int]:
    """Positions of ``layout.nodes`` in guest-id order."""
    if layout.machine is Machine.VIRT:
        # Device tree: numa-node-id is the Linux node id; nodes with neither CPUs nor
        # memory have no /memory or cpu node (whether 6.1 learns them from the
        # distance-map is unverified here).
        return [p for p, node in enumerate(layout.nodes) if node.cpus or node.memory_bytes]
    return guest_node_order(layout)


def guest_node_ids(layout: GuestLayout) -> dict[int, int]:
    """QEMU node id -> guest node id, for the nodes the guest sees (others are absent)."""
    return {layout.nodes[position].node_id: guest for guest, position in enumerate(_visible_order(layout))}


def _slit_valid(matrix: npt.NDArray[np.int64]) -> bool:
    """drivers/acpi/numa/srat.c slit_valid(): diagonal exactly 10, every remote entry above 10."""
    n = matrix.shape[0]
    off = ~np.eye(n, dtype=bool)
    return bool(np.all(np.diag(matrix) == LOCAL_DISTANCE) and np.all(matrix[off] > LOCAL_DISTANCE))


def _core_key(position: CpuPosition) -> tuple[int, int, int, int]:
    return (position.socket, position.die, position.cluster, position.core)


def _core_bits(count: int) -> int:
    return max(0, (count - 1).bit_length())


def expected_view(layout: GuestLayout, *, linux: bool = True, accel: str = "tcg", kernel: str = "") -> ExpectedView:
    """What the guest should show for ``layout``: Linux's rules (``linux``) or what was asked;
    ``kernel`` is the guest's release as it reported it (``uname -r``), which x86 die ids depend on."""
    order = _visible_order(layout)
    expected: dict[str, str] = {}
    allowed: dict[str, str] = {}
    slit_discarded, numa_disabled = _distance_verdict(layout, linux, expected)
    if numa_disabled:
        return _one_fake_node(layout, expected, allowed)
    n = len(order)
    if slit_discarded:
        distances = np.full((n, n), REMOTE_DISTANCE, dtype=np.int64)
        np.fill_diagonal(distances, LOCAL_DISTANCE)
    else:
        distances = layout.effective_distances[np.ix_(order, order)].astype(np.int64)
    cpus = tuple(tuple(sorted(layout.nodes[p].cpus)) for p in order)
    if linux:
        _linux_messages(layout, accel, cpus, distances, expected, allowed)
    return ExpectedView(
        qemu_ids=tuple(layout.nodes[p].node_id for p in order),
        cpus=cpus,
        memory_bytes=tuple(layout.nodes[p].memory_bytes for p in order),
        distances=distances,
        cpu_topology=_cpu_expectations(layout, cpus, linux, accel, kernel),
        expected_messages=expected,
        allowed_messages=allowed,
        slit_discarded=slit_discarded,
        notes=(),
        dimm_bytes=tuple(sum(d.size_bytes for d in layout.dimms if d.node == layout.nodes[p].node_id) for p in order)
        if layout.dimms else (),
    )


def _distance_verdict(layout: GuestLayout, linux: bool, expected: dict[str, str]) -> tuple[bool, bool]:
    """(SLIT discarded, NUMA disabled) for a table Linux finds invalid; the messages it
    prints go into ``expected``."""
    if not linux or layout.distances is None or _slit_valid(layout.distances):
        return False, False
    if layout.machine is Machine.VIRT:
        expected["invalid-distance"] = "a remote distance of 10 (or a local one other than 10) in the distance-map"
        expected["numa-disabled"] = "of_numa_init fails on an invalid distance, so arm64 fakes one node"
        return False, True
    expected["slit-invalid"] = "a remote distance of 10 (or a local one other than 10): slit_valid() fails"
    return True, False


def _one_fake_node(layout: GuestLayout, expected: dict[str, str], allowed: dict[str, str]) -> ExpectedView:
    """A device-tree guest that gave up on NUMA: one node with every CPU and all memory."""
    cpus_all = tuple(sorted(c for node in layout.nodes for c in node.cpus))
    return ExpectedView(
        qemu_ids=(layout.nodes[0].node_id,),
        cpus=(cpus_all,),
        memory_bytes=(sum(node.memory_bytes for node in layout.nodes),),
        distances=np.array([[LOCAL_DISTANCE]], dtype=np.int64),
        cpu_topology={},
        expected_messages=expected,
        allowed_messages=allowed,
        numa_disabled=True,
    )


def _linux_messages(
    layout: GuestLayout,
    accel: str,
    cpus: tuple[tuple[int, ...], ...],
    distances: npt.NDArray[np.int64],
    expected: dict[str, str],
    allowed: dict[str, str],
) -> None:
    """The messages Linux prints (``expected``) or may print (``allowed``) for this table
    and this CPU topology: asymmetry among CPU nodes, cores or sockets split across nodes."""
    mask = np.array([bool(c) for c in cpus], dtype=bool)
    sub = distances[np.ix_(mask, mask)]
    if sub.size and not np.array_equal(sub, sub.T):
        expected["distance-not-symmetric"] = "the table is asymmetric among CPU nodes (printed with sched_verbose)"
    if layout.machine is Machine.VIRT:
        return
    codes = {finding.code for finding in check_layout(layout, RuleSet.LINUX_ACPI)}
    split = [code for code in ("core-split", "socket-split") if code in codes]
    if "core-split" in split or ("socket-split" in split and accel == "tcg"):
        expected["not-same-node"] = f"the layout splits a {'core' if 'core-split' in split else 'socket'} across nodes"
        allowed["warning"] = "topology_sane() warns with a call trace (WARN_ONCE)"
    elif "socket-split" in split:
        allowed["not-same-node"] = "a split socket warns unless the host CPU is an Intel SNC model (KVM: -cpu host)"
        allowed["warning"] = "topology_sane() warns with a call trace (WARN_ONCE)"


# x86 die ids: 6.1 took the die's bits of the APIC id only (detect_extended_topology,
# arch/x86/kernel/cpu/topology.c: "& die_select_mask"), an index within the package.
# Thomas Gleixner's topology rework, merged for 6.7 ("x86/cpu: Provide
# cpu_init/parse_topology()", topology_common.c topo_set_ids), shifts the APIC id right
# and keeps the package bits: die_id = apicid >> die shift, unique machine-wide. Core ids
# stayed package-relative in both, so only the die id moves.
MACHINE_WIDE_DIES_SINCE = (6, 7)
_RELEASE = re.compile(r"^(\d+)\.(\d+)")


def die_numbering(kernel: str) -> str | None:
    """How an x86 guest running ``kernel`` (its release, e.g. "6.12.118+deb12-cloud-amd64")
    numbers dies: "package" (per package), "machine" (machine-wide), None when unknown."""
    match = _RELEASE.match(kernel.strip())
    if match is None:
        return None
    return "machine" if (int(match.group(1)), int(match.group(2))) >= MACHINE_WIDE_DIES_SINCE else "package"


def _die_id(position: CpuPosition, dies: int, numbering: str | None) -> int | None:
    if numbering is None:
        return None
    return position.socket * dies + position.die if numbering == "machine" else position.die


def _cpu_expectations(
    layout: GuestLayout, cpus: tuple[tuple[int, ...], ...], linux: bool, accel: str, kernel: str
) -> dict[int, CpuExpectation]:
    """Per vCPU: its guest node, package, die and core ids (exact only for x86 under TCG),
    thread siblings (Linux drops siblings on another node) and package siblings."""
    if layout.machine is Machine.VIRT:
        return _arm64_expectations(layout, cpus)
    cpu_node = {cpu: guest for guest, node_cpus in enumerate(cpus) for cpu in node_cpus}
    shape = layout.shape
    exact_ids = accel == "tcg"
    numbering = die_numbering(kernel) if exact_ids else None
    topo: dict[int, CpuExpectation] = {}
    for cpu in sorted(cpu_node):
        if cpu >= layout.vcpus:
            continue
        position = shape.position(cpu)
        same_core = [other for other in range(layout.vcpus) if _core_key(shape.position(other)) == _core_key(position)]
        siblings = tuple(o for o in same_core if cpu_node.get(o) == cpu_node[cpu]) if linux else tuple(same_core)
        package = tuple(o for o in range(layout.vcpus) if shape.position(o).socket == position.socket)
        topo[cpu] = CpuExpectation(
            node=cpu_node[cpu],
            package=position.socket,
            die=_die_id(position, shape.dies, numbering),
            core=((position.die << _core_bits(shape.cores)) | position.core) if exact_ids else None,
            thread_siblings=siblings,
            core_siblings=package,
        )
    return topo


def _arm64_expectations(layout: GuestLayout, cpus: tuple[tuple[int, ...], ...]) -> dict[int, CpuExpectation]:
    """Per vCPU of a virt guest, from QEMU's cpu-map (socketS/clusterC/coreK/threadT) as
    arm64 reads it: the same whatever the accelerator, since QEMU writes the device tree.
    No sibling mask is clipped to the node (arm64 has no topology_sane), so they are what
    -smp says, linux or asked."""
    cpu_node = {cpu: guest for guest, node_cpus in enumerate(cpus) for cpu in node_cpus}
    shape = layout.shape
    positions = {cpu: shape.position(cpu) for cpu in range(layout.vcpus)}
    topo: dict[int, CpuExpectation] = {}
    for cpu in sorted(c for c in cpu_node if c < layout.vcpus):
        here = positions[cpu]
        topo[cpu] = CpuExpectation(
            node=cpu_node[cpu],
            package=here.socket,
            die=None,
            core=here.core,
            thread_siblings=tuple(o for o, p in positions.items() if _core_key(p) == _core_key(here)),
            core_siblings=tuple(o for o, p in positions.items() if p.socket == here.socket),
            cluster=tuple(o for o, p in positions.items() if (p.socket, p.cluster) == (here.socket, here.cluster)),
        )
    return topo


# ---------------------------------------------------------------------------------------
# (a) topology

_NODE_RANGE = re.compile(r"^\s*node\s+(\d+): \[mem (0x[0-9a-fA-F]+)-(0x[0-9a-fA-F]+)\]")


def memory_present(report: GuestReport) -> dict[int, int] | None:
    """Bytes of RAM per guest node as the kernel laid it out ("Early memory node ranges")."""
    present: dict[int, int] = {}
    inside = False
    for raw in report.dmesg:
        line = re.sub(r"^\[\s*\d+\.\d+\]\s?", "", raw)
        if "Early memory node ranges" in line:
            inside = True
            present = {}
            continue
        if inside:
            match = _NODE_RANGE.match(line)
            if not match:
                inside = False
                continue
            node = int(match.group(1))
            present[node] = present.get(node, 0) + int(match.group(3), 16) - int(match.group(2), 16) + 1
    return present if present or any("Early memory node ranges" in line for line in report.dmesg) else None


def _mib(num_bytes: int) -> str:
    return f"{num_bytes / MIB:.1f} MiB" if num_bytes % MIB else f"{num_bytes // MIB} MiB"


def _label(view: ExpectedView, guest: int) -> str:
    qemu = view.qemu_ids[guest] if guest < len(view.qemu_ids) else None
    return f"guest node {guest}" if qemu is None or qemu == guest else f"guest node {guest} (QEMU node {qemu})"


def topology_problems(view: ExpectedView, report: GuestReport) -> list[str]:
    """Where the guest's nodes, CPUs, memory, distances or CPU topology differ from ``view``, one line each."""
    return [failure.message for failure in topology_failures(view, report)]


def topology_failures(view: ExpectedView, report: GuestReport) -> list[Failure]:
    """Oracle (a): ``topology_problems`` with a stable code per kind of mismatch: the node
    count, each node (CPUs, memory, MemTotal, distances), the memory the kernel kept, each
    CPU's topology, CPUs beyond the layout's."""
    present = memory_present(report)
    found = _node_count_failures(view, report)
    for guest in range(view.num_nodes):
        found += _node_failures(view, report, guest, present)
    if present is not None:
        found += _memtotal_failures(report, present)
    for cpu, want_cpu in view.cpu_topology.items():
        found += _cpu_failures(cpu, want_cpu, report)
    extra = sorted(set(report.cpus) - set(view.cpu_topology))
    if extra and view.cpu_topology:
        found.append(_topology("cpu-extra", f"the guest has CPUs {format_cpulist(extra)} beyond the layout's"))
    return found


def _topology(code: str, message: str) -> Failure:
    return Failure(Oracle.TOPOLOGY, code, message)


def _node_count_failures(view: ExpectedView, report: GuestReport) -> list[Failure]:
    ids, n = report.node_ids, view.num_nodes
    if ids == list(range(n)):
        return []
    if n:
        return [_topology("node-count", f"the guest has {len(ids)} node(s) ({format_cpulist(ids) or 'none'}), expected {n} (0-{n - 1})")]
    return [_topology("node-count", f"the guest has {len(ids)} node(s), expected none")]


def _node_failures(view: ExpectedView, report: GuestReport, guest: int, present: dict[int, int] | None) -> list[Failure]:
    """One guest node against the view: CPUs, memory present, MemTotal, its distance row."""
    node = report.nodes.get(guest)
    if node is None:
        return []
    label = _label(view, guest)
    found: list[Failure] = []
    if node.cpus != view.cpus[guest]:
        found.append(_topology(
            "node-cpus",
            f"{label}: the guest has CPUs {format_cpulist(node.cpus) or 'none'}, "
            f"expected {format_cpulist(view.cpus[guest]) or 'none'}",
        ))
    want = view.memory_bytes[guest]
    have = present.get(guest, 0) if present is not None else None
    if have is not None and not want - MEMORY_HOLE_BYTES <= have <= want:
        found.append(_topology("node-memory", f"{label}: the guest has {_mib(have)} of memory, expected {_mib(want)}"))
    if node.memtotal_kb is not None and have is not None and node.memtotal_kb * 1024 > have + _online_before_init(view, report, guest):
        found.append(_topology("memtotal", f"{label}: MemTotal {node.memtotal_kb} kB is more than the {_mib(have)} present"))
    if present is None and node.memtotal_kb is not None and (node.memtotal_kb > 0) != (want > 0):
        found.append(_topology("memtotal", f"{label}: MemTotal is {node.memtotal_kb} kB, expected {'some' if want else 'none'}"))
    row = list(node.distances)
    expected_row = [int(v) for v in view.distances[guest]]
    if len(report.node_ids) == view.num_nodes and row != expected_row:
        found.append(_topology(
            "distances", f"{label}: distances {' '.join(map(str, row))}, expected {' '.join(map(str, expected_row))}"
        ))
    return found


def _online_before_init(view: ExpectedView, report: GuestReport, guest: int) -> int:
    """The node's DIMM bytes the kernel may have onlined itself before the init looked:
    Debian's 6.1 leaves DIMMs offline for the init (which then reports growth), 6.12 onlines
    them at boot (no growth). Where the init's onlining grew the node, none were."""
    node = report.nodes.get(guest)
    dimms = view.dimm_bytes[guest] if guest < len(view.dimm_bytes) else 0
    grown = report.grown_kb.get(guest)
    if node is None or not dimms or (grown is not None and grown != node.memtotal_kb):
        return 0
    return dimms


def _memtotal_failures(report: GuestReport, present: dict[int, int]) -> list[Failure]:
    """More memory missing from MemTotal, over all nodes, than the kernel reserves."""
    have_total = sum(present.values())
    memtotal = sum((node.memtotal_kb or 0) * 1024 for node in report.nodes.values())
    allowance = KERNEL_RESERVE_BYTES + KERNEL_RESERVE_FRACTION * have_total
    if have_total - memtotal <= allowance:
        return []
    return [_topology(
        "memtotal",
        f"the guest's MemTotal adds up to {_mib(memtotal)} of {_mib(have_total)} present: more is missing "
        f"than the kernel reserves ({_mib(int(allowance))})",
    )]


def _cpu_failures(cpu: int, want_cpu: CpuExpectation, report: GuestReport) -> list[Failure]:
    """One CPU: present, and its package, die, core, thread and package siblings; one
    failure naming every difference, coded by the first."""
    seen = report.cpus.get(cpu)
    if seen is None:
        return [_topology("cpu-missing", f"CPU {cpu}: the guest does not have it")]
    wrong: list[tuple[str, str]] = []
    if seen.package != want_cpu.package:
        wrong.append(("cpu-package", f"package {seen.package} (expected {want_cpu.package})"))
    if want_cpu.die is not None and seen.die != want_cpu.die:
        wrong.append(("cpu-die", f"die {seen.die} (expected {want_cpu.die})"))
    if want_cpu.core is not None and seen.core != want_cpu.core:
        wrong.append(("cpu-core", f"core {seen.core} (expected {want_cpu.core})"))
    if seen.thread_siblings != want_cpu.thread_siblings:
        wrong.append((
            "cpu-threads",
            f"thread siblings {format_cpulist(seen.thread_siblings)} (expected {format_cpulist(want_cpu.thread_siblings)})",
        ))
    if want_cpu.core_siblings is not None and seen.core_siblings != want_cpu.core_siblings:
        wrong.append((
            "cpu-package-cpus",
            f"package CPUs {format_cpulist(seen.core_siblings)} (expected {format_cpulist(want_cpu.core_siblings)})",
        ))
    if want_cpu.cluster is not None and seen.cluster != want_cpu.cluster:
        wrong.append((
            "cpu-cluster",
            f"cluster CPUs {format_cpulist(seen.cluster) or 'none'} (expected {format_cpulist(want_cpu.cluster)})",
        ))
    if not wrong:
        return []
    return [_topology(wrong[0][0], f"CPU {cpu}: " + ", ".join(text for _, text in wrong))]


# ---------------------------------------------------------------------------------------
# (b) kernel messages


def message_problems(view: ExpectedView, messages: list[KernelMessage]) -> list[Failure]:
    """Unexpected messages of interest, and expected ones that did not appear."""
    found: list[Failure] = []
    codes = {message.code for message in messages}
    for code, why in view.expected_messages.items():
        if code not in codes:
            found.append(Failure(Oracle.MESSAGES, f"missing:{code}", f"expected a '{code}' kernel message ({why}); none came"))
    reported: set[str] = set()
    for message in messages:
        if message.code in view.expected_messages or message.code in view.allowed_messages:
            continue
        if message.text in reported:
            continue
        reported.add(message.text)
        found.append(Failure(Oracle.MESSAGES, f"message:{message.code}", f"the guest kernel printed: {message.text}"))
    return found


# ---------------------------------------------------------------------------------------
# (c) scheduler domains


def predicted_numa_masks(view: ExpectedView) -> dict[int, list[tuple[int, ...]]]:
    """Per CPU, the spans of its NUMA levels (kernel/sched/topology.c sched_init_numa):
    level i of node j holds the CPU nodes k with d(j, k) <= the i-th distinct distance,
    from row j alone; building stops at the first level that spans every CPU."""
    mask = view.cpu_nodes_mask
    if not mask.any():
        return {}
    cpu_nodes = [g for g in range(view.num_nodes) if mask[g]]
    values = sorted({int(view.distances[a, b]) for a in cpu_nodes for b in cpu_nodes})
    everything = tuple(sorted(c for g in cpu_nodes for c in view.cpus[g]))
    masks: dict[int, list[tuple[int, ...]]] = {}
    for j in cpu_nodes:
        spans: list[tuple[int, ...]] = []
        for value in values:
            span = tuple(sorted(c for k in cpu_nodes if view.distances[j, k] <= value for c in view.cpus[k]))
            spans.append(span)
            if span == everything:
                break
        for cpu in view.cpus[j]:
            masks[cpu] = spans
    return masks


def _domain_failures(
    report: GuestReport, cpu: int, domain: SchedDomain, where: str, below: tuple[tuple[int, ...], str]
) -> list[Failure]:
    """One domain of ``cpu``: it holds the CPU and the domain ``below`` it, its groups cover
    it, the first group is the CPU's; a cluster level (CLS, arm64 and x86 with
    CONFIG_SCHED_CLUSTER) stays inside the cluster the CPU's topology files name."""
    found: list[Failure] = []
    previous, previous_name = below
    span, groups = set(domain.span or ()), domain.groups or ()  # the caller skipped a domain without them
    if cpu not in span:
        found.append(Failure(Oracle.SCHED, "span", f"{where}: span {format_cpulist(span)} lacks the CPU"))
    if not set(previous) <= span:
        found.append(Failure(
            Oracle.SCHED,
            "span",
            f"{where}: span {format_cpulist(span)} does not contain {previous_name}'s {format_cpulist(previous)}",
        ))
    covered = set().union(*(set(group.span) for group in groups)) if groups else set()
    if covered != span:
        found.append(Failure(
            Oracle.SCHED,
            "groups",
            f"{where}: groups cover {format_cpulist(covered) or 'nothing'}, the span is {format_cpulist(span)}",
        ))
    if groups and cpu not in groups[0].span:
        found.append(Failure(Oracle.SCHED, "groups", f"{where}: the first group {format_cpulist(groups[0].span)} lacks the CPU"))
    seen = report.cpus.get(cpu)
    if domain.name == "CLS" and seen is not None and seen.cluster and not span <= set(seen.cluster):
        found.append(Failure(
            Oracle.SCHED,
            "cluster-span",
            f"{where}: span {format_cpulist(span)} reaches beyond the CPU's cluster {format_cpulist(seen.cluster)}",
        ))
    return found


def sched_problems(view: ExpectedView, report: GuestReport) -> list[Failure]:
    """Scheduler domains: spans nested, groups covering spans, NUMA domains as predicted."""
    found: list[Failure] = []

    def fail(code: str, message: str) -> None:
        found.append(Failure(Oracle.SCHED, code, message))

    online = report.cpu_sets.get("online", tuple(sorted(report.cpus)))
    if len(online) < 2:
        return found
    predicted = predicted_numa_masks(view)
    guest_mask = np.array([bool(report.nodes[g].cpus) for g in report.node_ids], dtype=bool)
    guest_matrix = report.distance_matrix()
    if guest_mask.any() and guest_matrix.size and np.all(guest_matrix > 0):
        guest_levels = int(distinct_levels(guest_matrix, guest_mask)[0])
        if guest_levels != view.levels:
            fail("levels", f"the guest's table has {guest_levels} distinct distance(s) among CPU nodes, expected {view.levels}")
        elif guest_levels > 2 and topology_type(guest_matrix, guest_mask) != view.topology_type:
            fail(
                "topology-type",
                f"the guest's table gives {topology_type(guest_matrix, guest_mask).value}, expected {view.topology_type.value}",
            )
    for cpu in online:
        tree = report.domains.get(cpu, ())
        if not tree:
            fail("no-domains", f"CPU {cpu}: no scheduler domains although {len(online)} CPUs are online")
            continue
        previous: tuple[int, ...] = (cpu,)
        previous_name = "the CPU itself"
        numa_spans: list[tuple[int, ...]] = []
        top_plain: tuple[int, ...] = (cpu,)
        for domain in tree:
            where = f"CPU {cpu} domain {domain.index} ({domain.name})"
            if domain.span is None or domain.groups is None:
                fail("no-span", f"{where}: sched_verbose printed no span or groups")
                continue
            found += _domain_failures(report, cpu, domain, where, (previous, previous_name))
            if domain.name in ("NODE", "NUMA"):
                numa_spans.append(domain.span)
            else:
                top_plain = domain.span
            previous, previous_name = domain.span, f"domain {domain.index}"
        if tuple(previous) != tuple(online):
            fail("span", f"CPU {cpu}: the top domain spans {format_cpulist(previous)}, not every online CPU {format_cpulist(online)}")
        masks = predicted.get(cpu)
        if masks is None or not view.cpu_topology:
            continue
        wanted = [m for m in masks if len(m) > len(top_plain) and set(top_plain) <= set(m)]
        for seen_span in numa_spans:
            if seen_span not in masks:
                fail("numa-span", f"CPU {cpu}: a NUMA domain spans {format_cpulist(seen_span)}, which no NUMA level predicts")
        for wanted_span in wanted:
            if wanted_span not in numa_spans:
                fail(
                    "numa-span",
                    f"CPU {cpu}: no NUMA domain spans {format_cpulist(wanted_span)} although a NUMA level predicts it",
                )
    return found


# ---------------------------------------------------------------------------------------
# HMAT (part of oracle (a)): what drivers/acpi/numa/hmat.c made of QEMU's table

# Linux's node_cache_attrs numbers (include/linux/node.h) for QEMU's words.
_CACHE_INDEXING = {"direct": "0", "complex": "1", "none": "2"}
_CACHE_POLICY = {"write-back": "0", "write-through": "1", "none": "2"}
# HmatLb.data_type -> the access0 files it sets: an "access" value sets read and write.
_PERF_FILES = {
    "access-latency": ("read_latency", "write_latency"),
    "read-latency": ("read_latency",),
    "write-latency": ("write_latency",),
    "access-bandwidth": ("read_bandwidth", "write_bandwidth"),
    "read-bandwidth": ("read_bandwidth",),
    "write-bandwidth": ("write_bandwidth",),
}


def _hmat_initiator(node: GuestNode) -> int | None:
    """The QEMU node the guest links to ``node``'s memory as access0: QEMU writes an initiator
    for every node with one (a node with vCPUs is its own), Linux 6.1 links exactly that one.
    None when no initiator was given: Linux then picks by performance, not predicted here."""
    if node.initiator is not None:
        return node.initiator
    return node.node_id if node.cpus else None


def expected_performance(layout: GuestLayout, node: GuestNode, initiator: int) -> dict[str, int]:
    """access0's latency (ns) and bandwidth (MiB/s) files of ``node``: the memory-level values
    from its initiator, in QEMU's table order (access before read and write), 0 when not given."""
    found = dict.fromkeys(("read_bandwidth", "read_latency", "write_bandwidth", "write_latency"), 0)
    order = list(_PERF_FILES)
    entries = [
        lb for lb in layout.hmat_lb if lb.hierarchy == "memory" and lb.target == node.node_id and lb.initiator == initiator
    ]
    for lb in sorted(entries, key=lambda lb: order.index(lb.data_type)):
        if lb.value:  # QEMU leaves a 0 out (and Linux reads it as "not given")
            for name in _PERF_FILES[lb.data_type]:
                found[name] = lb.value if lb.is_latency else lb.value // MIB
    return found


def expected_caches(layout: GuestLayout, node: GuestNode) -> dict[int, dict[str, str]]:
    """memory_side_cache/indexN files of ``node``, by level."""
    return {
        cache.level: {
            "indexing": _CACHE_INDEXING[cache.associativity],
            "line_size": str(cache.line),
            "size": str(cache.size_bytes),
            "write_policy": _CACHE_POLICY[cache.policy],
        }
        for cache in layout.hmat_cache
        if cache.node == node.node_id
    }


def hmat_failures(layout: GuestLayout, report: GuestReport) -> list[Failure]:
    """Each memory node's access0 initiator, its latency and bandwidth and its memory-side
    caches as the guest shows them, against the layout's HMAT (x86 ACPI guests only: a
    device-tree guest has no HMAT)."""
    if not layout.hmat or layout.machine is Machine.VIRT:
        return []
    ids = guest_node_ids(layout)
    found: list[Failure] = []
    for node in layout.nodes:
        guest = ids.get(node.node_id)
        seen = report.nodes.get(guest) if guest is not None else None
        initiator = _hmat_initiator(node)
        if seen is None or not node.memory_bytes or initiator is None or initiator not in ids:
            continue  # a node the guest lacks is the topology oracle's to report
        label = f"guest node {guest}" + ("" if guest == node.node_id else f" (QEMU node {node.node_id})")
        if seen.initiators != (ids[initiator],):
            shown = ", ".join(f"node{i}" for i in seen.initiators) or "none"
            found.append(
                Failure(Oracle.TOPOLOGY, "hmat-initiator", f"{label}: access0 initiators are {shown}, asked node{ids[initiator]}")
            )
        performance = dict(seen.performance)
        for name, value in expected_performance(layout, node, initiator).items():
            if performance.get(name) != value:
                found.append(
                    Failure(Oracle.TOPOLOGY, "hmat-performance", f"{label}: access0 {name} is {performance.get(name)}, asked {value}")
                )
        caches = {index: dict(files) for index, files in seen.caches}
        for level, files in expected_caches(layout, node).items():
            got = {name: caches.get(level, {}).get(name) for name in files}
            if got != files:
                found.append(
                    Failure(Oracle.TOPOLOGY, "hmat-cache", f"{label}: memory_side_cache/index{level} is {got}, asked {files}")
                )
    return found


# ---------------------------------------------------------------------------------------
# DIMMs (part of oracle (a)): each node grows by its DIMMs once the init onlines them


def dimm_failures(layout: GuestLayout, report: GuestReport) -> list[Failure]:
    """Each node's MemTotal after the init onlined every offline memory block, less before:
    exactly its DIMMs (their struct pages come out of the node's boot memory, so the
    growth is the DIMMs' whole size; measured: 256 MiB -> 262144 kB). Under a kernel that
    onlines DIMMs itself at boot (6.12) nothing grows; then MemTotal must already exceed
    the node's boot memory."""
    if not report.grown_kb:
        return []  # a report from before the init onlined memory
    ids = guest_node_ids(layout)
    asked: dict[int, int] = {}
    for dimm in layout.dimms:
        if dimm.node in ids:
            asked[ids[dimm.node]] = asked.get(ids[dimm.node], 0) + dimm.size_bytes
    present = memory_present(report) or {}
    found = []
    for guest, node in sorted(report.nodes.items()):
        after = report.grown_kb.get(guest)
        if after is None or node.memtotal_kb is None:
            continue
        grown, want = (after - node.memtotal_kb) * 1024, asked.get(guest, 0)
        # A kernel that onlines DIMMs at boot (6.12) leaves the init nothing to grow: then
        # MemTotal already holds more than the node's boot memory, and the DIMMs count as
        # onlined (the MemTotal bound of oracle (a) holds it to boot memory + DIMMs).
        if grown == 0 and want and guest in present and node.memtotal_kb * 1024 > present[guest]:
            grown = want
        if grown != want:
            found.append(
                Failure(Oracle.TOPOLOGY, "dimm-memory", f"guest node {guest}: onlining its DIMMs added {_mib(grown)}, expected {_mib(want)}")
            )
    return found


# ---------------------------------------------------------------------------------------
# All four


def judge_report(layout: GuestLayout, report: GuestReport, *, accel: str = "tcg") -> list[Failure]:
    """Oracles (a), (b) and (c) on a complete report, and (e) when it ran a workload."""
    view = expected_view(layout, linux=True, accel=accel, kernel=report.kernel)
    failures = topology_failures(view, report) + hmat_failures(layout, report) + dimm_failures(layout, report)
    failures += message_problems(view, report.messages())
    failures += sched_problems(view, report)
    failures += [Failure(Oracle.BALANCE, found.code, found.message) for found in balance_findings(report)]
    failures += [Failure(Oracle.MEMORY, found.code, found.message) for found in memory_findings(report)]
    return failures


def hang_failure(result: BootResult) -> Failure:
    """Oracle (d) on a boot that was stopped: no progress for the quiet limit, or the hard cap."""
    progress = result.progress
    last = next((line.strip() for line in reversed(result.console.splitlines()) if line.strip()), "nothing")
    where = f"the init's last stage: {progress.stage}" if progress.stage else "the init's report had not begun"
    details = f"{where}; last console line: {last[:160]}"
    if progress.kernel_hang:
        details = f"the kernel reported a lockup or stall; {details}"
    if progress.verdict == "hard-cap":
        return Failure(
            Oracle.HANG,
            "hard-cap",
            f"still running at the hard cap of {progress.limits.hard_cap_s:g} s, "
            f"its last progress {progress.last_progress_s:.0f} s into the boot ({details})",
        )
    waited = f", not counting {progress.waited_s:.0f} s of waiting for a host CPU" if progress.waited_s >= 0.5 else ""
    return Failure(
        Oracle.HANG, "no-progress", f"no progress for {result.timeout_s:g} s of the guest's time{waited} ({details})"
    )


def judge(layout: GuestLayout, result: BootResult) -> list[Failure]:
    """The four oracles on one boot; [] when the guest behaved as Linux's rules predict."""
    view = expected_view(layout, linux=True, accel=result.accel)
    if result.timed_out:
        failures = [hang_failure(result)]
        lines = list(result.report.dmesg) + list(result.report.console) if result.report else result.console.splitlines()
        return failures + [f for f in message_problems(view, kernel_messages(lines)) if f.code.startswith("message:")]
    if result.report is None or not result.report.complete:
        lines = list(result.report.dmesg) + list(result.report.console) if result.report else result.console.splitlines()
        why = "; ".join(result.report.problems) if result.report else "no report on the console"
        failures = [Failure(Oracle.MESSAGES, "no-report", f"the guest stopped before a complete report ({why})")]
        return failures + [f for f in message_problems(view, kernel_messages(lines)) if f.code.startswith("message:")]
    return judge_report(layout, result.report, accel=result.accel)
