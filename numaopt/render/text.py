"""Readable summaries: the guest as ``numactl --hardware`` would print it."""

from __future__ import annotations

from numaopt.model import GuestLayout, Plan
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


def plan_summary(plan: Plan) -> str:
    layout = plan.layout
    shape = layout.shape
    head = (
        f"{layout.machine.value} guest: {layout.vcpus} vCPUs ({shape.sockets} sockets x {shape.dies} dies x "
        f"{shape.clusters} clusters x {shape.cores} cores x {shape.threads} threads), "
        f"{format_size(layout.memory_bytes)} in {layout.num_nodes} node(s); status {plan.status}; "
        f"rules {layout.rules}"
    )
    return head + "\n" + numactl_hardware(layout)
