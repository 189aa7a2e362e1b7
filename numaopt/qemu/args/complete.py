"""After the last ``-numa`` option: numa_complete_configuration (QEMU 7.2), then the layout's
nodes, distance matrix and memory backend.

Apart from the option handlers because QEMU does this once, on the whole table, and it is
where defaults appear that no option gave: the default CPU-to-node mapping, distances
copied from the other direction, and the checks that need every option seen (a backend
named twice, a distance missing, an initiator that never got a vCPU).
"""

from __future__ import annotations

import numpy as np

from numaopt.distances import LOCAL_DISTANCE, REMOTE_DISTANCE
from numaopt.model import GuestNode, Machine, MemoryBackend
from numaopt.rules import Severity

from .backends import Backend
from .hmat import validate_initiators
from .state import NumaState


def complete(numa: NumaState) -> tuple[tuple[GuestNode, ...], np.ndarray | None, MemoryBackend]:
    """The nodes (in id order), the distance matrix (None if no distance was given) and the backend."""
    ids = sorted(numa.nodes)
    for cpu in [cpu for cpu, node_id in numa.slot_node.items() if node_id not in numa.nodes]:
        del numa.slot_node[cpu]
    # numa_complete_configuration: each backend once, then the distances; then
    # machine_numa_finish_cpu_init: the default mapping, then the HMAT initiators.
    _check_backend_use(numa)
    distances = _distances(numa, ids)
    if ids and not numa.slot_node:
        _default_mapping(numa, ids)
    if numa.hmat_on:  # after the default mapping, which sets initiators too
        validate_initiators(numa, ids)
    cpus_of: dict[int, list[int]] = {node_id: [] for node_id in ids}
    for cpu, node_id in numa.slot_node.items():
        cpus_of[node_id].append(cpu)
    used = [numa.backends[memdev] for node_id in ids if (memdev := numa.nodes[node_id].memdev)]
    nodes = tuple(
        GuestNode(
            node_id=node_id,
            cpus=tuple(sorted({*cpus_of[node_id], *numa.nodes[node_id].bad_cpus})),
            memory_bytes=numa.nodes[node_id].memory_bytes,
            host_nodes=numa.backends[memdev].host_nodes if (memdev := numa.nodes[node_id].memdev) else (),
        )
        for node_id in ids
    )
    return nodes, distances, _backend_model(numa, used)


def _check_backend_use(numa: NumaState) -> None:
    """Each backend may back one node (machine_consume_memdev), and not -machine memory-backend too."""
    for backend in numa.backends.values():
        if len(backend.users) > 1:
            numa.context.add(
                Severity.ERROR,
                "memdev-reused",
                f"memory backend {backend.backend_id} can't be used multiple times.",
                f"nodes {', '.join(map(str, backend.users))} all name it",
            )
    if "memory-backend" in numa.board.props and any(node.memdev for node in numa.nodes.values()):
        numa.context.add(
            Severity.ERROR,
            "machine-memory-backend",
            "'-machine memory-backend' and '-numa memdev' properties are mutually exclusive",
        )


def _default_mapping(numa: NumaState, ids: list[int]) -> None:
    """No CPU mapped explicitly: the board's default (x86 pkg_id, virt socket_id % nodes)."""
    count = len(ids)
    for cpu in range(numa.maxcpus):
        node_id = numa.board.shape.position(cpu).socket % count
        # machine_set_cpu_numa_node, as for an explicit mapping (HMAT initiators included)
        if node_id in numa.nodes and not numa.assign(cpu, node_id, f"vCPU {cpu} (default mapping)"):
            break
    if numa.maxcpus:
        default = (
            "virt_get_default_cpu_node_id" if numa.board.machine is Machine.VIRT else "x86_get_default_cpu_node_id"
        )
        numa.context.add(
            Severity.INFO,
            "default-cpu-mapping",
            f"no vCPU is mapped to a node: QEMU puts socket S in node S % {count} ({default})",
            "map every vCPU with -numa cpu,node-id=N,socket-id=S,... so the layout says what the guest gets",
        )


def _distances(numa: NumaState, ids: list[int]) -> np.ndarray | None:
    """validate_numa_distance + complete_init_numa_distance, over nodes in id order."""
    index = {node_id: i for i, node_id in enumerate(ids)}
    placed = {(index[s], index[d]): v for (s, d), v in numa.given.items() if s in index and d in index}
    if not placed:
        return None
    n = len(ids)
    matrix = np.zeros((n, n), dtype=np.int64)
    known = np.zeros((n, n), dtype=bool)
    for (i, j), value in placed.items():
        matrix[i, j] = value
        known[i, j] = True
    off = ~np.eye(n, dtype=bool)
    missing = np.argwhere(np.triu(~known & ~known.T & off))
    if missing.size:
        i, j = (int(x) for x in missing[0])
        more = len(missing) - 1
        numa.context.add(
            Severity.ERROR,
            "distance-missing",
            f"The distance between node {ids[i]} and {ids[j]} is missing, at least one distance value between "
            "each nodes should be provided.",
            f"give -numa dist,src={ids[i]},dst={ids[j]},val=D" + (f" ({more} more pairs are missing)" if more else ""),
        )
    if np.any(known & known.T & (matrix != matrix.T)) and np.any(off & ~known):
        numa.context.add(
            Severity.ERROR,
            "distance-asymmetric-incomplete",
            "At least one asymmetrical pair of distances is given, please provide distances for both directions "
            "of all node pairs.",
        )
    one_way = ~known & known.T
    matrix[one_way] = matrix.T[one_way]  # QEMU: a missing A->B is copied from B->A
    matrix[~known & ~known.T & off] = REMOTE_DISTANCE  # refused above; the guest default stands in
    np.fill_diagonal(matrix, np.where(np.diag(known), np.diag(matrix), LOCAL_DISTANCE))
    return matrix


def _backend_model(numa: NumaState, used: list[Backend]) -> MemoryBackend:
    """One MemoryBackend for the layout, from the backends the nodes use."""
    if not used:
        return MemoryBackend()
    first = used[0]
    if first.qom_type == "memory-backend-memfd":
        numa.context.add(
            Severity.INFO,
            "backend-memfd",
            "memory-backend-memfd is read as memory-backend-ram (numaopt models ram and file backends)",
        )
    model = first.model()
    differing = [b for b in used[1:] if b.model() != model]
    if differing:
        other = differing[0]
        numa.context.add(
            Severity.WARNING,
            "backend-mixed",
            f"backends {first.backend_id} and {other.backend_id} differ in type, mem-path, share or prealloc: "
            f"numaopt models one kind for all nodes and reads that of {first.backend_id}",
        )
    return model
