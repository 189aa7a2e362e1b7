"""A fast placement without proof: split groups filled nearest-first, then items greedy by
traffic, then moves and swaps while they help.

Used as the solver's first hint (so a plan exists at once) and as a peer in benchmarks.
It respects capacities and allowed nodes; the CP-SAT model enforces everything else.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from numaopt.solver.instance import Instance, Placement, split_memory


@dataclass(frozen=True, slots=True)
class _Costs:
    """What moving one item changes: its flows to other items, and a fixed cost per node
    from the split groups it talks to (placed before the items)."""

    neighbours: list[list[tuple[int, int, bool]]]  # per item: (other item, weight, True if item -> other)
    external: npt.NDArray[np.int64]  # item x node position, scaled
    cores_left: npt.NDArray[np.int64]  # per node: free cores once the split groups are placed
    memory_left: npt.NDArray[np.int64]

    def total(self, instance: Instance, where: list[int]) -> int:
        return instance.item_cost(where) + sum(int(self.external[i, n]) for i, n in enumerate(where))


def _costs(instance: Instance, split_cores: list[list[int]]) -> _Costs:
    cores_left = instance.node_cores.astype(np.int64).copy()
    memory_left = instance.node_memory.astype(np.int64).copy()
    for split, counts in zip(instance.splits, split_cores, strict=True):
        cores_left -= np.asarray(counts, dtype=np.int64)
        memory_left -= np.asarray(split_memory(split.memory_units, split.cores, counts), dtype=np.int64)
    neighbours: list[list[tuple[int, int, bool]]] = [[] for _ in instance.items]
    for (i, j), w in instance.pair_weights.items():
        neighbours[i].append((j, w, True))
        neighbours[j].append((i, w, False))
    d = instance.distances
    external = np.zeros((len(instance.items), instance.num_nodes), dtype=np.int64)
    for flow in instance.split_flows:
        for item_side, split_side, outgoing in ((flow.a, flow.b, True), (flow.b, flow.a, False)):
            if item_side.split or not split_side.split:
                continue
            cores = np.asarray(split_cores[split_side.index], dtype=np.int64)
            coefficient = flow.weight * instance.scale // instance.splits[split_side.index].cores
            external[item_side.index] += coefficient * (d @ cores if outgoing else d.T @ cores)
    return _Costs(neighbours, external, cores_left, memory_left)


def _item_cost(instance: Instance, costs: _Costs, item: int, node: int, where: list[int]) -> int:
    d = instance.distances
    total = int(costs.external[item, node])
    for other, w, outgoing in costs.neighbours[item]:
        m = where[other]
        if m < 0:
            continue
        total += w * int(d[node, m] if outgoing else d[m, node])
    return total


def _pair_cost(instance: Instance, costs: _Costs, i: int, j: int, where: list[int]) -> int:
    """The part of the cost that involves item i or item j (their own pair counted once)."""
    d = instance.distances
    shared = instance.pair_weights.get((i, j), 0) * int(d[where[i], where[j]])
    shared += instance.pair_weights.get((j, i), 0) * int(d[where[j], where[i]])
    return _item_cost(instance, costs, i, where[i], where) + _item_cost(instance, costs, j, where[j], where) - shared


def fill_splits(instance: Instance, free_cores: npt.NDArray[np.int64], free_memory: npt.NDArray[np.int64]) -> list[list[int]] | None:
    """Each split group, largest first, filled nearest-first from the start node that keeps
    it cheapest to talk to itself; capacities are taken from ``free_*`` (updated)."""
    d = instance.distances
    result: list[list[int]] = [[] for _ in instance.splits]
    for s in sorted(range(len(instance.splits)), key=lambda s: -instance.splits[s].cores):
        split = instance.splits[s]
        best: tuple[int, list[int], list[int]] | None = None
        for start in split.allowed:
            counts = _fill_from(instance, split.cores, split.memory_units, split.allowed, start, free_cores, free_memory)
            if counts is None:
                continue
            memory = split_memory(split.memory_units, split.cores, counts)
            if any(memory[n] > free_memory[n] for n in range(instance.num_nodes)):
                continue
            vector = np.asarray(counts, dtype=np.int64)
            cost = int(vector @ d @ vector)
            if best is None or cost < best[0]:
                best = (cost, counts, memory)
        if best is None:
            return None
        _, counts, memory = best
        free_cores -= np.asarray(counts, dtype=np.int64)
        free_memory -= np.asarray(memory, dtype=np.int64)
        result[s] = counts
    return result


def _fill_from(
    instance: Instance,
    cores: int,
    memory_units: int,
    allowed: tuple[int, ...],
    start: int,
    free_cores: npt.NDArray[np.int64],
    free_memory: npt.NDArray[np.int64],
) -> list[int] | None:
    d = instance.distances
    order = sorted(allowed, key=lambda m: (int(d[start, m] + d[m, start]), -int(free_cores[m]), m))
    counts = [0] * instance.num_nodes
    remaining = cores
    for m in order:
        room = int(free_cores[m])
        if memory_units:  # the memory that follows c cores is at most ceil(memory * c / cores)
            room = min(room, (int(free_memory[m]) * cores) // memory_units)
        take = min(room, remaining)
        counts[m] = take
        remaining -= take
        if not remaining:
            return counts
    return None


def initial_placement(instance: Instance, kicks: int = 0, seed: int = 0, deadline: float | None = None) -> Placement | None:
    """A complete plan fast: split groups first, then the items around them. The kicks of
    the local search stop at ``deadline`` (``time.perf_counter()``), if given."""
    free_cores = instance.node_cores.astype(np.int64).copy()
    free_memory = instance.node_memory.astype(np.int64).copy()
    split_cores = fill_splits(instance, free_cores, free_memory)
    if split_cores is None:
        return None
    costs = _costs(instance, split_cores)
    where = greedy_placement(instance, kicks=kicks, seed=seed, costs=costs, free=(free_cores, free_memory), deadline=deadline)
    if where is None:
        return None
    if not instance.splits:
        where = polish_assignment(instance, where, seed=seed)
    memory = [
        split_memory(split.memory_units, split.cores, counts) for split, counts in zip(instance.splits, split_cores, strict=True)
    ]
    return Placement(tuple(where), tuple(tuple(c) for c in split_cores), tuple(tuple(m) for m in memory))


def greedy_placement(
    instance: Instance,
    max_rounds: int = 20,
    kicks: int = 0,
    seed: int = 0,
    costs: _Costs | None = None,
    free: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]] | None = None,
    deadline: float | None = None,
) -> list[int] | None:
    """Item -> node position, or None if greedy cannot fit every item.

    With ``kicks``, iterated local search: swap a few random items, improve again, keep the
    result if it is cheaper. The count (not a clock) bounds it, so a seed gives one answer.
    """
    n_items = len(instance.items)
    if costs is None:  # items alone (the benchmarks' greedy peer): split groups take nothing
        costs = _costs(instance, [[0] * instance.num_nodes for _ in instance.splits])
    free_cores, free_memory = free if free is not None else (costs.cores_left.copy(), costs.memory_left.copy())
    where = [-1] * n_items
    traffic: defaultdict[int, int] = defaultdict(int)
    for (i, j), w in instance.pair_weights.items():
        traffic[i] += w
        traffic[j] += w
    order = sorted(range(n_items), key=lambda i: (-traffic[i], -instance.items[i].cores, i))
    for item in order:
        spec = instance.items[item]
        best: tuple[int, int, int] | None = None
        for node in spec.allowed:
            if free_cores[node] < spec.cores or free_memory[node] < spec.memory_units:
                continue
            key = (_item_cost(instance, costs, item, node, where), int(free_cores[node] - spec.cores), node)
            if best is None or key < best:
                best = key
        if best is None:
            return None
        node = best[2]
        where[item] = node
        free_cores[node] -= spec.cores
        free_memory[node] -= spec.memory_units
    _improve(instance, costs, where, free_cores, free_memory, max_rounds, deadline)
    if kicks and len(instance.items) > 2:
        where = _iterated(instance, costs, where, kicks, seed, max_rounds, deadline)
    return where


def _iterated(
    instance: Instance, costs: _Costs, where: list[int], kicks: int, seed: int, max_rounds: int, deadline: float | None
) -> list[int]:
    rng = np.random.default_rng(seed)
    best, best_cost = list(where), costs.total(instance, where)
    items = instance.items
    for _ in range(kicks):
        if deadline is not None and time.perf_counter() >= deadline:
            break  # the time limit is a promise; the count alone keeps a seed's answer otherwise
        trial = list(best)
        for _ in range(3):  # a kick: three random swaps that keep capacities
            i, j = (int(v) for v in rng.choice(len(items), size=2, replace=False))
            alike = items[i].cores == items[j].cores and items[i].memory_units == items[j].memory_units
            if alike and trial[j] in items[i].allowed and trial[i] in items[j].allowed:
                trial[i], trial[j] = trial[j], trial[i]
        free_cores = costs.cores_left.copy()
        free_memory = costs.memory_left.copy()
        for item, node in zip(items, trial, strict=True):
            free_cores[node] -= item.cores
            free_memory[node] -= item.memory_units
        _improve(instance, costs, trial, free_cores, free_memory, max_rounds, deadline)
        cost = costs.total(instance, trial)
        if cost < best_cost:
            best, best_cost = trial, cost
    return best


def _improve(
    instance: Instance,
    costs: _Costs,
    where: list[int],
    free_cores: np.ndarray,
    free_memory: np.ndarray,
    max_rounds: int,
    deadline: float | None = None,
) -> None:
    items = instance.items
    for _ in range(max_rounds):
        if deadline is not None and time.perf_counter() >= deadline:
            return  # a plan that fits is already there; the time limit comes first
        improved = False
        for i, spec in enumerate(items):  # moves
            here = where[i]
            current = _item_cost(instance, costs, i, here, where)
            for node in spec.allowed:
                if node == here or free_cores[node] < spec.cores or free_memory[node] < spec.memory_units:
                    continue
                if _item_cost(instance, costs, i, node, where) < current:
                    free_cores[here] += spec.cores
                    free_memory[here] += spec.memory_units
                    free_cores[node] -= spec.cores
                    free_memory[node] -= spec.memory_units
                    where[i] = node
                    improved = True
                    break
        for i in range(len(items)):  # swaps
            for j in range(i + 1, len(items)):
                a, b = where[i], where[j]
                if a == b or b not in items[i].allowed or a not in items[j].allowed:
                    continue
                dc = items[i].cores - items[j].cores
                dm = items[i].memory_units - items[j].memory_units
                if free_cores[b] < dc or free_cores[a] < -dc or free_memory[b] < dm or free_memory[a] < -dm:
                    continue
                before = _pair_cost(instance, costs, i, j, where)
                where[i], where[j] = b, a
                if _pair_cost(instance, costs, i, j, where) < before:
                    free_cores[b] -= dc
                    free_cores[a] += dc
                    free_memory[b] -= dm
                    free_memory[a] += dm
                    improved = True
                else:
                    where[i], where[j] = a, b
        if not improved:
            return


def polish_assignment(instance: Instance, where: list[int], restarts: int = 4, seed: int = 0) -> list[int]:
    """For a pure one-group-per-node assignment, scipy's 2-opt for the quadratic assignment
    problem from ``where`` and from a few seeded random starts: the best of them, never
    worse than ``where``. Different starts reach different local optima on large hosts."""
    items = instance.items
    n = instance.num_nodes
    if len(items) != n or n < 9 or sorted(where) != list(range(n)) or instance.request.workload.rules:
        return where
    if instance.request.workload.max_distances or any(len(item.allowed) != n for item in items):
        return where
    if len({(item.cores, item.memory_units) for item in items}) != 1:
        return where
    flow = np.zeros((n, n))
    for (i, j), w in instance.pair_weights.items():
        flow[i, j] += w
    from scipy.optimize import quadratic_assignment

    rng = np.random.default_rng(seed)
    best, best_cost = where, instance.item_cost(where)
    for start in [np.asarray(where), *(rng.permutation(n) for _ in range(restarts))]:
        guess = np.column_stack([np.arange(n), start])
        options = {"partial_guess": guess, "rng": np.random.default_rng(seed)}  # never numpy's global RNG
        result = quadratic_assignment(flow, instance.distances.astype(float), method="2opt", options=options)
        polished = [int(node) for node in result.col_ind]
        cost = instance.item_cost(polished)
        if cost < best_cost:
            best, best_cost = polished, cost
    return best


def _uses(instance: Instance, placement: Placement) -> list[set[int]]:
    """The host nodes each unit uses, in the model's unit order (items, then split groups)."""
    result: list[set[int]] = []
    for unit in instance.units():
        if unit.split:
            result.append({n for n, c in enumerate(placement.split_cores[unit.index]) if c})
        else:
            result.append({placement.items[unit.index]})
    return result


