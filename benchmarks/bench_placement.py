"""Placement benchmark (issue 10): `numaopt solve` as a user runs it, against its peers on the same instances.

Run: PYTHONPATH=. python3 benchmarks/bench_placement.py [--quick] [--write] [--only TEXT] [--keep DIR]

Every instance is a problem file. numaopt is run as a user runs it: ``numaopt solve FILE
--format json`` in a fresh process, its wall clock (interpreter start included) and peak
resident memory measured from outside (GNU ``time``), its plan read back from the JSON.
The plan must pass ``numaopt.audit.verify_plan`` against the request the file loads to,
and its reported objective must equal ``locality_cost`` recomputed from the pinning.

Peers, run in this process on the same instances (each answer turned into a plan with
``numaopt.solver.plan.build_plan``, checked by the same verifier, priced by the same
``locality_cost``):

* scipy ``quadratic_assignment``: ``faq`` (one start), ``faq`` from 20 random starts and
  ``2opt``, where the instance is a pure assignment (no split groups or rules, every
  group fits every node, no more groups than nodes: any one-to-one map is a plan);
* a plain CP-SAT model (a boolean per group x node, a core count per split group x node,
  one product per flow x node pair, 1 worker; "CP-SAT without numaopt's modelling");
* capacity-only first fit over host-node permutations, as OpenStack Nova's
  ``numa_fit_instance_to_host`` does (no distance awareness; split groups fill nodes in
  that order);
* numaopt's own first hint (greedy + local search, no search), to show what the search adds;
* exhaustive enumeration where it finishes.

Dense instances also get a reference: numaopt with a 60 s limit and scipy ``faq`` from 200
starts; the best plan any method found is the "best known" the 10 s run is held to.

Several VMs on one host (``--vms``): 2-4 VMs on 4-16 node hosts and 4-16 VMs filling 90-100 %
of 2-8 node hosts, against placing one VM at a time and Nova-style first fit (its own section).
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import math
import os
import platform
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import ortools
import scipy
import tomli_w
from ortools.sat.python import cp_model
from scipy.optimize import quadratic_assignment

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results_file import RESULTS, cpu_model, free_memory_table, write_section

from numaopt.audit import locality_cost, verify_plan, verify_shared
from numaopt.errors import NumaoptError
from numaopt.hosts.shapes import GIB, block_host, grid_slit, matrix_host, random_slit, random_traffic
from numaopt.hosts.toml import host_to_toml
from numaopt.model import Group, HostTopology, PlacementRequest, Plan, SharedHostRequest, SolveStatus, Traffic
from numaopt.problem import load_problem
from numaopt.render.json import plan_from_json
from numaopt.solver.heuristic import initial_placement
from numaopt.solver.instance import Instance, Placement, build_instance, split_memory
from numaopt.solver.place import NoPlanError, place
from numaopt.solver.placement import solve_placement
from numaopt.solver.plan import build_plan
from numaopt.solver.shared_host import combine
from numaopt.units import MIB, format_size

SECTION = "## Placement search (issues 3 and 10)"
OLD_SECTION = "## Placement search (issue 3)"  # the section this one replaces
RSS_TARGET_MB = 500.0
TIME = "/usr/bin/time"  # GNU time: peak RSS of the numaopt process alone
PROOF_4X4 = "16-node 4x4"
PROOF_16_ON_8 = "16 groups on 8 nodes"

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


@dataclass(frozen=True)
class Limits:
    """Time limits of one benchmark run (s)."""

    numaopt: float  # objective.time_limit of every instance
    reference: float  # numaopt's "best known" run on dense instances
    plain: float  # the plain CP-SAT peer
    enumeration: float  # budget of exhaustive enumeration


FULL = Limits(numaopt=10.0, reference=60.0, plain=10.0, enumeration=30.0)
QUICK = Limits(numaopt=3.0, reference=10.0, plain=3.0, enumeration=5.0)


@dataclass(frozen=True)
class Case:
    family: str
    name: str
    text: str  # the problem file numaopt solves
    limit_s: float
    infeasible: bool = False
    dense: bool = False  # held to 1 % of the best plan any method finds in the reference run
    proof: str = ""  # proof-time target this instance counts towards (timed in process)


# -- problem files -------------------------------------------------------------------------


def problem_text(
    host: HostTopology | dict[str, str],
    limit_s: float,
    groups: Iterable[Group] = (),
    traffic: Iterable[Traffic] = (),
    **workload: Any,
) -> str:
    """A problem file: the host (a topology, or a synthetic host table), groups, traffic, limit."""
    table = dict(workload)
    if groups:
        table["groups"] = [group_table(g) for g in groups]
    if traffic:
        table["traffic"] = [{"from": t.a, "to": t.b, "weight": t.weight} for t in traffic]
    rest = {"workload": table, "objective": {"time_limit": f"{limit_s:g}s"}}
    if isinstance(host, HostTopology):
        return host_to_toml(host) + "\n" + tomli_w.dumps(rest)
    return tomli_w.dumps({"host": host, **rest})


def group_table(group: Group) -> dict[str, Any]:
    table: dict[str, Any] = {"name": group.name, "vcpus": group.vcpus, "memory": format_size(group.memory_bytes)}
    if group.split:
        table["split"] = True
    return table


def groups_of(sizes: Iterable[int], memory_gib: int = 4) -> tuple[Group, ...]:
    return tuple(Group(f"g{k}", int(v), memory_gib * GIB) for k, v in enumerate(sizes))


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


# -- families ------------------------------------------------------------------------------


def real_style(seeds: range, limit: float, quick: bool) -> Iterator[Case]:
    hosts = {
        "snc2-4node": block_host(2, 2, near=11, far=21),
        "epyc-nps4-8node": block_host(2, 4, near=12, far=32),
        "opteron-8node": matrix_host(OPTERON),
    }
    patterns = ("clustered", "random") if quick else ("clustered", "random", "ring", "hub", "all-to-all")
    for host_name, host in hosts.items():
        for pattern, seed in itertools.product(patterns, seeds):
            rng = np.random.default_rng(seed)
            n = host.num_nodes
            text = problem_text(host, limit, groups_of([8] * n), traffic_pattern(pattern, n, rng))
            yield Case("real-style hosts, one group per node", f"{host_name}/{pattern}/{seed}", text, limit)


def one_per_node(family: str, host_name: str, host: HostTopology, patterns: Iterable[str], seeds: range, limit: float, proof: str = "") -> Iterator[Case]:
    n = host.num_nodes
    vcpus = len(host.nodes[0].cpus)
    for pattern, seed in itertools.product(patterns, seeds):
        rng = np.random.default_rng(100 + seed)
        text = problem_text(host, limit, groups_of([vcpus] * n), traffic_pattern(pattern, n, rng))
        yield Case(family, f"{host_name}/{pattern}/{seed}", text, limit, proof=proof)


def capacitated(seeds: range, limit: float, quick: bool) -> Iterator[Case]:
    """Groups of 2-8 vCPUs sharing an 8-node host of 16 CPUs a node under capacity."""
    shapes = ((16, False), (16, True)) if quick else ((4, False), (16, False), (16, True), (32, True))
    host = block_host(2, 4, cpus_per_node=16)
    for (count, tight), seed in itertools.product(shapes, seeds):
        rng = np.random.default_rng(200 + seed)
        sizes = rng.integers(2, 9, size=count)
        if tight:  # scale sizes to fill 90 % of the host
            sizes = np.maximum(1, np.floor(sizes * 0.9 * 128 / sizes.sum())).astype(int)
        text = problem_text(host, limit, groups_of(sizes, memory_gib=2), traffic_pattern("clustered", count, rng))
        proof = PROOF_16_ON_8 if count == 16 else ""
        yield Case("capacitated, groups share 8 nodes", f"{count} groups {'tight' if tight else 'loose'}/{seed}", text, limit, proof=proof)


def dense_random(sizes: Iterable[int], seeds: range, limit: float) -> Iterator[Case]:
    """Dense irregular SLITs (11..99, symmetric), one-CPU nodes, one-vCPU groups, random traffic."""
    for n, seed in itertools.product(sizes, seeds):
        rng = np.random.default_rng(300 + 100 * n + seed)
        host = matrix_host(random_slit(n, rng), cpus_per_node=1, memory_gib=8)
        text = problem_text(host, limit, groups_of([1] * n, memory_gib=1), random_traffic(n, rng))
        yield Case("dense random hosts", f"n{n}/{seed}", text, limit, dense=True)


def qap_uniform(sizes: Iterable[tuple[int, int]], limit: float) -> Iterator[Case]:
    """Taillard-a style: flows and distances uniform, every pair talks (distances 10 + 1..99)."""
    for n, seed in sizes:
        rng = np.random.default_rng(400 + 100 * n + seed)
        host = matrix_host(random_slit(n, rng, low=11, high=109), cpus_per_node=1, memory_gib=8)
        text = problem_text(host, limit, groups_of([1] * n, memory_gib=1), random_traffic(n, rng, density=1.0, high=99))
        yield Case("QAP literature: uniform flows and distances", f"tai{n}a-like/{seed}", text, limit, dense=n <= 30)


def qap_grid(shapes: Iterable[tuple[int, int, int]], limit: float) -> Iterator[Case]:
    """Nugent / Skorin-Kapov style: nodes on a grid (Manhattan distances), sparse flows."""
    for rows, cols, seed in shapes:
        n = rows * cols
        rng = np.random.default_rng(500 + 100 * n + seed)
        host = matrix_host(grid_slit(rows, cols), cpus_per_node=1, memory_gib=8)
        text = problem_text(host, limit, groups_of([1] * n, memory_gib=1), random_traffic(n, rng, density=0.35, high=9))
        yield Case("QAP literature: grid distances, sparse flows", f"grid{rows}x{cols}/{seed}", text, limit)


def large_hosts(seeds: range, limit: float, quick: bool) -> Iterator[Case]:
    """32 and 64 nodes: socket/board blocks and random SLITs, one group per node and shared nodes."""
    family = "32- and 64-node hosts"
    structured = {
        "32-node 2x4x4": block_host(8, 4, boards=2, board_far=40),
        # 4 CPUs a node: one group of 4 vCPUs per node is 256 vCPUs, within q35's 288.
        "64-node 4x4x4": block_host(16, 4, cpus_per_node=4, boards=4, board_far=40),
    }
    for host_name, host in structured.items():
        yield from one_per_node(family, host_name, host, ("clustered",) if quick else ("clustered", "random"), seeds, limit)
    for n, seed in itertools.product((32, 64), seeds):
        rng = np.random.default_rng(600 + n + seed)
        host = matrix_host(random_slit(n, rng), cpus_per_node=4, memory_gib=16)
        text = problem_text(host, limit, groups_of([4] * n), random_traffic(n, rng))
        yield Case(family, f"{n}-node random SLIT/random/{seed}", text, limit)
    if quick:
        return
    for host_name, host, count, high in (
        ("32-node 2x4x4", structured["32-node 2x4x4"], 48, 6),
        ("64-node 4x4x4", structured["64-node 4x4x4"], 64, 4),
    ):
        rng = np.random.default_rng(700 + count)
        sizes = rng.integers(1, high + 1, size=count)
        text = problem_text(host, limit, groups_of(sizes, memory_gib=1), traffic_pattern("clustered", count, rng))
        yield Case(family, f"{host_name}/{count} groups of 1-{high} vCPUs/0", text, limit)


def big_splits(limit: float, quick: bool) -> Iterator[Case]:
    """Split groups of up to 256 vCPUs on 16-64 nodes (synthetic hosts), with and without traffic."""
    family = "big split groups"

    def synthetic(shape: str) -> dict[str, str]:
        return {"synthetic": shape, "distances": "12,32"}

    h16 = synthetic("pack:4 numa:4(memory=64GiB) core:8 pu:1")
    h16x16 = synthetic("pack:4 numa:4(memory=64GiB) core:16 pu:1")
    h16smt = synthetic("pack:4 numa:4(memory=64GiB) core:8 pu:2")
    h32 = synthetic("pack:4 numa:8(memory=64GiB) core:8 pu:1")
    h64 = synthetic("pack:8 numa:8(memory=32GiB) core:4 pu:1")
    two_big = (*(Group(f"db{k}", 96, 96 * GIB, split=True) for k in range(2)), *groups_of([8] * 6))
    flows = (Traffic("db0", "db1", 50), *(Traffic(f"db{k % 2}", f"g{k}", 20) for k in range(6)))
    four = tuple(Group(f"s{k}", 48, 48 * GIB, split=True) for k in range(4))
    ring = tuple(Traffic(f"s{k}", f"s{(k + 1) % 4}", 30) for k in range(4))
    cases = [
        ("16 nodes x 8/VM 72 vCPUs, no traffic", problem_text(h16, limit, vcpus=72, memory="72GiB")),
        ("64 nodes x 4/VM 250 vCPUs, no traffic", problem_text(h64, limit, vcpus=250, memory="250GiB")),
        ("32 nodes x 8/2 split x 96 + 6 x 8, traffic", problem_text(h32, limit, two_big, flows)),
    ]
    if not quick:
        cases += [
            ("16 nodes x 16/VM 200 vCPUs, no traffic", problem_text(h16x16, limit, vcpus=200, memory="200GiB")),
            ("16 nodes x 8 SMT/VM 128 vCPUs in 2-thread cores", problem_text(h16smt, limit, vcpus=128, memory="128GiB", threads_per_core=2)),
            ("64 nodes x 4/4 split x 48, ring traffic", problem_text(h64, limit, four, ring)),
        ]
    for name, text in cases:
        yield Case(family, name, text, limit)


def infeasible(limit: float) -> Iterator[Case]:
    host = block_host(2, 4, cpus_per_node=16)
    too_big = (Group("db", 24, 8 * GIB), Group("web", 8, GIB))
    yield Case("infeasible", "group larger than any node", problem_text(host, limit, too_big, (Traffic("db", "web", 5),)), limit, infeasible=True)
    crowded = groups_of([12] * 11, memory_gib=1)
    yield Case("infeasible", "11 groups of 12 on 8 nodes of 16", problem_text(host, limit, crowded), limit, infeasible=True)


def cases(quick: bool, limits: Limits) -> list[Case]:
    seeds = range(1) if quick else range(3)
    limit = limits.numaopt
    out = list(real_style(seeds, limit, quick))
    square = block_host(4, 4)
    out += one_per_node("16-node 4x4, one group per node", "16-node 4x4", square, ("clustered", "random"), range(1) if quick else range(4), limit, PROOF_4X4)
    out += capacitated(seeds, limit, quick)
    out += dense_random((12, 24) if quick else (12, 18, 24, 30), range(1) if quick else range(2), limit)
    out += qap_uniform(((20, 0),) if quick else ((12, 0), (12, 1), (20, 0), (20, 1), (30, 0), (30, 1), (36, 0)), limit)
    out += qap_grid(((5, 6, 0),) if quick else ((3, 4, 0), (4, 5, 0), (5, 6, 0), (6, 6, 0)), limit)
    out += large_hosts(range(1) if quick else range(2), limit, quick)
    out += big_splits(limit, quick)
    out += infeasible(limit)
    return out


# -- numaopt, as a user runs it ------------------------------------------------------------


def numaopt_command() -> list[str]:
    """The installed console script next to this interpreter (what `pip install` puts on PATH)."""
    script = Path(sys.executable).parent / "numaopt"
    return [str(script)] if script.exists() else [sys.executable, "-m", "numaopt"]


@dataclass(frozen=True)
class Run:
    """One `numaopt solve` process."""

    code: int
    wall_s: float
    rss_mb: float
    limit_s: float
    plan: Plan | None
    message: str  # the last line of stderr when there is no plan

    @property
    def overrun(self) -> bool:
        return self.wall_s > self.limit_s + max(0.5, 0.1 * self.limit_s)

    @property
    def objective(self) -> float | None:
        return None if self.plan is None else self.plan.objective

    @property
    def proven(self) -> bool:
        return self.plan is not None and self.plan.status is SolveStatus.OPTIMAL

    @property
    def gap(self) -> float | None:
        if self.plan is None or self.plan.objective is None or self.plan.best_bound is None:
            return None
        return (self.plan.objective - self.plan.best_bound) / max(self.plan.objective, 1e-9)


def solve_cli(problem: Path, limit_s: float) -> Run:
    """`numaopt solve PROBLEM --format json`: wall clock from fork to exit, peak RSS, the plan
    read back; killed at 3 x the limit + 30 s.

    The peak RSS comes from /usr/bin/time: Linux carries the RSS high-water mark of the
    process that execs into the child's ru_maxrss, so a child forked from this (large)
    benchmark process would report at least the benchmark's own RSS; /usr/bin/time is tiny.
    """
    out, err, rss = (problem.with_suffix(suffix) for suffix in (".json", ".stderr", ".rss"))
    with out.open("w") as stdout, err.open("w") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(
            [TIME, "-f", "%M", "-o", str(rss), *numaopt_command(), "solve", str(problem), "--format", "json"],
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # so the watchdog can stop numaopt and its wrapper together
        )
        watchdog = threading.Timer(3 * limit_s + 30, os.killpg, (proc.pid, signal.SIGKILL))
        watchdog.start()
        code = proc.wait()
        wall = time.perf_counter() - start
        watchdog.cancel()
    lines = err.read_text().strip().splitlines()
    if lines and lines[-1].startswith("Command exited with non-zero status"):
        lines.pop()  # /usr/bin/time's own line
    plan = plan_from_json(out.read_text(), str(out)) if code == 0 else None
    message = "" if code == 0 else (lines[-1] if lines else f"exit {code}, nothing on stderr")
    usage = rss.read_text().split() if rss.exists() else []  # empty when the watchdog stopped GNU time too
    peak = int(usage[-1]) / 1024 if usage and usage[-1].isdigit() else float("nan")
    return Run(code, wall, peak, limit_s, plan, message)


def plan_problems(request: PlacementRequest, plan: Plan) -> list[str]:
    """What the verifier finds, and whether the reported objective is the recomputed one."""
    found = verify_plan(request, plan)
    cost = locality_cost(request, plan)
    if plan.objective is None or abs(cost - plan.objective) > 1e-6 * max(1.0, cost):
        found.append(f"reported objective {plan.objective}, locality_cost {cost}")
    return found


def proof_time(request: PlacementRequest) -> tuple[float, bool]:
    """In-process `place()` time (no interpreter start) and whether it proved optimality."""
    start = time.perf_counter()
    plan = place(request)
    return time.perf_counter() - start, plan.status is SolveStatus.OPTIMAL


def gap_at(request: PlacementRequest, limit: float) -> float | None:
    try:
        plan = place(replace(request, settings=replace(request.settings, time_limit_s=limit)))
    except NoPlanError:
        return None
    if plan.objective is None or plan.best_bound is None:
        return None
    return (plan.objective - plan.best_bound) / max(plan.objective, 1e-9)


# -- peers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeerResult:
    objective: float | None  # None: no answer (note says why)
    seconds: float
    note: str = ""


def is_pure(inst: Instance) -> bool:
    """Any one-to-one map of groups to nodes is a plan: scipy's QAP methods apply."""
    workload = inst.request.workload
    if inst.splits or workload.rules or workload.max_distances or workload.guest_nodes or not inst.items:
        return False
    if len(inst.items) > inst.num_nodes or any(len(item.allowed) != inst.num_nodes for item in inst.items):
        return False
    return max(i.cores for i in inst.items) <= inst.node_cores.min() and max(i.memory_units for i in inst.items) <= inst.node_memory.min()


