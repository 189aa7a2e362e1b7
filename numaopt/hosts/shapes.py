"""Host and workload shapes for placement experiments: block-structured and grid SLITs,
random metric tables, clustered and random traffic. The tests and benchmarks build their
instances from these (benchmarks import numaopt only, never the tests)."""

from __future__ import annotations

import numpy as np

from numaopt.model import Group, HostCore, HostNode, HostTopology, Traffic

GIB = 1 << 30


def block_host(
    sockets: int,
    nodes_per_socket: int,
    cpus_per_node: int = 8,
    near: int = 12,
    far: int = 32,
    boards: int = 1,
    board_far: int = 40,
    smt: bool = False,
    memory_gib: int = 64,
) -> HostTopology:
    """A host whose SLIT is blocks: 10 local, ``near`` within a socket, ``far`` across."""
    n = sockets * nodes_per_socket
    d = np.full((n, n), board_far if boards > 1 else far)
    per_board = sockets // boards
    for b in range(boards):
        lo, hi = b * per_board * nodes_per_socket, (b + 1) * per_board * nodes_per_socket
        d[lo:hi, lo:hi] = far
    for s in range(sockets):
        d[s * nodes_per_socket : (s + 1) * nodes_per_socket, s * nodes_per_socket : (s + 1) * nodes_per_socket] = near
    np.fill_diagonal(d, 10)
    total = n * cpus_per_node
    nodes, cores = [], []
    for k in range(n):
        if smt:
            first = k * cpus_per_node // 2
            physical = range(first, first + cpus_per_node // 2)
            cpus = tuple(physical) + tuple(c + total // 2 for c in physical)
            cores += [HostCore(k // nodes_per_socket, (c, c + total // 2)) for c in physical]
        else:
            cpus = tuple(range(k * cpus_per_node, (k + 1) * cpus_per_node))
            cores += [HostCore(k // nodes_per_socket, (c,)) for c in cpus]
        nodes.append(HostNode(k, cpus, memory_gib * GIB, (memory_gib - 4) * GIB))
    return HostTopology(tuple(nodes), d, tuple(cores))


def clustered_traffic(num_groups: int, cluster: int, rng: np.random.Generator, cross: float = 0.15) -> tuple[Traffic, ...]:
    """Heavy traffic inside clusters of groups, light and sparse across."""
    flows = []
    for a in range(num_groups):
        for b in range(a + 1, num_groups):
            same = a // cluster == b // cluster
            if same or rng.random() < cross:
                weight = int(rng.integers(50, 100)) if same else int(rng.integers(1, 10))
                flows.append(Traffic(f"g{a}", f"g{b}", weight))
    order = rng.permutation(num_groups)  # hide the clusters from the group order
    return tuple(Traffic(f"g{order[int(t.a[1:])]}", f"g{order[int(t.b[1:])]}", t.weight) for t in flows)


def equal_groups(count: int, vcpus: int, memory_gib: int = 4) -> tuple[Group, ...]:
    return tuple(Group(f"g{k}", vcpus, memory_gib * GIB) for k in range(count))


def matrix_host(d: np.ndarray, cpus_per_node: int = 8, memory_gib: int = 64) -> HostTopology:
    """A host with the SLIT ``d``, ``cpus_per_node`` CPUs (no SMT) and equal memory per node."""
    nodes = tuple(
        HostNode(k, tuple(range(k * cpus_per_node, (k + 1) * cpus_per_node)), memory_gib * GIB, (memory_gib - 4) * GIB)
        for k in range(len(d))
    )
    return HostTopology(nodes, d)


def random_slit(n: int, rng: np.random.Generator, low: int = 11, high: int = 99) -> np.ndarray:
    """A dense, irregular symmetric SLIT: every remote distance uniform in low..high."""
    upper = np.triu(rng.integers(low, high + 1, size=(n, n)), 1)
    d = upper + upper.T
    np.fill_diagonal(d, 10)
    return d


def grid_slit(rows: int, cols: int, step: int = 10) -> np.ndarray:
    """Nodes on a rows x cols grid, 10 + step x Manhattan distance apart (the QAP
    literature's grid instances, shifted so remote distances are valid SLIT values)."""
    r, c = np.divmod(np.arange(rows * cols), cols)
    hops = np.abs(r[:, None] - r[None, :]) + np.abs(c[:, None] - c[None, :])
    return np.asarray(10 + step * hops, dtype=np.int64)


def random_traffic(num_groups: int, rng: np.random.Generator, density: float = 0.5, low: int = 1, high: int = 99) -> tuple[Traffic, ...]:
    """Each pair of groups talks with probability ``density``, weight uniform in low..high."""
    return tuple(
        Traffic(f"g{a}", f"g{b}", int(rng.integers(low, high + 1)))
        for a in range(num_groups)
        for b in range(a + 1, num_groups)
        if rng.random() < density
    )
