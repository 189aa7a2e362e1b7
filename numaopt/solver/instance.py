"""A placement request reduced to what the search needs (plain Python and numpy, no CP-SAT).

* **Items**: a group that may not split is one item; a split group is cut into at most
  ``MAX_PIECES`` near-equal pieces of whole cores (memory follows the cores), so that
  counts-weighted traffic becomes ordinary pair traffic between pieces.
* **Capacities** per host node, in guest cores (a guest core with t threads needs t free
  sibling threads of one host core) and in memory units.
* **Pair weights**: traffic between items, scaled to integers; the cost of a placement
  is ``constant + sum w[i, j] * d(node(i), node(j))``, divided by ``scale``.
* **Structure** used to prove optimality fast: the distinct distance levels, the balls
  ``{m : d(n, m) <= t}`` per level, and classes of interchangeable host nodes and blocks
  (sockets, boards) for symmetry breaking.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import numpy.typing as npt

from numaopt.errors import InputError
from numaopt.model import Group, HostTopology, PlacementRequest, Rule

MAX_PIECES = 8  # pieces per split group: finer is closer to continuous, coarser is faster
MIB = 1 << 20


@dataclass(frozen=True, slots=True)
class Item:
    group: int  # index into workload.groups
    piece: int  # 0 for an unsplit group
    cores: int  # guest cores (vCPUs / threads_per_core)
    memory_units: int
    weight_basis: int  # what traffic is shared out by: cores, or memory for a memory-only group
    allowed: tuple[int, ...]  # host node positions


@dataclass(frozen=True, slots=True)
class SiblingClass:
    """Interchangeable blocks of host nodes (same parent, same shape and capacities), in label order."""

    blocks: tuple[tuple[int, ...], ...]  # each block: host node positions


@dataclass(eq=False)
class Instance:
    request: PlacementRequest
    items: list[Item]
    group_items: list[list[int]]
    node_cores: npt.NDArray[np.int64]  # free guest cores per host node position
    node_memory: npt.NDArray[np.int64]  # free memory units per host node position
    memory_unit_bytes: int
    distances: npt.NDArray[np.int64]
    symmetric: bool
    pair_weights: dict[tuple[int, int], int]  # (i, j) -> weight; i < j when symmetric
    constant: int  # cost that no placement changes (traffic of an item with itself)
    scale: int  # true objective = scaled / scale
    levels: list[int]  # distinct distances, ascending
    sibling_classes: list[SiblingClass]
    labels: list[int]  # node position -> rank in an order where sibling blocks are contiguous
    hierarchical: bool  # symmetric, and "within distance t" is an equivalence for every t
    free_cpus: dict[int, list[tuple[int, ...]]]  # host node position -> free cores' free threads

    @property
    def num_nodes(self) -> int:
        return int(self.distances.shape[0])

    def cost(self, assignment: list[int]) -> int:
        """Scaled objective of an item -> node-position assignment."""
        d = self.distances
        return self.constant + sum(w * int(d[assignment[i], assignment[j]]) for (i, j), w in self.pair_weights.items())

    def balls(self, threshold: int) -> list[frozenset[int]]:
        """Per node n: the nodes m with d(n, m) <= threshold."""
        return [frozenset(np.flatnonzero(self.distances[n] <= threshold).tolist()) for n in range(self.num_nodes)]


def _free_cores(host: HostTopology, reserved: set[int], threads: int) -> dict[int, list[tuple[int, ...]]]:
    """Per node position, the free threads of each core that can hold a guest core."""
    siblings = host.siblings()
    result: dict[int, list[tuple[int, ...]]] = {}
    for position, node in enumerate(host.nodes):
        seen: set[tuple[int, ...]] = set()
        usable: list[tuple[int, ...]] = []
        for cpu in node.cpus:
            core = siblings[cpu]
            if core in seen:
                continue
            seen.add(core)
            free = tuple(c for c in core if c not in reserved)
            usable.extend(free[k : k + threads] for k in range(0, len(free) - threads + 1, threads))
        if threads == 1:
            # Single-thread guest cores: first one thread of every host core, then the
            # siblings, so small guests do not share physical cores needlessly.
            rank = {cpu: siblings[cpu].index(cpu) for cpu in node.cpus}
            usable.sort(key=lambda unit: (rank[unit[0]], siblings[unit[0]]))
        result[position] = usable
    return result


def _memory_capacity(request: PlacementRequest, unit: int) -> npt.NDArray[np.int64]:
    page = request.workload.page_size_bytes
    caps = []
    for node in request.host.nodes:
        if page:
            pages = next((h.free for h in node.hugepages if h.page_size_bytes == page), 0)
            caps.append(pages * page // unit)
        else:
            free = node.free_bytes if node.free_bytes is not None else node.memory_bytes
            caps.append(free // unit)
    return np.array(caps, dtype=np.int64)


def _pieces(cores: int) -> list[int]:
    count = min(cores, MAX_PIECES)
    base, extra = divmod(cores, count)
    return [base + (1 if k < extra else 0) for k in range(count)]


def _split_evenly(total: int, sizes: list[int]) -> list[int]:
    """``total`` in proportion to ``sizes``, exactly (largest remainders)."""
    whole = sum(sizes)
    if whole == 0:  # a memory-only group: one piece holds it all
        return [total] + [0] * (len(sizes) - 1)
    shares = [total * s // whole for s in sizes]
    order = sorted(range(len(sizes)), key=lambda k: -(total * sizes[k] % whole))
    for k in order[: total - sum(shares)]:
        shares[k] += 1
    return shares


def build_instance(request: PlacementRequest) -> Instance:
    host, workload = request.host, request.workload
    threads = workload.threads_per_core
    if threads > 1 and not host.cores:
        raise InputError(
            f"workload.threads_per_core = {threads} needs the host's SMT siblings: give host cores "
            "(host.smt, or import lscpu / sysfs / hwloc)",
            where="workload.threads_per_core",
        )
    unit = workload.page_size_bytes or MIB
    position_of = {node.node_id: p for p, node in enumerate(host.nodes)}
    items: list[Item] = []
    group_items: list[list[int]] = []
    for g_index, group in enumerate(workload.groups):
        allowed = tuple(position_of[n] for n in group.allowed_nodes) if group.allowed_nodes else tuple(range(host.num_nodes))
        cores = group.vcpus // threads
        memory_units = -(-group.memory_bytes // unit)
        sizes = _pieces(cores) if group.split else [cores]
        memories = _split_evenly(memory_units, sizes)
        group_items.append([])
        for piece, (size, memory) in enumerate(zip(sizes, memories, strict=True)):
            group_items[-1].append(len(items))
            items.append(Item(g_index, piece, size, memory, size if cores else memory, allowed))

    weights, constant, scale = _pair_weights(workload.groups, workload.traffic, items, group_items, host)
    free = _free_cores(host, set(request.reserved_cpus), threads)
    instance = Instance(
        request=request,
        items=items,
        group_items=group_items,
        node_cores=np.array([len(free[p]) for p in range(host.num_nodes)], dtype=np.int64),
        node_memory=_memory_capacity(request, unit),
        memory_unit_bytes=unit,
        distances=np.asarray(host.distances, dtype=np.int64),
        symmetric=bool(np.array_equal(host.distances, host.distances.T)),
        pair_weights=weights,
        constant=constant,
        scale=scale,
        levels=sorted({int(v) for v in np.unique(host.distances)}),
        sibling_classes=[],
        labels=list(range(host.num_nodes)),
        hierarchical=False,
        free_cpus=free,
    )
    instance.hierarchical = instance.symmetric and _is_hierarchical(instance.distances)
    instance.sibling_classes, instance.labels = _sibling_classes(instance)
    return instance


def _pair_weights(
    groups: tuple[Group, ...],
    traffic: tuple,  # type: ignore[type-arg]
    items: list[Item],
    group_items: list[list[int]],
    host: HostTopology,
) -> tuple[dict[tuple[int, int], int], int, int]:
    """Counts-weighted item-pair weights as integers, the constant part, and the scale."""
    index = {g.name: k for k, g in enumerate(groups)}
    exact: dict[tuple[int, int], Fraction] = defaultdict(Fraction)
    constant = Fraction(0)
    local = int(host.distances[0, 0]) if host.num_nodes else 10
    for flow in traffic:
        a, b = index[flow.a], index[flow.b]
        total_a = sum(items[i].weight_basis for i in group_items[a])
        total_b = sum(items[j].weight_basis for j in group_items[b])
        for i in group_items[a]:
            for j in group_items[b]:
                share = Fraction(flow.weight * items[i].weight_basis * items[j].weight_basis, total_a * total_b)
                if i == j:
                    constant += share * local
                else:
                    exact[(i, j)] += share
    symmetric = bool(np.array_equal(host.distances, host.distances.T))
    if symmetric:
        merged: dict[tuple[int, int], Fraction] = defaultdict(Fraction)
        for (i, j), w in exact.items():
            merged[(min(i, j), max(i, j))] += w
        exact = merged
    denominators = [w.denominator for w in exact.values() if w] + [constant.denominator]
    scale = math.lcm(*denominators) if denominators else 1
    if scale > 10**6:
        scale = 10**6  # keep CP-SAT coefficients small; weights are then rounded (documented)
    weights = {pair: round(w * scale) for pair, w in exact.items() if round(w * scale) > 0}
    return weights, round(constant * scale), scale


def _sibling_classes(instance: Instance) -> tuple[list[SiblingClass], list[int]]:
    """Blocks of nodes that any relabelling may swap without changing anything.

    For a hierarchical SLIT (balls at every level partition the nodes), the blocks are
    the clusters at each level; sibling clusters with equal signatures (capacities,
    shape, which items may use them) form a class. Other SLITs get twin classes only:
    nodes with equal capacities whose distance rows and columns agree elsewhere.
    """
    n = instance.num_nodes
    d = instance.distances
    leaf_signature = []
    for p in range(n):
        allowed = tuple(p in item.allowed for item in instance.items)
        leaf_signature.append((int(instance.node_cores[p]), int(instance.node_memory[p]), allowed))
    if instance.hierarchical:
        return _hierarchy_classes(d, instance.levels, leaf_signature)
    classes: list[SiblingClass] = []
    assigned: set[int] = set()
    for p in range(n):
        if p in assigned:
            continue
        twins = [p]
        for q in range(p + 1, n):
            if q in assigned or leaf_signature[q] != leaf_signature[p]:
                continue
            others = [k for k in range(n) if k not in (p, q)]
            if d[p, q] == d[q, p] and np.array_equal(d[p, others], d[q, others]) and np.array_equal(d[others, p], d[others, q]):
                twins.append(q)
        assigned.update(twins)
        if len(twins) > 1:
            classes.append(SiblingClass(tuple((t,) for t in twins)))
    return classes, list(range(n))


def _is_hierarchical(d: npt.NDArray[np.int64]) -> bool:
    """True when, at every threshold, "within distance t" is an equivalence relation."""
    off = d[~np.eye(len(d), dtype=bool)]
    for t in np.unique(off):
        within = d <= t
        # transitive: within[i, j] and within[j, k] => within[i, k]
        composed = (within.astype(np.int64) @ within.astype(np.int64)) > 0
        if np.any(composed & ~within):
            return False
    return True


def _hierarchy_classes(
    d: npt.NDArray[np.int64], levels: list[int], leaf_signature: list[tuple]  # type: ignore[type-arg]
) -> tuple[list[SiblingClass], list[int]]:
    n = len(d)
    # Clusters per level, from single nodes up to the whole host.
    clusters_by_level: list[list[tuple[int, ...]]] = [[(p,) for p in range(n)]]
    for t in levels[1:]:
        seen: set[int] = set()
        clusters: list[tuple[int, ...]] = []
        for p in range(n):
            if p not in seen:
                block = tuple(int(q) for q in np.flatnonzero(d[p] <= t))
                seen.update(block)
                clusters.append(block)
        clusters_by_level.append(clusters)
    signature: dict[tuple[int, ...], object] = {(p,): leaf_signature[p] for p in range(n)}
    classes: list[SiblingClass] = []
    for level in range(1, len(clusters_by_level)):
        children = clusters_by_level[level - 1]
        for parent in clusters_by_level[level]:
            kids = [c for c in children if set(c) <= set(parent)]
            signature[parent] = (levels[level], tuple(sorted(repr(signature[c]) for c in kids)))
            by_signature: dict[str, list[tuple[int, ...]]] = defaultdict(list)
            for kid in kids:
                by_signature[repr(signature[kid])].append(kid)
            for group in by_signature.values():
                if len(group) > 1 and len(kids) > 1:
                    classes.append(SiblingClass(tuple(sorted(group))))
    # Labels: nodes sorted by their cluster at each level, top down, so every block is a
    # contiguous label range (what first-occurrence symmetry breaking relies on).
    cluster_index = [{p: k for k, c in enumerate(clusters) for p in c} for clusters in clusters_by_level]
    order = sorted(range(n), key=lambda p: tuple(ci[p] for ci in reversed(cluster_index)))
    labels = [0] * n
    for rank, p in enumerate(order):
        labels[p] = rank
    return classes, labels


def rule_groups(request: PlacementRequest, rule: Rule) -> list[tuple[int, ...]]:
    index = {g.name: k for k, g in enumerate(request.workload.groups)}
    return [tuple(index[name] for name in names) for kind, names in request.workload.rules if kind is rule]
