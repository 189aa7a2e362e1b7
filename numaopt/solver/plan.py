"""From a placement decision to a Plan: guest nodes, vCPU numbering, pinning, binding.

One guest node per used host node (groups on one host node share it), numbered in group
order so that vCPU 0 is in guest node 0; vCPUs are numbered node by node, so every guest
node is a contiguous range of whole cores and the -smp shape puts whole sockets in each
node; each guest core lands on one host core (SMT siblings on siblings); each node's
memory is bound to its host node. Guest distances are the host's between the chosen
nodes, so the guest sees the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from numaopt.layout import choose_shape
from numaopt.model import GuestLayout, GuestNode, Partition, PlacementRequest, Plan, SolveStatus
from numaopt.solver.instance import Instance, Placement


def _pieces(instance: Instance, placement: Placement) -> list[tuple[int, int, int, int]]:
    """(group index, host node position, cores, memory units) for every non-empty share,
    in group order (a split group's shares in host node label order)."""
    pieces = [(item.group, node, item.cores, item.memory_units) for item, node in zip(instance.items, placement.items, strict=True)]
    for split, cores, memory in zip(instance.splits, placement.split_cores, placement.split_memory, strict=True):
        for node in sorted(range(instance.num_nodes), key=lambda n: instance.labels[n]):
            if cores[node] or memory[node]:
                pieces.append((split.group, node, cores[node], memory[node]))
    return sorted(pieces, key=lambda piece: piece[0])


def build_plan(
    instance: Instance,
    placement: Placement,
    *,
    status: SolveStatus,
    objective: float | None,
    best_bound: float | None,
    wall_time_s: float,
    only: Partition | None = None,
    cores_taken: dict[int, int] | None = None,
) -> Plan:
    """The plan of the whole workload, or with ``only`` of one VM among several: its groups
    (named without the VM prefix), pinned to the host cores after ``cores_taken[node]``
    (updated, so the next VM's vCPUs never share a host CPU with this one's)."""
    request: PlacementRequest = instance.request
    pieces = _pieces(instance, placement)
    if only is not None:
        members = set(only.groups)
        pieces = [piece for piece in pieces if request.workload.groups[piece[0]].name in members]
    order = _node_order(pieces)
    numbered = _number_vcpus(instance, pieces, order, only)
    taken = cores_taken if cores_taken is not None else {}
    pinning = _pin(instance, order, numbered.cpus_per_node, taken)
    return Plan(
        layout=_guest_layout(instance, order, numbered),
        status=status,
        vcpu_to_host_cpu=tuple(sorted(pinning)),
        vcpu_groups=tuple(numbered.vcpu_group),
        emulator_cpus=tuple(sorted(set(request.reserved_cpus))),
        memory_placement=tuple((g, n, b) for (g, n), b in sorted(numbered.memory_placement.items())),
        objective=objective,
        best_bound=best_bound,
        wall_time_s=wall_time_s,
        seed=request.settings.seed,
    )


def _node_order(pieces: list[tuple[int, int, int, int]]) -> list[int]:
    """Host node positions in guest node order: first use by groups (group order, then
    piece order), nodes with vCPUs before memory-only ones, so vCPU 0 is in guest node 0."""
    order: list[int] = []
    for _, node, _cores, _ in sorted(pieces, key=lambda piece: piece[2] == 0):
        if node not in order:
            order.append(node)
    return order


@dataclass(frozen=True)
class _Numbered:
    """vCPUs numbered node by node: each host node position's vCPUs and memory units, each
    vCPU's group, and each (group, host node id)'s memory in bytes."""

    cpus_per_node: dict[int, list[int]]
    memory_units: dict[int, int]
    vcpu_group: list[str]
    memory_placement: dict[tuple[str, int], int]

    @property
    def vcpus(self) -> int:
        return len(self.vcpu_group)


def _number_vcpus(
    instance: Instance, pieces: list[tuple[int, int, int, int]], order: list[int], only: Partition | None
) -> _Numbered:
    request = instance.request
    groups, threads = request.workload.groups, request.workload.threads_per_core
    cpus_per_node: dict[int, list[int]] = {n: [] for n in order}
    memory_units: dict[int, int] = dict.fromkeys(order, 0)
    vcpu_group: list[str] = []
    memory_placement: dict[tuple[str, int], int] = {}
    for node in order:
        for group, where, cores, units in pieces:
            if where != node:
                continue
            count = cores * threads
            first = len(vcpu_group)
            cpus_per_node[node].extend(range(first, first + count))
            memory_units[node] += units
            name = groups[group].name.removeprefix(f"{only.name}/") if only is not None else groups[group].name
            vcpu_group.extend([name] * count)
            key = (name, request.host.nodes[node].node_id)
            memory_placement[key] = memory_placement.get(key, 0) + units * instance.memory_unit_bytes
    return _Numbered(cpus_per_node, memory_units, vcpu_group, memory_placement)


def _pin(instance: Instance, order: list[int], cpus_per_node: dict[int, list[int]], taken: dict[int, int]) -> list[tuple[int, int]]:
    """(vCPU, host CPU) pairs: each guest core on the next free host core of its node (SMT
    siblings on siblings), after the ``taken`` cores of an earlier VM; ``taken`` is updated."""
    threads = instance.request.workload.threads_per_core
    pinning: list[tuple[int, int]] = []
    for node in order:
        free_cores = instance.free_cpus[node]
        vcpus = cpus_per_node[node]
        first = taken.get(node, 0)
        for core_index in range(len(vcpus) // threads):
            host_threads = free_cores[first + core_index]
            for thread in range(threads):
                pinning.append((vcpus[core_index * threads + thread], host_threads[thread]))
        taken[node] = first + len(vcpus) // threads
    return pinning


def _guest_layout(instance: Instance, order: list[int], numbered: _Numbered) -> GuestLayout:
    """One guest node per used host node, bound to it, at the host's distances."""
    request = instance.request
    host = request.host
    nodes = tuple(
        GuestNode(
            node_id=k,
            cpus=tuple(numbered.cpus_per_node[n]),
            memory_bytes=numbered.memory_units[n] * instance.memory_unit_bytes,
            host_nodes=(host.nodes[n].node_id,),
        )
        for k, n in enumerate(order)
    )
    distances = np.asarray(host.distances)[np.ix_(order, order)]
    shape = choose_shape(numbered.vcpus, [node.cpus for node in nodes], request.workload.threads_per_core)
    return GuestLayout(
        vcpus=numbered.vcpus,
        memory_bytes=sum(node.memory_bytes for node in nodes),
        nodes=nodes,
        shape=shape,
        distances=distances,
        machine=request.machine,
        backend=request.backend,
        rules=request.machine.default_rules,
    )