def _first_use(uses: list[set[int]], block: tuple[int, ...]) -> int:
    return min((k for k, nodes in enumerate(uses) if nodes & set(block)), default=len(uses))


def satisfies_symmetry_breaking(instance: Instance, placement: Placement) -> bool:
    """True when the placement obeys the model's value precedence: a unit uses block b
    without block b - 1 only if an earlier unit used b - 1."""
    label = instance.labels
    uses = _uses(instance, placement)
    for sibling in instance.sibling_classes:
        blocks = sorted(sibling.blocks, key=lambda b: min(label[n] for n in b))
        for previous, block in itertools.pairwise(blocks):
            seen = False
            for nodes in uses:
                here, before = bool(nodes & set(block)), bool(nodes & set(previous))
                if here and not before and not seen:
                    return False
                seen = seen or before
    return True


def _relabel(placement: Placement, mapping: dict[int, int], num_nodes: int) -> Placement:
    def move(values: tuple[int, ...]) -> tuple[int, ...]:
        moved = [0] * num_nodes
        for n, value in enumerate(values):
            moved[mapping.get(n, n)] = value
        return tuple(moved)

    return Placement(
        tuple(mapping.get(n, n) for n in placement.items),
        tuple(move(c) for c in placement.split_cores),
        tuple(move(m) for m in placement.split_memory),
    )


