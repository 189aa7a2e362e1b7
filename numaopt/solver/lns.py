"""Large-neighbourhood search on CP-SAT for instances made of items alone.

From an incumbent (a node per item), repeatedly keep most items where they are and let
CP-SAT re-place a few of them optimally given the rest: the neighbourhood is a small
model (the freed items on the nodes where they still fit, their flows to the fixed items
as linear costs, their flows among themselves priced by row), so one step takes
milliseconds where the full model would need seconds. Three kinds of neighbourhood take
turns: random items; the items on the nodes nearest to a random node (a socket, on
hierarchical hosts); and the ends of an expensive flow with their heaviest partners.
The neighbourhood grows while CP-SAT proves its steps optimal and shrinks when a step
runs out of time.

The steps prove nothing about the whole problem: a plan found here is only a better
hint. The caller keeps the bound of the full model (and Gilmore-Lawler's), and calls a
plan ``OPTIMAL`` only when that bound meets it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from numaopt.solver.assignment import is_pure_assignment
from numaopt.solver.instance import Instance

MIN_FREE = 4  # the smallest neighbourhood: fewer items rarely move anything a swap would not
MAX_FREE = 12  # the largest: beyond it a step costs as much as a full search
FIRST_FREE = 6
LINEARIZATION = 2  # CP-SAT's full LP: the neighbourhoods are small, a tight bound proves them fast
STEP_LIMIT_S = 0.2  # one step's CP-SAT time (it stops earlier when it proves the step optimal)
PROVEN_NODES = 16  # hierarchical hosts up to this many nodes: the full model alone (see ``applies``)
MAX_PAIR_CELLS = 256  # a flow between two freed items gets a boolean per node pair up to this many


def applies(instance: Instance) -> bool:
    """Where the search uses it: pure assignments (``assignment.is_pure_assignment``) of
    more than MIN_FREE items that talk, but not small hierarchical hosts (at most
    PROVEN_NODES nodes). ``improve`` itself handles any instance of items under capacities
    alone, but on capacitated hosts whose nodes hold several groups the time it takes from
    the full model cost more than it found (measured: benchmarks/RESULTS.md), so it is not
    used there. On small block hosts (16-node 4x4) the full model proves the optimum, and
    cutting its first pass short for LNS restarts that proof: under load, proofs a lone
    pass finished in 5-9 s were not finished in 10 s (measured), and LNS never improved
    such an instance."""
    if instance.hierarchical and instance.num_nodes <= PROVEN_NODES:
        return False
    # handles(): a pure assignment may still carry requirements a neighbourhood model does
    # not restate (VMs kept on different sockets, partitions' node counts).
    return is_pure_assignment(instance) and handles(instance) and len(instance.items) > MIN_FREE and bool(instance.pair_weights)


def handles(instance: Instance) -> bool:
    """Items only and nothing but capacities binding them: no split groups, rules, distance
    limits, guest node counts or VMs kept apart (a neighbourhood model prices and fits
    items; it does not restate the other requirements)."""
    request, workload = instance.request, instance.request.workload
    if instance.splits or workload.rules or workload.max_distances or request.sockets_apart:
        return False
    if workload.guest_nodes is not None or workload.max_guest_nodes is not None:
        return False
    return all(p.guest_nodes is None and p.max_guest_nodes is None for p in request.partitions)


def _partners(instance: Instance) -> list[dict[int, int]]:
    """Per item: partner -> total weight of the flows between them (both directions)."""
    partners: list[dict[int, int]] = [{} for _ in instance.items]
    for (i, j), w in instance.pair_weights.items():
        partners[i][j] = partners[i].get(j, 0) + w
        partners[j][i] = partners[j].get(i, 0) + w
    return partners


class _Neighbourhoods:
    """The three kinds of neighbourhood, drawn from one seeded generator."""

    def __init__(self, instance: Instance, seed: int):
        self.inst = instance
        self.rng = np.random.default_rng(seed)
        self.partners = _partners(instance)
        self.pairs = list(instance.pair_weights.items())
        self.kinds: list[Callable[[list[int], int], list[int]]] = [self.random_items, self.near_a_node, self.expensive_flow]

    def draw(self, turn: int, where: list[int], size: int) -> list[int]:
        return self.kinds[turn % len(self.kinds)](where, size)

    def random_items(self, where: list[int], size: int) -> list[int]:
        return sorted(int(i) for i in self.rng.choice(len(where), size=size, replace=False))

    def near_a_node(self, where: list[int], size: int) -> list[int]:
        d = self.inst.distances
        centre = int(self.rng.integers(self.inst.num_nodes))
        ties = self.rng.random(len(where))  # nodes at one distance in random order
        order = sorted(range(len(where)), key=lambda i: (int(d[centre, where[i]]), ties[i]))
        return sorted(order[:size])

    def expensive_flow(self, where: list[int], size: int) -> list[int]:
        d = self.inst.distances
        costs = np.array([w * int(d[where[i], where[j]]) for (i, j), w in self.pairs], dtype=float)
        (i, j), _ = self.pairs[int(self.rng.choice(len(self.pairs), p=costs / costs.sum()))] if costs.sum() > 0 else self.pairs[0]
        chosen = {i, j}
        frontier = sorted({**self.partners[i], **self.partners[j]}.items(), key=lambda kv: -kv[1])
        for partner, _w in frontier:
            if len(chosen) >= size:
                break
            chosen.add(partner)
        while len(chosen) < size:  # too few partners: fill up at random
            chosen.add(int(self.rng.integers(len(where))))
        return sorted(chosen)


def _both_free(
    m: cp_model.CpModel, x: dict[tuple[int, int], cp_model.IntVar], d: npt.NDArray[np.int64], i: int, j: int, w: int
) -> list[cp_model.LinearExprT]:
    """The cost of a flow between two freed items, exactly and with a tight LP: a boolean
    y[n, k] per pair of their nodes, whose rows sum to x[i, n] and columns to x[j, k]
    (with one node each, only the product of the two is 1)."""
    first = [n for (item, n) in x if item == i]
    second = [k for (item, k) in x if item == j]
    y = {(n, k): m.new_bool_var("") for n in first for k in second}
    for n in first:
        m.add(sum(y[n, k] for k in second) == x[i, n])
    for k in second:
        m.add(sum(y[n, k] for n in first) == x[j, k])
    return [w * int(d[n, k]) * var for (n, k), var in y.items()]


def _cells(x: dict[tuple[int, int], cp_model.IntVar], i: int, j: int) -> int:
    return sum(1 for item, _ in x if item == i) * sum(1 for item, _ in x if item == j)


def _by_row(
    m: cp_model.CpModel, x: dict[tuple[int, int], cp_model.IntVar], d: npt.NDArray[np.int64], i: int, j: int, w: int
) -> list[cp_model.LinearExprT]:
    """The cost of a flow between two freed items with many places each: z >= d(n, .) . x[j, .]
    when i is on n (one constraint per node of i, not per node pair)."""
    z = m.new_int_var(int(d.min()), int(d.max()), "")
    second = [k for (item, k) in x if item == j]
    for (item, n), var in x.items():
        if item == i:
            m.add(z >= sum(int(d[n, k]) * x[j, k] for k in second)).only_enforce_if(var)
    return [w * z]


def reoptimise(instance: Instance, where: list[int], free: list[int], limit_s: float, seed: int) -> tuple[list[int], bool]:
    """The best places for the ``free`` items with every other item fixed, and whether
    CP-SAT proved them best (for this neighbourhood only)."""
    d = instance.distances
    nodes = range(instance.num_nodes)
    freed = set(free)
    cores_left = instance.node_cores.copy()
    memory_left = instance.node_memory.copy()
    for i, item in enumerate(instance.items):
        if i not in freed:
            cores_left[where[i]] -= item.cores
            memory_left[where[i]] -= item.memory_units
    m = cp_model.CpModel()
    x: dict[tuple[int, int], cp_model.IntVar] = {}
    for i in free:
        item = instance.items[i]
        for n in item.allowed:
            if item.cores <= cores_left[n] and item.memory_units <= memory_left[n]:
                x[i, n] = m.new_bool_var("")
                m.add_hint(x[i, n], where[i] == n)
        m.add_exactly_one(x[i, n] for n in nodes if (i, n) in x)
    for n in nodes:
        here = [(instance.items[i], x[i, n]) for i in free if (i, n) in x]
        if len(here) > 1:
            m.add(sum(item.cores * var for item, var in here) <= int(cores_left[n]))
            m.add(sum(item.memory_units * var for item, var in here) <= int(memory_left[n]))
    terms: list[cp_model.LinearExprT] = []
    for (i, j), w in instance.pair_weights.items():
        if i in freed and j in freed:
            terms += _both_free(m, x, d, i, j, w) if _cells(x, i, j) <= MAX_PAIR_CELLS else _by_row(m, x, d, i, j, w)
        elif i in freed:
            terms += [w * int(d[n, where[j]]) * x[i, n] for n in nodes if (i, n) in x]
        elif j in freed:
            terms += [w * int(d[where[i], n]) * x[j, n] for n in nodes if (j, n) in x]
    m.minimize(cp_model.LinearExpr.sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.001, limit_s)
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed
    solver.parameters.linearization_level = LINEARIZATION
    status = solver.solve(m)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return where, False
    moved = list(where)
    for (i, n), var in x.items():
        if solver.value(var):
            moved[i] = n
    return moved, status == cp_model.OPTIMAL


def improve(instance: Instance, where: list[int], deadline: float, seed: int = 0) -> list[int]:
    """The best item -> node map found from ``where`` by ``deadline`` (a
    ``time.perf_counter()`` moment); ``where`` itself when no step improves it. The
    instance must be one ``handles``."""
    best, best_cost = list(where), instance.item_cost(where)
    draws = _Neighbourhoods(instance, seed)
    size = min(FIRST_FREE, len(where))
    turn = 0
    while (left := deadline - time.perf_counter()) > 0.01:
        free = draws.draw(turn, best, size)
        moved, proven = reoptimise(instance, best, free, min(STEP_LIMIT_S, left), seed + turn)
        cost = instance.item_cost(moved)
        if cost < best_cost:
            best, best_cost = moved, cost
        # Grow while steps are proven (the neighbourhood is easy), shrink when one is not.
        size = min(size + 1, MAX_FREE, len(where)) if proven else max(MIN_FREE, size - 2)
        turn += 1
    return best
