"""Placement end to end: request -> instance -> search -> plan, or a reason in the user's terms."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from numaopt.distances import LOCAL_DISTANCE, MAX_DISTANCE
from numaopt.errors import LayoutError, NumaoptError
from numaopt.layout import MAX_CPUS, check_layout, memory_tier_initiators
from numaopt.model import GuestLayout, PlacementRequest, Plan, SolveStatus
from numaopt.rules import Finding, RuleSet, Severity
from numaopt.solver.explain import conflicting_requirements
from numaopt.solver.host_hmat import with_host_hmat
from numaopt.solver.instance import Instance, Item, Placement, Split, build_instance
from numaopt.solver.placement import Decision, Progress, solve_placement
from numaopt.solver.plan import build_plan
from numaopt.solver.repair import RepairFailed, keeps_every_requirement, repaired
from numaopt.units import format_cpulist, format_size

EXPLAIN_LIMIT_S = 5.0  # naming the conflict gets at most this, within the time limit


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
    if request.workload.vcpus > limit and not request.partitions:  # several VMs: checked per VM
        reasons.append(
            f"the guest would have {request.workload.vcpus} vCPUs; QEMU 7.2's {request.machine.value} machine "
            f"takes at most {limit}"
        )
    wanted = request.workload.guest_nodes
    if wanted is not None and wanted > host.num_nodes:
        reasons.append(f"{wanted} guest nodes were asked; the host has {host.num_nodes} nodes")
    return reasons


def decide(
    request: PlacementRequest, deadline: float | None, progress: Progress | None = None
) -> tuple[Instance, Decision, Placement]:
    """Instance, search decision and placement; ``NoPlanError`` with the reasons if none."""
    if deadline is None:
        deadline = time.perf_counter() + request.settings.time_limit_s
    instance = build_instance(request)
    reasons = static_conflicts(instance)
    if reasons:
        raise NoPlanError("no plan: " + "; ".join(reasons))
    decision = solve_placement(instance, deadline=deadline, progress=progress)
    if decision.status is SolveStatus.INFEASIBLE:
        conflict = conflicting_requirements(instance, min(EXPLAIN_LIMIT_S, deadline - time.perf_counter()))
        if not conflict:
            raise NoPlanError(
                "no plan: the requirements cannot all hold (no smaller conflict was found in time: raise objective.time_limit to see one)"
            )
        raise NoPlanError("no plan: these requirements cannot all hold: " + "; ".join(conflict))
    placement = decision.placement
    if placement is None:
        raise NoPlanError(_no_plan_in_time(request))
    if decision.unchecked and not keeps_every_requirement(instance, placement, deadline):
        try:
            placement = repaired(instance, placement, deadline)
        except RepairFailed as failed:
            if failed.infeasible:
                raise NoPlanError("no plan: the requirements cannot all hold (raise objective.time_limit to see which)") from None
            raise NoPlanError(_no_plan_in_time(request)) from None
        cost = float(instance.true_cost(placement))
        decision = replace(decision, status=SolveStatus.FEASIBLE, placement=placement, objective=cost)
    return instance, decision, placement


def _no_plan_in_time(request: PlacementRequest) -> str:
    return f"no plan within the time limit ({request.settings.time_limit_s:g} s): raise objective.time_limit"


def place(
    request: PlacementRequest,
    *,
    deadline: float | None = None,
    adjust_distances: bool = False,
    progress: Progress | None = None,
) -> Plan:
    """The best plan the search finds by ``deadline`` (a ``time.perf_counter()`` moment; by
    default the request's time limit from now); ``NoPlanError`` with the reasons otherwise.

    The plan's layout always passes QEMU's rules and its guest's: where the host's distances
    cannot be shown to the guest as they are, ``LayoutError`` says so, or with
    ``adjust_distances`` the nearest table the guest keeps is shown (``Plan.adjusted_distances``).
    """
    instance, decision, placement = decide(request, deadline, progress)
    plan = build_plan(
        instance,
        placement,
        status=decision.status,
        objective=decision.objective,
        best_bound=decision.best_bound,
        wall_time_s=decision.wall_time_s,
    )
    workload = request.workload  # room to grow: checked with the rest of the layout
    plan = replace(plan, layout=replace(plan.layout, maxmem_bytes=workload.maxmem_bytes, slots=workload.slots))
    return with_host_hmat(as_the_guest_keeps_it(plan, adjust_distances), request.host)


_DISTANCE_CODES = frozenset({"remote-equals-local", "distance-range", "distance-below-10", "local-distance"})


def _layout_errors(layout: GuestLayout) -> list[Finding]:
    rule_sets = dict.fromkeys((RuleSet.QEMU, layout.rules))
    return [f for rules in rule_sets for f in check_layout(layout, rules) if f.severity is Severity.ERROR]


def as_the_guest_keeps_it(plan: Plan, adjust: bool) -> Plan:
    """The plan, checked against QEMU and its guest; distances adjusted only when asked.
    A memory-only tier gets its nearest vCPU node as initiator (``memory_tier_initiators``)."""
    plan = replace(plan, layout=memory_tier_initiators(plan.layout))
    errors = _layout_errors(plan.layout)
    if not errors:
        return plan
    rules = plan.layout.rules.value
    if any(f.code not in _DISTANCE_CODES for f in errors) or plan.layout.distances is None:
        raise LayoutError(f"the plan breaks a rule of {rules} (a numaopt bug, please report it): {errors[0].message}")
    if not adjust:
        raise LayoutError(
            f"the host's distances cannot be shown to the guest as they are ({rules}: {errors[0].message}); "
            "pass --adjust-distances to show the nearest table the guest keeps"
        )
    host_view = plan.layout.distances
    shown = np.clip(host_view, LOCAL_DISTANCE + 1, MAX_DISTANCE)
    np.fill_diagonal(shown, LOCAL_DISTANCE)
    changes = tuple(
        (int(i), int(j), int(host_view[i, j]), int(shown[i, j])) for i, j in zip(*np.nonzero(shown != host_view), strict=True)
    )
    adjusted = replace(plan, layout=replace(plan.layout, distances=shown), adjusted_distances=changes)
    if remaining := _layout_errors(adjusted.layout):
        raise LayoutError(f"the nearest distance table is still refused ({rules}: {remaining[0].message})")
    return adjusted
