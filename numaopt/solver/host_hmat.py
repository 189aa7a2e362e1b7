"""The host's HMAT carried into a plan: latency and bandwidth for each guest node's memory.

The host kernel shows, for each memory node, its best initiator nodes and their read and
write latency (ns) and bandwidth (MB/s) (sysfs ``nodeN/access0/initiators``, read by
``hosts/sysfs.py``). A guest node whose memory sits on one such host node, and whose
initiator's vCPUs run on those initiators, gets the same values as ``-numa hmat-lb``
from its initiator, so the guest's own access0 files say what the host's do.
"""

from __future__ import annotations

import dataclasses

from numaopt.model import GuestNode, HmatLb, HostTopology, NodeAccess, Plan
from numaopt.units import MIB

__all__ = ["with_host_hmat"]


def with_host_hmat(plan: Plan, host: HostTopology) -> Plan:
    """``plan`` with the host's access values as HMAT entries (and HMAT on) where they apply."""
    access = {node.node_id: node.access for node in host.nodes if node.access is not None}
    if not access:
        return plan
    host_node_of_cpu = {cpu: node.node_id for node in host.nodes for cpu in node.cpus}
    pinned = dict(plan.vcpu_to_host_cpu)
    layout = plan.layout
    by_id = {node.node_id: node for node in layout.nodes}
    entries: list[HmatLb] = []
    for node in layout.nodes:
        initiator = node.initiator if node.initiator is not None else (node.node_id if node.cpus else None)
        if initiator is None or len(node.host_nodes) != 1 or node.host_nodes[0] not in access or not node.memory_bytes:
            continue
        runs_on = {host_node_of_cpu[pinned[cpu]] for cpu in by_id[initiator].cpus if cpu in pinned}
        target = access[node.host_nodes[0]]
        if runs_on and runs_on <= set(target.initiators):
            entries += _entries(initiator, node, target)
    if not entries:
        return plan
    return dataclasses.replace(plan, layout=dataclasses.replace(layout, hmat=True, hmat_lb=layout.hmat_lb + tuple(entries)))


def _entries(initiator: int, node: GuestNode, access: NodeAccess) -> list[HmatLb]:
    """One access value where read and write agree, else a read and a write value; 0s left out."""
    found = []
    for kind, read, write, scale in (
        ("latency", access.read_latency, access.write_latency, 1),
        ("bandwidth", access.read_bandwidth, access.write_bandwidth, MIB),  # MB/s -> bytes/s, 1 MiB aligned
    ):
        pairs = [("access", read)] if read == write else [("read", read), ("write", write)]
        found += [HmatLb(initiator, node.node_id, f"{how}-{kind}", value * scale) for how, value in pairs if value]
    return found
