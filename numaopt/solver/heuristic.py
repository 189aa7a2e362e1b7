"""A fast placement without proof: greedy by traffic, then moves and swaps while they help.

Used as the solver's first hint (so a plan exists at once) and as a peer in benchmarks.
It respects capacities and allowed nodes; the CP-SAT model enforces everything else.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np

from numaopt.solver.instance import Instance


def _neighbours(instance: Instance) -> list[list[tuple[int, int, bool]]]:
    """Per item: (other item, weight, True if the pair is item -> other)."""
    result: list[list[tuple[int, int, bool]]] = [[] for _ in instance.items]
    for (i, j), w in instance.pair_weights.items():
        result[i].append((j, w, True))
        result[j].append((i, w, False))
    return result


def _item_cost(instance: Instance, neighbours: list[list[tuple[int, int, bool]]], item: int, node: int, where: list[int]) -> int:
    d = instance.distances
    total = 0
    for other, w, outgoing in neighbours[item]:
        m = where[other]
        if m < 0:
            continue
        total += w * int(d[node, m] if outgoing else d[m, node])
    return total


def _pair_cost(instance: Instance, neighbours: list[list[tuple[int, int, bool]]], i: int, j: int, where: list[int]) -> int:
    """The part of the cost that involves item i or item j (their own pair counted once)."""
    d = instance.distances
    shared = instance.pair_weights.get((i, j), 0) * int(d[where[i], where[j]])
    shared += instance.pair_weights.get((j, i), 0) * int(d[where[j], where[i]])
    return (
        _item_cost(instance, neighbours, i, where[i], where)
        + _item_cost(instance, neighbours, j, where[j], where)
        - shared
    )


def greedy_placement(instance: Instance, max_rounds: int = 20, kicks: int = 0, seed: int = 0) -> list[int] | None:
    """Item -> node position, or None if greedy cannot fit every item.

    With ``kicks``, iterated local search: swap a few random items, improve again, keep the
    result if it is cheaper. The count (not a clock) bounds it, so a seed gives one answer.
    """
    n_items = len(instance.items)
    neighbours = _neighbours(instance)
    free_cores = instance.node_cores.astype(np.int64).copy()
    free_memory = instance.node_memory.astype(np.int64).copy()
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
            key = (_item_cost(instance, neighbours, item, node, where), int(free_cores[node] - spec.cores), node)
            if best is None or key < best:
                best = key
        if best is None:
            return None
        node = best[2]
        where[item] = node
        free_cores[node] -= spec.cores
        free_memory[node] -= spec.memory_units
    _improve(instance, neighbours, where, free_cores, free_memory, max_rounds)
    if kicks and len(instance.items) > 2:
        where = _iterated(instance, neighbours, where, kicks, seed, max_rounds)
    return where


def _iterated(instance: Instance, neighbours: list[list[tuple[int, int, bool]]], where: list[int], kicks: int, seed: int, max_rounds: int) -> list[int]:
    rng = np.random.default_rng(seed)
    best, best_cost = list(where), instance.cost(where)
    items = instance.items
    for _ in range(kicks):
        trial = list(best)
        for _ in range(3):  # a kick: three random swaps that keep capacities
            i, j = (int(v) for v in rng.choice(len(items), size=2, replace=False))
            alike = items[i].cores == items[j].cores and items[i].memory_units == items[j].memory_units
            if alike and trial[j] in items[i].allowed and trial[i] in items[j].allowed:
                trial[i], trial[j] = trial[j], trial[i]
        free_cores = instance.node_cores.astype(np.int64).copy()
        free_memory = instance.node_memory.astype(np.int64).copy()
        for item, node in zip(items, trial, strict=True):
            free_cores[node] -= item.cores
            free_memory[node] -= item.memory_units
        _improve(instance, neighbours, trial, free_cores, free_memory, max_rounds)
        cost = instance.cost(trial)
        if cost < best_cost:
            best, best_cost = trial, cost
    return best


def _improve(
    instance: Instance,
    neighbours: list[list[tuple[int, int, bool]]],
    where: list[int],
    free_cores: np.ndarray,
    free_memory: np.ndarray,
    max_rounds: int,
) -> None:
    items = instance.items
    for _ in range(max_rounds):
        improved = False
        for i, spec in enumerate(items):  # moves
            here = where[i]
            current = _item_cost(instance, neighbours, i, here, where)
            for node in spec.allowed:
                if node == here or free_cores[node] < spec.cores or free_memory[node] < spec.memory_units:
                    continue
                if _item_cost(instance, neighbours, i, node, where) < current:
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
                before = _pair_cost(instance, neighbours, i, j, where)
                where[i], where[j] = b, a
                if _pair_cost(instance, neighbours, i, j, where) < before:
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
    best, best_cost = where, instance.cost(where)
    for start in [np.asarray(where), *(rng.permutation(n) for _ in range(restarts))]:
        guess = np.column_stack([np.arange(n), start])
        options = {"partial_guess": guess, "rng": np.random.default_rng(seed)}  # never numpy's global RNG
        result = quadratic_assignment(flow, instance.distances.astype(float), method="2opt", options=options)
        polished = [int(node) for node in result.col_ind]
        cost = instance.cost(polished)
        if cost < best_cost:
            best, best_cost = polished, cost
    return best


def satisfies_symmetry_breaking(instance: Instance, assignment: list[int]) -> bool:
    """True when the assignment obeys the model's first-use and piece-order constraints."""
    label = instance.labels
    for sibling in instance.sibling_classes:
        blocks = sorted(sibling.blocks, key=lambda b: min(label[n] for n in b))
        first = [min((i for i, n in enumerate(assignment) if n in block), default=len(assignment)) for block in blocks]
        if any(a > b or (a == b and a < len(assignment)) for a, b in itertools.pairwise(first)):
            return False
    for members in instance.group_items:
        for a, b in itertools.pairwise(members):
            same = instance.items[a].cores == instance.items[b].cores and instance.items[a].memory_units == instance.items[b].memory_units
            if same and label[assignment[a]] > label[assignment[b]]:
                return False
    return True