def flow_matrix(inst: Instance) -> np.ndarray:
    flow = np.zeros((inst.num_nodes, inst.num_nodes))
    for (i, j), w in inst.pair_weights.items():
        flow[i, j] += w
    return flow


def qap_peer(inst: Instance, method: str, starts: int = 1, seed: int = 1) -> Placement:
    """scipy's QAP heuristic; with ``starts`` > 1, the best of that many random starts."""
    flow, d = flow_matrix(inst), inst.distances.astype(float)
    rng = np.random.default_rng(seed)
    best: tuple[int, list[int]] | None = None
    for _ in range(starts):
        options: dict[str, Any] = {"rng": np.random.default_rng(int(rng.integers(1 << 31)))}
        if starts > 1 and method == "faq":
            options["P0"] = "randomized"
        result = quadratic_assignment(flow, d, method=method, options=options)
        where = [int(v) for v in result.col_ind[: len(inst.items)]]
        cost = inst.item_cost(where)
        if best is None or cost < best[0]:
            best = (cost, where)
    assert best is not None
    return Placement(tuple(best[1]), (), ())


def nova_first_fit(inst: Instance) -> Placement | None:
    """Nova's numa_fit_instance_to_host: host-node permutations in order, the first in which
    every group fits by capacity alone (split groups fill the nodes in that order)."""
    for perm in itertools.islice(itertools.permutations(range(inst.num_nodes)), 50_000):
        cores, memory = inst.node_cores.copy(), inst.node_memory.copy()
        where: list[int] = []
        for item in inst.items:
            node = next((n for n in perm if n in item.allowed and cores[n] >= item.cores and memory[n] >= item.memory_units), -1)
            if node < 0:
                break
            where.append(node)
            cores[node] -= item.cores
            memory[node] -= item.memory_units
        if len(where) < len(inst.items):
            continue
        splits = [fill_in_order(inst, s, perm, cores, memory) for s in range(len(inst.splits))]
        if all(s is not None for s in splits):
            return Placement(tuple(where), tuple(s[0] for s in splits if s), tuple(s[1] for s in splits if s))
    return None


