"""What is worth knowing about an imported host: real-hardware quirks (warnings) and facts.

Quirks are warnings, never errors: asymmetric SLITs and triangle violations on d - 10
occur on real Intel SNC machines, CXL and HBM nodes have memory but no CPUs, and a node
can have no free memory at all. Placement works with all of them; the user should know.
"""

from __future__ import annotations

import numpy as np

from numaopt.distances import RECLAIM_DISTANCE, distance_findings, distinct_levels, topology_type
from numaopt.model import HostTopology
from numaopt.rules import RuleSet
from numaopt.units import format_cpulist

__all__ = ["host_findings"]

# distance_findings codes that describe a host as well as a guest.
_DISTANCE_WARNINGS = ("asymmetric", "triangle", "triangle-excess")


def host_findings(host: HostTopology) -> list[str]:
    """One line per finding, ``warning: ...`` first, then ``info: ...`` facts."""
    ids = [node.node_id for node in host.nodes]
    cpu_mask = np.array([bool(node.cpus) for node in host.nodes])
    warnings = [
        f"warning: {finding.message}"
        for finding in distance_findings(host.distances, RuleSet.LINUX_ACPI, cpu_mask, ids)
        if finding.code in _DISTANCE_WARNINGS
    ]
    off_diagonal = ~np.eye(host.num_nodes, dtype=bool)
    if np.any(off_diagonal & (host.distances == 10)):
        warnings.append("warning: distance 10 between two different nodes: only NUMA emulation (numa=fake) does this")
    memory_only = [node.node_id for node in host.nodes if not node.cpus and node.memory_bytes]
    if memory_only:
        warnings.append(
            f"warning: node(s) {format_cpulist(memory_only)} have memory but no CPUs (CXL or HBM): "
            "guest memory can be bound there, no vCPU can be pinned there"
        )
    cpu_only = [node.node_id for node in host.nodes if node.cpus and not node.memory_bytes]
    if cpu_only:
        warnings.append(
            f"warning: node(s) {format_cpulist(cpu_only)} have CPUs but no memory: their CPUs allocate remotely"
        )
    empty = [node.node_id for node in host.nodes if not node.cpus and not node.memory_bytes]
    if empty:
        warnings.append(f"warning: node(s) {format_cpulist(empty)} have neither CPUs nor memory")
    exhausted = [node.node_id for node in host.nodes if node.free_bytes == 0 and node.memory_bytes]
    if exhausted:
        warnings.append(f"warning: node(s) {format_cpulist(exhausted)} have 0 bytes of memory free")
    return warnings + _facts(host, cpu_mask)


def _facts(host: HostTopology, cpu_mask: np.ndarray) -> list[str]:
    values = sorted({int(v) for v in np.unique(host.distances)})
    facts = [f"info: distance values: {', '.join(map(str, values))}"]
    if cpu_mask.any():
        levels = int(distinct_levels(host.distances, cpu_mask)[0])
        kind = topology_type(host.distances, cpu_mask)
        facts.append(f"info: scheduler: {levels} NUMA distance level(s) among CPU nodes, {kind}")
        if np.any(host.distances[np.ix_(cpu_mask, cpu_mask)] > RECLAIM_DISTANCE):
            facts.append(
                f"info: some CPU nodes are further than {RECLAIM_DISTANCE} apart: "
                "those scheduler levels lose wake-affine and exec/fork balancing"
            )
    return facts
