"""Frozen domain types that every stage shares: the floor of numaopt.

The types hold what was asked, not whether it is valid: a ``GuestLayout`` can describe
a layout QEMU refuses, so that ``numaopt check`` can say why. Structural nonsense
(negative sizes, a non-square matrix) is refused here; rule checks live in
``distances`` and ``layout``.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE, REMOTE_DISTANCE
from numaopt.rules import RuleSet

__all__ = [
    "BackendKind",
    "CpuPosition",
    "CpuShape",
    "Dimm",
    "Group",
    "GuestLayout",
    "GuestNode",
    "HmatCache",
    "HmatLb",
    "HostCore",
    "HostNode",
    "HostTopology",
    "HugePages",
    "Machine",
    "MemoryBackend",
    "MemorySideCache",
    "NodeAccess",
    "ObjectiveKind",
    "Partition",
    "PlacementRequest",
    "Plan",
    "Rule",
    "RuleSet",
    "SearchSettings",
    "SharedHostRequest",
    "SolveStatus",
    "Traffic",
    "VmRequest",
    "Workload",
]


class Machine(enum.StrEnum):
    """QEMU machine types numaopt renders for."""

    Q35 = "q35"
    PC = "pc"
    VIRT = "virt"  # aarch64

    @property
    def arch(self) -> str:
        return "aarch64" if self is Machine.VIRT else "x86_64"

    @property
    def qemu_binary(self) -> str:
        return f"qemu-system-{self.arch}"

    @property
    def default_rules(self) -> RuleSet:
        # x86 guests read NUMA from ACPI SRAT/SLIT; arm virt booted with -kernel gets a DT.
        return RuleSet.LINUX_DT if self is Machine.VIRT else RuleSet.LINUX_ACPI

    @property
    def topology_levels(self) -> tuple[str, ...]:
        """-smp levels this board supports above 1 (QEMU 7.2: x86 dies, arm virt clusters)."""
        return ("sockets", "clusters", "cores", "threads") if self is Machine.VIRT else (
            "sockets",
            "dies",
            "cores",
            "threads",
        )


@dataclass(frozen=True, slots=True)
class CpuPosition:
    """Where one vCPU index sits in the -smp hierarchy (ids as -numa cpu takes them)."""

    socket: int
    die: int
    cluster: int
    core: int
    thread: int


@dataclass(frozen=True, slots=True)
class CpuShape:
    """The -smp hierarchy. vCPU indices run socket > die > cluster > core > thread,
    threads fastest (x86 APIC order; arm virt uses the same order)."""

    sockets: int = 1
    dies: int = 1
    clusters: int = 1
    cores: int = 1
    threads: int = 1

    def __post_init__(self) -> None:
        for name in ("sockets", "dies", "clusters", "cores", "threads"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CpuShape.{name} must be a positive integer, got {value!r}")

    @property
    def num_cpus(self) -> int:
        return self.sockets * self.dies * self.clusters * self.cores * self.threads

    @property
    def cpus_per_socket(self) -> int:
        return self.dies * self.clusters * self.cores * self.threads

    def position(self, cpu: int) -> CpuPosition:
        """Topology ids of vCPU index ``cpu`` (QEMU: x86_topo_ids_from_idx, virt_possible_cpu_arch_ids)."""
        return CpuPosition(
            socket=cpu // self.cpus_per_socket,
            die=cpu // (self.clusters * self.cores * self.threads) % self.dies,
            cluster=cpu // (self.cores * self.threads) % self.clusters,
            core=cpu // self.threads % self.cores,
            thread=cpu % self.threads,
        )


class BackendKind(enum.StrEnum):
    RAM = "ram"
    FILE = "file"  # mem-path, e.g. /dev/hugepages for huge pages


@dataclass(frozen=True, slots=True)
class MemoryBackend:
    """How each guest node's memory is backed on the host (one backend object per node)."""

    kind: BackendKind = BackendKind.RAM
    mem_path: str | None = None
    page_size_bytes: int | None = None  # huge page size; node sizes must be multiples of it
    share: bool = False
    prealloc: bool = False

    def __post_init__(self) -> None:
        if self.kind is BackendKind.FILE and not self.mem_path:
            raise ValueError("a file memory backend needs mem_path")
        if self.kind is BackendKind.RAM and self.mem_path:
            raise ValueError("mem_path is only for the file memory backend")
        if self.page_size_bytes is not None and self.page_size_bytes <= 0:
            raise ValueError("page_size_bytes must be positive")


