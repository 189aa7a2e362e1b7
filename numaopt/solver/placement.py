"""The CP-SAT placement model: which host node each item (group or piece of a group) uses.

Variables: ``x[i, n]`` (item i on host node n) and ``used[n]``. Pair costs are priced
by distance level, not by n x n cases: with the distinct distances v0 < v1 < ... < vL,
``d(x_i, x_j) = v0 + sum_l (v_l - v_(l-1)) * sep[l, i, j]`` where ``sep[l, i, j]`` must
be 1 when j lies outside the ball ``{m : d(x_i, m) <= v_(l-1)}``. Nodes with the same
ball share one constraint, so a socket-shaped SLIT costs one constraint per socket, not
per node; and the ball capacity bounds how much traffic can stay inside it, which
gives the LP relaxation a real lower bound. Interchangeable nodes, sockets and boards
(``Instance.sibling_classes``) are ordered by first use, and equal pieces of one group
by node label, so no relabelling of the same plan is searched twice.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field

from ortools.sat.python import cp_model

from numaopt.model import ObjectiveKind, Rule, SolveStatus
from numaopt.solver.heuristic import canonical, greedy_placement, polish_assignment
from numaopt.solver.instance import Instance, rule_groups

MAX_BALLS_PER_LEVEL = 32  # above this, a level is priced by block index, not ball by ball

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
    assignment: list[int] | None  # item -> host node position
    objective: float | None  # locality cost (true units), whatever the objective kind
    best_bound: float | None  # bound on the optimised objective (true units)
    primary: float | None = None  # spread / compact: the node-count objective reached
    wall_time_s: float = 0.0
    conflict: list[str] = field(default_factory=list)  # requirements that cannot hold together


class PlacementModel:
    """Built from parts: variables, one method per constraint family, objective."""

    def __init__(self, instance: Instance, *, structured: bool = True, explain: bool = False):
        self.inst = instance
        self.structured = structured
        self.model = cp_model.CpModel()
        self.assumptions: dict[int, tuple[cp_model.IntVar, str]] = {}  # literal index -> (literal, meaning)
        self.explain = explain
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
        self.x: dict[tuple[int, int], cp_model.IntVar] = {}
        for i, _item in enumerate(inst.items):
            for n in range(inst.num_nodes):
                self.x[i, n] = m.new_bool_var(f"x{i}_{n}")
        self.used = [m.new_bool_var(f"used{n}") for n in range(inst.num_nodes)]
        for (_, n), var in self.x.items():
            m.add_implication(var, self.used[n])
        for n in range(inst.num_nodes):
            m.add(sum(self.x[i, n] for i in range(len(inst.items))) >= 1).only_enforce_if(self.used[n])

    def _one_node_per_item(self) -> None:
        inst, m = self.inst, self.model
        groups = self.inst.request.workload.groups
        for i, item in enumerate(inst.items):
            m.add_exactly_one(self.x[i, n] for n in range(inst.num_nodes))
            banned = [n for n in range(inst.num_nodes) if n not in item.allowed]
            if banned:
                guard = self._guard(f"group {groups[item.group].name} may use only host nodes "
                                    f"{','.join(str(inst.request.host.nodes[n].node_id) for n in item.allowed)}")
                for n in banned:
                    m.add(self.x[i, n] == 0).only_enforce_if(guard)

    def _capacities(self) -> None:
        inst, m = self.inst, self.model
        host = inst.request.host
        for n in range(inst.num_nodes):
            node_id = host.nodes[n].node_id
            cores = sum(item.cores * self.x[i, n] for i, item in enumerate(inst.items))
            m.add(cores <= int(inst.node_cores[n])).only_enforce_if(self._guard(f"cpu capacity of host node {node_id}"))
            memory = sum(item.memory_units * self.x[i, n] for i, item in enumerate(inst.items))
            m.add(memory <= int(inst.node_memory[n])).only_enforce_if(self._guard(f"memory of host node {node_id}"))

    def _items_of(self, group: int) -> list[int]:
        return self.inst.group_items[group]

    def _rules(self) -> None:
        inst, m = self.inst, self.model
        names = [g.name for g in inst.request.workload.groups]
        for groups in rule_groups(inst.request, Rule.TOGETHER):
            vcpus = sum(inst.request.workload.groups[g].vcpus for g in groups)
            guard = self._guard("together: " + ", ".join(names[g] for g in groups) + f" ({vcpus} vCPUs on one node)")
            members = [i for g in groups for i in self._items_of(g)]
            for a, b in itertools.pairwise(members):
                for n in range(inst.num_nodes):
                    m.add(self.x[a, n] == self.x[b, n]).only_enforce_if(guard)
        for groups in rule_groups(inst.request, Rule.APART):
            guard = self._guard("apart: " + ", ".join(names[g] for g in groups))
            for k, ga in enumerate(groups):
                for gb in groups[k + 1 :]:
                    for a in self._items_of(ga):
                        for b in self._items_of(gb):
                            for n in range(inst.num_nodes):
                                m.add_bool_or([self.x[a, n].Not(), self.x[b, n].Not()]).only_enforce_if(guard)
        index = {name: k for k, name in enumerate(names)}
        for a_name, b_name, limit in inst.request.workload.max_distances:
            guard = self._guard(f"distance between {a_name} and {b_name} at most {limit}")
            for a in self._items_of(index[a_name]):
                for b in self._items_of(index[b_name]):
                    for n in range(inst.num_nodes):
                        near = [self.x[b, k] for k in range(inst.num_nodes) if inst.distances[n, k] <= limit]
                        m.add(sum(near) >= 1).only_enforce_if([self.x[a, n], *guard])

    def _guest_node_count(self) -> None:
        workload = self.inst.request.workload
        if workload.guest_nodes is not None:
            guard = self._guard(f"exactly {workload.guest_nodes} guest nodes")
            self.model.add(sum(self.used) == workload.guest_nodes).only_enforce_if(guard)
        if workload.max_guest_nodes is not None:
            guard = self._guard(f"at most {workload.max_guest_nodes} guest nodes")
            self.model.add(sum(self.used) <= workload.max_guest_nodes).only_enforce_if(guard)

    def _break_symmetry(self) -> None:
        inst, m = self.inst, self.model
        n_items = len(inst.items)
        label = inst.labels
        for sibling in inst.sibling_classes:
            blocks = sorted(sibling.blocks, key=lambda b: min(label[n] for n in b))
            for previous, block in itertools.pairwise(blocks):
                # Item i may use this block only if an earlier item uses the previous one:
                # seen[i] = "some item before i uses the previous block", built as a prefix
                # OR so the constraint count grows with items, not items squared.
                m.add(sum(self.x[0, n] for n in block) == 0)
                seen = None
                for i in range(1, n_items):
                    before = sum(self.x[i - 1, k] for k in previous)
                    current = m.new_bool_var("")
                    if seen is None:
                        m.add(current == before)
                    else:
                        m.add(current >= seen)
                        m.add(current >= before)
                        m.add(current <= seen + before)
                    seen = current
                    m.add(sum(self.x[i, n] for n in block) <= seen)
        position = [sum(label[n] * self.x[i, n] for n in range(inst.num_nodes)) for i in range(n_items)]
        for members in inst.group_items:
            for a, b in itertools.pairwise(members):
                if inst.items[a].cores == inst.items[b].cores and inst.items[a].memory_units == inst.items[b].memory_units:
                    m.add(position[a] <= position[b])

    # -- objectives ----------------------------------------------------------------------

    def locality_expression(self) -> cp_model.LinearExpr:
        """Scaled traffic cost, priced by distance level (see module docstring)."""
        inst, m = self.inst, self.model
        levels = inst.levels
        base = levels[0]
        terms: list[cp_model.LinearExprT] = [inst.constant]
        if not inst.pair_weights:
            return cp_model.LinearExpr.sum(terms)
        balls_by_level = [self._ball_groups(t) for t in levels[:-1]]
        self.seps: list[tuple[int, int, int, cp_model.IntVar]] = []  # (level threshold, i, j, var)
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
        return cp_model.LinearExpr.sum(terms)

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

    def hint(self, assignment: list[int]) -> None:
        """A complete hint (placement, used nodes, level separations): CP-SAT keeps it as is."""
        for (i, n), var in self.x.items():
            self.model.add_hint(var, assignment[i] == n)
        used = set(assignment)
        for n, var in enumerate(self.used):
            self.model.add_hint(var, n in used)
        d = self.inst.distances
        for threshold, i, j, var in getattr(self, "seps", []):
            self.model.add_hint(var, bool(d[assignment[i], assignment[j]] > threshold))


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


def _solver(instance: Instance, time_limit_s: float) -> cp_model.CpSolver:
    settings = instance.request.settings
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.01, time_limit_s)
    solver.parameters.num_workers = settings.workers
    solver.parameters.random_seed = settings.seed
    return solver


def _assignment(model: PlacementModel, solver: cp_model.CpSolver) -> list[int]:
    inst = model.inst
    return [next(n for n in range(inst.num_nodes) if solver.value(model.x[i, n])) for i in range(len(inst.items))]


def _kicks(instance: Instance) -> int:
    """Iterated-local-search effort for the hint (a count, so a seed gives one answer)."""
    count = len(instance.items)
    # Small instances: CP-SAT finds the optimum from the plain greedy plan as fast as the
    # kicks would (measured); very large ones: each kick costs too much in Python.
    return 0 if count <= 16 or count > 32 else min(50, 2000 // count)


def solve_placement(instance: Instance, *, structured: bool = True, use_hint: bool = True) -> Decision:
    """Search for the best placement within the request's time limit."""
    settings = instance.request.settings
    start = time.perf_counter()
    model = PlacementModel(instance, structured=structured)
    locality = model.locality_expression()
    hint = greedy_placement(instance, kicks=_kicks(instance), seed=settings.seed) if use_hint else None
    if hint is not None:
        hint = polish_assignment(instance, hint, seed=settings.seed)
    if hint is not None and structured:
        hint = canonical(instance, hint) or hint  # a hint that breaks symmetry breaking is lost
    if hint is not None:
        model.hint(hint)
    scale = instance.scale
    if settings.kind is ObjectiveKind.LOCALITY:
        model.model.minimize(locality)
        solver = _solver(instance, settings.time_limit_s - (time.perf_counter() - start))
        code = solver.solve(model.model)
        status = _STATUS[code]
        elapsed = time.perf_counter() - start
        if status in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
            assignment = _assignment(model, solver)
            # The true cost of the placement: an unproven incumbent may leave a level
            # separation at 1 that could be 0, so CP-SAT's objective can be higher.
            return Decision(
                status,
                assignment,
                instance.cost(assignment) / scale,
                round(solver.best_objective_bound) / scale,
                wall_time_s=elapsed,
            )
        if status is SolveStatus.UNKNOWN and hint is not None:
            # Nothing better in time: the heuristic plan, clearly without proof or bound.
            return Decision(SolveStatus.FEASIBLE, hint, instance.cost(hint) / scale, None, wall_time_s=elapsed)
        return Decision(status, None, None, None, wall_time_s=elapsed)
    # spread / compact: the node-count objective first, then locality with it fixed.
    primary = model.node_count_expression(settings.kind)
    model.model.minimize(primary)
    solver = _solver(instance, (settings.time_limit_s - (time.perf_counter() - start)) / 2)
    code = solver.solve(model.model)
    status = _STATUS[code]
    if status not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        return Decision(status, None, None, None, wall_time_s=time.perf_counter() - start)
    best_primary = round(solver.objective_value)
    first = _assignment(model, solver)
    model.model.clear_objective()  # type: ignore[no-untyped-call]
    model.model.add(primary <= best_primary)
    model.model.clear_hints()  # type: ignore[no-untyped-call]
    model.hint(first)
    model.model.minimize(locality)
    remaining = settings.time_limit_s - (time.perf_counter() - start)
    solver2 = _solver(instance, remaining)
    code2 = solver2.solve(model.model)
    status2 = _STATUS[code2]
    elapsed = time.perf_counter() - start
    if status2 not in (SolveStatus.OPTIMAL, SolveStatus.FEASIBLE):
        return Decision(SolveStatus.FEASIBLE, first, instance.cost(first) / scale, None, abs(best_primary), elapsed)
    proven = status is SolveStatus.OPTIMAL and status2 is SolveStatus.OPTIMAL
    final = _assignment(model, solver2)
    return Decision(
        SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE,
        final,
        instance.cost(final) / scale,
        round(solver2.best_objective_bound) / scale,
        primary=abs(best_primary),
        wall_time_s=elapsed,
    )
