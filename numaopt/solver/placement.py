"""The CP-SAT placement model: which host node each item uses, and how many cores (and
how much memory) of each split group every host node holds.

Variables: ``x[i, n]`` (item i on host node n), ``k[s, n]`` / ``mem[s, n]`` / ``u[s, n]``
(split group s: cores, memory units, "uses node n") and ``used[n]``. Item pair costs are priced
by distance level, not by n x n cases: with the distinct distances v0 < v1 < ... < vL,
``d(x_i, x_j) = v0 + sum_l (v_l - v_(l-1)) * sep[l, i, j]`` where ``sep[l, i, j]`` must
be 1 when j lies outside the ball ``{m : d(x_i, m) <= v_(l-1)}``. Nodes with the same
ball share one constraint, so a socket-shaped SLIT costs one constraint per socket, not
per node; and the ball capacity bounds how much traffic can stay inside it, which
gives the LP relaxation a real lower bound. On SLITs with many distinct levels (dense,
irregular matrices) a pair is priced by its row instead: ``z[i, j] >= sum_m d(n, m) x[j, m]``
when ``x[i, n]``, which grows with nodes, not levels.

Flows that touch a split group are priced the same way in "mass kept together":
``sum_{n,m} c_a(n) c_b(m) d(n, m) = vmax C_a C_b - sum_l step_l sum_B c_a(B) c_b(ball_l(B))``
over the distinct balls B of each level, with a product per ball (a square for a group
with itself), so a hierarchical host costs one product per cluster.

Interchangeable nodes, sockets and boards (``Instance.sibling_classes``) are ordered by
first use (value precedence, which also holds for split groups that use several blocks),
so no relabelling of the same plan is searched twice.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction

import numpy as np
import numpy.typing as npt
from ortools.sat.python import cp_model

from numaopt.model import ObjectiveKind, Rule, SolveStatus
from numaopt.solver import lns, sigint
from numaopt.solver.assignment import (
    TWO_OPT_POLISHED,
    gilmore_lawler_bound,
    is_pure_assignment,
    qap_portfolio,
    tabu_search,
)
from numaopt.solver.heuristic import canonical, initial_placement
from numaopt.solver.instance import Instance, Placement, SplitFlow, Unit, rule_groups

MAX_BALLS_PER_LEVEL = 32  # above this, a level is priced by block index, not ball by ball
HINT_SHARE = 0.2  # at most this share of the remaining time goes to the greedy + local search hint
QAP_SHARE = 0.25  # ... and this share of what is left then to the QAP heuristics
DENSE_QAP_SHARE = 0.6  # dense, irregular QAPs: CP-SAT rarely improves FAQ's plan (measured), FAQ does
MAX_LEVELS_FOR_BALLS = 8  # above this many distance levels, item pairs are priced by row
MAX_ROW_MODEL_TERMS = 2_000_000  # above this a QAP-shaped instance goes to FAQ + 2-opt alone
LNS_FIRST_SHARE = 0.3  # with LNS: the full model's first pass (it proves the easy instances)
LNS_SHARE = 0.5  # ... then this share of what is left to LNS, the rest to the full model again
DENSE_LNS_SHARE = 0.8  # ... or this share on a dense, irregular QAP, where the full model rarely improves a plan
TABU_SHARE = 0.9  # pure assignments: this share of the LNS time to one long robust tabu search first
LONG_TABU_STEPS = 10**8  # its swaps: the clock ends it, not this count
ROUND_STARTS = 50  # one QAP round (``_round``): FAQ starts,
ROUND_TABU = 10  # ... tabu searches from this many of the best distinct plans,
ROUND_TABU_STEPS = 1000  # ... of this many swaps each (about 1 s a round at 18-36 nodes),
ROUND_TABU_STEPS_LARGE = 300  # ... or this many above 36 nodes, where a step costs n^3 (a round then ~3 s at 64)


def _round(instance: Instance, seed: int, deadline: float) -> list[int] | None:
    """One round of the QAP heuristics on a dense QAP: FAQ from ROUND_STARTS random starts,
    2-opt from the best few, tabu search from the ROUND_TABU best distinct plans. Many short
    tabu searches from different FAQ plans beat a few long ones and FAQ alone (measured on
    the benchmark's 18-64-node QAPs: benchmarks/RESULTS.md). Counts, so a seed gives one
    answer whenever the deadline is not reached."""
    steps = ROUND_TABU_STEPS if instance.num_nodes <= 36 else ROUND_TABU_STEPS_LARGE
    return qap_portfolio(instance, seed, deadline, ROUND_STARTS, TWO_OPT_POLISHED, (ROUND_TABU, steps))


_STATUS = {
    cp_model.OPTIMAL: SolveStatus.OPTIMAL,
    cp_model.FEASIBLE: SolveStatus.FEASIBLE,
    cp_model.INFEASIBLE: SolveStatus.INFEASIBLE,
    cp_model.UNKNOWN: SolveStatus.UNKNOWN,
    cp_model.MODEL_INVALID: SolveStatus.UNKNOWN,
}


@dataclass
class Decision:
    """What the search decided, in the instance's terms."""

    status: SolveStatus
    placement: Placement | None
    objective: float | None  # locality cost (true units), whatever the objective kind
    best_bound: float | None  # bound on the optimised objective (true units)
    primary: float | None = None  # spread / compact: the node-count objective reached
    wall_time_s: float = 0.0
    conflict: list[str] = field(default_factory=list)  # requirements that cannot hold together
    # No CP-SAT pass kept the placement (the greedy first plan, or a QAP heuristic's or
    # LNS's plan), so it may break a rule they do not know (``numaopt.solver.repair``
    # checks and repairs it).
    unchecked: bool = False


class PlacementModel:
    """Built from parts: variables, one method per constraint family, objective."""

    def __init__(self, instance: Instance, *, structured: bool = True, explain: bool = False):
        self.inst = instance
        self.structured = structured
        self.model = cp_model.CpModel()
        self.assumptions: dict[int, tuple[cp_model.IntVar, str]] = {}  # literal index -> (literal, meaning)
        self.explain = explain
        self._block_use: dict[tuple[int, tuple[int, ...]], cp_model.IntVar] = {}
        self._cache: dict[tuple[str, int, tuple[int, ...]], cp_model.IntVar] = {}
        self._partition_used: dict[str, list[cp_model.IntVar]] = {}
        self.hinted: list[tuple[cp_model.IntVar, Callable[[Placement], int]]] = []  # aux var -> its value
        self._variables()
        self._one_node_per_item()
        self._capacities()
        self._rules()
        self._guest_node_count()
        if structured:
            self._break_symmetry()

    # -- parts ---------------------------------------------------------------------------

    def _guard(self, what: str) -> list[cp_model.IntVar]:
        """An enforcement literal naming a requirement (explain mode), else nothing."""
        if not self.explain:
            return []
        literal = self.model.new_bool_var(what)
        self.assumptions[literal.index] = (literal, what)
        return [literal]

    def _variables(self) -> None:
        inst, m = self.inst, self.model
        nodes = range(inst.num_nodes)
        self.x: dict[tuple[int, int], cp_model.IntVar] = {}
        for i in range(len(inst.items)):
            for n in nodes:
                self.x[i, n] = m.new_bool_var(f"x{i}_{n}")
        self.k: dict[tuple[int, int], cp_model.IntVar] = {}
        self.mem: dict[tuple[int, int], cp_model.IntVar] = {}
        self.u: dict[tuple[int, int], cp_model.IntVar] = {}
        for s, split in enumerate(inst.splits):
            for n in nodes:
                k = self.k[s, n] = m.new_int_var(0, split.cores, f"k{s}_{n}")
                self.mem[s, n] = m.new_int_var(0, split.memory_units, f"mem{s}_{n}")
                u = self.u[s, n] = m.new_bool_var(f"u{s}_{n}")
                m.add(k >= 1).only_enforce_if(u)
                m.add(k == 0).only_enforce_if(u.Not())
                # Memory follows the cores: mem = memory * k / cores, rounded down or up.
                m.add(split.cores * self.mem[s, n] - split.memory_units * k <= split.cores - 1)
                m.add(split.memory_units * k - split.cores * self.mem[s, n] <= split.cores - 1)
            m.add(sum(self.k[s, n] for n in nodes) == split.cores)
            m.add(sum(self.mem[s, n] for n in nodes) == split.memory_units)
        self.used = [m.new_bool_var(f"used{n}") for n in nodes]
        for n in nodes:
            present = self.on_node(n)
            for var in present:
                m.add_implication(var, self.used[n])
            m.add(sum(present) >= 1).only_enforce_if(self.used[n])

    def on(self, unit: Unit, n: int) -> cp_model.IntVar:
        """The literal "unit uses host node n"."""
        return self.u[unit.index, n] if unit.split else self.x[unit.index, n]

    def on_node(self, n: int) -> list[cp_model.IntVar]:
        return [self.on(unit, n) for unit in self.inst.units()]

    def count(self, unit: Unit, n: int) -> cp_model.LinearExprT:
        """Cores of ``unit`` on node n (for an item: its cores times x, memory if memory-only)."""
        if unit.split:
            return self.k[unit.index, n]
        item = self.inst.items[unit.index]
        return (item.cores or item.memory_units) * self.x[unit.index, n]

    def _one_node_per_item(self) -> None:
        inst, m = self.inst, self.model
        groups = self.inst.request.workload.groups
        hosts = inst.request.host.nodes
        for i in range(len(inst.items)):
            m.add_exactly_one(self.x[i, n] for n in range(inst.num_nodes))
        for unit in inst.units():
            spec = inst.splits[unit.index] if unit.split else inst.items[unit.index]
            banned = [n for n in range(inst.num_nodes) if n not in spec.allowed]
            if banned:
                guard = self._guard(f"group {groups[spec.group].name} may use only host nodes "
                                    f"{','.join(str(hosts[n].node_id) for n in spec.allowed)}")
                for n in banned:
                    m.add(self.on(unit, n) == 0).only_enforce_if(guard)

    def _capacities(self) -> None:
        inst, m = self.inst, self.model
        host = inst.request.host
        for n in range(inst.num_nodes):
            node_id = host.nodes[n].node_id
            cores = cp_model.LinearExpr.sum(
                [item.cores * self.x[i, n] for i, item in enumerate(inst.items)] + [self.k[s, n] for s in range(len(inst.splits))]
            )
            m.add(cores <= int(inst.node_cores[n])).only_enforce_if(self._guard(f"cpu capacity of host node {node_id}"))
            memory = cp_model.LinearExpr.sum(
                [item.memory_units * self.x[i, n] for i, item in enumerate(inst.items)]
                + [self.mem[s, n] for s in range(len(inst.splits))]
            )
            m.add(memory <= int(inst.node_memory[n])).only_enforce_if(self._guard(f"memory of host node {node_id}"))

    def _rules(self) -> None:
        inst, m = self.inst, self.model
        workload = inst.request.workload
        names = [g.name for g in workload.groups]
        unit_of = inst.unit_of_group
        nodes = range(inst.num_nodes)
        for groups in rule_groups(inst.request, Rule.TOGETHER):
            vcpus = sum(workload.groups[g].vcpus for g in groups)
            guard = self._guard("together: " + ", ".join(names[g] for g in groups) + f" ({vcpus} vCPUs on one node)")
            for g in groups:
                if unit_of[g].split:  # a split group that must share one node uses one node
                    m.add(sum(self.u[unit_of[g].index, n] for n in nodes) == 1).only_enforce_if(guard)
            for a, b in itertools.pairwise(groups):
                for n in nodes:
                    m.add(self.on(unit_of[a], n) == self.on(unit_of[b], n)).only_enforce_if(guard)
        for groups in rule_groups(inst.request, Rule.APART):
            guard = self._guard("apart: " + ", ".join(names[g] for g in groups))
            for k, ga in enumerate(groups):
                for gb in groups[k + 1 :]:
                    for n in nodes:
                        m.add_bool_or([self.on(unit_of[ga], n).Not(), self.on(unit_of[gb], n).Not()]).only_enforce_if(guard)
        index = {name: k for k, name in enumerate(names)}
        for a_name, b_name, limit in workload.max_distances:
            guard = self._guard(f"distance between {a_name} and {b_name} at most {limit}")
            near, far_side = unit_of[index[a_name]], unit_of[index[b_name]]
            for n in nodes:
                far = [self.on(far_side, k) for k in nodes if inst.distances[n, k] > limit]
                if far:
                    m.add(sum(far) == 0).only_enforce_if([self.on(near, n), *guard])

    def _guest_node_count(self) -> None:
        workload = self.inst.request.workload
        if workload.guest_nodes is not None:
            guard = self._guard(f"exactly {workload.guest_nodes} guest nodes")
            self.model.add(sum(self.used) == workload.guest_nodes).only_enforce_if(guard)
        if workload.max_guest_nodes is not None:
            guard = self._guard(f"at most {workload.max_guest_nodes} guest nodes")
            self.model.add(sum(self.used) <= workload.max_guest_nodes).only_enforce_if(guard)
        self._partitions()

    def _partition_uses(self, name: str) -> list[cp_model.IntVar]:
        """Per host node: "guest ``name`` (a partition of the workload) uses it"."""
        if name not in self._partition_used:
            inst, m = self.inst, self.model
            index = {g.name: k for k, g in enumerate(inst.request.workload.groups)}
            partition = next(p for p in inst.request.partitions if p.name == name)
            units = [inst.unit_of_group[index[g]] for g in partition.groups]
            used = []
            for n in range(inst.num_nodes):
                var = m.new_bool_var(f"vm_{name}_{n}")
                m.add_max_equality(var, [self.on(unit, n) for unit in units])
                used.append(var)
            self._partition_used[name] = used
        return self._partition_used[name]

    def _partitions(self) -> None:
        """Several VMs: each one's guest node count, and VMs kept on different sockets."""
        inst, m = self.inst, self.model
        for partition in inst.request.partitions:
            if partition.guest_nodes is not None:
                guard = self._guard(f"VM {partition.name}: exactly {partition.guest_nodes} guest nodes")
                m.add(sum(self._partition_uses(partition.name)) == partition.guest_nodes).only_enforce_if(guard)
            if partition.max_guest_nodes is not None:
                guard = self._guard(f"VM {partition.name}: at most {partition.max_guest_nodes} guest nodes")
                m.add(sum(self._partition_uses(partition.name)) <= partition.max_guest_nodes).only_enforce_if(guard)
        for a, b in inst.request.sockets_apart:
            guard = self._guard(f"VMs {a} and {b} on different sockets")
            uses_a, uses_b = self._partition_uses(a), self._partition_uses(b)
            for socket in _sockets(inst):
                for n in socket:
                    for k in socket:
                        m.add_bool_or([uses_a[n].Not(), uses_b[k].Not()]).only_enforce_if(guard)
        self._cores_not_shared()

    def _cores_not_shared(self) -> None:
        """Several VMs on an SMT host: no physical core holds vCPUs of two VMs (a noisy
        neighbour on the sibling thread). On each node a VM takes whole cores: ``full`` of
        them with every thread free, ``part`` with fewer (a sibling reserved), enough
        threads for its vCPUs there; the VMs' cores fit the node's. (With threads_per_core
        > 1 every guest core already takes a whole host core.)"""
        inst, m = self.inst, self.model
        if len(inst.request.partitions) < 2 or inst.request.workload.threads_per_core != 1:
            return
        index = {g.name: k for k, g in enumerate(inst.request.workload.groups)}
        for n in range(inst.num_nodes):
            cores = free_threads_by_core(inst, n)
            width = max((len(threads) for threads in cores), default=1)
            if width == 1:
                continue
            full = sum(1 for threads in cores if len(threads) == width)
            narrowest = min(len(threads) for threads in cores)
            guard = self._guard(f"no two VMs on one physical core of host node {inst.request.host.nodes[n].node_id}")
            fulls, parts = [], []
            for partition in inst.request.partitions:
                units = [inst.unit_of_group[index[g]] for g in partition.groups]
                vcpus = cp_model.LinearExpr.sum([self._cores_on(unit, n) for unit in units])
                fulls.append(m.new_int_var(0, full, ""))
                parts.append(m.new_int_var(0, len(cores) - full, ""))
                m.add(width * fulls[-1] + narrowest * parts[-1] >= vcpus).only_enforce_if(guard)
            m.add(sum(fulls) <= full).only_enforce_if(guard)
            m.add(sum(parts) <= len(cores) - full).only_enforce_if(guard)

    def _cores_on(self, unit: Unit, n: int) -> cp_model.LinearExprT:
        """Guest cores of ``unit`` on node n (0 for a memory-only group)."""
        if unit.split:
            return self.k[unit.index, n]
        return self.inst.items[unit.index].cores * self.x[unit.index, n]

    def _uses_block(self, unit: Unit, block: tuple[int, ...]) -> cp_model.LinearExprT:
        """1 when ``unit`` uses any node of ``block`` (a sum of x for an item, an OR for a split)."""
        if not unit.split:
            return sum(self.x[unit.index, n] for n in block)
        if len(block) == 1:
            return self.u[unit.index, block[0]]
        key = (unit.index, block)
        if key not in self._block_use:
            var = self._block_use[key] = self.model.new_bool_var("")
            self.model.add_max_equality(var, [self.u[unit.index, n] for n in block])
        return self._block_use[key]

    def _break_symmetry(self) -> None:
        """Value precedence over interchangeable blocks: a unit may use block b without the
        block before it only if an earlier unit used that one. (Relabelling any plan so
        blocks are numbered by first use satisfies it, for split groups too.)"""
        inst, m = self.inst, self.model
        units = inst.units()
        label = inst.labels
        for sibling in inst.sibling_classes:
            blocks = sorted(sibling.blocks, key=lambda b: min(label[n] for n in b))
            for previous, block in itertools.pairwise(blocks):
                # seen = "some unit before this one uses the previous block", a prefix OR so
                # the constraint count grows with units, not units squared.
                seen: cp_model.IntVar | None = None
                for position, unit in enumerate(units):
                    here = self._uses_block(unit, block)
                    before_here = self._uses_block(unit, previous)
                    allowance: list[cp_model.LinearExprT] = [seen] if seen is not None else []
                    if unit.split:
                        allowance.append(before_here)
                    m.add(here <= cp_model.LinearExpr.sum(allowance))
                    if position + 1 < len(units):
                        current = m.new_bool_var("")
                        if seen is None:
                            m.add(current == before_here)
                        else:
                            m.add(current >= seen)
                            m.add(current >= before_here)
                            m.add(current <= cp_model.LinearExpr.sum([seen, before_here]))
                        seen = current

    # -- objectives ----------------------------------------------------------------------

    def locality_expression(self) -> cp_model.LinearExpr:
        """Scaled traffic cost (see module docstring): item pairs, then split-group flows."""
        inst = self.inst
        terms: list[cp_model.LinearExprT] = [inst.constant]
        self.seps: list[tuple[int, int, int, cp_model.IntVar]] = []  # (level threshold, i, j, var)
        if inst.pair_weights:
            if not _by_rows(inst):
                terms += self._item_pairs_by_level()
            else:
                terms += self._item_pairs_by_row()
        for flow in inst.split_flows:
            terms += self._split_flow(flow)
        return cp_model.LinearExpr.sum(terms)

    def _item_pairs_by_row(self) -> list[cp_model.LinearExprT]:
        """Dense, irregular SLITs: z[i, j] >= d(n, .) . x[j, .] when item i is on node n.
        One constraint per pair and node, however many distinct distances there are."""
        inst, m = self.inst, self.model
        d = inst.distances
        nodes = range(inst.num_nodes)
        terms: list[cp_model.LinearExprT] = []
        for (i, j), w in inst.pair_weights.items():
            z = m.new_int_var(int(d.min()), int(d.max()), f"z{i}_{j}")
            for n in nodes:
                row = cp_model.LinearExpr.weighted_sum([self.x[j, k] for k in nodes], [int(v) for v in d[n]])
                m.add(z >= row).only_enforce_if(self.x[i, n])
            terms.append(w * z)
            self.hinted.append((z, _pair_distance(d, i, j)))
        return terms

    def _item_pairs_by_level(self) -> list[cp_model.LinearExprT]:
        inst, m = self.inst, self.model
        levels = inst.levels
        base = levels[0]
        terms: list[cp_model.LinearExprT] = []
        balls_by_level = [self._ball_groups(t) for t in levels[:-1]]
        capacity_cut: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]] = {}
        for (i, j), w in inst.pair_weights.items():
            terms.append(w * base)
            previous = None
            for level, threshold in enumerate(levels[:-1]):
                step = levels[level + 1] - threshold
                sep = m.new_bool_var(f"sep{level}_{i}_{j}")
                self.seps.append((threshold, i, j, sep))
                if len(balls_by_level[level]) > MAX_BALLS_PER_LEVEL and self._blocks_at(level) is not None:
                    # Many small balls (e.g. single nodes of a 64-node host): "not apart"
                    # forces equal block indices, one constraint instead of one per ball.
                    index = self._block_index(level)
                    m.add(index[i] == index[j]).only_enforce_if(sep.Not())
                else:
                    for members, ball in balls_by_level[level]:
                        m.add(sep >= sum(self.x[i, n] for n in members) - sum(self.x[j, k] for k in ball))
                        if inst.symmetric:
                            m.add(sep >= sum(self.x[j, n] for n in members) - sum(self.x[i, k] for k in ball))
                if previous is not None:
                    m.add_implication(sep, previous)  # further than a wider ball => further than a narrower one
                previous = sep
                terms.append(w * step * sep)
                if self.structured:
                    capacity_cut.setdefault((i, level), []).append((j, sep))
                    if inst.symmetric:
                        capacity_cut.setdefault((j, level), []).append((i, sep))
        if self.structured:
            self._ball_capacity_cuts(capacity_cut)
            if inst.hierarchical:
                self._triangle_cuts()
        return terms

    # -- flows that touch a split group --------------------------------------------------

    def _total(self, unit: Unit) -> int:
        """What a unit's counts add up to: a split group's cores, an item's single 1."""
        return self.inst.splits[unit.index].cores if unit.split else 1

    def _mass(self, unit: Unit, nodes: tuple[int, ...]) -> cp_model.LinearExprT:
        """Cores of a split group on ``nodes`` (an integer variable), or "the item is there"."""
        if not unit.split:
            return sum(self.x[unit.index, n] for n in nodes)
        if len(nodes) == 1:
            return self.k[unit.index, nodes[0]]
        key = ("mass", unit.index, nodes)
        if key not in self._cache:
            var = self.model.new_int_var(0, self._total(unit), "")
            self.model.add(var == sum(self.k[unit.index, n] for n in nodes))
            self._cache[key] = var
            self.hinted.append((var, _mass_of(unit.index, nodes)))
        return self._cache[key]

    @staticmethod
    def _mass_value(placement: Placement, unit: Unit, nodes: tuple[int, ...]) -> int:
        if unit.split:
            return sum(placement.split_cores[unit.index][n] for n in nodes)
        return int(placement.items[unit.index] in nodes)

    def _split_flow(self, flow: SplitFlow) -> list[cp_model.LinearExprT]:
        inst = self.inst
        scale, levels = inst.scale, inst.levels
        a, b = flow.a, flow.b
        per_pair = Fraction(flow.weight * scale, self._total(a) * self._total(b))
        assert per_pair.denominator == 1, "the instance scale makes every split-flow coefficient whole"
        balls = [self._ball_groups(t) for t in levels[:-1]]
        if inst.hierarchical or sum(len(level) for level in balls) <= 6 * inst.num_nodes:
            # vmax * Ca * Cb minus the mass kept within each ball, level by level.
            terms: list[cp_model.LinearExprT] = [flow.weight * scale * levels[-1]]
            for level, groups in enumerate(balls):
                step = levels[level + 1] - levels[level]
                for members, ball in groups:
                    kept = self._kept(a, tuple(members), b, tuple(ball))
                    terms.append(-int(per_pair) * step * kept)
            return terms
        return self._split_flow_by_row(a, b, int(per_pair))

    def _kept(self, a: Unit, members: tuple[int, ...], b: Unit, ball: tuple[int, ...]) -> cp_model.IntVar:
        """mass_a(members) * mass_b(ball): a product when both split, else a capped mass."""
        m = self.model
        mass_a, mass_b = self._mass(a, members), self._mass(b, ball)
        if a.split and b.split:
            cap_a = min(self._total(a), int(self.inst.node_cores[list(members)].sum()))
            cap_b = min(self._total(b), int(self.inst.node_cores[list(ball)].sum()))
            var = m.new_int_var(0, cap_a * cap_b, "")
            m.add_multiplication_equality(var, [mass_a, mass_b])
        else:
            # One side is an item (0 or 1 there): the product is the other side's mass when
            # the item is there. Only upper bounds are needed: the objective pushes it up.
            total = self._total(b if b.split else a)
            var = m.new_int_var(0, total, "")
            m.add(var <= (mass_b if b.split else mass_a))
            m.add(var <= total * (mass_a if b.split else mass_b))
        self.hinted.append((var, lambda p: self._mass_value(p, a, members) * self._mass_value(p, b, ball)))
        return var

    def _split_flow_by_row(self, a: Unit, b: Unit, per_pair: int) -> list[cp_model.LinearExprT]:
        """Dense SLITs: sum_n count_a(n) * (d(n, .) . count_b), one product or bound per node."""
        inst, m = self.inst, self.model
        d = inst.distances
        nodes = range(inst.num_nodes)
        terms: list[cp_model.LinearExprT] = []
        low, high = int(d.min()), int(d.max())
        if a.split and b.split:
            for n in nodes:
                row = m.new_int_var(low * self._total(b), high * self._total(b), "")
                m.add(row == cp_model.LinearExpr.weighted_sum([self.k[b.index, k] for k in nodes], [int(v) for v in d[n]]))
                product = m.new_int_var(0, high * self._total(a) * self._total(b), "")
                m.add_multiplication_equality(product, [self.k[a.index, n], row])
                self.hinted.append((row, _row_value(d, n, b.index, None)))
                self.hinted.append((product, _row_value(d, n, b.index, a.index)))
                terms.append(per_pair * product)
            return terms
        # One side is an item: one variable, bounded below by the split side's row (or
        # column) at the item's node.
        split, item = (b, a) if b.split else (a, b)
        z = m.new_int_var(low * self._total(split), high * self._total(split), "")
        for n in nodes:
            weights = [int(v) for v in (d[n] if b.split else d[:, n])]
            m.add(z >= cp_model.LinearExpr.weighted_sum([self.k[split.index, k] for k in nodes], weights)).only_enforce_if(
                self.x[item.index, n]
            )

        def value(p: Placement) -> int:
            n = p.items[item.index]
            vector = d[n] if b.split else d[:, n]
            return int(vector @ np.asarray(p.split_cores[split.index]))

        self.hinted.append((z, value))
        return [per_pair * z]

    def _triangle_cuts(self) -> None:
        """On a hierarchical SLIT "within distance t" is an equivalence, so being apart is a
        metric: sep(i, k) <= sep(i, j) + sep(j, k) for every triangle of talking items."""
        by_level: dict[int, dict[tuple[int, int], cp_model.IntVar]] = {}
        neighbours: dict[int, dict[int, set[int]]] = {}
        for threshold, i, j, var in self.seps:
            by_level.setdefault(threshold, {})[(i, j)] = var
            level = neighbours.setdefault(threshold, {})
            level.setdefault(i, set()).add(j)
            level.setdefault(j, set()).add(i)
        for threshold, seps in by_level.items():
            adjacent = neighbours[threshold]
            for (i, j), ij in seps.items():
                for k in adjacent[i] & adjacent[j]:
                    if k <= j:
                        continue  # each triangle once: i < j < k
                    ik = seps[(min(i, k), max(i, k))]
                    jk = seps[(min(j, k), max(j, k))]
                    self.model.add(ij <= ik + jk)
                    self.model.add(ik <= ij + jk)
                    self.model.add(jk <= ij + ik)

    def _blocks_at(self, level: int) -> list[int] | None:
        """Node -> block number at ``level`` when the balls there partition the nodes (always
        at level 0, where the ball is the node itself), else None."""
        threshold = self.inst.levels[level]
        balls = self.inst.balls(threshold)
        if level > 0 and not self.inst.hierarchical:
            return None
        numbering: dict[frozenset[int], int] = {}
        return [numbering.setdefault(ball, len(numbering)) for ball in balls]

    def _block_index(self, level: int) -> list[cp_model.LinearExpr]:
        cache = self.__dict__.setdefault("_block_index_cache", {})
        if level not in cache:
            blocks = self._blocks_at(level)
            assert blocks is not None
            n = self.inst.num_nodes
            cache[level] = [
                cp_model.LinearExpr.weighted_sum([self.x[i, k] for k in range(n)], blocks)
                for i in range(len(self.inst.items))
            ]
        return cache[level]  # type: ignore[no-any-return]

    def _ball_groups(self, threshold: int) -> list[tuple[list[int], list[int]]]:
        """Distinct balls at ``threshold``, each with the nodes whose ball it is."""
        groups: dict[frozenset[int], list[int]] = {}
        for n, ball in enumerate(self.inst.balls(threshold)):
            groups.setdefault(ball, []).append(n)
        return [(members, sorted(ball)) for ball, members in groups.items()]

    def _ball_capacity_cuts(self, partners: dict[tuple[int, int], list[tuple[int, cp_model.IntVar]]]) -> None:
        """What stays within a ball of item i fits the largest such ball: a valid cut that
        turns the LP relaxation into a knapsack bound per item."""
        inst, m = self.inst, self.model
        ball_cores: dict[int, int] = {}
        ball_memory: dict[int, int] = {}
        for level, threshold in enumerate(inst.levels[:-1]):
            balls = inst.balls(threshold)
            ball_cores[level] = max(int(sum(inst.node_cores[k] for k in b)) for b in balls)
            ball_memory[level] = max(int(sum(inst.node_memory[k] for k in b)) for b in balls)
        for (i, level), seps in partners.items():
            item = inst.items[i]
            m.add(sum(inst.items[j].cores * (1 - sep) for j, sep in seps) <= ball_cores[level] - item.cores)
            m.add(
                sum(inst.items[j].memory_units * (1 - sep) for j, sep in seps) <= ball_memory[level] - item.memory_units
            )

    def node_count_expression(self, kind: ObjectiveKind) -> cp_model.LinearExpr:
        """compact: nodes used (minimise); spread: nodes then sockets used (maximise, negated)."""
        if kind is ObjectiveKind.COMPACT:
            return cp_model.LinearExpr.sum(self.used)
        sockets = _sockets(self.inst)
        socket_used = []
        for members in sockets:
            var = self.model.new_bool_var("socket_used")
            self.model.add_max_equality(var, [self.used[n] for n in members])
            socket_used.append(var)
        weight = len(sockets) + 1
        return -(weight * cp_model.LinearExpr.sum(self.used) + cp_model.LinearExpr.sum(socket_used))

    def solved(self, solver: cp_model.CpSolver) -> Placement:
        """The placement of ``solver``'s solution of this model."""
        inst, nodes = self.inst, range(self.inst.num_nodes)
        return Placement(
            tuple(next(n for n in nodes if solver.value(self.x[i, n])) for i in range(len(inst.items))),
            tuple(tuple(int(solver.value(self.k[s, n])) for n in nodes) for s in range(len(inst.splits))),
            tuple(tuple(int(solver.value(self.mem[s, n])) for n in nodes) for s in range(len(inst.splits))),
        )

    def hint(self, placement: Placement) -> None:
        """A complete hint (placement, used nodes, level separations, products): CP-SAT keeps it as is."""
        for (i, n), var in self.x.items():
            self.model.add_hint(var, placement.items[i] == n)
        for (s, n), var in self.k.items():
            self.model.add_hint(var, placement.split_cores[s][n])
            self.model.add_hint(self.mem[s, n], placement.split_memory[s][n])
            self.model.add_hint(self.u[s, n], placement.split_cores[s][n] > 0)
        used = set(placement.items) | {n for counts in placement.split_cores for n, c in enumerate(counts) if c}
        for n, var in enumerate(self.used):
            self.model.add_hint(var, n in used)
        d = self.inst.distances
        for threshold, i, j, var in self.seps:
            self.model.add_hint(var, bool(d[placement.items[i], placement.items[j]] > threshold))
        for var, value in self.hinted:
            self.model.add_hint(var, value(placement))
        for (s, block), var in self._block_use.items():
            self.model.add_hint(var, any(placement.split_cores[s][n] for n in block))

