"""Readable summaries: the guest as ``numactl --hardware`` would print it."""

from __future__ import annotations

from numaopt.model import GuestLayout, Plan, SolveStatus
from numaopt.units import MIB, format_cpulist, format_size


def numactl_hardware(layout: GuestLayout) -> str:
    """The guest's view in ``numactl --hardware`` form (sizes in MB, as numactl prints)."""
    ids = [node.node_id for node in layout.nodes]
    lines = [f"available: {len(ids)} nodes ({format_cpulist(ids)})"]
    for node in layout.nodes:
        lines.append(f"node {node.node_id} cpus:" + "".join(f" {cpu}" for cpu in node.cpus))
        lines.append(f"node {node.node_id} size: {node.memory_bytes // MIB} MB")
    lines.append("node distances:")
    matrix = layout.effective_distances
    lines.append("node " + "".join(f"{nid:>4}" for nid in ids) + " ")
    for row, nid in zip(matrix, ids, strict=True):
        lines.append(f"{nid:>3}: " + "".join(f"{int(v):>4}" for v in row) + " ")
    return "\n".join(lines) + "\n"


def _placement_lines(plan: Plan) -> list[str]:
    """Per guest node: its vCPUs and groups, memory, host node and host CPUs."""
    host_cpu = dict(plan.vcpu_to_host_cpu)
    lines = []
    for node in plan.layout.nodes:
        groups = sorted({plan.vcpu_groups[v] for v in node.cpus}) if plan.vcpu_groups else []
        lines.append(
            f"guest node {node.node_id}: vCPUs {format_cpulist(node.cpus) or '-'}"
            + (f" ({', '.join(groups)})" if groups else "")
            + f", {format_size(node.memory_bytes)} -> host node {format_cpulist(node.host_nodes) or '-'}, "
            f"host CPUs {format_cpulist(host_cpu[v] for v in node.cpus if v in host_cpu) or '-'}"
            + ("" if node.initiator is None else f", initiator guest node {node.initiator} (HMAT)")
        )
    return lines


def plan_summary(plan: Plan) -> str:
    layout = plan.layout
    shape = layout.shape
    lines = [
        f"{layout.machine.value} guest: {layout.vcpus} vCPUs ({shape.sockets} sockets x {shape.dies} dies x "
        f"{shape.clusters} clusters x {shape.cores} cores x {shape.threads} threads), "
        f"{format_size(layout.memory_bytes)} in {layout.num_nodes} node(s); rules {layout.rules.value}"
    ]
    if plan.vcpu_to_host_cpu:
        lines += _placement_lines(plan)
    facts = f"status {plan.status.value}"
    if plan.objective is not None:
        facts += f", objective {plan.objective:g}"
        if plan.best_bound is not None:
            gap = abs(plan.objective - plan.best_bound) / max(abs(plan.objective), 1e-9)
            facts += f", bound {plan.best_bound:g}, gap {gap:.2%}"
        facts += f", {plan.wall_time_s:.3f} s"
        if plan.status is SolveStatus.FEASIBLE:
            facts += " (NOT proven optimal: the time limit came first)"
    lines.append(facts)
    return "\n".join(lines) + "\n" + numactl_hardware(layout)
