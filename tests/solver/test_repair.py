"""A plan the search hands back without a CP-SAT pass keeping it (the greedy first plan, when
the time limit is too short for CP-SAT) is checked against the model and repaired; it is
never returned breaking a rule the greedy does not know."""

from __future__ import annotations

import time

from numaopt.hosts.shapes import GIB, block_host
from numaopt.model import Group, PlacementRequest, Rule, SearchSettings, SolveStatus, Traffic, Workload
from numaopt.solver.instance import Placement, build_instance
from numaopt.solver.place import place
from numaopt.solver.repair import keeps_every_requirement, repaired

GROUPS = tuple(Group(name, 4, GIB) for name in ("ingest", "parse", "enrich", "store"))
FLOWS = (Traffic("ingest", "parse", 50), Traffic("parse", "enrich", 40), Traffic("enrich", "store", 30))


def _pipeline(time_limit_s: float, rules: tuple[tuple[Rule, tuple[str, ...]], ...]) -> PlacementRequest:
    # 4 nodes of 8 CPUs: two groups fit one node, so a capacity-only greedy pairs them up.
    workload = Workload(GROUPS, traffic=FLOWS, rules=rules)
    return PlacementRequest(block_host(2, 2, cpus_per_node=8), workload, settings=SearchSettings(time_limit_s=time_limit_s, seed=1, workers=1))


APART = ((Rule.APART, tuple(g.name for g in GROUPS)),)


def test_the_greedy_plan_that_pairs_groups_breaks_apart_and_is_repaired() -> None:
    instance = build_instance(_pipeline(10, APART))
    paired = Placement((0, 0, 1, 1), (), ())  # what a capacity-only first plan does
    assert not keeps_every_requirement(instance, paired, deadline=time.perf_counter() + 5)
    fixed = repaired(instance, paired, deadline=time.perf_counter() + 5)
    assert len(set(fixed.items)) == 4
    assert keeps_every_requirement(instance, fixed, deadline=time.perf_counter() + 5)


def test_a_time_limit_too_short_for_cp_sat_still_gives_a_plan_that_keeps_apart() -> None:
    # Before: a 1 ms limit gave the greedy plan (two groups a node) marked FEASIBLE.
    for deadline in (None, 0.0):  # the limit from now; a deadline already past
        plan = place(_pipeline(0.001, APART), deadline=deadline)
        hosts = [node.host_nodes for node in plan.layout.nodes]
        assert len(hosts) == 4 and len({h for nodes in hosts for h in nodes}) == 4


def test_with_time_for_cp_sat_the_plan_is_its_proven_optimum() -> None:
    # The repair path is for a limit too short for CP-SAT only: here CP-SAT keeps and proves the plan.
    plan = place(_pipeline(10, APART))
    assert plan.status is SolveStatus.OPTIMAL
    assert len({h for node in plan.layout.nodes for h in node.host_nodes}) == 4