@dataclass(frozen=True, slots=True)
class GuestNode:
    """One guest NUMA node: its vCPU indices and memory (0 = memory-less)."""

    node_id: int
    cpus: tuple[int, ...] = ()
    memory_bytes: int = 0
    host_nodes: tuple[int, ...] = ()  # memory binding, set by placement
    initiator: int | None = None  # HMAT: the node whose vCPUs reach this memory best (-numa node,initiator=)

    def __post_init__(self) -> None:
        if self.node_id < 0:
            raise ValueError(f"node id must be >= 0, got {self.node_id}")
        if self.memory_bytes < 0:
            raise ValueError(f"node {self.node_id}: memory must be >= 0")
        if any(cpu < 0 for cpu in self.cpus):
            raise ValueError(f"node {self.node_id}: CPU ids must be >= 0")
        object.__setattr__(self, "cpus", tuple(self.cpus))
        object.__setattr__(self, "host_nodes", tuple(self.host_nodes))


HMAT_LB_TYPES = (
    "access-latency",
    "read-latency",
    "write-latency",
    "access-bandwidth",
    "read-bandwidth",
    "write-bandwidth",
)
HMAT_HIERARCHIES = ("memory", "first-level", "second-level", "third-level")


@dataclass(frozen=True, slots=True)
class HmatLb:
    """One HMAT latency (ns) or bandwidth (bytes/s) from an initiator node to a target node."""

    initiator: int
    target: int
    data_type: str  # one of HMAT_LB_TYPES
    value: int
    hierarchy: str = "memory"  # one of HMAT_HIERARCHIES

    def __post_init__(self) -> None:
        if self.data_type not in HMAT_LB_TYPES or self.hierarchy not in HMAT_HIERARCHIES:
            raise ValueError(f"HMAT: unknown data type {self.data_type!r} or hierarchy {self.hierarchy!r}")
        if min(self.initiator, self.target, self.value) < 0:
            raise ValueError("HMAT: initiator, target and value must be >= 0")

    @property
    def is_latency(self) -> bool:
        return self.data_type.endswith("latency")


@dataclass(frozen=True, slots=True)
class HmatCache:
    """One memory-side cache level of a node (-numa hmat-cache)."""

    node: int
    size_bytes: int
    level: int
    associativity: str = "direct"  # none, direct, complex
    policy: str = "write-back"  # none, write-back, write-through
    line: int = 64  # bytes

    def __post_init__(self) -> None:
        if self.associativity not in ("none", "direct", "complex") or self.policy not in (
            "none",
            "write-back",
            "write-through",
        ):
            raise ValueError(f"HMAT cache: unknown associativity {self.associativity!r} or policy {self.policy!r}")
        if min(self.node, self.size_bytes, self.level, self.line) < 0:
            raise ValueError("HMAT cache: node, size, level and line must be >= 0")


@dataclass(frozen=True, slots=True)
class Dimm:
    """A pc-dimm plugged into a node at start (-device pc-dimm,node=N, its own backend)."""

    node: int
    size_bytes: int

    def __post_init__(self) -> None:
        if self.node < 0 or self.size_bytes <= 0:
            raise ValueError(f"a DIMM needs a node >= 0 and a size > 0, got {self.node}, {self.size_bytes}")


def _frozen_matrix(values: npt.ArrayLike) -> npt.NDArray[np.int64]:
    matrix = np.array(values, dtype=np.int64, copy=True)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a distance matrix must be square, got shape {matrix.shape}")
    matrix.setflags(write=False)
    return matrix


