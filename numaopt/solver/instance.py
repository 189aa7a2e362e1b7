"""A placement request reduced to what the search needs (plain Python and numpy, no CP-SAT).

* **Items**: a group that may not split is one item, placed on one host node.
* **Split groups**: a group that may split gets a count of whole guest cores on every
  host node it may use (any number of nodes, unequal shares); its memory follows its
  cores, node by node, rounded to whole memory units.
* **Capacities** per host node, in guest cores (a guest core with t threads needs t free
  sibling threads of one host core) and in memory units (MiB, or huge pages).
* **Flows**: the workload's priced traffic (declared flows plus the implicit self-flow of
  every split group, see ``Workload.priced_traffic``). A flow a -> b of weight w costs
  ``w * sum_{n,m} share_a(n) * share_b(m) * d(n, m)``. Between two items this is
  ``w * d(node(a), node(b))`` (``pair_weights``); flows that touch a split group are kept
  as ``split_flows`` with their exact rational weight.
* **Scale**: every coefficient times ``scale`` is an integer, so CP-SAT optimises the
  exact objective times ``scale`` (``exact``); only when that would overflow is the scale
  capped and the objective rounded (then nothing is reported as proven).
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
from numaopt.model import HostTopology, PlacementRequest, Rule

MIB = 1 << 20
MAX_EXACT_OBJECTIVE = 1 << 52  # scaled objectives above this lose exactness in CP-SAT's float bound


@dataclass(frozen=True, slots=True)
class Item:
    """A group that may not split: one host node holds all of it."""

    group: int  # index into workload.groups
    cores: int  # guest cores (vCPUs / threads_per_core)
    memory_units: int
    allowed: tuple[int, ...]  # host node positions


@dataclass(frozen=True, slots=True)
class Split:
    """A group that may split: whole cores on any of its allowed nodes, memory following."""

    group: int
    cores: int
    memory_units: int
    allowed: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Unit:
    """One side of a flow: an item or a split group, by index."""

    split: bool
    index: int


@dataclass(frozen=True, slots=True)
class SplitFlow:
    """A flow touching a split group; ``weight`` is the declared weight (self-flows included)."""

    a: Unit
    b: Unit
    weight: int


@dataclass(frozen=True, slots=True)
class Placement:
    """A complete decision: a node per item, and per split group its cores and memory per node."""

    items: tuple[int, ...]  # item -> host node position
    split_cores: tuple[tuple[int, ...], ...]  # split -> cores per host node position
    split_memory: tuple[tuple[int, ...], ...]  # split -> memory units per host node position


@dataclass(frozen=True, slots=True)
class SiblingClass:
    """Interchangeable blocks of host nodes (same parent, same shape and capacities), in label order."""

    blocks: tuple[tuple[int, ...], ...]  # each block: host node positions


@dataclass(frozen=True, slots=True, eq=False)
class Instance:
    """Everything the search reads, built complete by ``build_instance`` (never changed after)."""

    request: PlacementRequest
    items: list[Item]
    splits: list[Split]
    unit_of_group: list[Unit]
    node_cores: npt.NDArray[np.int64]  # free guest cores per host node position
    node_memory: npt.NDArray[np.int64]  # free memory units per host node position
    memory_unit_bytes: int
    distances: npt.NDArray[np.int64]
    symmetric: bool
    pair_weights: dict[tuple[int, int], int]  # item pairs (i, j) -> scaled weight; i < j when symmetric
    split_flows: list[SplitFlow]
    constant: int  # scaled cost no placement changes (traffic of an item with itself)
    scale: int  # true objective = scaled / scale
    exact: bool  # False when the scale had to be capped (weights rounded)
    levels: list[int]  # distinct distances, ascending
    sibling_classes: list[SiblingClass]
    labels: list[int]  # node position -> rank in an order where sibling blocks are contiguous
    hierarchical: bool  # symmetric, and "within distance t" is an equivalence for every t
    free_cpus: dict[int, list[tuple[int, ...]]]  # host node position -> free cores' free threads

    @property
    def num_nodes(self) -> int:
        return int(self.distances.shape[0])

    def units(self) -> list[Unit]:
        """Items then split groups: the order symmetry breaking reads them in."""
        return [Unit(False, i) for i in range(len(self.items))] + [Unit(True, s) for s in range(len(self.splits))]

    def unit_cores(self, unit: Unit) -> int:
        return self.splits[unit.index].cores if unit.split else self.items[unit.index].cores

    def counts(self, placement: Placement, unit: Unit) -> npt.NDArray[np.int64]:
        """Cores (or memory units, for a memory-only item) of ``unit`` per host node."""
        if unit.split:
            return np.asarray(placement.split_cores[unit.index], dtype=np.int64)
        result = np.zeros(self.num_nodes, dtype=np.int64)
        item = self.items[unit.index]
        result[placement.items[unit.index]] = item.cores or item.memory_units
        return result

    def item_cost(self, assignment: list[int] | tuple[int, ...]) -> int:
        """Scaled cost of the item-to-item flows alone (what the item heuristics move)."""
        d = self.distances
        return self.constant + sum(w * int(d[assignment[i], assignment[j]]) for (i, j), w in self.pair_weights.items())

    def split_flow_cost(self, placement: Placement) -> Fraction:
        """True (unscaled) cost of the flows that touch a split group."""
        total = Fraction(0)
        for flow in self.split_flows:
            a, b = self.counts(placement, flow.a), self.counts(placement, flow.b)
            total += Fraction(flow.weight * int(a @ self.distances @ b), int(a.sum()) * int(b.sum()))
        return total

    def true_cost(self, placement: Placement) -> Fraction:
        """The documented objective of ``placement``, exactly."""
        return Fraction(self.item_cost(placement.items), self.scale) + self.split_flow_cost(placement)

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


def split_memory(memory_units: int, cores: int, counts: npt.NDArray[np.int64] | list[int]) -> list[int]:
    """Memory that follows cores: per node ``memory_units * count / cores``, rounded to whole
    units by largest remainders so the shares add up exactly (what the model's rounding
    constraints allow, and the one choice the heuristics and the plan use)."""
    counts = [int(c) for c in counts]
    shares = [memory_units * c // cores for c in counts]
    order = sorted(range(len(counts)), key=lambda k: (-(memory_units * counts[k] % cores), k))
    for k in order[: memory_units - sum(shares)]:
        shares[k] += 1
    return shares


def build_instance(request: PlacementRequest) -> Instance:
    """``request`` reduced to what the search needs, every field computed before the
    instance is made."""
    host, workload = request.host, request.workload
    threads = workload.threads_per_core
    if threads > 1 and not host.cores:
        raise InputError(
            f"{threads} threads per core need the host's SMT siblings: give host cores "
            "(host.smt, or import lscpu / sysfs / hwloc)",
            where="workload.threads_per_core",
        )
    unit = workload.page_size_bytes or MIB
    items, splits, unit_of_group = _items_and_splits(request, unit)
    distances = np.asarray(host.distances, dtype=np.int64)
    symmetric = bool(np.array_equal(distances, distances.T))
    weights, constant, split_flows = _flows(request, unit_of_group, symmetric)
    scale, exact = _scale(request, splits, split_flows, distances)
    free = _free_cores(host, set(request.reserved_cpus), threads)
    node_cores = np.array([len(free[p]) for p in range(host.num_nodes)], dtype=np.int64)
    node_memory = _memory_capacity(request, unit)
    levels = sorted({int(v) for v in np.unique(distances)})
    hierarchical = symmetric and _is_hierarchical(distances)
    signatures = _leaf_signatures(items, splits, node_cores, node_memory)
    sibling_classes, labels = _sibling_classes(distances, levels, hierarchical, signatures)
    return Instance(
        request=request,
        items=items,
        splits=splits,
        unit_of_group=unit_of_group,
        node_cores=node_cores,
        node_memory=node_memory,
        memory_unit_bytes=unit,
        distances=distances,
        symmetric=symmetric,
        pair_weights={pair: w * scale for pair, w in weights.items()},
        split_flows=split_flows,
        constant=constant * scale,
        scale=scale,
        exact=exact,
        levels=levels,
        sibling_classes=sibling_classes,
        labels=labels,
        hierarchical=hierarchical,
        free_cpus=free,
    )


def _items_and_splits(request: PlacementRequest, unit: int) -> tuple[list[Item], list[Split], list[Unit]]:
    """Groups that may not split as items, the others as split groups, in workload order,
    and which of the two each group became."""
    host, workload = request.host, request.workload
    position_of = {node.node_id: p for p, node in enumerate(host.nodes)}
    items: list[Item] = []
    splits: list[Split] = []
    unit_of_group: list[Unit] = []
    for g_index, group in enumerate(workload.groups):
        allowed = tuple(position_of[n] for n in group.allowed_nodes) if group.allowed_nodes else tuple(range(host.num_nodes))
        cores = group.vcpus // workload.threads_per_core
        memory_units = -(-group.memory_bytes // unit)
        if group.split:
            unit_of_group.append(Unit(True, len(splits)))
            splits.append(Split(g_index, cores, memory_units, allowed))
        else:
            unit_of_group.append(Unit(False, len(items)))
            items.append(Item(g_index, cores, memory_units, allowed))
    return items, splits, unit_of_group


def _flows(
    request: PlacementRequest, unit_of_group: list[Unit], symmetric: bool
) -> tuple[dict[tuple[int, int], int], int, list[SplitFlow]]:
    """Item-pair weights (unscaled), the constant of items' self-traffic, and split flows."""
    host = request.host
    index = {g.name: k for k, g in enumerate(request.workload.groups)}
    local = int(host.distances[0, 0]) if host.num_nodes else 10
    weights: dict[tuple[int, int], int] = defaultdict(int)
    constant = 0
    split_flows: list[SplitFlow] = []
    for flow in request.workload.priced_traffic:
        if flow.weight == 0:
            continue
        a, b = unit_of_group[index[flow.a]], unit_of_group[index[flow.b]]
        if a.split or b.split:
            split_flows.append(SplitFlow(a, b, flow.weight))
        elif a == b:
            constant += flow.weight * local
        else:
            i, j = (min(a.index, b.index), max(a.index, b.index)) if symmetric else (a.index, b.index)
            weights[i, j] += flow.weight
    return dict(weights), constant, split_flows


