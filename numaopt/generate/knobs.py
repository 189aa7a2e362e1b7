"""The knobs of ``numaopt generate``, and their validation: impossible asks fail up front.

``resolve(knobs)`` checks every knob and every combination before anything is generated
and returns a ``Space``: the node counts, node roles, thread counts and distance families
that can actually be drawn. A combination no layout can satisfy (3 levels with 2 nodes,
more memory-less nodes than nodes, an empty range) raises ``KnobError`` whose message is
one line saying why.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from numaopt.distances import MAX_DISTANCE, RECLAIM_DISTANCE, TopologyType
from numaopt.errors import InputError
from numaopt.layout import MAX_NODES, MEMORY_GRANULE
from numaopt.model import Machine
from numaopt.rules import RuleSet
from numaopt.units import MIB, format_size, parse_size

# The largest vCPU count whose -smp shape keeps every x86 APIC ID below 255: QEMU 7.2
# refuses larger ids without KVM's kernel irqchip ("current -smp configuration requires
# kernel irqchip and X2APIC API support"), and so does any TCG run.
MAX_APIC_ID = 254
MAX_SYNTH_NODES = 32  # CP-SAT models grow with n^3 (triangle, diameter): beyond this they stall
MAX_DIAMETER_NODES = 12  # the hop-diameter model has n^3 reified decompositions
EDGE_VALUES = (11, 254, 255)  # smallest value Linux keeps, NUMA_DISTANCE_MAX, "unreachable"


class KnobError(InputError):
    """A knob, or a combination of knobs, that no layout can satisfy."""


class Family(enum.StrEnum):
    """Distance-matrix families. All but ``synth`` sample; ``synth`` searches with CP-SAT."""

    NONE = "none"  # no -numa dist at all: the guest assumes 10 / 20
    FLAT = "flat"  # one remote value
    SOCKET = "socket"  # sub-NUMA clusters in sockets in boards (2-4 levels)
    RECLAIM = "reclaim"  # a socket hierarchy with remote values on both sides of 30
    RING = "ring"  # 10 + shortest path on a weighted ring
    MESH = "mesh"  # 10 + shortest path on a weighted 2-D grid
    CHAIN = "chain"  # 10 + shortest path on a weighted line: diameter >= 3
    RANDOM_METRIC = "random-metric"  # 10 + shortest paths of a random (directed) weighted graph
    ASYMMETRIC = "asymmetric"  # random values, d[j][i] within max_skew of d[i][j]
    TRIANGLE = "triangle"  # deliberately breaks the triangle inequality (on d - 10, sometimes raw)
    EDGE = "edge"  # every remote value one of 11, 254, 255
    REMOTE_10 = "remote-10"  # qemu target only: some remote distance is 10 (Linux drops the SLIT)
    SYNTH = "synth"  # CP-SAT: exact levels, topology type, diameter, metric or not, symmetry

    @property
    def min_nodes(self) -> int:
        return _MIN_NODES.get(self, 2)

    @property
    def symmetric(self) -> bool | None:
        """True: always symmetric; False: always asymmetric; None: either."""
        if self in (Family.ASYMMETRIC,):
            return False
        if self in (Family.RANDOM_METRIC, Family.REMOTE_10, Family.SYNTH):
            return None
        return True

    @property
    def metric(self) -> bool | None:
        """True: the triangle inequality holds on d - 10 (so on d too); False: it fails; None: either."""
        if self in (Family.TRIANGLE,):
            return False
        if self in (Family.ASYMMETRIC, Family.EDGE, Family.REMOTE_10, Family.SYNTH):
            return None
        return True


_MIN_NODES = {Family.NONE: 1, Family.SOCKET: 3, Family.RECLAIM: 3, Family.RING: 4, Family.MESH: 4, Family.CHAIN: 4,
              Family.RANDOM_METRIC: 3, Family.TRIANGLE: 3}
SAMPLING_FAMILIES = tuple(f for f in Family if f is not Family.SYNTH)


class SocketMode(enum.StrEnum):
    WHOLE = "whole"  # every node holds whole sockets
    SPLIT = "split"  # a socket spans nodes (along dies: package split; or inside a die: LLC split)
    SPLIT_CORE = "split-core"  # qemu target only: SMT siblings of a core in different nodes


class Metric(enum.StrEnum):
    ANY = "any"
    YES = "yes"  # triangle inequality holds on d - 10 (and so on d)
    NO = "no"  # it fails on d - 10 somewhere


class Symmetry(enum.StrEnum):
    ANY = "any"
    SYMMETRIC = "symmetric"
    ASYMMETRIC = "asymmetric"


# A guest target (linux-acpi or linux-dt) judges each layout by its own machine's guest
# rules: linux-acpi on q35 and pc, linux-dt on virt (so a mixed campaign takes either).
TARGETS = (RuleSet.LINUX_ACPI, RuleSet.LINUX_DT, RuleSet.QEMU)
X86_MACHINES = (Machine.Q35, Machine.PC)


@dataclass(frozen=True, slots=True)
class Range:
    """An inclusive integer range ``lo..hi``."""

    lo: int
    hi: int

    def __str__(self) -> str:
        return str(self.lo) if self.lo == self.hi else f"{self.lo}-{self.hi}"

    @property
    def empty(self) -> bool:
        return self.lo > self.hi

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int) and self.lo <= value <= self.hi


def parse_range(text: str, what: str) -> Range:
    """"4" or "1-8" -> Range; a one-line ``KnobError`` otherwise."""
    lo_text, dash, hi_text = text.strip().partition("-")
    try:
        lo = int(lo_text)
        hi = int(hi_text) if dash else lo
    except ValueError:
        raise KnobError(f"{what}: expected a number or a range such as 1-8, got {text!r}") from None
    return Range(lo, hi)


def parse_size_range(text: str, what: str) -> Range:
    """"128MiB-1GiB" or "512MiB" -> a Range of bytes."""
    lo_text, dash, hi_text = text.strip().partition("-")
    try:
        lo = parse_size(lo_text)
        hi = parse_size(hi_text) if dash else lo
    except ValueError as exc:
        raise KnobError(f"{what}: {exc}") from None
    return Range(lo, hi)


def parse_choices(text: str, kind: type[enum.StrEnum], what: str) -> tuple[Any, ...]:
    """"a,b" -> (Kind("a"), Kind("b")), in the given order, without repeats."""
    chosen = []
    for name in text.split(","):
        try:
            chosen.append(kind(name.strip()))
        except ValueError:
            valid = ", ".join(member.value for member in kind)
            raise KnobError(f"{what}: unknown value {name.strip()!r} (valid: {valid})") from None
    return tuple(dict.fromkeys(chosen))


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    """"1,2" or "1-4" -> (1, 2) / (1, 2, 3, 4)."""
    values: list[int] = []
    for part in text.split(","):
        span = parse_range(part, what)
        if span.empty:
            raise KnobError(f"{what}: {part.strip()} is an empty range")
        values += range(span.lo, span.hi + 1)
    return tuple(sorted(set(values)))


_TOPOLOGY_NAMES = {
    "direct": TopologyType.DIRECT,
    "mesh": TopologyType.GLUELESS_MESH,
    "glueless-mesh": TopologyType.GLUELESS_MESH,
    "backplane": TopologyType.BACKPLANE,
}


def parse_topology(text: str) -> TopologyType:
    key = text.strip()
    for kind in TopologyType:
        if key.upper() == kind.value:
            return kind
    try:
        return _TOPOLOGY_NAMES[key.lower()]
    except KeyError:
        raise KnobError(f"--topology: unknown type {text!r} (valid: direct, mesh, backplane)") from None


@dataclass(frozen=True, slots=True)
class Knobs:
    """What a batch should contain. Every field has a default that gives a varied batch."""

    target: RuleSet = RuleSet.LINUX_ACPI
    nodes: Range = Range(1, 8)
    vcpus_per_node: Range = Range(1, 4)
    threads: tuple[int, ...] = (1, 2)
    sockets: tuple[SocketMode, ...] = (SocketMode.WHOLE, SocketMode.SPLIT)
    memory_per_node: Range = Range(128 * MIB, 512 * MIB)
    memory_granule: int = MEMORY_GRANULE
    memoryless: Range = Range(0, 1)
    cpuless: Range = Range(0, 1)
    families: tuple[Family, ...] | None = None  # None: every family that fits the other knobs
    distance_range: Range = Range(11, MAX_DISTANCE)
    max_skew: int = 8
    levels: Range | None = None  # scheduler levels among CPU nodes (CP-SAT)
    topology: TopologyType | None = None  # Linux sched_numa_topology_type (CP-SAT)
    diameter: Range | None = None  # hop diameter among CPU nodes (CP-SAT)
    metric: Metric = Metric.ANY
    symmetry: Symmetry = Symmetry.ANY
    machines: tuple[Machine, ...] = (Machine.Q35,)
    hmat: float = 0.0  # share of ACPI (q35, pc) layouts with -machine hmat=on (numaopt.generate.memory)
    dimms: float = 0.0  # share of ACPI layouts with slots, maxmem and pc-dimm devices

    def to_json(self) -> dict[str, Any]:
        """A stable, JSON-ready form (recorded in the index; a resumed batch must match it)."""
        return {
            "target": self.target.value,
            "nodes": str(self.nodes),
            "vcpus_per_node": str(self.vcpus_per_node),
            "threads": list(self.threads),
            "sockets": [mode.value for mode in self.sockets],
            "memory_per_node": f"{format_size(self.memory_per_node.lo)}-{format_size(self.memory_per_node.hi)}",
            "memory_granule": format_size(self.memory_granule),
            "memoryless": str(self.memoryless),
            "cpuless": str(self.cpuless),
            "families": None if self.families is None else [f.value for f in self.families],
            "distance_range": str(self.distance_range),
            "max_skew": self.max_skew,
            "levels": None if self.levels is None else str(self.levels),
            "topology": None if self.topology is None else self.topology.value,
            "diameter": None if self.diameter is None else str(self.diameter),
            "metric": self.metric.value,
            "symmetry": self.symmetry.value,
            "machines": [m.value for m in self.machines],
            # Only when asked for: batches written before these knobs keep their index.
            **({"hmat": self.hmat} if self.hmat else {}),
            **({"dimms": self.dimms} if self.dimms else {}),
        }

    @property
    def wants_properties(self) -> bool:
        """Whether the matrices must have properties only CP-SAT synthesis can promise."""
        return self.levels is not None or self.topology is not None or self.diameter is not None


@functools.lru_cache(maxsize=4096)
def bits_for(count: int) -> int:
    """QEMU apicid_bitwidth_for_count: bits to number ``count`` things."""
    return (count - 1).bit_length()


def apic_limit_ok(sockets: int, dies: int, cores: int, threads: int) -> bool:
    """Whether the last vCPU's x86 APIC ID stays <= 254 (QEMU x86_apicid_from_topo_ids)."""
    core_shift = bits_for(threads)
    die_shift = core_shift + bits_for(cores)
    socket_shift = die_shift + bits_for(dies)
    last = ((sockets - 1) << socket_shift) | ((dies - 1) << die_shift) | ((cores - 1) << core_shift) | (threads - 1)
    return last <= MAX_APIC_ID


