"""Placement: optimal plans that the independent verifier accepts, and clear reasons when none exists."""

from __future__ import annotations

import numpy as np
import pytest

from numaopt.audit import locality_cost, verify_plan
from numaopt.hosts.shapes import GIB, block_host, clustered_traffic, equal_groups
from numaopt.model import Group, ObjectiveKind, PlacementRequest, Rule, SearchSettings, SolveStatus, Traffic, Workload
from numaopt.problem import load_problem
from numaopt.solver.instance import build_instance
from numaopt.solver.place import NoPlanError, place
from tests.support.brute import brute_force_optimum
from tests.support.problems import ROOT, SEARCHES

SETTINGS = SearchSettings(time_limit_s=30, seed=1, workers=2)


def solved(request: PlacementRequest):  # type: ignore[no-untyped-def]
    plan = place(request)
    assert verify_plan(request, plan) == []
    assert plan.objective is not None
    assert locality_cost(request, plan) == pytest.approx(plan.objective)
    return plan


@pytest.mark.parametrize("seed", range(4))
def test_small_instances_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    host = block_host(2, 2, cpus_per_node=8)
    sizes = rng.integers(2, 7, size=5)
    groups = tuple(Group(f"g{k}", int(sizes[k]), GIB) for k in range(5))
    flows = tuple(Traffic(f"g{a}", f"g{b}", int(rng.integers(1, 50))) for a in range(5) for b in range(a + 1, 5) if rng.random() < 0.7)
    request = PlacementRequest(host, Workload(groups, traffic=flows), settings=SETTINGS)
    plan = solved(request)
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.objective == pytest.approx(brute_force_optimum(request))


def test_asymmetric_host_prices_traffic_by_direction() -> None:
    host = block_host(1, 3, cpus_per_node=4)
    d = np.array([[10, 20, 40], [30, 10, 20], [20, 40, 10]])
    host = type(host)(host.nodes, d, host.cores)
    groups = tuple(Group(n, 4, GIB) for n in ("a", "b", "c"))
    flows = (Traffic("a", "b", 5), Traffic("b", "c", 3), Traffic("c", "a", 1))
    request = PlacementRequest(host, Workload(groups, traffic=flows), settings=SETTINGS)
    plan = solved(request)
    assert plan.objective == pytest.approx(brute_force_optimum(request))


def test_clustered_16_node_host_is_proven_optimal() -> None:
    rng = np.random.default_rng(3)
    host = block_host(4, 4)
    request = PlacementRequest(host, Workload(equal_groups(16, 8), traffic=clustered_traffic(16, 4, rng)), settings=SETTINGS)
    plan = solved(request)
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.best_bound == pytest.approx(plan.objective)
    # Each cluster of four talking groups fills one socket.
    assert plan.layout.num_nodes == 16


def test_smt_reserved_cpus_and_pinning() -> None:
    host = block_host(2, 2, cpus_per_node=8, smt=True)
    groups = (Group("db", 8, 8 * GIB), Group("cache", 4, 4 * GIB), Group("web", 4, 2 * GIB, split=True))
    flows = (Traffic("db", "cache", 100), Traffic("cache", "web", 10), Traffic("web", "web", 5))
    request = PlacementRequest(host, Workload(groups, threads_per_core=2, traffic=flows), reserved_cpus=(0, 16), settings=SETTINGS)
    plan = solved(request)
    pinned = dict(plan.vcpu_to_host_cpu)
    assert 0 not in pinned.values() and 16 not in pinned.values()
    assert plan.layout.shape.threads == 2
    siblings = host.siblings()
    for core in range(0, plan.layout.vcpus, 2):
        assert siblings[pinned[core]] == siblings[pinned[core + 1]]
    # db and cache talk most: same host node when capacity allows (12 vCPUs = 6 cores <= 8).
    assert plan.vcpu_groups[0] == "db"
    assert plan.layout.nodes[0].cpus[0] == 0


def test_split_group_spans_nodes_when_it_must() -> None:
    host = block_host(1, 2, cpus_per_node=8)
    request = PlacementRequest(host, Workload((Group("big", 12, 2 * GIB, split=True),), traffic=(Traffic("big", "big", 10),)), settings=SETTINGS)
    plan = solved(request)
    assert plan.layout.num_nodes == 2
    assert sorted(len(n.cpus) for n in plan.layout.nodes) in ([4, 8], [6, 6], [5, 7])


