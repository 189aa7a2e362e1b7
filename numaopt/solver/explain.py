"""Which requirements conflict: CP-SAT with one assumption literal per requirement.

CP-SAT's assumption core is small but not always minimal; within the time it is given,
each requirement of the core is then dropped in turn and kept out when the rest still
cannot hold, so what the user reads is a conflict with nothing to spare (when time allows).
"""

from __future__ import annotations

import re
import time

from ortools.sat.python import cp_model

from numaopt.solver import sigint
from numaopt.solver.instance import Instance
from numaopt.solver.placement import PlacementModel

_CAPACITY = re.compile(r"^(cpu capacity|memory) of host node (\d+)$")


def conflicting_requirements(instance: Instance, time_limit_s: float = 5.0) -> list[str]:
    """A small set of requirements that cannot hold together (empty if none is found in time)."""
    if time_limit_s <= 0:
        return []
    deadline = time.perf_counter() + time_limit_s
    model = PlacementModel(instance, structured=False, explain=True)
    literals = {index: literal for index, (literal, _) in model.assumptions.items()}
    core = _core(model, list(literals), deadline)
    if core is None:
        return []
    for index in list(core):  # deletion filter: keep only what the conflict needs
        trial = [k for k in core if k != index]
        if time.perf_counter() >= deadline:
            break
        if _core(model, trial, deadline) is not None:
            core = trial
    return _merge_capacities(sorted(model.assumptions[index][1] for index in core))


def _core(model: PlacementModel, indices: list[int], deadline: float) -> list[int] | None:
    """The assumption core when ``indices`` cannot all hold; None if they can (or time ran out)."""
    model.model.clear_assumptions()
    model.model.add_assumptions([model.assumptions[index][0] for index in indices])
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, deadline - time.perf_counter())
    solver.parameters.num_workers = 1  # CP-SAT reports assumption cores with one worker
    if sigint.solve(solver, model.model) != cp_model.INFEASIBLE:
        return None
    found = solver.sufficient_assumptions_for_infeasibility()
    return [index for index in found if index in model.assumptions]


def _merge_capacities(requirements: list[str]) -> list[str]:
    """"cpu capacity of host node 0", "... node 1" -> "the free CPUs of host nodes 0, 1" (numeric order)."""
    nodes: dict[str, list[int]] = {"cpu capacity": [], "memory": []}
    rest = []
    for requirement in requirements:
        if match := _CAPACITY.match(requirement):
            nodes[match.group(1)].append(int(match.group(2)))
        else:
            rest.append(requirement)
    merged = []
    for kind, label in (("cpu capacity", "the free CPUs"), ("memory", "the free memory")):
        if nodes[kind]:
            listed = ", ".join(str(n) for n in sorted(nodes[kind]))
            merged.append(f"{label} of host node{'s' if len(nodes[kind]) > 1 else ''} {listed}")
    return rest + merged
