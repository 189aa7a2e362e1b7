"""A placement the search did not prove to keep every requirement: checked, and repaired.

When no CP-SAT pass finds a plan before the deadline, the search's answer is its greedy
first plan (``heuristic.initial_placement``), built from capacities alone: it does not know
``apart`` / ``together`` rules, maximum distances, the guest node count or several VMs'
``sockets_apart``. Such a plan is never returned as it is. The model itself, with every
decision fixed, is the one statement of what a plan must keep; CP-SAT repairs a plan that
breaks it from that start, after the deadline only within the time limit's promise.
"""

from __future__ import annotations

import time

from ortools.sat.python import cp_model

from numaopt.clock import overrun_allowed_s
from numaopt.solver import sigint
from numaopt.solver.instance import Instance, Placement
from numaopt.solver.placement import PlacementModel

CHECK_S = 0.1  # the check of a fixed placement (propagation only, milliseconds) when the deadline has passed


class RepairFailed(Exception):
    """No plan keeping every requirement: ``infeasible`` when CP-SAT proved none exists."""

    def __init__(self, infeasible: bool):
        super().__init__("infeasible" if infeasible else "no plan in time")
        self.infeasible = infeasible


def _fixed_model(instance: Instance, placement: Placement) -> PlacementModel:
    """The placement model with every decision fixed to ``placement``: only propagation is left."""
    model = PlacementModel(instance, structured=False)
    for (i, n), var in model.x.items():
        model.model.add(var == int(placement.items[i] == n))
    for (s, n), var in model.k.items():
        model.model.add(var == placement.split_cores[s][n])
        model.model.add(model.mem[s, n] == placement.split_memory[s][n])
    return model


def keeps_every_requirement(instance: Instance, placement: Placement, deadline: float) -> bool:
    """Whether the placement keeps every requirement of the model (capacities, rules, the
    guest node count, several VMs' sockets apart). No answer in time counts as no: the
    placement is then repaired."""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), CHECK_S)
    return sigint.solve(solver, _fixed_model(instance, placement).model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)


def repaired(instance: Instance, hint: Placement, deadline: float) -> Placement:
    """The first plan CP-SAT finds near ``hint`` that keeps every requirement. A time limit
    too short for the search to find one would otherwise give a plan that breaks a rule.
    The repair may end after the deadline only within the time limit's promise; when it
    finds nothing by then, the answer is "no plan within the time limit", never a plan that
    breaks a rule and never a late one."""
    model = PlacementModel(instance, structured=False)
    for (i, n), var in model.x.items():  # a partial hint: CP-SAT completes and repairs it
        model.model.add_hint(var, hint.items[i] == n)
    for (s, n), var in model.k.items():
        model.model.add_hint(var, hint.split_cores[s][n])
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.stop_after_first_solution = True
    # Past the deadline only by half of what the time-limit promise allows.
    grace = overrun_allowed_s(instance.request.settings.time_limit_s) / 2
    solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), 0.0) + grace
    status = sigint.solve(solver, model.model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise RepairFailed(infeasible=status == cp_model.INFEASIBLE)
    return model.solved(solver)
