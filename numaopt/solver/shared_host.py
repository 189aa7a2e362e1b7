"""Several VMs on one host, placed in one search: one plan per VM.

The VMs become one workload whose groups are named ``vm/group``: capacities are shared
(no host CPU twice, memory and huge pages shared), each VM's priced traffic counts its
priority times, each VM keeps its own rules and guest node count (``Partition``), and
VMs listed in ``sockets_apart`` never share a host socket. The decision is then split
back into one plan per VM, pinned to disjoint host CPUs, each verifiable on its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

from ortools.sat.python import cp_model

from numaopt.errors import InputError
from numaopt.layout import MAX_CPUS
from numaopt.model import (
    Partition,
    PlacementRequest,
    Plan,
    SharedHostRequest,
    SolveStatus,
    Traffic,
    VmRequest,
    Workload,
)
from numaopt.solver import sigint
from numaopt.solver.instance import Instance, Placement, build_instance
from numaopt.solver.place import NoPlanError, as_the_guest_keeps_it, decide
from numaopt.solver.placement import PlacementModel, Progress
from numaopt.solver.plan import build_plan

FIRST_PLAN_S = 10.0  # the repair search below may take this long, even past the deadline
CHECK_S = 0.1  # the check of a fixed placement (propagation only, milliseconds) when the deadline has passed


@dataclass(frozen=True, slots=True)
class SharedHostPlan:
    """One plan per VM, and the facts of the search that placed them together."""

    plans: tuple[tuple[str, Plan], ...]  # (VM name, its plan), in the problem's order
    status: SolveStatus  # OPTIMAL: the priority-weighted sum is proven optimal
    objective: float  # sum over VMs of priority x the VM's locality cost
    best_bound: float | None
    wall_time_s: float

    def plan(self, name: str) -> Plan:
        return dict(self.plans)[name]


def combine(request: SharedHostRequest) -> PlacementRequest:
    """One placement request holding every VM's groups as ``vm/group``."""
    first = request.vms[0]
    for index, vm in enumerate(request.vms[1:], start=1):
        for key, mine, theirs in (
            ("threads_per_core", vm.workload.threads_per_core, first.workload.threads_per_core),
            ("page_size", vm.workload.page_size_bytes, first.workload.page_size_bytes),
        ):
            if mine != theirs:
                raise InputError(
                    f"every VM on one host needs the same {key} (vm[0] {first.name} has {theirs}, {vm.name} has {mine})",
                    where=f"vm[{index}].{key}",
                )

    def named(vm: VmRequest, group: str) -> str:
        return f"{vm.name}/{group}"

    groups, traffic, rules, limits, partitions = [], [], [], [], []
    for vm in request.vms:
        workload = vm.workload
        groups += [replace(g, name=named(vm, g.name)) for g in workload.groups]
        traffic += [Traffic(named(vm, t.a), named(vm, t.b), t.weight * vm.priority) for t in workload.priced_traffic]
        rules += [(kind, tuple(named(vm, n) for n in names)) for kind, names in workload.rules]
        limits += [(named(vm, a), named(vm, b), limit) for a, b, limit in workload.max_distances]
        partitions.append(
            Partition(vm.name, tuple(named(vm, g.name) for g in workload.groups), workload.guest_nodes, workload.max_guest_nodes)
        )
    workload = Workload(
        groups=tuple(groups),
        threads_per_core=first.workload.threads_per_core,
        traffic=tuple(traffic),
        rules=tuple(rules),
        max_distances=tuple(limits),
        page_size_bytes=first.workload.page_size_bytes,
    )
    return PlacementRequest(
        request.host,
        workload,
        request.reserved_cpus,
        request.settings,
        first.machine,
        first.backend,
        tuple(partitions),
        request.sockets_apart,
    )


def _vm_placement(instance: Instance, vm_instance: Instance, vm: VmRequest, placement: Placement) -> Placement:
    """The part of the shared placement that is ``vm``'s, in its own instance's terms."""
    index = {g.name: k for k, g in enumerate(instance.request.workload.groups)}
    items = [0] * len(vm_instance.items)
    cores: list[tuple[int, ...]] = [()] * len(vm_instance.splits)
    memory: list[tuple[int, ...]] = [()] * len(vm_instance.splits)
    for k, group in enumerate(vm.workload.groups):
        shared, own = instance.unit_of_group[index[f"{vm.name}/{group.name}"]], vm_instance.unit_of_group[k]
        if own.split:
            cores[own.index] = placement.split_cores[shared.index]
            memory[own.index] = placement.split_memory[shared.index]
        else:
            items[own.index] = placement.items[shared.index]
    return Placement(tuple(items), tuple(cores), tuple(memory))


