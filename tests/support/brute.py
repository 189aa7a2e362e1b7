"""Brute force over every placement of a small request: the independent optimum the
placement tests hold the search to."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from fractions import Fraction

import numpy as np

from numaopt.audit import verify_plan
from numaopt.model import PlacementRequest, SolveStatus
from numaopt.solver.instance import Placement, build_instance


def _compositions(total: int, caps: list[int]) -> Iterator[tuple[int, ...]]:
    """Every way to write ``total`` as a sum of len(caps) parts, part k at most caps[k]."""
    if not caps:
        if total == 0:
            yield ()
        return
    for first in range(min(total, caps[0]) + 1):
        for rest in _compositions(total - first, caps[1:]):
            yield (first, *rest)


def _memory_roundings(memory: int, cores: int, counts: tuple[int, ...]) -> Iterator[tuple[int, ...]]:
    """Memory that follows the cores, each node's share rounded down or up, adding up."""
    shares = [memory * c / cores for c in counts]
    floors = [memory * c // cores for c in counts]
    fractional = [k for k, s in enumerate(shares) if s != floors[k]]
    for ups in itertools.product((0, 1), repeat=len(fractional)):
        result = list(floors)
        for k, up in zip(fractional, ups, strict=True):
            result[k] += up
        if sum(result) == memory:
            yield tuple(result)


def brute_force_placements(request: PlacementRequest) -> Iterator[tuple[Placement, Fraction]]:
    """Every placement that fits the capacities (unsplit groups on one node, split groups in
    every composition of whole cores, memory rounded every allowed way), with its cost."""
    inst = build_instance(request)
    n = inst.num_nodes
    item_choices = [item.allowed for item in inst.items]
    split_choices = []
    for split in inst.splits:
        caps = [int(inst.node_cores[k]) if k in split.allowed else 0 for k in range(n)]
        split_choices.append(
            [(c, mem) for c in _compositions(split.cores, caps) for mem in _memory_roundings(split.memory_units, split.cores, c)]
        )
    for nodes in itertools.product(*item_choices):
        for shares in itertools.product(*split_choices):
            cores = np.zeros(n, dtype=int)
            memory = np.zeros(n, dtype=int)
            for item, node in zip(inst.items, nodes, strict=True):
                cores[node] += item.cores
                memory[node] += item.memory_units
            for c, mem in shares:
                cores += np.asarray(c)
                memory += np.asarray(mem)
            if np.any(cores > inst.node_cores) or np.any(memory > inst.node_memory):
                continue
            placement = Placement(tuple(nodes), tuple(c for c, _ in shares), tuple(mem for _, mem in shares))
            yield placement, inst.true_cost(placement)


def brute_force_optimum(
    request: PlacementRequest, check_rules: bool = False, accept: Callable[[Placement], bool] | None = None
) -> float | None:
    """The least cost over every placement that fits; with ``check_rules`` the verifier
    decides what else is allowed (together, apart, distances, guest node count), and
    ``accept``, when given, must hold too. None when nothing fits."""
    from numaopt.solver.plan import build_plan

    inst = build_instance(request)
    best: Fraction | None = None
    for placement, cost in sorted(brute_force_placements(request), key=lambda pc: pc[1]):
        if best is not None and cost >= best:
            break
        if accept is not None and not accept(placement):
            continue
        if check_rules:
            plan = build_plan(inst, placement, status=SolveStatus.FEASIBLE, objective=float(cost), best_bound=None, wall_time_s=0)
            if verify_plan(request, plan):
                continue
        best = cost
    return None if best is None else float(best)