def vcpu_cap(threads: int, machine_cap: int = 255, apic: bool = True) -> int:
    """Most vCPUs with ``threads`` per core such that one-core sockets keep APIC IDs <= 254
    (``apic``: an x86 machine may be drawn; virt has no APIC IDs, only its vCPU maximum)."""
    if not apic:
        return machine_cap - machine_cap % threads
    sockets = ((MAX_APIC_ID - (threads - 1)) >> bits_for(threads)) + 1
    return min(sockets * threads, machine_cap - machine_cap % threads)


def item_rules(target: RuleSet, machine: Machine) -> RuleSet:
    """The rule set one layout is generated for: qemu as asked, else its machine's guest rules."""
    return target if target is RuleSet.QEMU else machine.default_rules


def max_levels(cpu_nodes: int, symmetric_only: bool, values: int) -> int:
    """Most scheduler levels ``cpu_nodes`` CPU nodes can show with ``values`` remote values."""
    if cpu_nodes <= 1:
        return 1
    pairs = cpu_nodes * (cpu_nodes - 1) // (2 if symmetric_only else 1)
    return 1 + min(pairs, values)


@dataclass(frozen=True, slots=True)
class Roles:
    """For one node count: the CPU-less counts that work, and threads per core per count."""

    cpuless: tuple[int, ...]
    threads: dict[int, tuple[int, ...]] = field(default_factory=dict)  # cpuless count -> threads