def test_rules_together_apart_and_max_distance() -> None:
    host = block_host(2, 2, cpus_per_node=8)
    groups = equal_groups(4, 4)
    rules = ((Rule.TOGETHER, ("g0", "g1")), (Rule.APART, ("g2", "g3")))
    workload = Workload(groups, traffic=(Traffic("g2", "g3", 50),), rules=rules, max_distances=(("g0", "g2", 12),))
    request = PlacementRequest(host, workload, settings=SETTINGS)
    plan = solved(request)
    # g0+g1 fill one node; g2 must sit in that socket, on the other node; g3 may not join
    # g2 and finds no room in the socket, so the pair pays the cross-socket distance.
    assert plan.objective == pytest.approx(50 * 32)
    assert plan.objective == pytest.approx(brute_force_optimum(request, check_rules=True))


def test_compact_and_spread() -> None:
    host = block_host(2, 2, cpus_per_node=8)
    workload = Workload(equal_groups(4, 2), traffic=(Traffic("g0", "g1", 1),))
    compact = solved(PlacementRequest(host, workload, settings=SearchSettings(kind=ObjectiveKind.COMPACT, time_limit_s=10)))
    assert compact.layout.num_nodes == 1
    spread = solved(PlacementRequest(host, workload, settings=SearchSettings(kind=ObjectiveKind.SPREAD, time_limit_s=10)))
    assert spread.layout.num_nodes == 4


def test_guest_node_count() -> None:
    host = block_host(2, 2, cpus_per_node=8)
    workload = Workload(equal_groups(4, 2), guest_nodes=2)
    assert solved(PlacementRequest(host, workload, settings=SETTINGS)).layout.num_nodes == 2


def test_group_too_big_for_any_node_is_named() -> None:
    host = block_host(2, 2, cpus_per_node=8, smt=True)
    request = PlacementRequest(host, Workload((Group("db", 16, GIB),)), reserved_cpus=(0, 16), settings=SETTINGS)
    with pytest.raises(NoPlanError) as info:
        place(request)
    assert str(info.value) == (
        "no plan: group db needs 16 vCPUs on one node; the largest host node (1) has 8 free CPUs after reserving 0,16"
    )
    assert info.value.exit_code == 3


def test_conflicting_rules_are_named() -> None:
    host = block_host(2, 2, cpus_per_node=8)
    workload = Workload(equal_groups(3, 6), rules=((Rule.TOGETHER, ("g0", "g1", "g2")),))
    with pytest.raises(NoPlanError) as info:
        place(PlacementRequest(host, workload, settings=SETTINGS))
    assert "together: g0, g1, g2" in str(info.value)
    assert "the free CPUs of host nodes 0, 1, 2, 3" in str(info.value)


@pytest.mark.parametrize("path", SEARCHES, ids=lambda p: p.stem)
def test_every_search_example_is_proven_and_verified(path) -> None:  # type: ignore[no-untyped-def]
    problem = load_problem(path)
    assert problem.placement is not None
    plan = solved(problem.placement)
    assert plan.status is SolveStatus.OPTIMAL


def test_memory_only_group_lands_on_a_cpu_less_node() -> None:
    problem = load_problem(ROOT / "problems" / "cxl-tiering.toml")
    assert problem.placement is not None
    plan = solved(problem.placement)
    cold = [n for n in plan.layout.nodes if not n.cpus]
    assert len(cold) == 1 and cold[0].host_nodes[0] in (2, 3)
    assert plan.layout.nodes[0].cpus[0] == 0  # vCPU 0 in guest node 0, the CPU-less node last
    host = problem.placement.host
    app_host = plan.layout.nodes[0].host_nodes[0]
    assert plan.layout.distances is not None
    assert int(plan.layout.distances[0, 1]) == int(host.distances[host.node_position(app_host), host.node_position(cold[0].host_nodes[0])]) == 14


def test_huge_pages_bound_capacity() -> None:
    problem = load_problem(ROOT / "problems" / "hugepages.toml")
    assert problem.placement is not None
    plan = solved(problem.placement)
    # Node 1 has only 4 free 1 GiB pages: the 10 GiB db must be on node 0.
    db_node = next(n for n in plan.layout.nodes if plan.vcpu_groups[n.cpus[0]] == "db")
    assert db_node.host_nodes == (0,)
    assert plan.layout.backend.mem_path == "/dev/hugepages"