def place_vms(
    request: SharedHostRequest,
    *,
    deadline: float | None = None,
    adjust_distances: bool = False,
    progress: Progress | None = None,
) -> SharedHostPlan:
    """The best joint placement by ``deadline`` (a ``time.perf_counter()`` moment; by default
    the time limit from now), the one deadline every stage takes what is left of;
    ``NoPlanError`` with the reasons otherwise."""
    if deadline is None:
        deadline = time.perf_counter() + request.settings.time_limit_s
    reasons = [
        f"VM {vm.name} would have {vm.workload.vcpus} vCPUs; QEMU 7.2's {vm.machine.value} machine takes at most "
        f"{MAX_CPUS[vm.machine]}"
        for vm in request.vms
        if vm.workload.vcpus > MAX_CPUS[vm.machine]
    ]
    if reasons:
        raise NoPlanError("no plan: " + "; ".join(reasons))
    combined = combine(request)
    instance, decision, placement = decide(combined, deadline, progress)
    if not _keeps_every_requirement(instance, placement, deadline):
        placement = _repaired(instance, placement, deadline)
        decision = replace(decision, status=SolveStatus.FEASIBLE, objective=float(instance.true_cost(placement)))
    taken: dict[int, int] = {}
    plans = []
    for vm, partition in zip(request.vms, combined.partitions, strict=True):
        vm_request = request.vm_request(vm)
        vm_instance = build_instance(vm_request)
        cost = vm_instance.true_cost(_vm_placement(instance, vm_instance, vm, placement))
        plan = build_plan(
            instance,
            placement,
            status=decision.status,
            objective=float(cost),
            best_bound=None,  # bounds hold for the weighted sum, not for one VM alone
            wall_time_s=decision.wall_time_s,
            only=partition,
            cores_taken=taken,
        )
        layout = replace(plan.layout, machine=vm.machine, backend=vm.backend, rules=vm.machine.default_rules)
        plans.append((vm.name, as_the_guest_keeps_it(replace(plan, layout=layout), adjust_distances)))
    assert decision.objective is not None
    return SharedHostPlan(tuple(plans), decision.status, decision.objective, decision.best_bound, decision.wall_time_s)


def _fixed_model(instance: Instance, placement: Placement) -> PlacementModel:
    """The placement model with every decision fixed to ``placement``: only propagation is left."""
    model = PlacementModel(instance, structured=False)
    for (i, n), var in model.x.items():
        model.model.add(var == int(placement.items[i] == n))
    for (s, n), var in model.k.items():
        model.model.add(var == placement.split_cores[s][n])
        model.model.add(model.mem[s, n] == placement.split_memory[s][n])
    return model


def _keeps_every_requirement(instance: Instance, placement: Placement, deadline: float) -> bool:
    """Whether the placement keeps every requirement of the model (capacities, rules, each
    VM's guest node count, sockets apart). When CP-SAT found no plan in time the search
    returns its first hint, which the greedy built without the VMs' guest node counts or
    sockets_apart; the model itself is the one statement of what a plan must keep. (No
    answer in time counts as no: the placement is then repaired.)"""
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), CHECK_S)
    return sigint.solve(solver, _fixed_model(instance, placement).model) in (cp_model.OPTIMAL, cp_model.FEASIBLE)


def _repaired(instance: Instance, hint: Placement, deadline: float) -> Placement:
    """The first plan CP-SAT finds near ``hint`` that keeps every requirement. A time limit
    too short for the search to find one would otherwise give a plan that breaks a rule; a
    valid plan a little late is the lesser harm (it happens only when the limit is shorter
    than the search's first step)."""
    model = PlacementModel(instance, structured=False)
    for (i, n), var in model.x.items():  # a partial hint: CP-SAT completes and repairs it
        model.model.add_hint(var, hint.items[i] == n)
    for (s, n), var in model.k.items():
        model.model.add_hint(var, hint.split_cores[s][n])
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.stop_after_first_solution = True
    solver.parameters.max_time_in_seconds = max(deadline - time.perf_counter(), FIRST_PLAN_S)
    status = sigint.solve(solver, model.model)
    if status == cp_model.INFEASIBLE:
        raise NoPlanError("no plan: the requirements cannot all hold (raise objective.time_limit to see which)")
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        raise NoPlanError(f"no plan within the time limit ({instance.request.settings.time_limit_s:g} s): raise objective.time_limit")
    nodes = range(instance.num_nodes)
    return Placement(
        tuple(next(n for n in nodes if solver.value(model.x[i, n])) for i in range(len(instance.items))),
        tuple(tuple(int(solver.value(model.k[s, n])) for n in nodes) for s in range(len(instance.splits))),
        tuple(tuple(int(solver.value(model.mem[s, n])) for n in nodes) for s in range(len(instance.splits))),
    )