@dataclass(frozen=True, slots=True, eq=False)
class GuestLayout:
    """A complete guest NUMA description: what QEMU is asked to build.

    ``distances`` is indexed by position in ``nodes`` and is ``None`` when no distances
    are given (QEMU then writes no SLIT and the guest assumes 10 local, 20 remote).
    """

    vcpus: int
    memory_bytes: int
    nodes: tuple[GuestNode, ...]
    shape: CpuShape
    distances: npt.NDArray[np.int64] | None = None
    machine: Machine = Machine.Q35
    backend: MemoryBackend = field(default_factory=MemoryBackend)
    rules: RuleSet = RuleSet.LINUX_ACPI
    hmat: bool = False  # -machine hmat=on: an ACPI HMAT with the initiators, latencies and caches below
    hmat_lb: tuple[HmatLb, ...] = ()
    hmat_cache: tuple[HmatCache, ...] = ()
    maxmem_bytes: int | None = None  # -m maxmem=: room for hot-plugged memory above memory_bytes
    slots: int = 0  # -m slots=: DIMMs that can be plugged
    dimms: tuple[Dimm, ...] = ()  # plugged at start, counted in maxmem, not in memory_bytes

    def __post_init__(self) -> None:
        object.__setattr__(self, "dimms", tuple(self.dimms))
        object.__setattr__(self, "hmat_lb", tuple(self.hmat_lb))
        object.__setattr__(self, "hmat_cache", tuple(self.hmat_cache))
        if self.vcpus < 1:
            raise ValueError(f"vcpus must be >= 1, got {self.vcpus}")
        if self.memory_bytes < 0:
            raise ValueError("memory must be >= 0")
        object.__setattr__(self, "nodes", tuple(self.nodes))
        if self.distances is not None:
            matrix = _frozen_matrix(self.distances)
            if matrix.shape[0] != len(self.nodes):
                raise ValueError(
                    f"distance matrix is {matrix.shape[0]}x{matrix.shape[0]} but there are {len(self.nodes)} nodes"
                )
            object.__setattr__(self, "distances", matrix)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, GuestLayout):
            return NotImplemented
        same_matrix = (self.distances is None and other.distances is None) or (
            self.distances is not None
            and other.distances is not None
            and np.array_equal(self.distances, other.distances)
        )
        return same_matrix and all(
            getattr(self, f.name) == getattr(other, f.name) for f in dataclasses.fields(self) if f.name != "distances"
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def effective_distances(self) -> npt.NDArray[np.int64]:
        """The matrix the guest ends up with: the given one, or 10 local / 20 remote."""
        if self.distances is not None:
            return self.distances
        n = self.num_nodes
        matrix = np.full((n, n), REMOTE_DISTANCE, dtype=np.int64)
        np.fill_diagonal(matrix, LOCAL_DISTANCE)
        matrix.setflags(write=False)
        return matrix

    @property
    def cpu_nodes_mask(self) -> npt.NDArray[np.bool_]:
        """True for nodes that hold at least one vCPU (the ones the scheduler counts)."""
        return np.array([bool(node.cpus) for node in self.nodes], dtype=bool)

    def node_of_cpu(self) -> dict[int, int]:
        """vCPU index -> position of its node in ``nodes`` (the first one, if listed twice)."""
        owner: dict[int, int] = {}
        for position, node in enumerate(self.nodes):
            for cpu in node.cpus:
                owner.setdefault(cpu, position)
        return owner


@dataclass(frozen=True, slots=True)
class HugePages:
    """Huge pages of one size on one host node."""

    page_size_bytes: int
    total: int
    free: int

    def __post_init__(self) -> None:
        if self.page_size_bytes <= 0 or self.total < 0 or not 0 <= self.free <= self.total:
            raise ValueError(f"huge pages need a positive size and 0 <= free <= total, got {self}")


@dataclass(frozen=True, slots=True)
class NodeAccess:
    """How the host's best initiators reach one node's memory (sysfs nodeN/access0): the
    initiator nodes, latencies in ns and bandwidths in MB/s (0: not reported)."""

    initiators: tuple[int, ...]
    read_latency: int = 0
    write_latency: int = 0
    read_bandwidth: int = 0
    write_bandwidth: int = 0


@dataclass(frozen=True, slots=True)
class MemorySideCache:
    """One level of a host node's memory-side cache (sysfs nodeN/memory_side_cache/indexL):
    level 1 is nearest the node's memory; associativity and policy in QEMU's hmat-cache words."""

    level: int
    size_bytes: int
    line: int = 64  # bytes read from the next level on a miss
    associativity: str = "direct"  # none, direct, complex
    policy: str = "write-back"  # none, write-back, write-through

    def __post_init__(self) -> None:
        if self.associativity not in ("none", "direct", "complex") or self.policy not in (
            "none",
            "write-back",
            "write-through",
        ):
            raise ValueError(
                f"memory-side cache: unknown associativity {self.associativity!r} or policy {self.policy!r}"
            )
        if self.level < 1 or min(self.size_bytes, self.line) < 0:
            raise ValueError("memory-side cache: level must be >= 1, size and line >= 0")


@dataclass(frozen=True, slots=True)
class HostNode:
    """One host NUMA node: logical CPUs and memory (``free_bytes`` None = unknown)."""

    node_id: int
    cpus: tuple[int, ...] = ()
    memory_bytes: int = 0
    free_bytes: int | None = None
    hugepages: tuple[HugePages, ...] = ()
    access: NodeAccess | None = None  # HMAT as the host kernel shows it (sysfs, host TOML, hwloc)
    caches: tuple[MemorySideCache, ...] = ()  # memory-side caches in front of this node, by level

    def __post_init__(self) -> None:
        object.__setattr__(self, "cpus", tuple(sorted(self.cpus)))
        object.__setattr__(self, "hugepages", tuple(sorted(self.hugepages, key=lambda h: h.page_size_bytes)))
        object.__setattr__(self, "caches", tuple(sorted(self.caches, key=lambda c: c.level)))
        if self.node_id < 0 or self.memory_bytes < 0:
            raise ValueError(f"host node {self.node_id}: id and memory must be >= 0")
        if self.free_bytes is not None and not 0 <= self.free_bytes <= self.memory_bytes:
            raise ValueError(f"host node {self.node_id}: free memory must be between 0 and the node's total")


@dataclass(frozen=True, slots=True)
class HostCore:
    """One physical core: its SMT sibling logical CPUs, and its socket."""

    socket: int
    cpus: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "cpus", tuple(sorted(self.cpus)))