def canonical(instance: Instance, placement: Placement) -> Placement | None:
    """The same plan relabelled to obey the model's symmetry breaking (a hint CP-SAT keeps).

    Blocks of each class are renamed in order of first use (largest blocks first), node by
    node in label order. None if the relabelling does not settle or breaks a capacity.
    """
    label = instance.labels
    current = placement
    classes = sorted(instance.sibling_classes, key=lambda c: -len(c.blocks[0]))
    for _ in range(8):
        for sibling in classes:
            uses = _uses(instance, current)
            blocks = sorted(sibling.blocks, key=lambda b: min(label[n] for n in b))
            first = [_first_use(uses, block) for block in blocks]
            order = sorted(range(len(blocks)), key=lambda r: (first[r], r))
            mapping: dict[int, int] = {}
            for target, source in enumerate(order):
                src = sorted(blocks[source], key=lambda n: label[n])
                dst = sorted(blocks[target], key=lambda n: label[n])
                mapping.update(zip(src, dst, strict=True))
            current = _relabel(current, mapping, instance.num_nodes)
        if satisfies_symmetry_breaking(instance, current):
            break
    else:
        return None
    cores = np.zeros(instance.num_nodes, dtype=np.int64)
    memory = np.zeros(instance.num_nodes, dtype=np.int64)
    for item, n in zip(instance.items, current.items, strict=True):
        if n not in item.allowed:
            return None
        cores[n] += item.cores
        memory[n] += item.memory_units
    for split, counts, mem in zip(instance.splits, current.split_cores, current.split_memory, strict=True):
        if any(c and n not in split.allowed for n, c in enumerate(counts)):
            return None
        cores += np.asarray(counts, dtype=np.int64)
        memory += np.asarray(mem, dtype=np.int64)
    if np.any(cores > instance.node_cores) or np.any(memory > instance.node_memory):
        return None
    return current