def _pair_distance(d: npt.NDArray[np.int64], i: int, j: int) -> Callable[[Placement], int]:
    return lambda p: int(d[p.items[i], p.items[j]])


def _mass_of(split: int, nodes: tuple[int, ...]) -> Callable[[Placement], int]:
    return lambda p: sum(p.split_cores[split][n] for n in nodes)


def _row_value(d: npt.NDArray[np.int64], n: int, split_b: int, times_split: int | None) -> Callable[[Placement], int]:
    """d(n, .) . cores of split b, times the cores of split ``times_split`` on n (if given)."""

    def value(p: Placement) -> int:
        row = int(d[n] @ np.asarray(p.split_cores[split_b], dtype=np.int64))
        return row if times_split is None else p.split_cores[times_split][n] * row

    return value


def free_threads_by_core(instance: Instance, n: int) -> list[tuple[int, ...]]:
    """The free host CPUs of node position n, one tuple per physical core (SMT siblings
    together, in the host's order), from the instance's one-thread units."""
    siblings = instance.request.host.siblings()
    free = {cpu for unit in instance.free_cpus[n] for cpu in unit}
    cores = dict.fromkeys(siblings[cpu] for unit in instance.free_cpus[n] for cpu in unit)
    return [tuple(cpu for cpu in core if cpu in free) for core in cores]


