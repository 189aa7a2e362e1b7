"""Several VMs on one host, placed in one search: one plan per VM.

The VMs become one workload whose groups are named ``vm/group``: capacities are shared
(no host CPU twice, memory and huge pages shared), each VM's priced traffic counts its
priority times, each VM keeps its own rules and guest node count (``Partition``), and
VMs listed in ``sockets_apart`` never share a host socket. The decision is then split
back into one plan per VM, pinned to disjoint host CPUs, each verifiable on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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
from numaopt.solver.instance import Instance, Placement, build_instance
from numaopt.solver.place import NoPlanError, as_the_guest_keeps_it, decide
from numaopt.solver.placement import Progress
from numaopt.solver.plan import build_plan


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
    """The best joint placement by ``deadline``; ``NoPlanError`` with the reasons otherwise."""
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