def test_unproven_plan_reports_the_true_cost_of_its_placement() -> None:
    # 32 groups filling 90 % of an 8-node host: no proof in a second, so the plan is an
    # incumbent whose level separations CP-SAT may have left at 1; the reported objective
    # must still be what the placement costs.
    rng = np.random.default_rng(201)
    host = block_host(2, 4, cpus_per_node=16)
    sizes = rng.integers(2, 9, size=32)
    sizes = np.maximum(1, np.floor(sizes * 0.9 * 128 / sizes.sum())).astype(int)
    groups = tuple(Group(f"g{k}", int(sizes[k]), 2 * GIB) for k in range(32))
    workload = Workload(groups, traffic=clustered_traffic(32, 8, rng))
    plan = solved(PlacementRequest(host, workload, settings=SearchSettings(time_limit_s=1.0)))
    assert plan.best_bound is None or plan.best_bound <= plan.objective + 1e-6


def _synthetic_vm(description: str, vcpus: int, memory_mib: int) -> PlacementRequest:
    from numaopt.hosts.distance_rule import DistanceRule
    from numaopt.hosts.synthetic import parse_synthetic

    host = parse_synthetic(description, DistanceRule(12, 32))
    return PlacementRequest(host, Workload((Group("vm", vcpus, memory_mib << 20, split=True),)), settings=SETTINGS)


def _host_nodes(plan) -> list[int]:  # type: ignore[no-untyped-def]
    return [node.host_nodes[0] for node in plan.layout.nodes]


@pytest.mark.parametrize("vcpus", [1, 4, 6, 8])
def test_a_vm_that_fits_one_host_node_gets_one(vcpus: int) -> None:
    # 2 sockets x 2 nodes x 4 cores x 2 threads, 12 within a socket, 32 across: no traffic
    # declared at all, yet spreading is what the VM pays for.
    plan = solved(_synthetic_vm("pack:2 numa:2 core:4 pu:2", vcpus, 512))
    assert plan.status is SolveStatus.OPTIMAL
    assert plan.layout.num_nodes == 1
    assert plan.layout.nodes[0].memory_bytes == 512 << 20


def test_a_vm_that_needs_several_nodes_takes_the_nearest() -> None:
    request = _synthetic_vm("pack:2 numa:2 core:4 pu:2", 20, 512)
    plan = solved(request)
    assert plan.status is SolveStatus.OPTIMAL
    nodes = _host_nodes(plan)
    # Both nodes of one socket in full (8 + 8), the rest on one node of the other socket.
    assert sorted(len(node.cpus) for node in plan.layout.nodes) == [4, 8, 8]
    full = sorted(n for n, node in zip(nodes, plan.layout.nodes, strict=True) if len(node.cpus) == 8)
    assert full in ([0, 1], [2, 3])
    # Memory follows the vCPUs in whole MiB: 8/20, 8/20, 4/20 of 512 MiB, each rounded down or up.
    memory = {len(node.cpus): node.memory_bytes >> 20 for node in plan.layout.nodes}
    assert memory[4] in (102, 103) and memory[8] in (204, 205)
    assert sum(node.memory_bytes >> 20 for node in plan.layout.nodes) == 512


