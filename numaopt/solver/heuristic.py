"""A fast placement without proof: greedy by traffic, then moves and swaps while they help.

Used as the solver's first hint (so a plan exists at once) and as a peer in benchmarks.
It respects capacities and allowed nodes; the CP-SAT model enforces everything else.
"""

from __future__ import annotations

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


def greedy_placement(instance: Instance, max_rounds: int = 20) -> list[int] | None:
    """Item -> node position, or None if greedy cannot fit every item."""
    n_items = len(instance.items)
    neighbours = _neighbours(instance)
    free_cores = instance.node_cores.astype(np.int64).copy()
    free_memory = instance.node_memory.astype(np.int64).copy()
    where = [-1] * n_items
    traffic = defaultdict(int)
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
    return where


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
