"""Which requirements conflict: CP-SAT with one assumption literal per requirement."""

from __future__ import annotations

from ortools.sat.python import cp_model

from numaopt.solver.instance import Instance
from numaopt.solver.placement import PlacementModel


def conflicting_requirements(instance: Instance, time_limit_s: float = 5.0) -> list[str]:
    """A small set of requirements that cannot hold together (empty if none is found)."""
    model = PlacementModel(instance, structured=False, explain=True)
    model.model.add_assumptions([literal for literal, _ in model.assumptions.values()])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1  # CP-SAT reports assumption cores with one worker
    if solver.solve(model.model) != cp_model.INFEASIBLE:
        return []
    core = solver.sufficient_assumptions_for_infeasibility()
    return sorted(model.assumptions[index][1] for index in core if index in model.assumptions)