def _sockets(instance: Instance) -> list[list[int]]:
    """Host node positions per socket: from the host's cores, else the first SLIT level."""
    host = instance.request.host
    if host.cores:
        socket_of_cpu = {cpu: core.socket for core in host.cores for cpu in core.cpus}
        by_socket: dict[int, list[int]] = {}
        for n, node in enumerate(host.nodes):
            if node.cpus:
                socket = min(socket_of_cpu[c] for c in node.cpus)
                by_socket.setdefault(socket, []).append(n)
            else:
                by_socket.setdefault(-1 - n, []).append(n)
        return list(by_socket.values())
    threshold = instance.levels[1] if len(instance.levels) > 2 else instance.levels[0]
    seen: set[int] = set()
    sockets = []
    for n, ball in enumerate(instance.balls(threshold)):
        if n not in seen:
            sockets.append(sorted(ball - seen))
            seen |= ball
    return sockets


Progress = Callable[[float | None, float | None], None]  # (best objective, best bound), true units


class _Reporter(cp_model.CpSolverSolutionCallback):
    """Hands CP-SAT's incumbent and bound to ``progress`` as they improve (true units)."""

    def __init__(self, instance: Instance, progress: Progress, locality: cp_model.LinearExpr | None):
        super().__init__()
        self.scale, self.progress, self.locality = instance.scale, progress, locality
        self.best: float | None = None

    def on_solution_callback(self) -> None:
        value = self.value(self.locality) if self.locality is not None else self.objective_value
        self.best = value / self.scale
        self.progress(self.best, self.best_objective_bound / self.scale if self.locality is None else None)

    def on_bound(self, bound: float) -> None:
        self.progress(self.best, bound / self.scale)


