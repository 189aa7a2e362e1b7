"""Which requirements conflict: CP-SAT with one assumption literal per requirement."""

from __future__ import annotations

from ortools.sat.python import cp_model

from numaopt.solver.instance import Instance
from numaopt.solver.placement import PlacementModel


def conflicting_requirements(instance: Instance, time_limit_s: float = 5.0) -> list[str]:
    if time_limit_s <= 0:
        return []
    """A small set of requirements that cannot hold together (empty if none is found)."""
    model = PlacementModel(instance, structured=False, explain=True)
    model.model.add_assumptions([literal for literal, _ in model.assumptions.values()])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1  # CP-SAT reports assumption cores with one worker
    if solver.solve(model.model) != cp_model.INFEASIBLE:
        return []
    core = solver.sufficient_assumptions_for_infeasibility()
    return _merge_capacities(sorted(model.assumptions[index][1] for index in core if index in model.assumptions))


def _merge_capacities(requirements: list[str]) -> list[str]:
    """"cpu capacity of host node 0", "... node 1" -> "the free CPUs of host nodes 0, 1"."""
    merged: list[str] = []
    for prefix, label in (("cpu capacity of host node ", "the free CPUs"), ("memory of host node ", "the free memory")):
        nodes = [r.removeprefix(prefix) for r in requirements if r.startswith(prefix)]
        if nodes:
            merged.append(f"{label} of host node{'s' if len(nodes) > 1 else ''} {', '.join(nodes)}")
    rest = [r for r in requirements if not r.startswith(("cpu capacity of host node ", "memory of host node "))]
    return rest + merged
