"""Placement benchmark: numaopt's CP-SAT model against its peers on the same instances.

Run: python3 benchmarks/bench_placement.py [--quick]

Peers, all run in this process on the same instances:
* exhaustive enumeration of assignments (where it finishes);
* capacity-only first fit over host-node permutations, as OpenStack Nova's
  ``numa_fit_instance_to_host`` does (no distance awareness);
* ``scipy.optimize.quadratic_assignment`` (faq, faq with 20 random restarts, 2opt) on
  instances that are pure one-group-per-node assignments;
* a plain CP-SAT model (one boolean per group x node, one product per pair x node pair,
  no structure exploited): "CP-SAT without numaopt's modelling".

Every answer is checked: plans with numaopt's independent verifier, peers' objectives by
recomputing them, and no peer may beat a plan numaopt proved optimal.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from ortools.sat.python import cp_model
from scipy.optimize import quadratic_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from numaopt.model import (
    Group,
    HostNode,
    HostTopology,
    PlacementRequest,
    SearchSettings,
    SolveStatus,
    Traffic,
    Workload,
)
from numaopt.place import NoPlanError, place
from numaopt.solver.heuristic import greedy_placement
from numaopt.solver.instance import Instance, build_instance
from numaopt.verify import locality_cost, verify_plan
from tests.placement_hosts import GIB, block_host

OPTERON = np.array(
    [
        [10, 16, 16, 22, 16, 22, 16, 22],
        [16, 10, 22, 16, 22, 16, 22, 16],
        [16, 22, 10, 16, 16, 22, 16, 22],
        [22, 16, 16, 10, 22, 16, 22, 16],
        [16, 22, 16, 22, 10, 16, 16, 22],
        [22, 16, 22, 16, 16, 10, 22, 16],
        [16, 22, 16, 22, 16, 22, 10, 16],
        [22, 16, 22, 16, 22, 16, 16, 10],
    ]
)


def matrix_host(d: np.ndarray, cpus_per_node: int = 8) -> HostTopology:
    nodes = tuple(
        HostNode(k, tuple(range(k * cpus_per_node, (k + 1) * cpus_per_node)), 64 * GIB, 60 * GIB) for k in range(len(d))
    )
    return HostTopology(nodes, d)


def traffic_pattern(kind: str, n: int, rng: np.random.Generator) -> tuple[Traffic, ...]:
    pairs: list[tuple[int, int, int]] = []
    if kind == "clustered":
        size = max(2, n // 4)
        for a, b in itertools.combinations(range(n), 2):
            same = a // size == b // size
            if same or rng.random() < 0.15:
                pairs.append((a, b, int(rng.integers(50, 100)) if same else int(rng.integers(1, 10))))
    elif kind == "random":
        pairs = [(a, b, int(rng.integers(1, 100))) for a, b in itertools.combinations(range(n), 2) if rng.random() < 0.5]
    elif kind == "ring":
        pairs = [(a, (a + 1) % n, int(rng.integers(20, 100))) for a in range(n)]
    elif kind == "hub":
        pairs = [(0, b, int(rng.integers(10, 100))) for b in range(1, n)]
    elif kind == "all-to-all":
        pairs = [(a, b, 10) for a, b in itertools.combinations(range(n), 2)]
    order = rng.permutation(n)  # hide the pattern from the group order
    return tuple(Traffic(f"g{order[a]}", f"g{order[b]}", w) for a, b, w in pairs)


@dataclass
class Case:
    family: str
    name: str
    request: PlacementRequest
    one_per_node: bool = False
    infeasible: bool = False
    results: dict[str, tuple[float | None, float, str]] = field(default_factory=dict)  # peer -> (objective, s, note)


def cases(quick: bool) -> list[Case]:
    seeds = range(2) if quick else range(3)
    out: list[Case] = []
    real = {
        "snc2-4node": block_host(2, 2, near=11, far=21),
        "epyc-nps4-8node": block_host(2, 4, near=12, far=32),
        "opteron-8node": matrix_host(OPTERON),
    }
    patterns = ("clustered", "random", "ring", "hub", "all-to-all")
    for host_name, host in real.items():
        n = host.num_nodes
        for pattern in patterns:
            for seed in seeds:
                rng = np.random.default_rng(seed)
                groups = tuple(Group(f"g{k}", 8, 4 * GIB) for k in range(n))
                request = PlacementRequest(host, Workload(groups, traffic=traffic_pattern(pattern, n, rng)), settings=SearchSettings(time_limit_s=10, seed=seed))
                out.append(Case("real-style, one group per node", f"{host_name}/{pattern}/{seed}", request, one_per_node=True))
    big = {"16-node 4x4": block_host(4, 4), "32-node 2x4x4": block_host(8, 4, boards=2, board_far=40)}
    if not quick:
        # 4 CPUs a node: one group of 4 vCPUs per node is 256 vCPUs, within q35's 288.
        big["64-node 4x4x4"] = block_host(16, 4, cpus_per_node=4, boards=4, board_far=40)
    for host_name, host in big.items():
        n = host.num_nodes
        vcpus = len(host.nodes[0].cpus)
        for pattern in ("clustered", "random") if n <= 16 else ("clustered",):
            for seed in seeds:
                rng = np.random.default_rng(100 + seed)
                groups = tuple(Group(f"g{k}", vcpus, 4 * GIB) for k in range(n))
                limit = 10.0
                request = PlacementRequest(host, Workload(groups, traffic=traffic_pattern(pattern, n, rng)), settings=SearchSettings(time_limit_s=limit, seed=seed))
                out.append(Case(f"{host_name}, one group per node", f"{host_name}/{pattern}/{seed}", request, one_per_node=True))
    for count, tight in ((4, False), (16, False), (16, True), (32, True)) if not quick else ((16, False), (16, True)):
        for seed in seeds:
            rng = np.random.default_rng(200 + seed)
            host = block_host(2, 4, cpus_per_node=16)
            capacity = 8 * 16
            sizes = rng.integers(2, 9, size=count)
            if tight:  # scale sizes to fill 90 % of the host
                sizes = np.maximum(1, np.floor(sizes * 0.9 * capacity / sizes.sum())).astype(int)
            groups = tuple(Group(f"g{k}", int(sizes[k]), 2 * GIB) for k in range(count))
            request = PlacementRequest(host, Workload(groups, traffic=traffic_pattern("clustered", count, rng)), settings=SearchSettings(time_limit_s=10, seed=seed))
            out.append(Case("capacitated, groups share 8 nodes", f"{count} groups {'tight' if tight else 'loose'}/{seed}", request))
    host = block_host(2, 4, cpus_per_node=16)
    too_big = Workload((Group("db", 24, 8 * GIB), Group("web", 8, GIB)), traffic=(Traffic("db", "web", 5),))
    out.append(Case("infeasible", "group larger than any node", PlacementRequest(host, too_big), infeasible=True))
    crowded = Workload(tuple(Group(f"g{k}", 12, GIB) for k in range(11)))
    out.append(Case("infeasible", "11 groups of 12 on 8 nodes of 16", PlacementRequest(host, crowded), infeasible=True))
    return out


# -- peers ---------------------------------------------------------------------------------


def enumerate_all(inst: Instance, budget_s: float, one_per_node: bool = False) -> float | None:
    """Best feasible assignment by trying all of them (all permutations when every group
    fills a node); None if there are too many or the budget runs out."""
    n, k = inst.num_nodes, len(inst.items)
    candidates: Iterable[tuple[int, ...]]
    if one_per_node and n == k:
        if math.factorial(n) > 3_000_000:
            return None
        candidates = itertools.permutations(range(n))
    else:
        if n**k > 3_000_000:
            return None
        candidates = itertools.product(range(n), repeat=k)
    start = time.perf_counter()
    best = None
    cores = np.array([item.cores for item in inst.items])
    for assignment in candidates:
        if time.perf_counter() - start > budget_s:
            return None
        load = np.bincount(assignment, weights=cores, minlength=n)
        if np.any(load > inst.node_cores):
            continue
        cost = inst.item_cost(list(assignment))
        best = cost if best is None else min(best, cost)
    return None if best is None else best / inst.scale


def nova_first_fit(inst: Instance) -> float | None:
    """Nova's numa_fit_instance_to_host: try host-node permutations in order, take the first
    that fits every guest cell by capacity alone (no distances)."""
    n = inst.num_nodes
    for perm in itertools.islice(itertools.permutations(range(n)), 50_000):
        free = inst.node_cores.copy()
        assignment = []
        for item in inst.items:
            for node in perm:
                if free[node] >= item.cores:
                    free[node] -= item.cores
                    assignment.append(node)
                    break
            else:
                break
        if len(assignment) == len(inst.items):
            return inst.item_cost(assignment) / inst.scale
    return None


def qap_peer(inst: Instance, method: str, restarts: int = 1, seed: int = 0) -> float:
    n = inst.num_nodes
    flow = np.zeros((n, n))
    for (i, j), w in inst.pair_weights.items():
        flow[i, j] += w
    best = None
    rng = np.random.default_rng(seed)
    for r in range(restarts):
        options: dict[str, object] = {"maximize": False}
        if restarts > 1:
            options["P0"] = "randomized"
            options["rng"] = int(rng.integers(1 << 31))
        result = quadratic_assignment(flow, inst.distances.astype(float), method=method, options=options)
        cost = inst.item_cost(list(result.col_ind))
        best = cost if best is None else min(best, cost)
        del r
    assert best is not None
    return best / inst.scale


def plain_cpsat(inst: Instance, time_limit_s: float) -> tuple[float | None, str]:
    model = cp_model.CpModel()
    n = inst.num_nodes
    x = {(i, a): model.new_bool_var("") for i in range(len(inst.items)) for a in range(n)}
    for i in range(len(inst.items)):
        model.add_exactly_one(x[i, a] for a in range(n))
    for a in range(n):
        model.add(sum(item.cores * x[i, a] for i, item in enumerate(inst.items)) <= int(inst.node_cores[a]))
    terms = [inst.constant]
    for (i, j), w in inst.pair_weights.items():
        for a in range(n):
            for b in range(n):
                p = model.new_bool_var("")
                model.add_multiplication_equality(p, [x[i, a], x[j, b]])
                terms.append(w * int(inst.distances[a, b]) * p)
    model.minimize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    code = solver.solve(model)
    if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return round(solver.objective_value) / inst.scale, "proved" if code == cp_model.OPTIMAL else "no proof"
    return None, solver.status_name(code).lower()


def run_numaopt(request: PlacementRequest) -> tuple[float | None, float, str, float | None]:
    start = time.perf_counter()
    try:
        plan = place(request)
    except NoPlanError as exc:
        return None, time.perf_counter() - start, f"no plan: {str(exc)[:60]}", None
    elapsed = time.perf_counter() - start
    problems = verify_plan(request, plan)
    assert problems == [], problems
    assert plan.objective is not None and abs(locality_cost(request, plan) - plan.objective) < 1e-6 * max(1, plan.objective)
    return plan.objective, elapsed, "proved" if plan.status is SolveStatus.OPTIMAL else "no proof", plan.best_bound


def gap_at(request: PlacementRequest, limit: float) -> float | None:
    settings = request.settings
    timed = PlacementRequest(request.host, request.workload, request.reserved_cpus, SearchSettings(settings.kind, limit, settings.seed, settings.workers))
    try:
        plan = place(timed)
    except NoPlanError:
        return None
    if plan.objective is None or plan.best_bound is None:
        return None
    return (plan.objective - plan.best_bound) / max(plan.objective, 1e-9)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer seeds and families (about a minute)")
    parser.add_argument("--plain-limit", type=float, default=10.0, help="time limit of the plain CP-SAT peer (s)")
    args = parser.parse_args()
    all_cases = cases(args.quick)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    rows = []
    for case in all_cases:
        inst = build_instance(case.request)
        objective, seconds, note, bound = run_numaopt(case.request)
        case.results["numaopt"] = (objective, seconds, note)
        if case.infeasible:
            assert objective is None, "an infeasible case got a plan"
            rows.append((case, inst, bound))
            print(f"{case.family:38s} {case.name:34s} numaopt {seconds:7.3f}s {note}")
            continue
        start = time.perf_counter()
        greedy = greedy_placement(inst)
        case.results["greedy+LS"] = (None if greedy is None else inst.item_cost(greedy) / inst.scale, time.perf_counter() - start, "")
        start = time.perf_counter()
        case.results["nova first fit"] = (nova_first_fit(inst), time.perf_counter() - start, "")
        start = time.perf_counter()
        exhaustive = enumerate_all(inst, budget_s=30, one_per_node=case.one_per_node)
        case.results["enumeration"] = (exhaustive, time.perf_counter() - start, "" if exhaustive is not None else "skipped")
        if case.one_per_node:
            for label, method, restarts in (("faq", "faq", 1), ("faq x20", "faq", 20), ("2opt", "2opt", 1)):
                start = time.perf_counter()
                case.results[label] = (qap_peer(inst, method, restarts, seed=1), time.perf_counter() - start, "")
        if inst.num_nodes <= 16:
            start = time.perf_counter()
            value, plain_note = plain_cpsat(inst, args.plain_limit)
            case.results["plain CP-SAT"] = (value, time.perf_counter() - start, plain_note)
        if note == "proved":
            for peer, (value, _, _) in case.results.items():
                assert value is None or value >= objective - 1e-6, f"{peer} beat a proven optimum on {case.name}"
        if exhaustive is not None:
            assert abs(exhaustive - objective) < 1e-6 or note != "proved", (exhaustive, objective)
        rows.append((case, inst, bound))
        peers = "  ".join(
            f"{peer}={value / objective:.3f}" if value is not None and objective else f"{peer}=-"
            for peer, (value, _, _) in case.results.items()
            if peer != "numaopt"
        )
        print(f"{case.family:38s} {case.name:34s} numaopt {seconds:7.3f}s {note:8s} ratios(peer/numaopt): {peers}")
    summarise(rows, quick=args.quick)


def summarise(rows: list, quick: bool) -> None:  # type: ignore[type-arg]
    print("\nsummary per family (numaopt): proven rate, median / worst time to answer, peers' objective ratio (median)")
    families: dict[str, list] = {}  # type: ignore[type-arg]
    for case, inst, bound in rows:
        families.setdefault(case.family, []).append((case, inst, bound))
    for family, members in families.items():
        times = [c.results["numaopt"][1] for c, _, _ in members]
        proven = sum(1 for c, _, _ in members if c.results["numaopt"][2] in ("proved",) or c.infeasible)
        ratios: dict[str, list[float]] = {}
        for case, _, _ in members:
            mine = case.results["numaopt"][0]
            for peer, (value, _, _) in case.results.items():
                if peer != "numaopt" and value is not None and mine:
                    ratios.setdefault(peer, []).append(value / mine)
        ratio_text = ", ".join(f"{p} {statistics.median(v):.3f}" for p, v in ratios.items())
        print(f"- {family}: {proven}/{len(members)} proven, median {statistics.median(times):.3f} s, worst {max(times):.3f} s; {ratio_text}")
        plain = [c.results["plain CP-SAT"] for c, _, _ in members if "plain CP-SAT" in c.results]
        if plain:
            plain_proven = sum(1 for _, _, note in plain if note == "proved")
            print(f"    plain CP-SAT: {plain_proven}/{len(plain)} proven, median {statistics.median(t for _, t, _ in plain):.3f} s")
    if not quick:
        print("\ngap at 0.1 / 1 / 10 s (numaopt), largest instances of each family")
        for family, members in families.items():
            case = members[-1][0]
            if case.infeasible:
                continue
            gaps = [gap_at(case.request, limit) for limit in (0.1, 1.0, 10.0)]
            print(f"- {family} {case.name}: " + " / ".join("-" if g is None else f"{g:.2%}" for g in gaps))


if __name__ == "__main__":
    main()