def _monotone(progress: Progress) -> Progress:
    """Only news: a better plan or a higher bound (CP-SAT's incumbent may carry slack that
    makes it look worse than a plan already reported)."""
    best: list[float] = []
    bound: list[float] = []

    def report(objective: float | None, lower: float | None) -> None:
        news = False
        if objective is not None and (not best or objective < best[-1]):
            best.append(objective)
            news = True
        if lower is not None and (not bound or lower > bound[-1]):
            bound.append(lower)
            news = True
        if news:
            progress(best[-1] if best else None, bound[-1] if bound else None)

    return report


def _run(
    solver: cp_model.CpSolver, model: PlacementModel, progress: Progress | None, locality: cp_model.LinearExpr | None = None
) -> cp_model.CpSolverStatus:
    """Solve, reporting progress when asked (spread / compact pass ``locality`` to report it,
    not their node-count objective)."""
    if progress is None:
        return sigint.solve(solver, model.model)
    reporter = _Reporter(model.inst, progress, locality)
    if locality is None:
        solver.best_bound_callback = reporter.on_bound
    return sigint.solve(solver, model.model, reporter)


def _solver(instance: Instance, time_limit_s: float) -> cp_model.CpSolver:
    settings = instance.request.settings
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
    solver.parameters.num_workers = settings.workers
    solver.parameters.random_seed = settings.seed
    return solver


