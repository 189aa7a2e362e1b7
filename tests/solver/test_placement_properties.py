"""Placement against brute force on small random hosts and workloads.

For every generated case: a plan exists exactly when brute force (every node per unsplit
group, every composition of whole cores per split group, every way of rounding the memory
that follows them) finds one that the independent verifier accepts; an OPTIMAL plan costs
exactly the brute-force optimum; every plan passes the verifier and the layout checks.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from numaopt.audit import locality_cost, verify_plan
from numaopt.layout import check_layout
from numaopt.model import (
    Group,
    HostCore,
    HostNode,
    HostTopology,
    PlacementRequest,
    Plan,
    Rule,
    SearchSettings,
    SolveStatus,
    Traffic,
    Workload,
)
from numaopt.qemu.args import read_qemu_args
from numaopt.render.qemu import one_line
from numaopt.rules import RuleSet, Severity
from numaopt.solver.place import NoPlanError, place
from tests.support.brute import brute_force_optimum

MIB = 1 << 20
SETTINGS = SearchSettings(time_limit_s=20, seed=0, workers=1)


@st.composite
def hosts(draw: st.DrawFn) -> HostTopology:
    n = draw(st.integers(2, 4))
    smt = draw(st.integers(0, 3)) == 0  # cores of two sibling threads
    nodes, cores = [], []
    first = 0
    for k in range(n):
        cpus = draw(st.integers(0 if k else 1, 6)) * (2 if smt else 1)
        memory = draw(st.integers(2, 16)) * 256 * MIB
        free = draw(st.integers(0, memory // (256 * MIB))) * 256 * MIB
        nodes.append(HostNode(k, tuple(range(first, first + cpus)), memory, free))
        if smt:
            cores += [HostCore(0, (c, c + 1)) for c in range(first, first + cpus, 2)]
        first += cpus
    values = st.sampled_from([11, 12, 16, 20, 21, 32])
    d = np.full((n, n), 10, dtype=np.int64)
    symmetric = draw(st.booleans()) or n == 2
    for i in range(n):
        for j in range(i + 1, n):
            d[i, j] = draw(values)
            d[j, i] = d[i, j] if symmetric else draw(values)
    return HostTopology(tuple(nodes), d, tuple(cores))


@st.composite
def requests(draw: st.DrawFn) -> PlacementRequest:
    host = draw(hosts())
    threads = 2 if host.cores and draw(st.booleans()) else 1
    num_groups = draw(st.integers(1, 3))
    groups = []
    splits = 0
    for g in range(num_groups):
        split = draw(st.booleans()) and splits < (2 if host.num_nodes <= 3 else 1)
        splits += split
        vcpus = draw(st.integers(1, 5 if split else 4)) * threads
        exact = draw(st.booleans())  # memory that divides evenly among vCPUs, or not
        memory = vcpus * draw(st.integers(1, 3)) * 128 * MIB if exact else draw(st.integers(1, 12)) * 100 * MIB
        allowed: tuple[int, ...] = ()
        if draw(st.integers(0, 3)) == 0:
            allowed = tuple(sorted(draw(st.sets(st.integers(0, host.num_nodes - 1), min_size=1))))
        groups.append(Group(f"g{g}", vcpus, memory, allowed, split))
    names = [g.name for g in groups]
    flows = tuple(
        Traffic(a, b, draw(st.integers(1, 20)))
        for a in names
        for b in names
        if draw(st.integers(0, 2)) == 0
    )
    rules: tuple[tuple[Rule, tuple[str, ...]], ...] = ()
    if num_groups >= 2 and draw(st.integers(0, 3)) == 0:
        rules = ((draw(st.sampled_from([Rule.APART, Rule.TOGETHER])), (names[0], names[1])),)
    limits: tuple[tuple[str, str, int], ...] = ()
    if draw(st.integers(0, 3)) == 0:
        limits = ((draw(st.sampled_from(names)), draw(st.sampled_from(names)), draw(st.sampled_from([10, 12, 16, 20]))),)
    guest_nodes = draw(st.sampled_from([None, None, None, 1, 2]))
    workload = Workload(
        tuple(groups), threads_per_core=threads, traffic=flows, rules=rules, max_distances=limits, guest_nodes=guest_nodes
    )
    return PlacementRequest(host, workload, settings=SETTINGS)


def _check_errors(plan: Plan) -> list[str]:
    """What `numaopt check --rules qemu,<the plan's rule set>` says of the emitted command line."""
    config = read_qemu_args(one_line(plan), source="plan")
    found = list(config.findings)
    for rules in dict.fromkeys((RuleSet.QEMU, plan.layout.rules)):
        found += check_layout(config.layout, rules)
    return [str(f) for f in found if f.severity is Severity.ERROR]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests())
def test_plan_exists_iff_brute_force_finds_one_and_optimal_means_optimal(request: PlacementRequest) -> None:
    best = brute_force_optimum(request, check_rules=True)
    try:
        plan = place(request)
    except NoPlanError as error:
        assert best is None, f"no plan ({error}) but brute force found one costing {best}"
        event("no plan")
        return
    event(f"{plan.status.value}, {plan.layout.num_nodes} guest node(s)")
    assert verify_plan(request, plan) == []
    assert _check_errors(plan) == []
    assert plan.objective is not None
    assert locality_cost(request, plan) == pytest.approx(plan.objective)
    assert best is not None, "a plan that brute force does not know"
    assert plan.objective >= best - 1e-9
    if plan.status is SolveStatus.OPTIMAL:
        assert plan.objective == pytest.approx(best), "OPTIMAL but brute force does better"
