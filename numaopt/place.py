"""Placement end to end: request -> instance -> search -> plan, or a reason in the user's terms."""

from __future__ import annotations

from numaopt.errors import NumaoptError
from numaopt.layout import MAX_CPUS
from numaopt.model import PlacementRequest, Plan, SolveStatus
from numaopt.planning import build_plan
from numaopt.solver.explain import conflicting_requirements
from numaopt.solver.instance import Instance, Item, Split, build_instance
from numaopt.solver.placement import solve_placement
from numaopt.units import format_cpulist, format_size


class NoPlanError(NumaoptError):
    """No plan: the requirements conflict, or the time limit passed before any plan."""

    exit_code = 3


def _after_reserving(request: PlacementRequest) -> str:
    return f" after reserving {format_cpulist(request.reserved_cpus)}" if request.reserved_cpus else ""


def _cpus_text(instance: Instance, cores: int) -> str:
    threads = instance.request.workload.threads_per_core
    return f"{cores} free CPUs" if threads == 1 else f"{cores} free cores of {threads} sibling threads"


def static_conflicts(instance: Instance) -> list[str]:
    """Conflicts that need no search, said the way a user thinks of them."""
    request = instance.request
    host = request.host
    threads = request.workload.threads_per_core
    unit = instance.memory_unit_bytes
    reasons: list[str] = []
    total_cores = int(instance.node_cores.sum())
    need_cores = sum(item.cores for item in instance.items) + sum(split.cores for split in instance.splits)
    if need_cores > total_cores:
        reasons.append(
            f"the workload needs {need_cores * threads} vCPUs; the host has {_cpus_text(instance, total_cores)}"
            f"{_after_reserving(request)}"
        )
    need_memory = sum(item.memory_units for item in instance.items) + sum(split.memory_units for split in instance.splits)
    if need_memory > int(instance.node_memory.sum()):
        what = f"{format_size(unit)} huge pages" if request.workload.page_size_bytes else "memory"
        reasons.append(
            f"the workload needs {format_size(need_memory * unit)} of {what}; the host has "
            f"{format_size(int(instance.node_memory.sum()) * unit)} free"
        )
    for g, group in enumerate(request.workload.groups):
        where = instance.unit_of_group[g]
        spec: Item | Split = instance.splits[where.index] if where.split else instance.items[where.index]
        allowed, cores, memory = spec.allowed, spec.cores, spec.memory_units
        best = max(allowed, key=lambda n: int(instance.node_cores[n]))
        scope = "any allowed host node" if group.allowed_nodes else "any host node"
        if not group.split:
            if cores > int(instance.node_cores[best]):
                reasons.append(
                    f"group {group.name} needs {group.vcpus} vCPUs on one node; the largest "
                    f"{'allowed ' if group.allowed_nodes else ''}host node ({host.nodes[best].node_id}) has "
                    f"{_cpus_text(instance, int(instance.node_cores[best]))}{_after_reserving(request)}"
                )
            richest = max(allowed, key=lambda n: int(instance.node_memory[n]))
            if memory > int(instance.node_memory[richest]):
                reasons.append(
                    f"group {group.name} needs {format_size(memory * unit)} on one node; {scope} has at most "
                    f"{format_size(int(instance.node_memory[richest]) * unit)} free"
                )
        else:
            room = sum(int(instance.node_cores[n]) for n in allowed)
            if cores > room:
                reasons.append(
                    f"group {group.name} needs {group.vcpus} vCPUs; {'its allowed' if group.allowed_nodes else 'the'} "
                    f"host nodes have {_cpus_text(instance, room)}{_after_reserving(request)}"
                )
            space = sum(int(instance.node_memory[n]) for n in allowed)
            if memory > space:
                reasons.append(
                    f"group {group.name} needs {format_size(memory * unit)}; {'its allowed' if group.allowed_nodes else 'the'} "
                    f"host nodes have {format_size(space * unit)} free"
                )
    limit = MAX_CPUS[request.machine]
    if request.workload.vcpus > limit:
        reasons.append(
            f"the guest would have {request.workload.vcpus} vCPUs; QEMU 7.2's {request.machine.value} machine "
            f"takes at most {limit}"
        )
    wanted = request.workload.guest_nodes
    if wanted is not None and wanted > host.num_nodes:
        reasons.append(f"{wanted} guest nodes were asked; the host has {host.num_nodes} nodes")
    return reasons


def place(request: PlacementRequest) -> Plan:
    """The best plan the search finds in time; ``NoPlanError`` with the reasons otherwise."""
    instance = build_instance(request)
    reasons = static_conflicts(instance)
    if reasons:
        raise NoPlanError("no plan: " + "; ".join(reasons))
    decision = solve_placement(instance)
    if decision.status is SolveStatus.INFEASIBLE:
        conflict = conflicting_requirements(instance)
        raise NoPlanError("no plan: these requirements cannot all hold: " + "; ".join(conflict))
    if decision.placement is None:
        raise NoPlanError(
            f"no plan within the time limit ({request.settings.time_limit_s:g} s): raise objective.time_limit"
        )
    return build_plan(
        instance,
        decision.placement,
        status=decision.status,
        objective=decision.objective,
        best_bound=decision.best_bound,
        wall_time_s=decision.wall_time_s,
    )