def _by_rows(instance: Instance) -> bool:
    """Item pairs priced by row: a dense, irregular SLIT (see the module docstring)."""
    return not instance.hierarchical and len(instance.levels) > MAX_LEVELS_FOR_BALLS


def _row_model_too_big(instance: Instance) -> bool:
    """A dense, irregular pure assignment whose row model would not fit the memory budget
    (about 2 M terms is 300 MB in CP-SAT, measured at 64 nodes: 8 M terms took 630 MB)."""
    terms = len(instance.pair_weights) * instance.num_nodes**2
    return _by_rows(instance) and terms > MAX_ROW_MODEL_TERMS and is_pure_assignment(instance)


def _assignment_heuristics_only(instance: Instance, start: float, deadline: float, neighbourhoods: bool) -> Decision:
    """Large dense QAP-shaped instances: CP-SAT would only re-find FAQ's plan with a bound
    far below Gilmore-Lawler's, so the budget goes to FAQ and 2-opt, then what is left of
    it to large-neighbourhood search from their best plan."""
    seed = instance.request.settings.seed
    found = _round(instance, seed, deadline)
    hint = initial_placement(instance, seed=seed, deadline=deadline)
    candidates = [Placement(tuple(found), (), ())] if found is not None else []
    candidates += [hint] if hint is not None else []
    elapsed = time.perf_counter() - start
    if not candidates:
        return Decision(SolveStatus.UNKNOWN, None, None, None, wall_time_s=elapsed)
    best = min(candidates, key=lambda placement: instance.item_cost(placement.items))
    if neighbourhoods and lns.applies(instance):
        best = Placement(tuple(_tabu_then_neighbourhoods(instance, list(best.items), deadline, seed + 1)), (), ())
    elapsed = time.perf_counter() - start
    lower = gilmore_lawler_bound(instance)
    decision = _decision(instance, SolveStatus.FEASIBLE, best, None if lower is None else lower / instance.scale, elapsed)
    return replace(decision, unchecked=True)  # no CP-SAT pass kept it


