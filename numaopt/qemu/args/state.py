"""What the ``-numa`` options build, option after option: QEMU's node table and vCPU slots.

Its own module because three others share it and none owns it: numa.py (node, dist, cpu)
and hmat.py (hmat-lb, hmat-cache) add to it in command-line order, and complete.py turns
it into the layout's nodes and distances (numa_complete_configuration).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from numaopt.layout import HmatRange
from numaopt.model import CpuPosition, HmatCache, HmatLb
from numaopt.rules import Severity

from .backends import Backend
from .common import Arg, Context
from .machine import Board
from .values import show

# -numa cpu's ids -> the vCPU position they select (x86_topo_ids_from_idx, virt_possible_cpu_arch_ids).
_POSITION: dict[str, Callable[[CpuPosition], int]] = {
    "socket-id": lambda position: position.socket,
    "die-id": lambda position: position.die,
    "cluster-id": lambda position: position.cluster,
    "core-id": lambda position: position.core,
    "thread-id": lambda position: position.thread,
}


@dataclass(slots=True)
class Node:
    node_id: int
    memory_bytes: int = 0
    memdev: str | None = None
    bad_cpus: list[int] = field(default_factory=list)  # cpus= indices >= maxcpus, kept for check_layout
    initiator: int | None = None  # -numa node,initiator= (HMAT)


@dataclass(slots=True)
class NumaState:
    """What the -numa options built so far (QEMU's NodeInfo table and cpu slots)."""

    context: Context
    board: Board
    backends: dict[str, Backend]
    nodes: dict[int, Node] = field(default_factory=dict)
    slot_node: dict[int, int] = field(default_factory=dict)  # vCPU index -> node id (machine_set_cpu_numa_node)
    given: dict[tuple[int, int], int] = field(default_factory=dict)  # -numa dist: (src, dst) -> val
    have_mem: bool = False
    have_memdev: bool = False
    slot_ids: dict[str, dict[int, set[int]]] = field(default_factory=dict)  # -numa cpu's id -> value -> slots
    has_cpu: set[int] = field(default_factory=set)  # nodes given a vCPU explicitly so far (NodeInfo.has_cpu)
    initiators: dict[int, int] = field(default_factory=dict)  # node -> its HMAT initiator (NodeInfo.initiator)
    hmat_lb: dict[tuple[str, str], LbTable] = field(default_factory=dict)  # (hierarchy, data-type) -> values so far
    lb_provided: dict[int, int] = field(default_factory=dict)  # target node -> bit 0 latency, bit 1 bandwidth given
    hmat_cache: dict[tuple[int, int], int] = field(default_factory=dict)  # (node-id, level) -> size
    lb_entries: list[HmatLb] = field(default_factory=list)  # every hmat-lb QEMU accepted, in order
    cache_entries: list[HmatCache] = field(default_factory=list)  # every hmat-cache QEMU accepted, in order

    @property
    def hmat_on(self) -> bool:
        return self.board.flag("hmat", "off") is True

    @property
    def maxcpus(self) -> int:
        return self.board.maxcpus

    def assign(self, cpu: int, node_id: int, where: str) -> bool:
        """machine_set_cpu_numa_node: ``cpu`` goes to ``node_id``; False (and QEMU's error) if it cannot."""
        owner = self.slot_node.get(cpu)
        if owner is not None and owner != node_id:
            self.context.add(
                Severity.ERROR,
                "cpu-assigned-twice",
                f"CPU is already assigned to node-id: {owner}",
                f"{where}: vCPU {cpu}",
            )
            return False
        self.slot_node[cpu] = node_id
        if self.hmat_on:
            initiator = self.initiators.setdefault(node_id, node_id)
            if initiator != node_id:
                self.context.add(
                    Severity.ERROR,
                    "hmat-initiator",
                    f"The initiator of CPU NUMA node {node_id} should be itself (got {initiator})",
                    f"{where}: a node with vCPUs is its own initiator",
                )
                return False
        self.has_cpu.add(node_id)
        return True

    def require_hmat(self, arg: Arg) -> bool:
        """False (and QEMU's error) when HMAT is off: QEMU refuses every HMAT option then."""
        if self.hmat_on:
            return True
        self.context.add(
            Severity.ERROR,
            "hmat-disabled",
            "ACPI Heterogeneous Memory Attribute Table (HMAT) is disabled, enable it with -machine hmat=on "
            "before using any of hmat specific options",
            f"at {show(arg.shown)}",
        )
        return False

    def slots_with(self, key: str) -> dict[int, set[int]]:
        """vCPU slots by the value of one topology id (``socket-id`` -> {0: {0, 1}, 1: {2, 3}})."""
        if key not in self.slot_ids:
            position = _POSITION[key]
            table: dict[int, set[int]] = {}
            for cpu in range(self.maxcpus):
                table.setdefault(position(self.board.shape.position(cpu)), set()).add(cpu)
            self.slot_ids[key] = table
        return self.slot_ids[key]


@dataclass(slots=True)
class LbTable(HmatRange):
    """One HMAT latency or bandwidth table as -numa hmat-lb fills it: its 16-bit range
    (``numaopt.layout.HmatRange``) and the (initiator, target) pairs given so far."""

    pairs: set[tuple[int, int]] = field(default_factory=set)