@dataclass(frozen=True, slots=True, eq=False)
class HostTopology:
    """The host as numaopt sees it, whatever it was imported from.

    ``distances`` is indexed by position in ``nodes`` (the SLIT, possibly asymmetric).
    ``cores`` lists every core with its SMT siblings; empty when the source does not
    say (numactl alone), in which case each CPU counts as its own core.
    """

    nodes: tuple[HostNode, ...]
    distances: npt.NDArray[np.int64]
    cores: tuple[HostCore, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "nodes", tuple(self.nodes))
        object.__setattr__(self, "cores", tuple(sorted(self.cores, key=lambda c: c.cpus)))
        matrix = _frozen_matrix(self.distances)
        if matrix.shape[0] != len(self.nodes):
            raise ValueError(f"host distance matrix is {matrix.shape[0]}x{matrix.shape[0]} for {len(self.nodes)} nodes")
        object.__setattr__(self, "distances", matrix)
        ids = [node.node_id for node in self.nodes]
        if len(set(ids)) != len(ids):
            raise ValueError(f"host node ids repeat: {ids}")
        cpus = [cpu for node in self.nodes for cpu in node.cpus]
        if len(set(cpus)) != len(cpus):
            raise ValueError("a host CPU is listed in two nodes")
        core_cpus = [cpu for core in self.cores for cpu in core.cpus]
        if self.cores and sorted(core_cpus) != sorted(cpus):
            raise ValueError("host cores must cover exactly the CPUs of the nodes")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HostTopology):
            return NotImplemented
        return self.nodes == other.nodes and self.cores == other.cores and np.array_equal(self.distances, other.distances)

    __hash__ = None  # type: ignore[assignment]

    @property
    def num_nodes(self) -> int:
        return len(self.nodes)

    @property
    def num_cpus(self) -> int:
        return sum(len(node.cpus) for node in self.nodes)

    def node_position(self, node_id: int) -> int:
        for position, node in enumerate(self.nodes):
            if node.node_id == node_id:
                return position
        raise KeyError(node_id)

    def cpu_to_node(self) -> dict[int, int]:
        """Host CPU -> host node id."""
        return {cpu: node.node_id for node in self.nodes for cpu in node.cpus}

    def siblings(self) -> dict[int, tuple[int, ...]]:
        """Host CPU -> the CPUs of its core (itself alone when SMT is unknown)."""
        if not self.cores:
            return {cpu: (cpu,) for node in self.nodes for cpu in node.cpus}
        return {cpu: core.cpus for core in self.cores for cpu in core.cpus}

    @property
    def threads_per_core(self) -> int:
        return max((len(core.cpus) for core in self.cores), default=1)