def _scale(
    request: PlacementRequest, splits: list[Split], flows: list[SplitFlow], distances: npt.NDArray[np.int64]
) -> tuple[int, bool]:
    """The least integer that makes every split-flow coefficient whole, and whether the
    scaled objective stays small enough for CP-SAT to be exact."""
    def basis(unit: Unit) -> int:
        return splits[unit.index].cores if unit.split else 1  # an item's share is 0 or 1

    scale = 1
    for flow in flows:
        scale = math.lcm(scale, Fraction(flow.weight, basis(flow.a) * basis(flow.b)).denominator)
    largest = int(distances.max()) if distances.size else 10
    total_weight = sum(t.weight for t in request.workload.priced_traffic) or 1
    if total_weight * largest * scale <= MAX_EXACT_OBJECTIVE:
        return scale, True
    return max(1, MAX_EXACT_OBJECTIVE // (total_weight * largest)), False


# What makes a host node interchangeable with another: its free cores, its free memory
# units, and which items and split groups may use it.
_Signature = tuple[int, int, tuple[bool, ...]]


def _leaf_signatures(
    items: list[Item], splits: list[Split], node_cores: npt.NDArray[np.int64], node_memory: npt.NDArray[np.int64]
) -> list[_Signature]:
    """Per host node position, its ``_Signature``."""
    signatures: list[_Signature] = []
    for p in range(len(node_cores)):
        allowed = tuple(p in item.allowed for item in items) + tuple(p in split.allowed for split in splits)
        signatures.append((int(node_cores[p]), int(node_memory[p]), allowed))
    return signatures


def _sibling_classes(
    d: npt.NDArray[np.int64], levels: list[int], hierarchical: bool, leaf_signature: list[_Signature]
) -> tuple[list[SiblingClass], list[int]]:
    """Blocks of nodes that any relabelling may swap without changing anything, and the
    node labels symmetry breaking reads them in.

    For a hierarchical SLIT (balls at every level partition the nodes), the blocks are
    the clusters at each level; sibling clusters with equal signatures (capacities,
    shape, which items may use them) form a class. Other SLITs get twin classes only:
    nodes with equal capacities whose distance rows and columns agree elsewhere.
    """
    n = len(d)
    if hierarchical:
        return _hierarchy_classes(d, levels, leaf_signature)
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
    d: npt.NDArray[np.int64], levels: list[int], leaf_signature: list[_Signature]
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