@dataclass(frozen=True, slots=True)
class Space:
    """Validated knobs and what can be drawn from them."""

    knobs: Knobs
    node_counts: tuple[int, ...]
    roles: dict[int, Roles]  # node count -> roles
    families: dict[int, tuple[Family, ...]]  # node count -> families that fit it
    split_modes: tuple[SocketMode, ...]
    edge_values: tuple[int, ...]
    memory_units: Range  # per-node memory in granules
    machine_cap: int = 255  # most vCPUs every chosen machine takes with APIC IDs <= 254
    apic: bool = True  # an x86 machine may be drawn: every -smp shape keeps APIC IDs <= 254

    def vcpu_max(self, cpu_nodes: int, threads: int) -> int:
        """Largest vCPUs per node for ``cpu_nodes`` CPU nodes with ``threads`` per core."""
        cap = min(vcpu_cap(threads, self.machine_cap, self.apic) // cpu_nodes, self.knobs.vcpus_per_node.hi)
        return cap - cap % threads


def _has_x86(machines: Iterable[Machine]) -> bool:
    return any(m in X86_MACHINES for m in machines)


def _machine_cap(machines: Iterable[Machine]) -> int:
    """Most vCPUs every chosen machine takes: x86 stops at 255 (APIC IDs), virt at its 512
    (QEMU 7.2 with GICv3, whose two redistributor regions hold 123 + 512)."""
    from numaopt.layout import MAX_CPUS

    caps = [MAX_CPUS[m] for m in machines]
    return min(255, *caps) if _has_x86(machines) else min(caps)


def _fail(message: str) -> KnobError:
    return KnobError(message)


def _check_basic(knobs: Knobs) -> None:
    """Each knob on its own, and the pairs that are plainly contradictory, in a fixed order
    (the first problem found is the one reported)."""
    _check_target(knobs)
    _check_ranges(knobs)
    _check_node_roles(knobs)
    _check_cpu_shape(knobs)
    _check_memory_granule(knobs)
    _check_distances(knobs)
    _check_memory_shares(knobs)


def _check_target(knobs: Knobs) -> None:
    if knobs.target not in TARGETS:
        raise _fail(f"--target {knobs.target.value}: generation supports {', '.join(t.value for t in TARGETS)}")


def _check_ranges(knobs: Knobs) -> None:
    """No range knob is empty (hi < lo)."""
    for name, span in (
        ("--nodes", knobs.nodes),
        ("--vcpus-per-node", knobs.vcpus_per_node),
        ("--memoryless", knobs.memoryless),
        ("--cpuless", knobs.cpuless),
        ("--distance-range", knobs.distance_range),
        ("--levels", knobs.levels),
        ("--diameter", knobs.diameter),
    ):
        if span is not None and span.empty:
            raise _fail(f"{name} {span.lo}-{span.hi}: the range is empty")
    if knobs.memory_per_node.empty:
        lo, hi = (format_size(v) for v in (knobs.memory_per_node.lo, knobs.memory_per_node.hi))
        raise _fail(f"--memory-per-node {lo}-{hi}: the range is empty")


def _check_node_roles(knobs: Knobs) -> None:
    """--nodes, --vcpus-per-node, --memoryless and --cpuless: counts a layout can have."""
    if knobs.nodes.lo < 1 or knobs.nodes.hi > MAX_NODES:
        raise _fail(f"--nodes {knobs.nodes}: node counts must be between 1 and {MAX_NODES} (QEMU's MAX_NODES)")
    if knobs.vcpus_per_node.lo < 1:
        raise _fail(f"--vcpus-per-node {knobs.vcpus_per_node}: a CPU node needs at least 1 vCPU")
    if knobs.memoryless.lo < 0 or knobs.cpuless.lo < 0:
        raise _fail("--memoryless / --cpuless: counts cannot be negative")
    if knobs.memoryless.lo > knobs.nodes.hi - 1:
        raise _fail(
            f"--memoryless {knobs.memoryless}: at least {knobs.memoryless.lo} memory-less node(s) but at most "
            f"{knobs.nodes.hi} node(s), and one node must hold memory"
        )
    if knobs.cpuless.lo > knobs.nodes.hi - 1:
        raise _fail(
            f"--cpuless {knobs.cpuless}: at least {knobs.cpuless.lo} CPU-less node(s) but at most "
            f"{knobs.nodes.hi} node(s), and one node must hold the vCPUs"
        )


def _check_cpu_shape(knobs: Knobs) -> None:
    """--threads, --sockets and --machine: something to choose from, and what the target allows."""
    if not knobs.threads or min(knobs.threads) < 1:
        raise _fail("--threads: threads per core must be at least 1")
    if not knobs.sockets:
        raise _fail("--sockets: give whole, split or both")
    if not knobs.machines:
        raise _fail("--machine: give one or more of q35, pc, virt")
    if knobs.target is RuleSet.LINUX_DT and Machine.VIRT not in knobs.machines:
        names = ",".join(m.value for m in knobs.machines)
        raise _fail(f"--target linux-dt --machine {names}: the device-tree rules judge virt guests; add virt to --machine")
    if SocketMode.SPLIT_CORE in knobs.sockets and knobs.target is not RuleSet.QEMU:
        raise _fail("--sockets split-core: splitting an SMT core across nodes is a Linux error; use --target qemu")
    if one_thread_on_virt(knobs) and 1 not in knobs.threads:
        names = ",".join(m.value for m in knobs.machines)
        raise _fail(
            f"--threads {','.join(map(str, knobs.threads))} --machine {names}: a virt guest with threads > 1 prints "
            "'BUG: arch topology borken' (linux-dt's virt-smt error); add 1 to --threads or use --target qemu"
        )


def one_thread_on_virt(knobs: Knobs) -> bool:
    """virt items of a guest target get one thread per core: with more, every vCPU of the arm64
    guest prints 'BUG: arch topology borken' (linux-dt's ``virt-smt`` error, numaopt/layout.py)."""
    return knobs.target is not RuleSet.QEMU and Machine.VIRT in knobs.machines


def _check_memory_granule(knobs: Knobs) -> None:
    granule = knobs.memory_granule
    if granule <= 0 or granule % 4096:
        raise _fail(f"--memory-granule {format_size(granule)}: must be a positive multiple of 4KiB")


def _check_distances(knobs: Knobs) -> None:
    """--distance-range within what the target keeps, and --max-skew."""
    dist = knobs.distance_range
    floor = 10 if knobs.target is RuleSet.QEMU else 11
    if dist.lo < floor:
        why = "QEMU refuses values below 10" if floor == 10 else "Linux drops a SLIT with a remote distance of 10 or less; use --target qemu for 10"
        raise _fail(f"--distance-range {dist}: remote distances start at {floor} ({why})")
    if dist.hi > MAX_DISTANCE:
        raise _fail(f"--distance-range {dist}: a SLIT entry is one byte, at most {MAX_DISTANCE}")
    if knobs.max_skew < 1:
        raise _fail(f"--max-skew {knobs.max_skew}: must be at least 1")


def _check_memory_shares(knobs: Knobs) -> None:
    """--hmat and --dimms: shares in 0..1, for machines that boot with ACPI."""
    for flag, share in (("--hmat", knobs.hmat), ("--dimms", knobs.dimms)):
        if not 0.0 <= share <= 1.0:
            raise _fail(f"{flag} {share:g}: a share of layouts, between 0 and 1")
        if share and not _has_x86(knobs.machines):
            raise _fail(
                f"{flag} {share:g} --machine {','.join(m.value for m in knobs.machines)}: HMAT and DIMMs need an ACPI "
                "machine (q35 or pc); a virt guest reads a device tree and plugs no DIMM without firmware"
            )


def _memory_units(knobs: Knobs) -> Range:
    granule = knobs.memory_granule
    units = Range(-(-knobs.memory_per_node.lo // granule), knobs.memory_per_node.hi // granule)
    units = Range(max(units.lo, 1), units.hi)
    if units.empty:
        lo, hi = (format_size(v) for v in (knobs.memory_per_node.lo, knobs.memory_per_node.hi))
        raise _fail(f"--memory-per-node {lo}-{hi}: no multiple of the {format_size(granule)} granule in the range")
    return units


def _threads_for(knobs: Knobs, space_cap: int, cpu_nodes: int, apic: bool) -> tuple[int, ...]:
    """Threads per core for which some node size fits [vcpus lo, cap] with ``cpu_nodes`` nodes."""
    fits = []
    only_virt = one_thread_on_virt(knobs) and knobs.machines == (Machine.VIRT,)
    for threads in (1,) if only_virt else knobs.threads:
        cap = min(vcpu_cap(threads, space_cap, apic) // cpu_nodes, knobs.vcpus_per_node.hi)
        lowest = -(-knobs.vcpus_per_node.lo // threads) * threads
        if lowest <= cap:
            fits.append(threads)
    return tuple(fits)


def _family_fits(family: Family, n: int, cpu_nodes_max: int, knobs: Knobs, edge_values: tuple[int, ...]) -> str | None:
    """None when ``family`` can make an n-node matrix under the knobs, else why not."""
    dist = knobs.distance_range
    lo_w, hi_w = dist.lo - 10, dist.hi - 10  # edge weights of the graph families (d = 10 + path)
    if n < family.min_nodes:
        return f"needs at least {family.min_nodes} nodes"
    if knobs.symmetry is Symmetry.SYMMETRIC and family.symmetric is False:
        return "is always asymmetric (--symmetry symmetric)"
    if knobs.symmetry is Symmetry.ASYMMETRIC and family.symmetric is True:
        return "is always symmetric (--symmetry asymmetric)"
    if knobs.metric is Metric.YES and family.metric is not True and family is not Family.SYNTH:
        return "does not promise the triangle inequality (--metric yes)"
    if knobs.metric is Metric.NO and family.metric is not False and family is not Family.SYNTH:
        return "does not promise to break the triangle inequality (--metric no)"
    if family is Family.REMOTE_10 and knobs.target is not RuleSet.QEMU:
        return "is for --target qemu only (Linux drops a SLIT with a remote 10)"
    if family in (Family.SOCKET, Family.RECLAIM) and dist.hi - dist.lo < 1:
        return f"needs at least 2 values in --distance-range {dist}"
    if family is Family.RECLAIM and not (dist.lo <= RECLAIM_DISTANCE < dist.hi):
        return f"needs values on both sides of {RECLAIM_DISTANCE} in --distance-range {dist}"
    if family in (Family.RING, Family.MESH, Family.CHAIN):
        hops = _diameter_hops(family, n)
        if lo_w * hops > hi_w:
            return f"needs {hops} hops of at least {lo_w} within {hi_w} (--distance-range {dist})"
    if family is Family.ASYMMETRIC and dist.hi == dist.lo:
        return f"needs at least 2 values in --distance-range {dist}"
    if family is Family.TRIANGLE and dist.hi < 2 * dist.lo - 9:
        return f"cannot break d(i,k) - 10 <= (d(i,j) - 10) + (d(j,k) - 10) within --distance-range {dist}"
    if family is Family.EDGE and not edge_values:
        return f"has no edge value ({', '.join(map(str, EDGE_VALUES))}) in --distance-range {dist}"
    if family is Family.SYNTH and knobs.metric is Metric.NO and n < 3:
        return "needs 3 nodes to break the triangle inequality (--metric no)"
    if family is Family.SYNTH and n > MAX_SYNTH_NODES:
        return f"(CP-SAT synthesis) handles at most {MAX_SYNTH_NODES} nodes"
    if family is Family.SYNTH and knobs.diameter is not None and cpu_nodes_max > MAX_DIAMETER_NODES:
        return f"(CP-SAT synthesis with --diameter) handles at most {MAX_DIAMETER_NODES} CPU nodes"
    return None


def _diameter_hops(family: Family, n: int) -> int:
    """Edges on the longest shortest path of the family's graph with n nodes."""
    if family is Family.RING:
        return n // 2
    if family is Family.CHAIN:
        return n - 1
    cols = mesh_columns(n)
    return (cols - 1) + (-(-n // cols) - 1)


def mesh_columns(n: int) -> int:
    """Columns of the most square grid for n nodes (rows fill up, the last may be partial)."""
    return max(2, math.isqrt(n))


def _synth_fits(knobs: Knobs, cpu_nodes: int) -> str | None:
    """None if CP-SAT can be asked for the property knobs with ``cpu_nodes`` CPU nodes."""
    dist = knobs.distance_range
    values = dist.hi - dist.lo + 1
    symmetric_only = knobs.symmetry is not Symmetry.ASYMMETRIC
    if knobs.levels is not None:
        most = max_levels(cpu_nodes, symmetric_only, values)
        least = 1 if cpu_nodes == 1 else 2
        if knobs.levels.lo > most:
            hint = " (more with --symmetry asymmetric)" if symmetric_only and cpu_nodes > 1 else ""
            return f"--levels {knobs.levels}: {cpu_nodes} CPU node(s) show at most {most} level(s){hint}"
        if knobs.levels.hi < least:
            return f"--levels {knobs.levels}: {cpu_nodes} CPU nodes show at least {least} levels"
    if knobs.topology is not None and knobs.topology is not TopologyType.DIRECT and cpu_nodes < 3:
        return f"--topology {knobs.topology.value}: needs at least 3 CPU nodes"
    if knobs.diameter is not None and knobs.diameter.lo > max(cpu_nodes - 1, 0):
        return f"--diameter {knobs.diameter}: a hop diameter of {knobs.diameter.lo} needs {knobs.diameter.lo + 1} CPU nodes"
    if knobs.diameter is not None and knobs.diameter.hi < 1 and cpu_nodes > 1:
        return f"--diameter {knobs.diameter}: two CPU nodes are at least one hop apart"
    return None


def resolve(knobs: Knobs) -> Space:
    """Validate ``knobs`` and work out what can be drawn; ``KnobError`` (one line) if nothing can."""
    _check_basic(knobs)
    units = _memory_units(knobs)
    _check_properties(knobs)
    edge_values = tuple(v for v in (*((10,) if knobs.target is RuleSet.QEMU else ()), *EDGE_VALUES) if v in knobs.distance_range)
    machine_cap = _machine_cap(knobs.machines)
    apic = _has_x86(knobs.machines)
    drawable = _drawable(knobs, _candidate_families(knobs), edge_values, machine_cap, apic)
    _check_drawable(knobs, drawable)
    return Space(
        knobs=knobs,
        node_counts=tuple(sorted(drawable.roles)),
        roles=drawable.roles,
        families=drawable.families,
        split_modes=tuple(knobs.sockets),
        edge_values=edge_values,
        memory_units=units,
        machine_cap=machine_cap,
        apic=apic,
    )


def _check_properties(knobs: Knobs) -> None:
    """--levels, --topology, --diameter, --metric and --symmetry: with each other and --distance-range."""
    dist = knobs.distance_range
    if knobs.levels is not None and knobs.topology is not None:
        _check_levels_topology(knobs.levels, knobs.topology)
    if knobs.levels is not None and knobs.levels.lo < 1:
        raise _fail(f"--levels {knobs.levels}: there is always at least 1 level")
    if knobs.diameter is not None and knobs.diameter.lo < 0:
        raise _fail(f"--diameter {knobs.diameter}: must be 0 or more")
    if knobs.levels is not None and knobs.levels.lo - 1 > dist.hi - dist.lo + 1:
        raise _fail(
            f"--levels {knobs.levels}: {knobs.levels.lo - 1} remote values do not fit --distance-range {dist} "
            f"({dist.hi - dist.lo + 1} values)"
        )
    if knobs.metric is Metric.NO and dist.hi < 2 * dist.lo - 9:
        raise _fail(f"--metric no: no three values in --distance-range {dist} break the triangle inequality on d - 10")
    if knobs.symmetry is Symmetry.ASYMMETRIC and dist.lo == dist.hi:
        raise _fail(f"--symmetry asymmetric: --distance-range {dist} has a single value")


def _check_levels_topology(levels: Range, topology: TopologyType) -> None:
    """Linux's topology type follows from the level count: DIRECT is 2 levels or fewer."""
    if topology is TopologyType.DIRECT and levels.lo > 2:
        raise _fail(f"--levels {levels} --topology direct: Linux calls a table DIRECT only with 2 levels or fewer")
    if topology is not TopologyType.DIRECT and levels.hi < 3:
        raise _fail(f"--levels {levels} --topology {topology.value}: needs at least 3 levels (2 or fewer is DIRECT)")


def _candidate_families(knobs: Knobs) -> tuple[Family, ...]:
    """--family as given; without it, synth alone for the CP-SAT properties, else every family
    the target allows (remote-10 only with --target qemu)."""
    requested = knobs.families
    if knobs.wants_properties and requested is not None and any(f is not Family.SYNTH for f in requested):
        raise _fail("--levels / --topology / --diameter are searched with CP-SAT: use --family synth (or leave --family out)")
    if requested is not None:
        return requested
    if knobs.wants_properties:
        return (Family.SYNTH,)
    return tuple(f for f in Family if f is not Family.REMOTE_10 or knobs.target is RuleSet.QEMU)


@dataclass(frozen=True, slots=True)
class _Drawable:
    """What the node counts allow: roles and families per node count that has both, and why not."""

    roles: dict[int, Roles]
    families: dict[int, tuple[Family, ...]]
    reasons: dict[Family, str]  # why a family fits no node count (the largest node count says it best)
    role_reason: str  # why node roles did not work out (the last node count that said so)


def _drawable(
    knobs: Knobs, candidates: tuple[Family, ...], edge_values: tuple[int, ...], machine_cap: int, apic: bool
) -> _Drawable:
    """Per node count in --nodes: the node roles that work, then the candidate families that fit them."""
    roles: dict[int, Roles] = {}
    families: dict[int, tuple[Family, ...]] = {}
    reasons: dict[Family, str] = {}
    role_reason = ""
    synth_only = knobs.wants_properties or candidates == (Family.SYNTH,)
    for n in range(knobs.nodes.lo, knobs.nodes.hi + 1):
        fit_roles, why_not = _roles_for(knobs, n, machine_cap, apic, synth_only)
        role_reason = why_not or role_reason
        if not fit_roles.cpuless:
            continue
        fit, refused = _families_for(knobs, n, n - min(fit_roles.cpuless), candidates, edge_values)
        reasons.update(refused)
        if fit:
            roles[n] = fit_roles
            families[n] = fit
    return _Drawable(roles, families, reasons, role_reason)


def _roles_for(knobs: Knobs, n: int, machine_cap: int, apic: bool, synth_only: bool) -> tuple[Roles, str]:
    """The CPU-less counts that work with ``n`` nodes (and their threads per core), and why the
    first refused one was refused ("" if none was)."""
    threads_of: dict[int, tuple[int, ...]] = {}
    first_reason = ""
    for cpuless in range(knobs.cpuless.lo, min(knobs.cpuless.hi, n - 1) + 1):
        cpu_nodes = n - cpuless
        threads = _threads_for(knobs, machine_cap, cpu_nodes, apic)
        why = _role_refusal(knobs, cpuless, cpu_nodes, threads, machine_cap, apic, synth_only)
        if why is None:
            threads_of[cpuless] = threads
        else:
            first_reason = first_reason or why
    return Roles(tuple(threads_of), threads_of), first_reason


def _role_refusal(
    knobs: Knobs, cpuless: int, cpu_nodes: int, threads: tuple[int, ...], machine_cap: int, apic: bool, synth_only: bool
) -> str | None:
    """Why ``cpuless`` CPU-less nodes beside ``cpu_nodes`` CPU nodes cannot work; None if they can."""
    # memory-less nodes are CPU nodes; one node at least must hold memory.
    most_memoryless = cpu_nodes - (1 if cpuless == 0 else 0)
    if knobs.memoryless.lo > most_memoryless:
        return f"--memoryless {knobs.memoryless} leaves no node with memory"
    if not threads:
        why = "x86 APIC IDs above 254 need KVM's irqchip" if apic else "QEMU 7.2's most for virt with GICv3"
        return (
            f"{cpu_nodes} CPU nodes of {knobs.vcpus_per_node} vCPUs with threads {','.join(map(str, knobs.threads))} "
            f"exceed {machine_cap} vCPUs ({why})"
        )
    if one_thread_on_virt(knobs) and 1 not in threads:
        return f"{cpu_nodes} CPU nodes of {knobs.vcpus_per_node} vCPUs with one thread per core (what virt needs) exceed {machine_cap} vCPUs"
    return _synth_fits(knobs, cpu_nodes) if synth_only else None


def _families_for(
    knobs: Knobs, n: int, cpu_nodes_max: int, candidates: tuple[Family, ...], edge_values: tuple[int, ...]
) -> tuple[tuple[Family, ...], dict[Family, str]]:
    """The candidates that can make an n-node matrix, and why each other one cannot."""
    fit: list[Family] = []
    refused: dict[Family, str] = {}
    for family in candidates:
        why = _family_fits(family, n, cpu_nodes_max, knobs, edge_values)
        if why is None:
            fit.append(family)
        else:
            refused[family] = why
    return tuple(fit), refused


def _check_drawable(knobs: Knobs, drawable: _Drawable) -> None:
    """Some node count has a layout, and every family asked for by --family fits one."""
    requested = knobs.families
    reasons, role_reason = drawable.reasons, drawable.role_reason
    if not drawable.roles:
        if role_reason and not reasons:
            raise _fail(f"{role_reason} (--nodes {knobs.nodes})")
        if requested is not None and len(requested) == 1:
            raise _fail(f"--family {requested[0].value} {reasons.get(requested[0], role_reason)} (--nodes {knobs.nodes})")
        detail = role_reason or "; ".join(f"{f.value} {why}" for f, why in reasons.items())
        raise _fail(f"no layout fits these knobs with --nodes {knobs.nodes}: {detail}")
    unused = [f for f in requested or () if not any(f in fit for fit in drawable.families.values())]
    if unused:
        raise _fail(f"--family {unused[0].value} {reasons.get(unused[0], 'fits no node count')} (--nodes {knobs.nodes})")