def canonical(instance: Instance, assignment: list[int]) -> list[int] | None:
    """The same plan relabelled to obey the model's symmetry breaking (a hint CP-SAT keeps).

    Blocks of each class are renamed in order of first use (largest blocks first), node by
    node in label order; equal pieces of a group are sorted by node label. None if the
    relabelling does not settle or breaks a capacity.
    """
    label = instance.labels
    where = list(assignment)
    classes = sorted(instance.sibling_classes, key=lambda c: -len(c.blocks[0]))
    for _ in range(8):
        for sibling in classes:
            blocks = sorted(sibling.blocks, key=lambda b: min(label[n] for n in b))
            first = [min((i for i, n in enumerate(where) if n in block), default=len(where)) for block in blocks]
            order = sorted(range(len(blocks)), key=lambda r: (first[r], r))
            mapping: dict[int, int] = {}
            for target, source in enumerate(order):
                src = sorted(blocks[source], key=lambda n: label[n])
                dst = sorted(blocks[target], key=lambda n: label[n])
                mapping.update(zip(src, dst, strict=True))
            where = [mapping.get(n, n) for n in where]
        for members in instance.group_items:
            runs: dict[tuple[int, int], list[int]] = {}
            for i in members:
                runs.setdefault((instance.items[i].cores, instance.items[i].memory_units), []).append(i)
            for items in runs.values():
                nodes = sorted((where[i] for i in items), key=lambda n: label[n])
                for i, n in zip(items, nodes, strict=True):
                    where[i] = n
        if satisfies_symmetry_breaking(instance, where):
            break
    else:
        return None
    cores = np.zeros(instance.num_nodes, dtype=np.int64)
    memory = np.zeros(instance.num_nodes, dtype=np.int64)
    for item, n in zip(instance.items, where, strict=True):
        if n not in item.allowed:
            return None
        cores[n] += item.cores
        memory[n] += item.memory_units
    if np.any(cores > instance.node_cores) or np.any(memory > instance.node_memory):
        return None
    return where
