"""CP-SAT search for distance matrices with required properties.

Random sampling almost never hits "exactly 6 scheduler levels among 4 CPU nodes,
NUMA_BACKPLANE, asymmetric, breaking the triangle inequality"; a small CP-SAT model
does. Properties (each optional):

* ``levels``: exactly k distinct values among CPU-node pairs, the local 10 included
  (Linux ``sched_init_numa``); remote values are chosen from k - 1 increasing level
  variables by one-hot literals;
* ``topology``: Linux ``init_numa_topology_type``: with the largest level "top", the
  first CPU pair (a, b) in row-major order with d(a, b) = top is fixed (a = the first
  CPU node, b drawn from the seed), earlier pairs of row a are below top, and a CPU node
  c with d(a, c) < top and d(b, c) < top exists (GLUELESS_MESH) or does not (BACKPLANE);
* ``diameter``: the hop diameter among CPU nodes (see ``numaopt.generate.classes.hop_diameter``):
  a pair is a link unless some CPU node k splits it, e(i,k) + e(k,j) <= e(i,j) with both
  parts smaller (e = d - 10); hop counts are modelled exactly (supported by a link on
  the last hop, and no longer than any link-extended path);
* ``metric``: True requires e(i,k) <= e(i,j) + e(j,k) for every triple (so the raw form
  holds too); False requires it to fail for at least one of a seeded sample of triples;
* ``symmetric``: True shares one variable per pair; False requires some pair to differ;
  ``max_skew`` bounds |d(i,j) - d(j,i)|;
* values in ``value_range``.

Diversity: the objective is the L1 distance to a random target matrix drawn from the
seed, which is also the solution hint, and the search keeps its first solution; CP-SAT
runs with one worker, the seed as ``random_seed`` and a deterministic time limit, so a
seed always gives the same matrix.
Infeasible is a status, not an exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from numaopt.distances import LOCAL_DISTANCE, TopologyType
from numaopt.model import SolveStatus
from numaopt.solver import sigint

_STATUS = {
    cp_model.OPTIMAL: SolveStatus.OPTIMAL,
    cp_model.FEASIBLE: SolveStatus.FEASIBLE,
    cp_model.INFEASIBLE: SolveStatus.INFEASIBLE,
    cp_model.UNKNOWN: SolveStatus.UNKNOWN,
}
NON_METRIC_SAMPLE = 48  # triples offered to break the triangle inequality


@dataclass(frozen=True, slots=True)
class MatrixSpec:
    """What the synthesised matrix must satisfy (None = free)."""

    num_nodes: int
    cpu_nodes: tuple[bool, ...]
    value_range: tuple[int, int] = (11, 255)
    levels: int | None = None
    topology: TopologyType | None = None
    diameter: int | None = None
    metric: bool | None = None
    symmetric: bool | None = None
    max_skew: int | None = None

    def __post_init__(self) -> None:
        if len(self.cpu_nodes) != self.num_nodes:
            raise ValueError("cpu_nodes needs one flag per node")
        lo, hi = self.value_range
        if not LOCAL_DISTANCE <= lo <= hi <= 255:
            raise ValueError(f"value_range must lie within 10..255, got {self.value_range}")
        if self.topology is not None and self.topology is not TopologyType.DIRECT and self.levels is None:
            raise ValueError("a MESH or BACKPLANE topology needs an exact level count")


@dataclass(frozen=True, slots=True)
class SynthesisResult:
    status: SolveStatus
    matrix: npt.NDArray[np.int64] | None
    wall_time_s: float


class MatrixModel:
    """A CP-SAT model built from parts: variables, one method per property, objective."""

    def __init__(self, spec: MatrixSpec, seed: int):
        self.spec = spec
        self.rng = np.random.default_rng(seed)
        self.model = cp_model.CpModel()
        n = spec.num_nodes
        self.cpu = [i for i in range(n) if spec.cpu_nodes[i]]
        self._variables()
        self._symmetry()
        if spec.levels is not None:
            self._levels(spec.levels)
        if spec.topology is not None and spec.topology is not TopologyType.DIRECT:
            self._topology(spec.topology)
        if spec.metric is True:
            self._metric()
        elif spec.metric is False:
            self._non_metric()
        if spec.diameter is not None:
            self._diameter(spec.diameter)
        self._objective()

    # -- parts ---------------------------------------------------------------------------

    def _variables(self) -> None:
        spec, m = self.spec, self.model
        n = spec.num_nodes
        lo, hi = spec.value_range
        self.d: dict[tuple[int, int], cp_model.IntVar] = {}
        for i in range(n):
            for j in range(n):
                if i == j:
                    continue
                if spec.symmetric is True and j < i:
                    self.d[i, j] = self.d[j, i]
                else:
                    self.d[i, j] = m.new_int_var(lo, hi, f"d{i}_{j}")

    def _symmetry(self) -> None:
        spec, m = self.spec, self.model
        n = spec.num_nodes
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        if spec.symmetric is not True and spec.max_skew is not None:
            for i, j in pairs:
                m.add(self.d[i, j] - self.d[j, i] <= spec.max_skew)
                m.add(self.d[j, i] - self.d[i, j] <= spec.max_skew)
        if spec.symmetric is False:
            differs = []
            for i, j in pairs:
                flag = m.new_bool_var(f"asym{i}_{j}")
                m.add(self.d[i, j] != self.d[j, i]).only_enforce_if(flag)
                differs.append(flag)
            m.add_bool_or(differs)

    def _cpu_pairs(self) -> list[tuple[int, int]]:
        """CPU pairs with their own variable (one direction per pair when symmetric)."""
        symmetric = self.spec.symmetric is True
        return [(i, j) for i in self.cpu for j in self.cpu if i != j and (not symmetric or i < j)]

    def _levels(self, k: int) -> None:
        """Exactly k distinct values among CPU nodes: 10 and k - 1 remote levels."""
        m = self.model
        lo, hi = self.spec.value_range
        pairs = self._cpu_pairs()
        self.top: dict[tuple[int, int], cp_model.IntVar] = {}
        if k <= 1:
            if pairs:
                m.add_bool_or([])  # more than one CPU node always shows a remote level
            return
        remote = k - 1
        self.level = [m.new_int_var(max(lo, LOCAL_DISTANCE + 1), hi, f"level{rank}") for rank in range(remote)]
        for a, b in zip(self.level, self.level[1:], strict=False):
            m.add(a < b)
        used: list[list[cp_model.IntVar]] = [[] for _ in range(remote)]
        for i, j in pairs:
            pick = [m.new_bool_var(f"at{i}_{j}_{rank}") for rank in range(remote)]
            m.add_exactly_one(pick)
            for rank, literal in enumerate(pick):
                m.add(self.d[i, j] == self.level[rank]).only_enforce_if(literal)
                used[rank].append(literal)
            self.top[i, j] = pick[-1]
            if self.spec.symmetric is True:
                self.top[j, i] = pick[-1]
        for rank in range(remote):
            m.add_bool_or(used[rank])

    def _is_top(self, i: int, j: int) -> cp_model.IntVar | None:
        return None if i == j else self.top[i, j]

    def _topology(self, kind: TopologyType) -> None:
        m = self.model
        a = self.cpu[0]
        b = int(self.rng.choice(self.cpu[1:]))
        m.add(self.top[a, b] == 1)
        for c in self.cpu:
            if c != a and c < b:
                m.add(self.top[a, c] == 0)  # (a, b) is the first far pair in row-major order
        if kind is TopologyType.GLUELESS_MESH:
            witnesses = []
            for c in self.cpu:
                w = m.new_bool_var(f"mesh{c}")
                for x in (a, b):
                    top = self._is_top(x, c)
                    if top is not None:
                        m.add_implication(w, top.Not())
                witnesses.append(w)
            m.add_bool_or(witnesses)
        else:  # BACKPLANE: every CPU node is far from a or from b
            for c in self.cpu:
                tops = [t for t in (self._is_top(a, c), self._is_top(b, c)) if t is not None]
                m.add_bool_or(tops)

    def _triples(self) -> list[tuple[int, int, int]]:
        n = self.spec.num_nodes
        return [(i, j, k) for i in range(n) for j in range(n) for k in range(n) if len({i, j, k}) == 3]

    def _metric(self) -> None:
        """d(i,k) - 10 <= (d(i,j) - 10) + (d(j,k) - 10) for every triple."""
        for i, j, k in self._triples():
            self.model.add(self.d[i, k] <= self.d[i, j] + self.d[j, k] - LOCAL_DISTANCE)

    def _non_metric(self) -> None:
        triples = self._triples()
        picks = self.rng.choice(len(triples), size=min(NON_METRIC_SAMPLE, len(triples)), replace=False)
        broken = []
        for index in sorted(int(p) for p in picks):
            i, j, k = triples[index]
            flag = self.model.new_bool_var(f"break{i}_{j}_{k}")
            self.model.add(self.d[i, k] >= self.d[i, j] + self.d[j, k] - LOCAL_DISTANCE + 1).only_enforce_if(flag)
            broken.append(flag)
        self.model.add_bool_or(broken)

    def _diameter(self, diameter: int) -> None:
        """The hop diameter among CPU nodes is exactly ``diameter``."""
        m = self.model
        cpu = self.cpu
        if len(cpu) <= 1:
            if diameter != 0:
                m.add_bool_or([])
            return
        if diameter < 1:
            m.add_bool_or([])
            return
        ordered = [(i, j) for i in cpu for j in cpu if i != j]
        link: dict[tuple[int, int], cp_model.IntVar] = {}
        for i, j in ordered:
            splits = []
            for k in cpu:
                if k in (i, j):
                    continue
                dec = m.new_bool_var(f"split{i}_{j}_{k}")
                # dec <=> d(i,k) + d(k,j) - 10 <= d(i,j) and both parts shorter than d(i,j).
                m.add(self.d[i, k] + self.d[k, j] - LOCAL_DISTANCE <= self.d[i, j]).only_enforce_if(dec)
                m.add(self.d[i, k] < self.d[i, j]).only_enforce_if(dec)
                m.add(self.d[k, j] < self.d[i, j]).only_enforce_if(dec)
                longer = m.new_bool_var(f"nosum{i}_{j}_{k}")
                m.add(self.d[i, k] + self.d[k, j] - LOCAL_DISTANCE >= self.d[i, j] + 1).only_enforce_if(longer)
                first = m.new_bool_var(f"noik{i}_{j}_{k}")
                m.add(self.d[i, k] >= self.d[i, j]).only_enforce_if(first)
                second = m.new_bool_var(f"nokj{i}_{j}_{k}")
                m.add(self.d[k, j] >= self.d[i, j]).only_enforce_if(second)
                m.add_bool_or([dec, longer, first, second])
                splits.append(dec)
            link[i, j] = m.new_bool_var(f"link{i}_{j}")
            for dec in splits:
                m.add_implication(link[i, j], dec.Not())
            m.add_bool_or([link[i, j], *splits])
        hops = {(i, j): m.new_int_var(1, diameter, f"hops{i}_{j}") for i, j in ordered}
        for i, j in ordered:
            m.add(hops[i, j] == 1).only_enforce_if(link[i, j])
            m.add(hops[i, j] >= 2).only_enforce_if(link[i, j].Not())
            supports = []
            for k in cpu:
                if k in (i, j):
                    continue
                # Never longer than a path to k plus the link k -> j ...
                m.add(hops[i, j] <= hops[i, k] + 1).only_enforce_if(link[k, j])
                # ... and, when not a link, exactly one more than such a path.
                support = m.new_bool_var(f"via{i}_{j}_{k}")
                m.add_implication(support, link[k, j])
                m.add(hops[i, j] == hops[i, k] + 1).only_enforce_if(support)
                supports.append(support)
            m.add_bool_or([link[i, j], *supports])
        reached = [m.new_bool_var(f"far{i}_{j}") for i, j in ordered]
        for flag, pair in zip(reached, ordered, strict=True):
            m.add(hops[pair] == diameter).only_enforce_if(flag)
        m.add_bool_or(reached)

    def _objective(self) -> None:
        """Stay close to a random target matrix (also the hint): a different matrix per seed."""
        m = self.model
        lo, hi = self.spec.value_range
        deviations = []
        seen: set[int] = set()
        for (i, j), var in self.d.items():
            if var.index in seen:
                continue
            seen.add(var.index)
            target = int(self.rng.integers(lo, hi + 1))
            m.add_hint(var, target)
            dev = m.new_int_var(0, hi - lo, f"dev{i}_{j}")
            m.add(dev >= var - target)
            m.add(dev >= target - var)
            deviations.append(dev)
        m.minimize(sum(deviations))


def synthesize(spec: MatrixSpec, seed: int, *, deterministic_time: float = 5.0, time_limit_s: float = 120.0) -> SynthesisResult:
    """A matrix meeting ``spec``, the same for the same seed.

    The search stops at its first solution, which the hint and the objective steer
    towards the seed's random target; with presolve off this is 10-100x faster than
    optimising and the matrices still differ from seed to seed. One worker and a
    deterministic time limit keep the answer reproducible; ``time_limit_s`` is only a
    wall-clock safety net (hitting it could make a result depend on the machine).
    """
    started = time.perf_counter()
    built = MatrixModel(spec, seed)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.random_seed = seed % (1 << 31)
    solver.parameters.max_deterministic_time = deterministic_time
    solver.parameters.stop_after_first_solution = True
    solver.parameters.cp_model_presolve = False
    solver.parameters.max_time_in_seconds = time_limit_s
    status = sigint.solve(solver, built.model)
    if status == cp_model.MODEL_INVALID:
        raise AssertionError(f"invalid synthesis model: {built.model.validate()}")
    found = _STATUS.get(status, SolveStatus.UNKNOWN)
    matrix = None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        n = spec.num_nodes
        matrix = np.full((n, n), LOCAL_DISTANCE, dtype=np.int64)
        for (i, j), var in built.d.items():
            matrix[i, j] = solver.value(var)
    return SynthesisResult(found, matrix, time.perf_counter() - started)
