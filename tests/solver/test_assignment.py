"""The QAP heuristics of pure assignments: tabu search's swap gains, its answers, and the
portfolio's determinism for a seed."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numaopt.hosts.shapes import GIB, matrix_host, random_slit, random_traffic
from numaopt.model import Group, PlacementRequest, SearchSettings, Traffic, Workload
from numaopt.solver.assignment import _swap_gains, is_pure_assignment, qap_portfolio, tabu_search
from numaopt.solver.instance import Instance, build_instance
from tests.support.brute import brute_force_optimum

SETTINGS = SearchSettings(time_limit_s=2, seed=1, workers=1)
FAR = 60.0  # a deadline (seconds from now) no test reaches: the counts bound the work


def dense_request(n: int, seed: int, groups: int | None = None, density: float = 0.7) -> PlacementRequest:
    """One-vCPU groups on one-CPU nodes of a dense irregular SLIT: a pure assignment."""
    rng = np.random.default_rng(seed)
    host = matrix_host(random_slit(n, rng), cpus_per_node=1, memory_gib=8)
    count = n if groups is None else groups
    flows = tuple(t for t in random_traffic(n, rng, density=density) if int(t.a[1:]) < count and int(t.b[1:]) < count)
    return PlacementRequest(host, Workload(tuple(Group(f"g{k}", 1, GIB) for k in range(count)), traffic=flows), settings=SETTINGS)


def instance_of(request: PlacementRequest) -> Instance:
    inst = build_instance(request)
    assert is_pure_assignment(inst)
    return inst


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 9), st.integers(0, 2**32 - 1))
def test_swap_gains_are_the_cost_changes_of_the_swaps(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 30, size=(n, n)).astype(float)
    a = a + a.T
    np.fill_diagonal(a, 0.0)
    d = rng.integers(11, 99, size=(n, n)).astype(float)
    d = d + d.T
    where = rng.permutation(n)

    def cost(p: np.ndarray) -> float:
        return float((a * d[np.ix_(p, p)]).sum())

    gains = _swap_gains(a, d[np.ix_(where, where)])
    for r, s in itertools.combinations(range(n), 2):
        swapped = where.copy()
        swapped[r], swapped[s] = swapped[s], swapped[r]
        assert gains[r, s] == pytest.approx(cost(swapped) - cost(where))


@pytest.mark.parametrize(("n", "groups", "seed"), [(7, 7, 0), (7, 7, 1), (7, 5, 2), (6, 6, 3)])
def test_tabu_search_finds_the_brute_force_optimum_of_a_small_instance(n: int, groups: int, seed: int) -> None:
    request = dense_request(n, seed, groups)
    inst = instance_of(request)
    start = list(range(groups))[::-1]
    found = tabu_search(inst, start, 400, np.random.default_rng(seed), time.perf_counter() + FAR)
    assert len(found) == groups and len(set(found)) == groups and all(0 <= v < n for v in found)
    assert inst.item_cost(found) / inst.scale == pytest.approx(brute_force_optimum(request))


def test_tabu_search_gives_one_answer_per_seed_and_never_a_worse_plan() -> None:
    inst = instance_of(dense_request(20, 5))
    start = list(range(20))
    runs = [tabu_search(inst, start, 300, np.random.default_rng(seed), time.perf_counter() + FAR) for seed in (4, 4, 9)]
    assert runs[0] == runs[1]
    assert all(inst.item_cost(run) <= inst.item_cost(start) for run in runs)
    assert all(sorted(run) == start for run in runs)


def test_tabu_search_leaves_a_plan_alone_when_neither_matrix_is_symmetric() -> None:
    d = np.array([[10, 20, 30], [40, 10, 50], [25, 35, 10]])
    host = matrix_host(d, cpus_per_node=1, memory_gib=8)
    groups = tuple(Group(f"g{k}", 1, GIB) for k in range(3))
    flows = (Traffic("g0", "g1", 5), Traffic("g1", "g2", 1), Traffic("g2", "g0", 3))
    inst = instance_of(PlacementRequest(host, Workload(groups, traffic=flows), settings=SETTINGS))
    assert tabu_search(inst, [2, 0, 1], 50, np.random.default_rng(0), time.perf_counter() + FAR) == [2, 0, 1]


def test_the_portfolio_with_tabu_search_gives_one_answer_per_seed_and_beats_faq_alone_or_ties() -> None:
    inst = instance_of(dense_request(16, 7, density=0.9))
    faq = qap_portfolio(inst, 3, time.perf_counter() + FAR, starts=10, polished=2)
    runs = [qap_portfolio(inst, 3, time.perf_counter() + FAR, starts=10, polished=2, tabu=(3, 300)) for _ in range(2)]
    assert faq is not None and runs[0] is not None
    assert runs[0] == runs[1]
    # The same seed draws the same FAQ starts first, and tabu search only adds plans.
    assert inst.item_cost(runs[0]) <= inst.item_cost(faq)