def fill_in_order(inst: Instance, s: int, order: Iterable[int], cores: np.ndarray, memory: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """Split group ``s`` on the nodes in ``order``, each as full as its free CPUs and memory allow."""
    split = inst.splits[s]
    counts = [0] * inst.num_nodes
    left = split.cores
    for n in order:
        if left and n in split.allowed:
            take = min(left, int(cores[n]), int(memory[n]) * split.cores // max(1, split.memory_units))
            counts[n], left = take, left - take
    if left:
        return None
    shares = split_memory(split.memory_units, split.cores, counts)
    cores -= np.asarray(counts)
    memory -= np.asarray(shares)
    return tuple(counts), tuple(shares)


def enumerate_all(inst: Instance, budget_s: float) -> Placement | None:
    """The best of all assignments (all permutations when every group fills a node); None if
    there are split groups, too many assignments, or the budget runs out."""
    n, k = inst.num_nodes, len(inst.items)
    if inst.splits:
        return None
    fills = all(item.cores == c for item in inst.items for c in inst.node_cores)
    candidates: Iterable[tuple[int, ...]]
    if fills and n == k:
        if math.factorial(n) > 3_000_000:
            return None
        candidates = itertools.permutations(range(n))
    else:
        if n**k > 3_000_000:
            return None
        candidates = itertools.product(range(n), repeat=k)
    cores = np.array([item.cores for item in inst.items])
    memory = np.array([item.memory_units for item in inst.items])
    start = time.perf_counter()
    best: tuple[int, tuple[int, ...]] | None = None
    for assignment in candidates:
        if time.perf_counter() - start > budget_s:
            return None
        if np.any(np.bincount(assignment, weights=cores, minlength=n) > inst.node_cores):
            continue
        if np.any(np.bincount(assignment, weights=memory, minlength=n) > inst.node_memory):
            continue
        cost = inst.item_cost(assignment)
        if best is None or cost < best[0]:
            best = (cost, assignment)
    return None if best is None else Placement(best[1], (), ())


def plain_cpsat(inst: Instance, time_limit_s: float) -> tuple[Placement | None, str]:
    """CP-SAT on the textbook model: x[group, node], k[split, node], a product per flow and node pair."""
    model = cp_model.CpModel()
    nodes = range(inst.num_nodes)
    x = {(i, a): model.new_bool_var("") for i, item in enumerate(inst.items) for a in item.allowed}
    k = {(s, a): model.new_int_var(0, min(split.cores, int(inst.node_cores[a])), "") for s, split in enumerate(inst.splits) for a in split.allowed}
    for i, item in enumerate(inst.items):
        model.add_exactly_one(x[i, a] for a in item.allowed)
    for s, split in enumerate(inst.splits):
        model.add(sum(k[s, a] for a in split.allowed) == split.cores)
    for a in nodes:
        load = [item.cores * x[i, a] for i, item in enumerate(inst.items) if (i, a) in x]
        load += [k[s, a] for s in range(len(inst.splits)) if (s, a) in k]
        model.add(sum(load) <= int(inst.node_cores[a]))
        mem = [item.memory_units * x[i, a] for i, item in enumerate(inst.items) if (i, a) in x]
        for s, split in enumerate(inst.splits):
            if (s, a) in k:  # at least the group's share, rounded up (the plan rounds some shares down)
                share = model.new_int_var(0, split.memory_units, "")
                model.add(split.cores * share >= split.memory_units * k[s, a])
                mem.append(share)
        model.add(sum(mem) <= int(inst.node_memory[a]))
    terms: list[Any] = [inst.constant]
    d = inst.distances
    for (i, j), w in inst.pair_weights.items():
        for a, b in itertools.product(inst.items[i].allowed, inst.items[j].allowed):
            p = model.new_bool_var("")
            model.add_multiplication_equality(p, [x[i, a], x[j, b]])
            terms.append(w * int(d[a, b]) * p)
    for flow in inst.split_flows:
        side_a, side_b = plain_side(inst, x, k, flow.a), plain_side(inst, x, k, flow.b)
        basis = inst.unit_cores(flow.a) if flow.a.split else 1
        basis *= inst.unit_cores(flow.b) if flow.b.split else 1
        coefficient = flow.weight * inst.scale // basis
        for (a, va, ha), (b, vb, hb) in itertools.product(side_a, side_b):
            p = model.new_int_var(0, ha * hb, "")
            model.add_multiplication_equality(p, [va, vb])
            terms.append(coefficient * int(d[a, b]) * p)
    model.minimize(sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = time_limit_s
    solver.parameters.num_workers = 1
    code = solver.solve(model)
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return None, solver.status_name(code).lower()
    where = tuple(next(a for a in item.allowed if solver.value(x[i, a])) for i, item in enumerate(inst.items))
    cores = [tuple(int(solver.value(k[s, a])) if (s, a) in k else 0 for a in nodes) for s in range(len(inst.splits))]
    memory = [tuple(split_memory(split.memory_units, split.cores, c)) for split, c in zip(inst.splits, cores, strict=True)]
    return Placement(where, tuple(cores), tuple(memory)), "proved" if code == cp_model.OPTIMAL else "no proof"


def plain_side(inst: Instance, x: dict[tuple[int, int], Any], k: dict[tuple[int, int], Any], unit: Any) -> list[tuple[int, Any, int]]:
    """(node, variable, upper bound) of one side of a split flow: cores of a split group, 0/1 of an item."""
    if unit.split:
        return [(a, k[unit.index, a], inst.splits[unit.index].cores) for a in inst.splits[unit.index].allowed]
    return [(a, x[unit.index, a], 1) for a in inst.items[unit.index].allowed]


def judge(inst: Instance, placement: Placement) -> tuple[float | None, str]:
    """A peer's answer as a plan: checked by the verifier, priced by locality_cost."""
    try:
        plan = build_plan(inst, placement, status=SolveStatus.FEASIBLE, objective=None, best_bound=None, wall_time_s=0.0)
    except (NumaoptError, ValueError, KeyError, IndexError, StopIteration) as exc:
        return None, f"invalid answer: {exc}"
    found = verify_plan(inst.request, plan)
    if found:
        return None, f"invalid answer: {found[0]}"
    cost = locality_cost(inst.request, plan)
    exact = float(inst.true_cost(placement))
    if abs(cost - exact) > 1e-6 * max(1.0, cost):
        return cost, f"locality_cost {cost} != Instance.true_cost {exact}"
    return cost, ""


def timed_peer(inst: Instance, solve: Callable[[], tuple[Placement | None, str]]) -> PeerResult:
    start = time.perf_counter()
    placement, note = solve()
    seconds = time.perf_counter() - start
    if placement is None:
        return PeerResult(None, seconds, note or "no answer")
    value, problem = judge(inst, placement)
    return PeerResult(value, seconds, problem or note)


def run_peers(inst: Instance, limits: Limits, dense: bool) -> dict[str, PeerResult]:
    peers: dict[str, Callable[[], tuple[Placement | None, str]]] = {
        "hint": lambda: (initial_placement(inst), ""),
        "nova": lambda: (nova_first_fit(inst), ""),
        "enum": lambda: (enumerate_all(inst, limits.enumeration), "skipped"),
    }
    if is_pure(inst) and inst.pair_weights:
        peers["faq"] = lambda: (qap_peer(inst, "faq"), "")
        peers["faq x20"] = lambda: (qap_peer(inst, "faq", starts=20), "")
        peers["2opt"] = lambda: (qap_peer(inst, "2opt"), "")
        if dense:
            peers["faq x200"] = lambda: (qap_peer(inst, "faq", starts=200, seed=2), "")
    if inst.num_nodes <= 16:
        peers["plain CP-SAT"] = lambda: plain_cpsat(inst, limits.plain)
    return {name: timed_peer(inst, solve) for name, solve in peers.items()}


# -- one instance --------------------------------------------------------------------------


@dataclass
class Outcome:
    case: Case
    nodes: int
    run: Run
    problems: list[str]  # the verifier's findings on numaopt's plan
    peers: dict[str, PeerResult] = field(default_factory=dict)
    proof: tuple[float, bool] | None = None  # in-process place(): seconds, proven
    reference: Run | None = None  # numaopt at the reference limit (dense instances)
    reference_problems: list[str] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)  # anything suspicious, one line each

    @property
    def objective(self) -> float | None:
        return self.run.objective

    def best_known(self) -> tuple[float, str] | None:
        found = [(p.objective, name) for name, p in self.peers.items() if p.objective is not None and not p.note.startswith("invalid")]
        if self.objective is not None:
            found.append((self.objective, "numaopt"))
        if self.reference is not None and self.reference.objective is not None:
            found.append((self.reference.objective, f"numaopt {self.reference.limit_s:g} s"))
        return min(found) if found else None

    def behind(self, peer: str) -> bool:
        other = self.peers.get(peer)
        mine = self.objective
        return other is not None and other.objective is not None and mine is not None and mine > other.objective * (1 + 1e-9) + 1e-9


def slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def run_case(case: Case, workdir: Path, limits: Limits) -> Outcome:
    path = workdir / f"{slug(case.family)}--{slug(case.name)}.toml"
    path.write_text(case.text)
    loaded = load_problem(path).placement
    assert loaded is not None, path
    request: PlacementRequest = loaded
    run = solve_cli(path, case.limit_s)
    outcome = Outcome(case, request.host.num_nodes, run, plan_problems(request, run.plan) if run.plan else [])
    if case.infeasible:
        if run.code != 3:
            outcome.findings.append(f"expected exit 3 (no plan), got {run.code}: {run.message}")
        return finish(outcome)
    if run.plan is None:
        outcome.findings.append(f"no plan: exit {run.code}: {run.message}")
        return finish(outcome)
    inst = build_instance(request)
    if case.proof:
        outcome.proof = proof_time(request)
    outcome.peers = run_peers(inst, limits, case.dense)
    if case.dense and not run.proven:
        old = f'time_limit = "{case.limit_s:g}s"'
        assert case.text.count(old) == 1, case.name
        ref_path = path.with_name(path.stem + "--reference.toml")
        ref_path.write_text(case.text.replace(old, f'time_limit = "{limits.reference:g}s"'))
        outcome.reference = solve_cli(ref_path, limits.reference)
        if outcome.reference.plan is not None:
            outcome.reference_problems = plan_problems(request, outcome.reference.plan)
    return finish(outcome)


def finish(outcome: Outcome) -> Outcome:
    """Collect what is suspicious about one instance."""
    case, run, notes = outcome.case, outcome.run, outcome.findings
    notes += [f"verify: {p}" for p in outcome.problems]
    notes += [f"verify ({outcome.reference.limit_s:g} s run): {p}" for p in outcome.reference_problems if outcome.reference]
    for label, r in (("", run), (" (reference run)", outcome.reference)):
        if r is not None and r.overrun:
            notes.append(f"wall clock {r.wall_s:.2f} s > limit {r.limit_s:g} s + {max(0.5, 0.1 * r.limit_s):g} s{label}")
        if r is not None and r.code not in (0, 3):
            notes.append(f"exit {r.code}{label}: {r.message}")
    if run.rss_mb > RSS_TARGET_MB:
        notes.append(f"peak RSS {run.rss_mb:.0f} MB > {RSS_TARGET_MB:.0f} MB")
    for name, peer in outcome.peers.items():
        if peer.note.startswith(("invalid", "locality_cost")):
            notes.append(f"peer {name}: {peer.note}")
        if run.proven and peer.objective is not None and outcome.objective is not None and peer.objective < outcome.objective * (1 - 1e-9) - 1e-9:
            notes.append(f"peer {name} ({peer.objective:g}) beat numaopt's proven optimum {outcome.objective:g}")
    if outcome.behind("faq x20"):
        notes.append(f"numaopt {outcome.objective:g} is behind faq x20 {outcome.peers['faq x20'].objective:g}")
    best = outcome.best_known()
    if case.dense and best is not None and outcome.objective is not None and outcome.objective > best[0] * 1.01:
        notes.append(f"numaopt {outcome.objective:g} at {case.limit_s:g} s is more than 1 % above the best known {best[0]:g} ({best[1]})")
    return outcome


def ratio_text(outcome: Outcome) -> str:
    mine = outcome.objective
    return "  ".join(
        f"{name}={p.objective / mine:.3f}" if p.objective is not None and mine else f"{name}=-"
        for name, p in outcome.peers.items()
    )


def instance_line(o: Outcome) -> str:
    run = o.run
    head = f"{o.case.family[:30]:30s} {o.case.name[:46]:46s}"
    usage = f"wall {run.wall_s:6.2f}s/{run.limit_s:g}s rss {run.rss_mb:4.0f}MB"
    if run.plan is None:
        return f"{head} {usage} exit {run.code}: {run.message[:90]}"
    gap = run.gap
    status = "proved" if run.proven else f"gap {gap:.2%}" if gap is not None else "no bound"
    proof = f" in-process {o.proof[0]:.3f}s" if o.proof else ""
    ref = ""
    if o.reference is not None and o.reference.objective is not None:
        ref = f" {o.reference.limit_s:g}s-run={o.reference.objective / (o.objective or 1):.3f}"
    return f"{head} {usage} obj {o.objective:.6g} {status}{proof}  peer/numaopt: {ratio_text(o)}{ref}"


# -- summary -------------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def family_lines(outcomes: list[Outcome]) -> list[str]:
    """Per family: proofs, wall clock, search time, overruns, peak RSS, median peer ratios."""
    families: dict[str, list[Outcome]] = {}
    for o in outcomes:
        families.setdefault(o.case.family, []).append(o)
    lines = [
        "| family | instances | nodes | proven | wall median / worst (s) | search median (s) | overruns | peak RSS (MB) "
        "| behind faq x20 | median peer / numaopt (median peer time) |",
        "|---|---:|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for family, members in families.items():
        walls = [o.run.wall_s for o in members]
        search = [o.run.plan.wall_time_s for o in members if o.run.plan]
        proven = sum(1 for o in members if o.run.proven or (o.case.infeasible and o.run.code == 3))
        overruns = sum(1 for o in members for r in (o.run, o.reference) if r is not None and r.overrun)
        ratios: dict[str, list[float]] = {}
        seconds: dict[str, list[float]] = {}
        for o in members:
            for name, p in o.peers.items():
                seconds.setdefault(name, []).append(p.seconds)
                if p.objective is not None and o.objective:
                    ratios.setdefault(name, []).append(p.objective / o.objective)
        peers = ", ".join(f"{name} {median(v):.3f} ({median(seconds[name]):.2f} s)" for name, v in ratios.items())
        nodes = sorted({o.nodes for o in members})
        behind = sum(1 for o in members if o.behind("faq x20"))
        with_faq = sum(1 for o in members if "faq x20" in o.peers)
        lines.append(
            f"| {family} | {len(members)} | {nodes[0]}-{nodes[-1]} | {proven} | {median(walls):.2f} / {max(walls):.2f} "
            f"| {median(search):.3f} | {overruns} | {max(o.run.rss_mb for o in members):.0f} "
            f"| {f'{behind} of {with_faq}' if with_faq else '-'} | {peers or '-'} |"
        )
    return lines


def proof_row(outcomes: list[Outcome], which: str, med_target: float, worst_target: float | None) -> tuple[str, str]:
    timed = [o.proof for o in outcomes if o.case.proof == which and o.proof is not None]
    if not timed:
        return "not run", "-"
    seconds = [s for s, _ in timed]
    proven = sum(1 for _, p in timed if p)
    med, worst = median(seconds), max(seconds)
    text = f"{proven}/{len(timed)} proven; median {med:.3f} s, worst {worst:.3f} s"
    misses = []
    if proven < len(timed):
        misses.append(f"{len(timed) - proven} not proven")
    if med > med_target:
        misses.append(f"median missed by {med - med_target:.3f} s")
    if worst_target is not None and worst > worst_target:
        misses.append(f"worst missed by {worst - worst_target:.3f} s")
    return text, "yes" if not misses else "no: " + ", ".join(misses)


def target_rows(outcomes: list[Outcome], limits: Limits) -> list[tuple[str, str, str]]:
    rows = []
    with_faq = [o for o in outcomes if "faq x20" in o.peers]
    behind = [o for o in with_faq if o.behind("faq x20")]
    rows.append(("objective never worse than scipy faq x20 (pure-assignment instances)", f"behind on {len(behind)} of {len(with_faq)}", "yes" if not behind else f"no: {len(behind)} instances"))
    rows.append(("16-node 4x4, one group per node: proven <= 0.2 s median, <= 1 s worst (in-process place())", *proof_row(outcomes, PROOF_4X4, 0.2, 1.0)))
    rows.append(("16 groups on 8 nodes: proven <= 0.3 s median (in-process place())", *proof_row(outcomes, PROOF_16_ON_8, 0.3, None)))
    dense = [o for o in outcomes if o.case.dense and o.objective is not None]
    excess = [(o.objective / best[0] - 1, o) for o in dense if (best := o.best_known()) is not None and o.objective is not None]
    over = [e for e, _ in excess if e > 0.01]
    worst = max((e for e, _ in excess), default=0.0)
    rows.append((f"dense n <= 30: within 1 % of the best plan any method finds ({limits.reference:g} s reference), at {limits.numaopt:g} s", f"{len(excess) - len(over)}/{len(excess)} within 1 %; worst {worst:.2%} above", "yes" if not over else f"no: {len(over)} instances"))
    runs = [r for o in outcomes for r in (o.run, o.reference) if r is not None]
    overruns = [r for r in runs if r.overrun]
    worst_over = max((r.wall_s - r.limit_s for r in runs), default=0.0)
    rows.append(("wall clock <= time_limit + max(0.5 s, 10 %), `numaopt solve` as a process", f"{len(overruns)} of {len(runs)} runs over; largest wall - limit {worst_over:+.2f} s", "yes" if not overruns else f"no: {len(overruns)} runs"))
    big = [o.run.rss_mb for o in outcomes if o.nodes >= 64]
    peak = max((o.run.rss_mb for o in outcomes), default=0.0)
    rows.append(("peak RSS <= 500 MB at 64 nodes", f"64 nodes: {max(big, default=0):.0f} MB; largest of any run {peak:.0f} MB", "yes" if max(big, default=0) <= RSS_TARGET_MB else "no"))
    failed = [o for o in outcomes if o.problems or o.reference_problems]
    plans = sum(1 for o in outcomes for r in (o.run, o.reference) if r is not None and r.plan is not None)
    rows.append(("every plan passes verify_plan, reported objective = locality_cost", f"{plans - len(failed)} of {plans} plans clean", "yes" if not failed else f"no: {len(failed)}"))
    return rows


def dense_lines(outcomes: list[Outcome]) -> list[str]:
    lines = ["| instance | numaopt at the limit | bound | best known (by) | numaopt above best | reference run |", "|---|---:|---:|---|---:|---|"]
    for o in outcomes:
        if not o.case.dense or o.objective is None:
            continue
        best = o.best_known()
        assert best is not None
        bound = o.run.plan.best_bound if o.run.plan else None
        ref = "not needed (proven)" if o.reference is None else f"{o.reference.objective:.0f}, {'proved' if o.reference.proven else 'no proof'}, {o.reference.wall_s:.1f} s"
        lines.append(f"| {o.case.family}: {o.case.name} | {o.objective:.0f} | {bound if bound is None else f'{bound:.0f}'} | {best[0]:.0f} ({best[1]}) | {o.objective / best[0] - 1:.2%} | {ref} |")
    return lines


def gap_lines(outcomes: list[Outcome]) -> list[str]:
    """Gap at 0.1 / 1 s (in process) and at the limit (the CLI run), for each family's largest instance."""
    last: dict[str, Outcome] = {}
    for o in outcomes:
        if o.run.plan is not None:
            last[o.case.family] = o
    lines = []
    for family, o in last.items():
        request = load_problem_text(o.case.text)
        gaps = [gap_at(request, limit) for limit in (0.1, 1.0)] + [o.run.gap]
        lines.append(f"- {family}, {o.case.name}: " + " / ".join("-" if g is None else f"{g:.2%}" for g in gaps))
    return lines


def load_problem_text(text: str) -> PlacementRequest:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "problem.toml"
        path.write_text(text)
        request = load_problem(path).placement
    assert request is not None
    return request


# -- the run -------------------------------------------------------------------------------


def busy_seconds() -> float:
    """CPU seconds all CPUs spent busy since boot (/proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process and of the children it has waited for."""
    child = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + child.ru_utime + child.ru_stime


def code_state() -> tuple[str, dict[str, str]]:
    """The commit measured (plus whether numaopt's files had uncommitted changes), and a
    digest of each numaopt source file as it is on disk, to tell what changed during the run
    (other engineers work in the same checkout)."""
    root = Path(__file__).resolve().parent.parent
    git = ["git", "-C", str(root)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run([*git, "status", "--porcelain", "--", "numaopt"], capture_output=True, text=True).stdout.splitlines()
    digests = {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted((root / "numaopt").rglob("*.py"))}
    text = f"numaopt at commit {head or '(not in git)'}"
    if dirty:
        text += f" plus uncommitted changes to {len(dirty)} of its files (other engineers' work in progress)"
    return text, digests


def code_line(before: tuple[str, dict[str, str]], after: tuple[str, dict[str, str]]) -> str:
    changed = sorted(name for name in before[1].keys() | after[1].keys() if before[1].get(name) != after[1].get(name))
    if not changed:
        return f"- Code: {before[0]}; numaopt's source did not change during the run."
    return (
        f"- Code: {before[0]} at the start; **numaopt's source changed during the run** (other engineers' commits; "
        f"{after[0]} at the end): {', '.join(changed)}."
    )


def machine_lines(code: str, others: float, wall: float, loads: tuple[str, str]) -> list[str]:
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB
    return [
        code,
        f"- Machine: {os.cpu_count()} cores ({cpu_model()}), {mem_total:.0f} GiB; Python {platform.python_version()}, "
        f"OR-Tools {ortools.__version__}, SciPy {scipy.__version__}, numpy {np.__version__}; "
        f"numaopt as `{' '.join(Path(c).name for c in numaopt_command())}` (the console script, no pyenv shim).",
        f"- Other work was running: other processes kept {others:.2f} of the {os.cpu_count()} CPUs busy on average "
        f"during this run ({wall / 60:.0f} min; load average {loads[0]} at the start, {loads[1]} at the end). "
        "Wall clocks include that contention.",
        "- `free -g`:",
        "",
        "```",
        free_memory_table(),
        "```",
    ]


def report(outcomes: list[Outcome], limits: Limits, command: str, machine: list[str], gaps: list[str]) -> str:
    behind = [o for o in outcomes if o.behind("faq x20")]
    overruns = [o for o in outcomes if any(r is not None and r.overrun for r in (o.run, o.reference))]
    findings = [f"- {o.case.family}, {o.case.name}: {f}" for o in outcomes for f in o.findings]
    lines = [
        SECTION,
        "",
        f"Command: `{command}`.",
        "",
        *machine,
        "",
        f"Every instance is a problem file solved by `numaopt solve FILE --format json` in its own process, "
        f"`objective.time_limit = {limits.numaopt:g}s`, 1 CP-SAT worker (the defaults otherwise); wall clock "
        "(interpreter start included) and peak RSS of that process are measured from outside (GNU `time -f %M`). Its plan "
        "is read back from the JSON and checked with `numaopt.audit.verify_plan` against the request the file "
        "loads to; its reported objective must equal `locality_cost` recomputed from the pinning. Peers run in the "
        "benchmark's process on the same instance; each answer becomes a plan (`build_plan`), is checked by the "
        "same verifier and priced by the same `locality_cost`. Proof times of the 16-node and 16-group targets are "
        "in-process `place()` calls (no interpreter start). Ratios are peer / numaopt (above 1: the peer is worse).",
        "",
        "Families: real-style hosts (Intel SNC2 4 nodes, AMD EPYC NPS4 8 nodes, Opteron 8 nodes with an irregular "
        "SLIT) x traffic patterns, one group per node; 16-node 4x4 block host, one group per node; 4-32 groups "
        "sharing an 8-node host under capacity; dense random hosts (n = 12-30, symmetric distances 11-99, "
        "one-CPU nodes, one-vCPU groups, half the pairs talk); QAP-literature-style pure assignments (Taillard-a "
        "style uniform flows and distances, n = 12-36; Nugent-style grid (Manhattan) distances with sparse flows, "
        "n = 12-36); 32- and 64-node hosts (board/socket blocks and random SLITs, one group per node and groups "
        "sharing nodes); big split groups (72-250 vCPUs on 16-64-node synthetic hosts, VMs with no traffic, "
        "SMT, split groups talking to each other and to small groups); two infeasible workloads. "
        "Several VMs on one host (issue 10, item 6) have their own section below (`--vms`), and so has the comparison with and without large-neighbourhood search (`--lns`).",
        "",
        "Peers: scipy `quadratic_assignment` (`faq` from its barycentre start, `faq` x 20 random starts, `2opt`) "
        "where the instance is a pure assignment; a plain CP-SAT model (a boolean per group x node, a core count "
        "per split group x node, a product per flow x node pair, 1 worker, "
        f"{limits.plain:g} s) on hosts of <= 16 nodes; Nova-style capacity-only first fit (`nova`); numaopt's own "
        f"first hint without the search (`hint`); exhaustive enumeration (`enum`, <= {limits.enumeration:g} s). "
        f"Dense instances also get numaopt at {limits.reference:g} s and `faq x200` as references for the best known plan.",
        "",
        "Targets (issue 10):",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        *(f"| {t} | {m} | {ok} |" for t, m, ok in target_rows(outcomes, limits)),
        "",
        "Per family (peak RSS: the largest of the family's `numaopt solve` processes):",
        "",
        *family_lines(outcomes),
        "",
        f"Instances where numaopt's objective is worse than scipy faq x20: {len(behind)} (the peer's 20 random "
        "starts come from its own seed, not from the starts numaopt's portfolio draws from objective.seed)",
        *(f"- {o.case.family}, {o.case.name}: numaopt {o.objective:g}, faq x20 {o.peers['faq x20'].objective:g} "
          f"(numaopt {o.objective / (o.peers['faq x20'].objective or 1) - 1:+.2%})" for o in behind),
        "",
        f"Instances over the time limit: {len(overruns)}",
        *(f"- {o.case.family}, {o.case.name}: " + "; ".join(f"{r.wall_s:.2f} s for {r.limit_s:g} s" for r in (o.run, o.reference) if r is not None and r.overrun) for o in overruns),
        "",
        "Dense instances against the best plan any method found:",
        "",
        *dense_lines(outcomes),
        "",
    ]
    if gaps:
        lines += ["Gap at 0.1 / 1 s (in process) and at the limit (the CLI run), largest instance of each family:", "", *gaps, ""]
    lines += [f"Everything suspicious ({len(findings)}):", *findings, ""]
    lines += ["Per instance:", "", "```", *(instance_line(o) for o in outcomes), "```"]
    return "\n".join(lines)


# -- several VMs on one host (issue 10, item 6) --------------------------------------------

VM_SECTION = "## Placement search: several VMs on one host (issue 10.6)"


@dataclass(frozen=True)
class VmCase:
    """A problem with [[vm]] tables: 2-16 VMs on a 2-16 node host, host CPU 0 reserved."""

    host_name: str
    name: str
    host: HostTopology
    vms: tuple[dict[str, Any], ...]  # the [[vm]] tables
    sockets_apart: tuple[tuple[str, str], ...]
    limit_s: float

    @property
    def text(self) -> str:
        top: dict[str, Any] = {"sockets_apart": [list(pair) for pair in self.sockets_apart]} if self.sockets_apart else {}
        host = tomllib.loads(host_to_toml(self.host))["host"] | {"reserved_cpus": "0"}
        # One table dumped at once: the VMs written after [[host.sockets]] by hand would belong to a socket.
        return tomli_w.dumps(top | {"vm": list(self.vms), "objective": {"time_limit": f"{self.limit_s:g}s"}, "host": host})


def vm_table(name: str, rng: np.random.Generator, vcpus: int, priority: int, mib_per_vcpu: int = 512) -> dict[str, Any]:
    """One VM of ``vcpus`` vCPUs and ``mib_per_vcpu`` MiB each: either no groups (one VM
    that may split) or 2-4 groups with traffic among them."""
    table: dict[str, Any] = {"name": name}
    if priority != 1:
        table["priority"] = priority
    if vcpus <= 4 or rng.random() < 0.3:
        return table | {"vcpus": vcpus, "memory": format_size(vcpus * mib_per_vcpu * MIB)}
    # Groups of at most 4 vCPUs: two fit a node of 8 CPUs, so a VM never needs a whole node per group.
    count = max(int(rng.integers(2, min(4, vcpus // 2) + 1)), math.ceil(vcpus / 4))
    sizes = np.full(count, vcpus // count)
    sizes[: vcpus - int(sizes.sum())] += 1
    table["groups"] = [{"name": f"g{k}", "vcpus": int(v), "memory": format_size(int(v) * mib_per_vcpu * MIB)} for k, v in enumerate(sizes)]
    pairs = [(a, b) for a in range(count) for b in range(a + 1, count)]
    table["traffic"] = [{"between": [f"g{a}", f"g{b}"], "weight": int(rng.integers(1, 100))} for a, b in pairs if rng.random() < 0.7]
    return table


def hidden_packing(rng: np.random.Generator, host: HostTopology, count: int, fill: float) -> list[list[int]]:
    """Group sizes of ``count`` VMs that are known to fit: ``fill`` of every node's free
    whole cores (CPU 0 reserved) cut into pieces of 1-4 cores' threads (on an SMT host 2 or
    4 threads, whole cores, so no two VMs need one core), the pieces dealt out to the VMs."""
    threads = host.threads_per_core
    pieces: list[int] = []
    for k, node in enumerate(host.nodes):
        left = round(fill * (len(node.cpus) // threads - (k == 0)))  # in cores
        while left > 0:
            pieces.append(min(left, int(rng.integers(1, 4 // threads + 1))))
            left -= pieces[-1]
    while len(pieces) < count:  # more VMs than pieces: halve the largest
        big = pieces.pop(int(np.argmax(pieces)))
        pieces += [big // 2, big - big // 2]
    pieces = [threads * piece for piece in pieces]
    order = rng.permutation(len(pieces))
    vms: list[list[int]] = [[pieces[int(k)]] for k in order[:count]]
    for k in order[count:]:
        vms[int(rng.integers(count))].append(pieces[int(k)])
    return vms


def packed_vm_table(name: str, rng: np.random.Generator, sizes: list[int], priority: int, mib_per_vcpu: int) -> dict[str, Any]:
    """A VM of the hidden packing: one group per piece with traffic among them, or (one piece,
    or at random) no groups, one VM that may split."""
    table: dict[str, Any] = {"name": name} | ({"priority": priority} if priority != 1 else {})
    vcpus = sum(sizes)
    if len(sizes) == 1 or rng.random() < 0.3:
        return table | {"vcpus": vcpus, "memory": format_size(vcpus * mib_per_vcpu * MIB)}
    table["groups"] = [{"name": f"g{k}", "vcpus": v, "memory": format_size(v * mib_per_vcpu * MIB)} for k, v in enumerate(sizes)]
    pairs = [(a, b) for a in range(len(sizes)) for b in range(a + 1, len(sizes))]
    table["traffic"] = [{"between": [f"g{a}", f"g{b}"], "weight": int(rng.integers(1, 100))} for a, b in pairs if rng.random() < 0.7]
    return table


def several_vms(seeds: range, limit: float, quick: bool) -> Iterator[VmCase]:
    """Two kinds. Few VMs: 2-4 VMs filling 50-85 % of the free CPUs on 4-16 node hosts, on
    the 2-socket hosts half of them keeping the first two VMs on different sockets. Many VMs
    (issue 10's 4-16 VMs on 2-8 node hosts): the VMs fill 90-100 % of the free CPUs and
    memory, so they compete for the nodes and the priorities decide who gets the near ones.
    Random priorities (1, 2 or 4) throughout, host CPU 0 reserved."""
    few = {
        "4-node 2x2": block_host(2, 2, cpus_per_node=8, memory_gib=16),
        "8-node 2x4": block_host(2, 4, cpus_per_node=8, memory_gib=16),
        "16-node 4x4": block_host(4, 4, cpus_per_node=8, memory_gib=16),
    }
    for (host_name, host), count, seed in itertools.product(few.items(), (3,) if quick else (2, 3, 4), seeds):
        rng = np.random.default_rng(800 + 10 * count + seed + 100 * host.num_nodes)
        total = sum(len(node.cpus) for node in host.nodes) - 1
        fill = rng.uniform(0.5, 0.85)
        sizes = [max(2, int(fill * total * share)) for share in rng.dirichlet(np.ones(count))]
        vms = tuple(vm_table(f"vm{k}", rng, size, int(rng.choice([1, 1, 2, 4]))) for k, size in enumerate(sizes))
        # Kept apart only when each of the two fits a socket (one CPU of socket 0 is reserved), so a plan exists.
        apart = (("vm0", "vm1"),) if host_name != "16-node 4x4" and seed % 2 == 1 and max(sizes[:2]) <= total // 2 else ()
        label = f"{count} VMs, {sum(sizes)} vCPUs{', vm0/vm1 sockets apart' if apart else ''}/{seed}"
        yield VmCase(host_name, label, host, vms, apart, limit)
    yield from many_vms(seeds, limit, quick)


def many_vms(seeds: range, limit: float, quick: bool) -> Iterator[VmCase]:
    """4-16 VMs on 2-, 4- and 8-node hosts (16 CPUs and 12 GiB free a node; one host of 8
    cores x 2 SMT threads a node, where no two VMs may share a core) filling 90-100 % of the
    free CPUs and about as much of the free memory, from a hidden packing (so a plan exists)
    that the search does not see."""
    hosts = {
        "2-node 2x1": block_host(2, 1, cpus_per_node=16, memory_gib=16),
        "4-node 2x2 (16 CPUs)": block_host(2, 2, cpus_per_node=16, memory_gib=16),
        "8-node 2x4 (16 CPUs)": block_host(2, 4, cpus_per_node=16, memory_gib=16),
        "4-node 2x2 SMT (8 cores x 2)": block_host(2, 2, cpus_per_node=16, memory_gib=16, smt=True),
    }
    for (host_name, host), count, seed in itertools.product(hosts.items(), (8,) if quick else (4, 8, 12, 16), seeds):
        rng = np.random.default_rng(900 + 10 * count + seed + 100 * host.num_nodes)
        cpus = sum(len(node.cpus) for node in host.nodes) - 1
        memory_mib = sum(node.free_bytes or node.memory_bytes for node in host.nodes) // MIB
        packing = hidden_packing(rng, host, count, rng.uniform(0.9, 1.0))
        # A node's share of memory per CPU, a little less: memory that follows split VMs' vCPUs rounds up by 1 MiB a node.
        node = host.nodes[1]
        mib_per_vcpu = int(rng.uniform(0.95, 0.99) * (node.free_bytes or node.memory_bytes) // MIB / len(node.cpus))
        vms = tuple(packed_vm_table(f"vm{k}", rng, sizes, int(rng.choice([1, 1, 2, 4])), mib_per_vcpu) for k, sizes in enumerate(packing))
        vcpus = sum(map(sum, packing))
        label = f"{count} VMs, {vcpus}/{cpus} vCPUs, {mib_per_vcpu * vcpus / memory_mib:.0%} memory/{seed}"
        yield VmCase(host_name, label, host, vms, (), limit)


def load_shared_text(text: str) -> SharedHostRequest:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "problem.toml"
        path.write_text(text)
        request = load_problem(path).shared
    assert request is not None
    return request


def sequential_peer(request: SharedHostRequest, budget_s: float) -> tuple[dict[str, Plan] | None, str]:
    """The simple peer: each VM placed alone by numaopt (optimal for that VM, the highest
    priority first, a share of the time limit each) on what the VMs before it left free
    (whole cores on an SMT host). No sockets_apart: a VM alone has no one to keep apart from."""
    host, reserved = request.host, set(request.reserved_cpus)
    plans: dict[str, Plan] = {}
    for vm in sorted(request.vms, key=lambda vm: -vm.priority):
        alone = PlacementRequest(
            host, vm.workload, tuple(sorted(reserved)), replace(request.settings, time_limit_s=budget_s / len(request.vms)), vm.machine, vm.backend
        )
        try:
            plan = place(alone)
        except NoPlanError as exc:
            return None, f"{vm.name}: {exc}"
        plans[vm.name] = plan
        # Whole cores: the next VM gets no SMT sibling of this one's vCPUs (what verify_shared asks).
        reserved |= {sibling for _, cpu in plan.vcpu_to_host_cpu for sibling in host.siblings()[cpu]}
        used = {node.host_nodes[0]: node.memory_bytes for node in plan.layout.nodes}
        host = replace(host, nodes=tuple(
            replace(n, free_bytes=(n.memory_bytes if n.free_bytes is None else n.free_bytes) - used.get(n.node_id, 0)) for n in host.nodes
        ))
    return plans, ""


def weighted_cost(request: SharedHostRequest, plans: dict[str, Plan]) -> float:
    return sum(vm.priority * locality_cost(request.vm_request(vm), plans[vm.name]) for vm in request.vms)


@dataclass
class VmOutcome:
    case: VmCase
    code: int
    wall_s: float
    rss_mb: float
    status: str
    objective: float | None
    bound: float | None
    problems: list[str]
    peers: dict[str, PeerResult] = field(default_factory=dict)


def run_vm_case(case: VmCase, workdir: Path) -> VmOutcome:
    """`numaopt solve` as a user runs it, every VM's plan read back and checked together by
    verify_shared (the weighted objective included); the peers checked the same way."""
    path = workdir / f"vms--{slug(case.host_name)}--{slug(case.name)}.toml"
    path.write_text(case.text)
    request = load_shared_text(case.text)
    out, err, rss = (path.with_suffix(suffix) for suffix in (".json", ".stderr", ".rss"))
    with out.open("w") as stdout, err.open("w") as stderr:
        start = time.perf_counter()
        code = subprocess.run([TIME, "-f", "%M", "-o", str(rss), *numaopt_command(), "solve", str(path), "--format", "json"],
                              stdout=stdout, stderr=stderr, timeout=3 * case.limit_s + 30, check=False).returncode
        wall = time.perf_counter() - start
    usage = rss.read_text().split() if rss.exists() else []
    peak = int(usage[-1]) / 1024 if usage and usage[-1].isdigit() else float("nan")
    if code != 0:
        message = (err.read_text().strip().splitlines() or [f"exit {code}"])[-1]
        return VmOutcome(case, code, wall, peak, "none", None, None, [f"exit {code}: {message}"])
    facts = json.loads(out.read_text())
    plans = {vm.name: plan_from_json(out.read_text(), str(out), vm=vm.name) for vm in request.vms}
    objective = float(facts["objective"])
    outcome = VmOutcome(case, code, wall, peak, str(facts["status"]), objective, facts.get("best_bound"),
                        verify_shared(request, plans, objective))
    combined = build_instance(combine(request))
    peers: dict[str, Callable[[], tuple[dict[str, Plan] | None, str]]] = {
        "sequential": lambda: sequential_peer(request, case.limit_s),
        "nova": lambda: nova_plans(request, combined),
    }
    for name, solve in peers.items():
        started = time.perf_counter()
        found, note = solve()
        seconds = time.perf_counter() - started
        if found is None:
            outcome.peers[name] = PeerResult(None, seconds, note or "no answer")
            continue
        cost = weighted_cost(request, found)
        problems = verify_shared(request, found, cost)
        outcome.peers[name] = PeerResult(None if problems else cost, seconds, f"invalid answer: {problems[0]}" if problems else note)
    return outcome


def nova_plans(request: SharedHostRequest, combined: Instance) -> tuple[dict[str, Plan] | None, str]:
    """Nova-style first fit of every VM's groups on the shared host, split back per VM."""
    placement = nova_first_fit(combined)
    if placement is None:
        return None, "no fit"
    taken: dict[int, int] = {}
    plans = {}
    for vm, partition in zip(request.vms, combined.request.partitions, strict=True):
        plan = build_plan(combined, placement, status=SolveStatus.FEASIBLE, objective=None, best_bound=None, wall_time_s=0.0,
                          only=partition, cores_taken=taken)
        plans[vm.name] = replace(plan, layout=replace(plan.layout, machine=vm.machine, backend=vm.backend, rules=vm.machine.default_rules))
    return plans, ""


def vm_line(o: VmOutcome) -> str:
    peers = "  ".join(
        f"{name}={'-' if p.objective is None or not o.objective else f'{p.objective / o.objective:.3f}'}" for name, p in o.peers.items()
    )
    head = f"{o.case.host_name:20s} {o.case.name:42s} wall {o.wall_s:5.2f}s/{o.case.limit_s:g}s rss {o.rss_mb:4.0f}MB"
    objective = "-" if o.objective is None else f"{o.objective:g}"
    return f"{head} obj {objective} {o.status}  peer/numaopt: {peers}"


def vm_report(outcomes: list[VmOutcome], command: str, machine: list[str]) -> str:
    lines = [VM_SECTION, "", *machine, "", f"Command: `{command}`", ""]
    lines += [
        "Each instance is a problem with `[[vm]]` tables on a block host (10 local, 12 in a socket, 32 across; host CPU 0 "
        "reserved; priorities 1, 2 or 4 at random). Few VMs: 2-4 VMs filling 50-85 % of the free CPUs of 4-16 nodes of "
        "8 CPUs and 12 GiB free (on the 2-socket hosts, seed 1 keeps the first two VMs on different sockets when each fits "
        "one). Many VMs: 4, 8, 12 or 16 VMs on 2, 4 or 8 nodes of 16 CPUs and 12 GiB free, cut from a hidden packing "
        "that fills 90-100 % of every node's free CPUs and about as much of its memory (so a plan exists and the VMs "
        "compete for the near nodes); a VM is either one that may split or groups of 1-4 vCPUs with random traffic. "
        "numaopt runs as `numaopt solve FILE --format json` in its own process (wall clock and peak RSS from outside); "
        "every VM's plan is read back and checked with `numaopt.audit.verify_shared` (each plan against the whole host, "
        "no CPU twice, memory shared, sockets apart, the reported priority-weighted objective recomputed). Peers, checked "
        "the same way: `sequential` places one VM at a time, highest priority first, with numaopt's own search (each VM "
        "optimal alone, on what the VMs before it left; the time limit shared among them; it cannot keep sockets apart) "
        "and `nova` is capacity-only first fit of every group. Ratios are peer / numaopt (above 1: the peer is worse; "
        "- : no valid answer, that is none found or one verify_shared refuses, such as VMs that should be on different "
        "sockets sharing one).",
        "",
        "| host | instances | proven | wall median / worst (s) | peak RSS (MB) | verify_shared clean | sequential: worse / equal / better / no valid plan | median sequential / numaopt | median nova / numaopt |",
        "|---|---:|---:|---|---:|---:|---|---:|---:|",
    ]
    for host_name in dict.fromkeys(o.case.host_name for o in outcomes):
        mine = [o for o in outcomes if o.case.host_name == host_name]
        seq = [o.peers["sequential"].objective if "sequential" in o.peers else None for o in mine]
        ratios = {name: [o.peers[name].objective / o.objective for o in mine
                         if name in o.peers and o.peers[name].objective is not None and o.objective] for name in ("sequential", "nova")}
        counts = [
            sum(1 for o, v in zip(mine, seq, strict=True) if v is not None and o.objective is not None and v > o.objective * (1 + 1e-9)),
            sum(1 for o, v in zip(mine, seq, strict=True) if v is not None and o.objective is not None and abs(v - o.objective) <= 1e-9 * max(1.0, v)),
            sum(1 for o, v in zip(mine, seq, strict=True) if v is not None and o.objective is not None and v < o.objective * (1 - 1e-9)),
            sum(1 for o, v in zip(mine, seq, strict=True) if v is None and "sequential" in o.peers),
        ]
        walls = [o.wall_s for o in mine]
        lines.append(
            f"| {host_name} | {len(mine)} | {sum(o.status == 'OPTIMAL' for o in mine)} | {median(walls):.2f} / {max(walls):.2f} | "
            f"{max(o.rss_mb for o in mine):.0f} | {sum(not o.problems for o in mine)} of {len(mine)} | "
            f"{' / '.join(map(str, counts))} | "
            + " | ".join(f"{median(r):.3f}" if r else "-" for r in ratios.values()) + " |"
        )
    lines += ["", "Per instance:", "", "```", *(vm_line(o) for o in outcomes), "```"]
    missing = [(o, name, peer.note) for o in outcomes for name, peer in o.peers.items() if peer.objective is None]
    lines += ["", f"Why a peer has no valid plan ({len(missing)}; the first 200 characters of its message):", "",
              *(f"- {o.case.host_name} {o.case.name}, {name}: {note[:200]}" for o, name, note in missing)]
    suspicious = [f"- {o.case.host_name} {o.case.name}: {p}" for o in outcomes for p in o.problems]
    suspicious += [f"- {o.case.host_name} {o.case.name}: wall {o.wall_s:.2f} s over the limit" for o in outcomes
                   if o.wall_s > o.case.limit_s + max(0.5, 0.1 * o.case.limit_s)]
    overruns = sum(1 for o in outcomes if o.wall_s > o.case.limit_s + max(0.5, 0.1 * o.case.limit_s))
    lines += ["", f"Instances over the time limit (wall clock > limit + max(0.5 s, 10 %)): {overruns} of {len(outcomes)}"]
    lines += ["", f"Everything suspicious ({len(suspicious)}):", *suspicious]
    return "\n".join(lines) + "\n"


def main_vms(args: argparse.Namespace) -> None:
    limits = QUICK if args.quick else FULL
    selected = [c for c in several_vms(range(1) if args.quick else range(2), limits.numaopt, args.quick) if args.only in f"{c.host_name} {c.name}"]
    print(f"{len(selected)} several-VM instances; numaopt: {' '.join(numaopt_command())}", file=sys.stderr)
    loads = [" ".join(f"{x:.2f}" for x in os.getloadavg())]
    started, busy0, ours0, code0 = time.perf_counter(), busy_seconds(), own_cpu_seconds(), code_state()
    outcomes = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for case in selected:
            outcomes.append(run_vm_case(case, workdir))
            print(vm_line(outcomes[-1]), flush=True)
            for problem in outcomes[-1].problems:
                print(f"    SUSPICIOUS: {problem}", flush=True)
    wall = time.perf_counter() - started
    others = max(0.0, busy_seconds() - busy0 - (own_cpu_seconds() - ours0)) / wall
    loads.append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
    command = "PYTHONPATH=. python3 benchmarks/bench_placement.py --vms" + (" --quick" if args.quick else "") + (f" --only '{args.only}'" if args.only else "")
    section = vm_report(outcomes, command, machine_lines(code_line(code0, code_state()), others, wall, (loads[0], loads[1])))
    print(section)
    if args.write:
        write_section(VM_SECTION, section)
        print(f"wrote the section into {RESULTS}", file=sys.stderr)


# -- large-neighbourhood search against the portfolio without it (issue 10.5) ------------------

LNS_SECTION = "## Placement search: large-neighbourhood search (issue 10.5)"


def main_lns(args: argparse.Namespace) -> None:
    """In process, on every pure-assignment instance of the families above (where LNS is
    used): solve_placement without and with the improvement phase, the same deadline, and
    scipy faq x20 in the same run; and the 16-node 4x4 proof times both ways."""
    limits = QUICK if args.quick else FULL
    loads = [" ".join(f"{x:.2f}" for x in os.getloadavg())]
    rows, proofs = [], []
    for case in cases(args.quick, limits):
        if args.only not in f"{case.family} {case.name}" or case.infeasible:
            continue
        inst = build_instance(load_problem_text(case.text))
        if case.proof != PROOF_4X4 and not (is_pure(inst) and inst.pair_weights and len(inst.items) > 4):
            continue
        found = {}
        for neighbourhoods in (False, True):
            start = time.perf_counter()
            decision = solve_placement(inst, deadline=start + limits.numaopt, neighbourhoods=neighbourhoods)
            found[neighbourhoods] = (decision.objective, time.perf_counter() - start, decision.status is SolveStatus.OPTIMAL)
        (before, t0, p0), (after, t1, p1) = found[False], found[True]
        assert before is not None and after is not None, case.name
        if case.proof == PROOF_4X4:
            proofs.append((case.name, t0, p0, t1, p1))
            print(f"proof {case.name}: {t0:.3f} s {p0} / {t1:.3f} s {p1}", file=sys.stderr, flush=True)
            continue
        faq = float(inst.true_cost(qap_peer(inst, "faq", starts=20)))
        rows.append((f"{case.family}: {case.name}", faq, before, after))
        print(f"{case.family}: {case.name}: faq x20 {faq:g}, before {before:g}, with LNS {after:g}", file=sys.stderr, flush=True)
    loads.append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
    command = "PYTHONPATH=. python3 benchmarks/bench_placement.py --lns" + (" --quick" if args.quick else "") + (f" --only '{args.only}'" if args.only else "")
    lines = [LNS_SECTION, "", f"Command: `{command}` (load average {loads[0]} at the start, {loads[1]} at the end: other "
             "engineers' work shared the 2 cores, so only the objectives, not the times, are comparable with other runs)", ""]
    lines += ["In process, same instance, same deadline, one after the other: `solve_placement(..., neighbourhoods=False)` "
              "(the portfolio before the improvement phase) and with it (QAP rounds of FAQ, 2-opt and tabu search, then LNS, then the full model again); "
              "scipy faq x20 in the same run. Every pure-assignment instance of the families above.", "",
              "| instance | faq x20 | before | with LNS | with / before | behind faq x20: before -> with |", "|---|---:|---:|---:|---:|---|"]
    behind = [0, 0]
    for name, faq, before, after in rows:
        marks = ["behind" if value > faq * (1 + 1e-9) else "no" for value in (before, after)]
        behind = [count + (mark == "behind") for count, mark in zip(behind, marks, strict=True)]
        if before != after or "behind" in marks:
            lines.append(f"| {name} | {faq:g} | {before:g} | {after:g} | {after / before:.4f} | {marks[0]} -> {marks[1]} |")
    same = sum(1 for _, _, before, after in rows if before == after)
    lines += ["", f"{len(rows)} instances; {same} with the same objective both ways (not listed), "
              f"{sum(1 for _, _, b, a in rows if a < b)} better with LNS, {sum(1 for _, _, b, a in rows if a > b)} worse. "
              f"Behind faq x20: {behind[0]} before, {behind[1]} with LNS.", ""]
    if proofs:
        lines += ["16-node 4x4, one group per node (in-process solve_placement, s, proven): "
                  + "; ".join(f"{n} {t0:.3f}/{t1:.3f}" + ("" if p0 and p1 else " (not proven)") for n, t0, p0, t1, p1 in proofs)
                  + f". Median before {median([p[1] for p in proofs]):.3f} s, with LNS {median([p[3] for p in proofs]):.3f} s "
                  "(LNS is not used on hierarchical hosts of <= 16 nodes: both columns are the full model alone).", ""]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section(LNS_SECTION, section)
        print(f"wrote the section into {RESULTS}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one instance per kind, 3 s limits (a smoke run, ~2-3 min)")
    parser.add_argument("--only", default="", help="run only the instances whose 'family name' contains this text")
    parser.add_argument("--keep", type=Path, help="write the problem files and numaopt's outputs here (kept)")
    parser.add_argument("--write", action="store_true", help=f"write the section into {RESULTS}")
    parser.add_argument("--vms", action="store_true", help="run the several-VMs-on-one-host family alone (its own section)")
    parser.add_argument("--lns", action="store_true", help="numaopt without and with large-neighbourhood search, in process (its own section)")
    args = parser.parse_args()
    if args.vms:
        main_vms(args)
        return
    if args.lns:
        main_lns(args)
        return
    limits = QUICK if args.quick else FULL
    selected = [c for c in cases(args.quick, limits) if args.only in f"{c.family} {c.name}"]
    print(f"{len(selected)} instances; numaopt: {' '.join(numaopt_command())}", file=sys.stderr)
    loads = [" ".join(f"{x:.2f}" for x in os.getloadavg())]
    started, busy0, ours0, code0 = time.perf_counter(), busy_seconds(), own_cpu_seconds(), code_state()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for case in selected:
            outcome = run_case(case, workdir, limits)
            outcomes.append(outcome)
            print(instance_line(outcome), flush=True)
            for finding in outcome.findings:
                print(f"    SUSPICIOUS: {finding}", flush=True)
    wall = time.perf_counter() - started
    others = max(0.0, busy_seconds() - busy0 - (own_cpu_seconds() - ours0)) / wall
    loads.append(" ".join(f"{x:.2f}" for x in os.getloadavg()))
    gaps = [] if args.quick else gap_lines(outcomes)
    command = "PYTHONPATH=. python3 benchmarks/bench_placement.py" + (" --quick" if args.quick else "") + (f" --only '{args.only}'" if args.only else "")
    machine = machine_lines(code_line(code0, code_state()), others, wall, (loads[0], loads[1]))
    section = report(outcomes, limits, command, machine, gaps)
    print(section)
    if args.write:
        title = OLD_SECTION if RESULTS.exists() and OLD_SECTION in RESULTS.read_text() else SECTION
        write_section(title, section)
        print(f"wrote the section into {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()