@dataclass(frozen=True, slots=True)
class Group:
    """Named vCPUs with memory that should be placed as one unit (or split, if allowed)."""

    name: str
    vcpus: int  # 0: a memory-only group (e.g. far memory on a CPU-less CXL node)
    memory_bytes: int
    allowed_nodes: tuple[int, ...] = ()  # host node ids; empty = any node
    split: bool = False  # may span host nodes (cut into pieces of whole cores)

    def __post_init__(self) -> None:
        if self.vcpus < 0 or self.memory_bytes < 0 or (self.vcpus == 0 and self.memory_bytes == 0):
            raise ValueError(f"group {self.name!r}: needs vCPUs or memory (vcpus >= 0, memory >= 0, not both 0)")
        if self.vcpus == 0 and self.split:
            raise ValueError(f"group {self.name!r}: a memory-only group cannot split")
        object.__setattr__(self, "allowed_nodes", tuple(sorted(set(self.allowed_nodes))))


@dataclass(frozen=True, slots=True)
class Traffic:
    """``weight`` units of traffic from group ``a`` to group ``b`` (``a == b``: within a group).

    With an asymmetric host SLIT, traffic a -> b is priced at d(node(a), node(b)).
    """

    a: str
    b: str
    weight: int

    def __post_init__(self) -> None:
        if self.weight < 0:
            raise ValueError(f"traffic {self.a} -> {self.b}: weight must be >= 0")


class Rule(enum.StrEnum):
    TOGETHER = "together"  # the listed groups share one host node
    APART = "apart"  # the listed groups use pairwise different host nodes


class ObjectiveKind(enum.StrEnum):
    LOCALITY = "locality"  # minimise sum traffic x host distance
    SPREAD = "spread"  # use the most host nodes (memory bandwidth), then sockets, then locality
    COMPACT = "compact"  # use the fewest host nodes, then locality


@dataclass(frozen=True, slots=True)
class Workload:
    """What the VM needs: vCPUs and memory in groups, traffic between them, placement rules."""

    groups: tuple[Group, ...]
    threads_per_core: int = 1
    traffic: tuple[Traffic, ...] = ()
    rules: tuple[tuple[Rule, tuple[str, ...]], ...] = ()
    max_distances: tuple[tuple[str, str, int], ...] = ()  # d(node(a), node(b)) <= limit
    guest_nodes: int | None = None  # exactly this many guest (= used host) nodes
    max_guest_nodes: int | None = None
    page_size_bytes: int | None = None  # huge pages backing guest memory
    maxmem_bytes: int | None = None  # room to grow: -m maxmem= (memory plus hot-pluggable DIMMs)
    slots: int = 0  # -m slots=

    def __post_init__(self) -> None:
        names = [g.name for g in self.groups]
        if len(set(names)) != len(names):
            raise ValueError(f"group names repeat: {names}")
        if self.threads_per_core < 1:
            raise ValueError("threads_per_core must be >= 1")

    @property
    def vcpus(self) -> int:
        return sum(g.vcpus for g in self.groups)

    @property
    def memory_bytes(self) -> int:
        return sum(g.memory_bytes for g in self.groups)

    @property
    def priced_traffic(self) -> tuple[Traffic, ...]:
        """The traffic the objective prices: the declared flows, plus, for every group that
        may split and declares no traffic with itself, an implicit self-flow.

        A split group's vCPUs and memory talk to each other, so spreading it costs what
        the guest pays in remote accesses. The implicit weight is that of the heaviest
        declared flow (1 when none is declared): spreading a group is never cheaper
        than moving the workload's most important flow one level further apart.
        """
        declared_self = {t.a for t in self.traffic if t.a == t.b}
        heaviest = max((t.weight for t in self.traffic), default=0)
        implicit = tuple(
            Traffic(g.name, g.name, max(1, heaviest))
            for g in self.groups
            if g.split and g.vcpus > 0 and g.name not in declared_self
        )
        return self.traffic + implicit

    def group(self, name: str) -> Group:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)