def test_a_split_group_uses_as_many_nodes_as_it_needs() -> None:
    # 72 vCPUs on 16 nodes of 8 CPUs: 9 nodes, not the 8 pieces an older model allowed.
    request = _synthetic_vm("pack:4 numa:4 core:8 pu:1", 72, 9 * 1024)
    plan = solved(request)
    # At a load of 17 on 2 cores the proof took 28 s of the 30 s limit, and the limit came
    # first in other runs: then the plan must still be the expected one.
    limit_reached = plan.wall_time_s >= 0.95 * request.settings.time_limit_s
    assert plan.status is SolveStatus.OPTIMAL or limit_reached
    nodes = _host_nodes(plan)
    assert len(nodes) == 9 and all(len(node.cpus) == 8 for node in plan.layout.nodes)
    sockets = sorted(sum(1 for n in nodes if n // 4 == s) for s in range(4))
    assert sockets == [0, 1, 4, 4]  # two whole sockets and one node of a third
    assert all(node.memory_bytes == 1 << 30 for node in plan.layout.nodes)


def test_unequal_shares_where_nodes_differ() -> None:
    # Free CPUs 6, 2 and 5 on three nodes of one socket: 11 vCPUs take 6 + 5, not equal pieces.
    host = block_host(1, 3, cpus_per_node=8)
    reserved = (0, 1, 8, 9, 10, 11, 12, 13, 16, 17, 18)
    request = PlacementRequest(host, Workload((Group("vm", 11, 1100 << 20, split=True),)), reserved_cpus=reserved, settings=SETTINGS)
    plan = solved(request)
    assert plan.status is SolveStatus.OPTIMAL
    assert sorted((n.host_nodes[0], len(n.cpus), n.memory_bytes >> 20) for n in plan.layout.nodes) == [(0, 6, 600), (2, 5, 500)]


def test_host_distances_the_guest_would_discard_are_refused_or_adjusted_on_request() -> None:
    from numaopt.errors import LayoutError

    host = block_host(1, 2, cpus_per_node=4, near=10)  # remote 10: Linux drops such a SLIT
    request = PlacementRequest(host, Workload(equal_groups(2, 4), traffic=(Traffic("g0", "g1", 5),)), settings=SETTINGS)
    with pytest.raises(LayoutError, match=r"cannot be shown to the guest as they are .*--adjust-distances"):
        place(request)
    plan = place(request, adjust_distances=True)
    assert plan.layout.distances is not None and plan.layout.distances.tolist() == [[10, 11], [11, 10]]
    assert sorted(plan.adjusted_distances) == [(0, 1, 10, 11), (1, 0, 10, 11)]
    assert verify_plan(request, plan) == []


@pytest.mark.parametrize("seed", range(6))
def test_gilmore_lawler_bound_is_a_lower_bound_and_the_qap_plan_is_a_plan(seed: int) -> None:
    import time

    from numaopt.solver.assignment import gilmore_lawler_bound, is_pure_assignment, qap_portfolio

    rng = np.random.default_rng(seed)
    n = 6
    d = rng.integers(11, 60, size=(n, n))
    d = np.triu(d, 1) + np.triu(d, 1).T if seed % 2 else d  # symmetric and asymmetric hosts
    np.fill_diagonal(d, 10)
    base = block_host(1, n, cpus_per_node=2)
    host = type(base)(base.nodes, d, base.cores)
    groups = equal_groups(n - seed % 2, 2)  # one item per node, or one node left free
    flows = tuple(Traffic(a.name, b.name, int(rng.integers(1, 30))) for a in groups for b in groups if a != b and rng.random() < 0.6)
    request = PlacementRequest(host, Workload(groups, traffic=flows), settings=SETTINGS)
    inst = build_instance(request)
    assert is_pure_assignment(inst)
    bound = gilmore_lawler_bound(inst)
    best = brute_force_optimum(request)
    assert bound is not None and best is not None
    assert bound / inst.scale <= best + 1e-9
    qap = qap_portfolio(inst, seed=0, deadline=time.perf_counter() + 5)
    assert qap is not None and len(set(qap)) == len(qap) == len(groups)
    plan = solved(request)
    assert plan.status is SolveStatus.OPTIMAL and plan.objective == pytest.approx(best)


def test_a_conflict_is_minimal_and_lists_nodes_in_numeric_order() -> None:
    # 9 vCPUs that must stay on one guest node, on a host whose 16 nodes hold 8 each: every
    # node's capacity is part of the conflict, and nothing else (the unrelated distance
    # limit is not).
    host = block_host(4, 4, cpus_per_node=8)
    groups = (Group("vm", 9, GIB, split=True), Group("x", 1, GIB))
    workload = Workload(groups, max_distances=(("vm", "x", 32),), max_guest_nodes=1)
    with pytest.raises(NoPlanError) as info:
        place(PlacementRequest(host, workload, settings=SETTINGS))
    nodes = ", ".join(str(n) for n in range(16))
    assert str(info.value) == f"no plan: these requirements cannot all hold: at most 1 guest nodes; the free CPUs of host nodes {nodes}"
