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
from numaopt.solver.host_hmat import with_host_hmat
from numaopt.solver.instance import Instance, Placement, build_instance
from numaopt.solver.place import NoPlanError, as_the_guest_keeps_it, decide
from numaopt.solver.placement import Progress, free_threads_by_core
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
    plans = _cores_apart(instance, plans, {vm.name: vm.priority for vm in request.vms})
    # The host's HMAT as for one VM, once each VM's vCPUs have their final host CPUs.
    plans = [(name, with_host_hmat(plan, request.host)) for name, plan in plans]
    return SharedHostPlan(tuple(plans), decision.status, decision.objective, decision.best_bound, decision.wall_time_s)


def _cores_apart(instance: Instance, plans: list[tuple[str, Plan]], priority: dict[str, int]) -> list[tuple[str, Plan]]:
    """On an SMT host, each node's vCPUs pinned again so that no physical core holds two
    VMs' vCPUs (the model made room: ``PlacementModel._cores_not_shared``). Only the host
    CPU within the same node changes; each VM spreads over its own cores, one thread of
    each before the siblings."""
    if instance.request.workload.threads_per_core != 1 or len(plans) < 2:
        return plans
    host = instance.request.host
    position = {node.node_id: p for p, node in enumerate(host.nodes)}
    node_of_cpu = host.cpu_to_node()
    pins = [dict(plan.vcpu_to_host_cpu) for _, plan in plans]
    on_node: list[dict[int, list[int]]] = []  # per VM: node position -> its vCPUs there
    for pin in pins:
        by_node: dict[int, list[int]] = {}
        for vcpu, cpu in sorted(pin.items()):
            by_node.setdefault(position[node_of_cpu[cpu]], []).append(vcpu)
        on_node.append(by_node)
    order = sorted(range(len(plans)), key=lambda v: -priority[plans[v][0]])  # spare cores: the higher priority first
    for n in sorted({n for by_node in on_node for n in by_node}):
        cores = free_threads_by_core(instance, n)
        if max(len(threads) for threads in cores) == 1:
            continue
        chosen = _whole_cores(cores, [len(by_node.get(n, [])) for by_node in on_node], order)
        for v, by_node in enumerate(on_node):
            width = max((len(core) for core in chosen[v]), default=0)
            threads = [core[t] for t in range(width) for core in chosen[v] if t < len(core)]
            pins[v].update(zip(by_node.get(n, []), threads, strict=False))
    return [(name, replace(plan, vcpu_to_host_cpu=tuple(sorted(pins[v].items())))) for v, (name, plan) in enumerate(plans)]


def _whole_cores(cores: list[tuple[int, ...]], needs: list[int], order: list[int]) -> list[list[tuple[int, ...]]]:
    """Cores of one node per VM, none shared, each VM's threads >= its need: whole free
    cores for the bulk, a core with fewer free threads (a sibling reserved) for a remainder
    when one fits, then the spare cores to VMs whose vCPUs would share a core among
    themselves. The model's core count per VM and node guarantees a choice exists."""
    width = max(len(core) for core in cores)
    full = [core for core in cores if len(core) == width]
    part = [core for core in cores if len(core) < width]
    chosen: list[list[tuple[int, ...]]] = [[] for _ in needs]
    for v, need in enumerate(needs):
        while need >= width and full:
            chosen[v].append(full.pop(0))
            need -= width
        while need > 0:
            fits = [core for core in part if len(core) >= need]
            pick = min(fits, key=len) if fits else (full[0] if full else max(part, key=len, default=None))
            if pick is None:
                raise AssertionError("no whole cores left for a VM: the placement model should have refused this (a numaopt bug)")
            (full if pick in full else part).remove(pick)
            chosen[v].append(pick)
            need -= len(pick)
    for v in order:
        while len(chosen[v]) < needs[v] and (full or part):
            chosen[v].append(full.pop(0) if full else part.pop(0))
    return chosen