def _tabu_then_neighbourhoods(instance: Instance, where: list[int], deadline: float, seed: int) -> list[int]:
    """Improve a pure assignment's plan by ``deadline``: one long robust tabu search from it
    for TABU_SHARE of the time, then large-neighbourhood search from the best. Measured on
    the benchmark's dense 30-node QAPs: 3-8 s of one tabu search from the first round's plan
    reached the best plans 60 s runs know, where more rounds of FAQ and short tabu searches
    stayed up to 1.3 % above (benchmarks/RESULTS.md). The clock ends the search, so near the
    limit a seed may give a different plan on a faster or busier machine."""
    tabu_until = time.perf_counter() + TABU_SHARE * (deadline - time.perf_counter())
    best = tabu_search(instance, list(where), LONG_TABU_STEPS, np.random.default_rng(seed), tabu_until)  # never worse than where
    return lns.improve(instance, best, deadline, seed)


def _kicks(instance: Instance) -> int:
    """Iterated-local-search effort for the hint (a count, so a seed gives one answer)."""
    count = len(instance.items)
    # Small instances: CP-SAT finds the optimum from the plain greedy plan as fast as the
    # kicks would (measured); very large ones: each kick costs too much in Python.
    return 0 if count <= 16 or count > 32 else min(50, 2000 // count)


def _decision(
    instance: Instance, status: SolveStatus, placement: Placement, bound: float | None, elapsed: float, primary: float | None = None
) -> Decision:
    """A decision with the true cost of its placement: an unproven incumbent may carry slack
    (a level separation at 1 that could be 0), so CP-SAT's own objective can be higher."""
    cost = instance.true_cost(placement)
    if not instance.exact:
        # The weights were rounded to fit CP-SAT: its proof and bound are for another objective.
        status = SolveStatus.FEASIBLE if status is SolveStatus.OPTIMAL else status
        bound = None
    elif status is SolveStatus.FEASIBLE and bound is not None and cost <= Fraction(bound).limit_denominator(instance.scale):
        status = SolveStatus.OPTIMAL  # a bound from outside CP-SAT (Gilmore-Lawler) closed the gap
    return Decision(status, placement, float(cost), bound, primary, elapsed)


def solve_placement(
    instance: Instance,
    *,
    structured: bool = True,
    use_hint: bool = True,
    deadline: float | None = None,
    progress: Progress | None = None,
    neighbourhoods: bool = True,
) -> Decision:
    """Search for the best placement until ``deadline`` (a ``time.perf_counter()`` moment;
    by default the request's time limit from now). Model building and hints count.
    ``neighbourhoods=False`` leaves out the large-neighbourhood search (to measure it)."""
    settings = instance.request.settings
    start = time.perf_counter()
    if deadline is None:
        deadline = start + settings.time_limit_s
    if progress is not None:
        progress = _monotone(progress)
    if structured and use_hint and settings.kind is ObjectiveKind.LOCALITY and _row_model_too_big(instance):
        return _assignment_heuristics_only(instance, start, deadline, neighbourhoods)
    model = PlacementModel(instance, structured=structured)
    locality = model.locality_expression()
    hint, lower = _first_plans(instance, structured, use_hint, deadline)
    if progress is not None and hint is not None:  # the first plan is news before CP-SAT starts
        progress(float(instance.true_cost(hint)), None if lower is None else lower / instance.scale)
    if hint is not None and structured:
        hint = canonical(instance, hint) or hint  # a hint that breaks symmetry breaking is lost
    if hint is not None:
        model.hint(hint)
    if settings.kind is ObjectiveKind.LOCALITY:
        search = _Search(model, locality, start, deadline, progress)
        return search.minimise(hint, lower, neighbourhoods and structured and use_hint and lns.applies(instance))
    return _node_count_first(model, locality, start, deadline, progress)


def _first_plans(instance: Instance, structured: bool, use_hint: bool, deadline: float) -> tuple[Placement | None, float | None]:
    """The greedy + local search plan, or FAQ + 2-opt's when better, and the Gilmore-Lawler
    bound (scaled) of a pure assignment."""
    settings = instance.request.settings
    hint_deadline = time.perf_counter() + HINT_SHARE * (deadline - time.perf_counter())
    hint = initial_placement(instance, kicks=_kicks(instance), seed=settings.seed, deadline=hint_deadline) if use_hint else None
    if settings.kind is not ObjectiveKind.LOCALITY or not structured:
        return hint, None
    # Portfolio for QAP-shaped instances: FAQ + 2-opt may beat the greedy hint by far on
    # dense matrices; Gilmore-Lawler bounds them far above CP-SAT's LP.
    dense = _by_rows(instance)
    qap_deadline = time.perf_counter() + (DENSE_QAP_SHARE if dense else QAP_SHARE) * (deadline - time.perf_counter())
    if not use_hint:
        qap = None
    elif dense:
        qap = _round(instance, settings.seed, qap_deadline)
    else:
        qap = qap_portfolio(instance, settings.seed, qap_deadline)
    if qap is not None and (hint is None or instance.item_cost(qap) < instance.item_cost(hint.items)):
        hint = Placement(tuple(qap), (), ())
    return hint, gilmore_lawler_bound(instance)


class _Search:
    """Minimise locality with the full model; with large-neighbourhood search, in three
    passes: the full model (proves the easy instances at once), LNS from its plan, the full
    model again from LNS's plan. Only the full model's bounds (and Gilmore-Lawler's) are
    kept, so OPTIMAL still means proven for the whole problem."""

    def __init__(self, model: PlacementModel, locality: cp_model.LinearExpr, start: float, deadline: float, progress: Progress | None):
        self.model, self.locality, self.start, self.deadline, self.progress = model, locality, start, deadline, progress
        self.inst = model.inst
        self.bound: float | None = None  # scaled, proven for the whole problem
        self.best: Placement | None = None
        self.kept_by_cp_sat = False  # whether a CP-SAT pass found a plan (else best is a first plan)

    def _full_model(self, until: float) -> SolveStatus:
        """One CP-SAT pass on the whole model; keeps its bound and its plan."""
        solver = _solver(self.inst, until - time.perf_counter())
        status = _STATUS[_run(solver, self.model, self.progress)]
        if status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
            self.bound = max(round(solver.best_objective_bound), self.bound or 0)
            # CP-SAT's plan, even when the hint looked cheaper: a greedy hint may break a
            # rule; a plan CP-SAT was hinted with and kept is never worse than it.
            self.best = self.model.solved(solver)
            self.kept_by_cp_sat = True
        return status

    def minimise(self, hint: Placement | None, lower: float | None, neighbourhoods: bool) -> Decision:
        inst, m = self.inst, self.model.model
        self.best, self.bound = hint, lower
        if lower is not None:
            m.add(self.locality >= lower)  # CP-SAT stops as soon as a plan meets the bound
        m.minimize(self.locality)
        now = time.perf_counter()
        status = self._full_model(now + LNS_FIRST_SHARE * (self.deadline - now) if neighbourhoods else self.deadline)
        if status is SolveStatus.INFEASIBLE or self.best is None:
            return Decision(status, None, None, None, wall_time_s=time.perf_counter() - self.start)
        if neighbourhoods and status is not SolveStatus.OPTIMAL:
            status = self._neighbourhoods_then_full_model()
        bound = None if self.bound is None else self.bound / inst.scale
        found = SolveStatus.OPTIMAL if status is SolveStatus.OPTIMAL else SolveStatus.FEASIBLE
        decision = _decision(inst, found, self.best, bound, time.perf_counter() - self.start)
        return replace(decision, unchecked=not self.kept_by_cp_sat)

    def _neighbourhoods_then_full_model(self) -> SolveStatus:
        inst = self.inst
        assert self.best is not None
        now = time.perf_counter()
        seed = inst.request.settings.seed
        until = now + (DENSE_LNS_SHARE if _by_rows(inst) else LNS_SHARE) * (self.deadline - now)
        moved = _tabu_then_neighbourhoods(inst, list(self.best.items), until, seed + 1)
        if inst.item_cost(moved) < inst.item_cost(self.best.items):
            self.best = Placement(tuple(moved), (), ())
            self.kept_by_cp_sat = False  # until the full model keeps it: checked otherwise
            if self.progress is not None:
                self.progress(float(inst.true_cost(self.best)), None)
        self.model.model.clear_hints()  # type: ignore[no-untyped-call]
        self.model.hint(canonical(inst, self.best) or self.best)
        return self._full_model(self.deadline)


def _node_count_first(
    model: PlacementModel, locality: cp_model.LinearExpr, start: float, deadline: float, progress: Progress | None
) -> Decision:
    """spread / compact: the node-count objective first, then locality with it fixed."""
    instance = model.inst
    primary = model.node_count_expression(instance.request.settings.kind)
    model.model.minimize(primary)
    solver = _solver(instance, (deadline - time.perf_counter()) / 2)
    code = _run(solver, model, progress, locality)
    status = _STATUS[code]
    if status not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        return Decision(status, None, None, None, wall_time_s=time.perf_counter() - start)
    best_primary = round(solver.objective_value)
    first = model.solved(solver)
    model.model.clear_objective()  # type: ignore[no-untyped-call]
    model.model.add(primary <= best_primary)
    model.model.clear_hints()  # type: ignore[no-untyped-call]
    model.hint(first)
    model.model.minimize(locality)
    solver2 = _solver(instance, deadline - time.perf_counter())
    code2 = _run(solver2, model, progress)
    status2 = _STATUS[code2]
    elapsed = time.perf_counter() - start
    if status2 not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        return _decision(instance, SolveStatus.FEASIBLE, first, None, elapsed, abs(best_primary))
    proven = status is SolveStatus.OPTIMAL and status2 is SolveStatus.OPTIMAL
    return _decision(
        instance,
        SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE,
        model.solved(solver2),
        round(solver2.best_objective_bound) / instance.scale,
        elapsed,
        abs(best_primary),
    )