@dataclass(frozen=True, slots=True)
class SearchSettings:
    kind: ObjectiveKind = ObjectiveKind.LOCALITY
    time_limit_s: float = 10.0
    seed: int = 0
    workers: int = 1  # one worker: one plan for a seed, unless the time limit ends the search first


@dataclass(frozen=True, slots=True)
class PlacementRequest:
    """A search problem: place ``workload`` on ``host`` without ``reserved_cpus``.

    ``partitions`` (several VMs placed together, see ``SharedHostRequest``) name groups of
    the workload that form one guest each, with that guest's node-count rules; the
    workload's own ``guest_nodes`` then stays unset. ``sockets_apart`` lists pairs of
    partitions that may not share a host socket.
    """

    host: HostTopology
    workload: Workload
    reserved_cpus: tuple[int, ...] = ()
    settings: SearchSettings = field(default_factory=SearchSettings)
    machine: Machine = Machine.Q35
    backend: MemoryBackend = field(default_factory=MemoryBackend)
    partitions: tuple[Partition, ...] = ()
    sockets_apart: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Partition:
    """The groups of one guest among several placed together."""

    name: str
    groups: tuple[str, ...]
    guest_nodes: int | None = None
    max_guest_nodes: int | None = None


@dataclass(frozen=True, slots=True)
class VmRequest:
    """One VM of a shared host: its workload, machine, memory backend and priority."""

    name: str
    workload: Workload
    machine: Machine = Machine.Q35
    backend: MemoryBackend = field(default_factory=MemoryBackend)
    priority: int = 1  # this VM's locality cost counts this many times in the sum


@dataclass(frozen=True, slots=True)
class SharedHostRequest:
    """Several VMs placed on one host at once: no host CPU twice, memory and huge pages
    shared, the priority-weighted sum of their locality costs minimised."""

    host: HostTopology
    vms: tuple[VmRequest, ...]
    reserved_cpus: tuple[int, ...] = ()
    settings: SearchSettings = field(default_factory=SearchSettings)
    sockets_apart: tuple[tuple[str, str], ...] = ()  # VM names that may not share a socket

    def vm_request(self, vm: VmRequest) -> PlacementRequest:
        """The single-VM request of one VM on the whole host (what its plan is verified against)."""
        return PlacementRequest(self.host, vm.workload, self.reserved_cpus, self.settings, vm.machine, vm.backend)


class SolveStatus(enum.StrEnum):
    EXPLICIT = "EXPLICIT"  # the layout was given; nothing was searched
    OPTIMAL = "OPTIMAL"
    FEASIBLE = "FEASIBLE"  # a plan, not proven optimal
    INFEASIBLE = "INFEASIBLE"
    UNKNOWN = "UNKNOWN"  # no plan within the time limit


@dataclass(frozen=True, slots=True)
class Plan:
    """A layout plus how it lands on the host, and the facts of the solve that made it."""

    layout: GuestLayout
    status: SolveStatus = SolveStatus.EXPLICIT
    vcpu_to_host_cpu: tuple[tuple[int, int], ...] = ()  # (vCPU, host CPU); empty: no pinning
    vcpu_groups: tuple[str, ...] = ()  # group name per vCPU index (placement plans)
    emulator_cpus: tuple[int, ...] = ()  # host CPUs for QEMU's own threads (the request's reserved_cpus)
    memory_placement: tuple[tuple[str, int, int], ...] = ()  # (group, host node id, bytes there)
    objective: float | None = None
    best_bound: float | None = None
    wall_time_s: float = 0.0
    seed: int | None = None
    # (guest node a, guest node b, host distance, distance shown to the guest) where the
    # host's value had to change for the guest to keep the table (solve --adjust-distances)
    adjusted_distances: tuple[tuple[int, int, int, int], ...] = ()
