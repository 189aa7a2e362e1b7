"""numactl + lscpu -> one host: numactl owns nodes, memory and distances; lscpu adds cores.

Which source wins (docs/hosts.md has the same table):

* node ids, each node's CPUs, memory, free memory, distances: numactl (lscpu's node
  column is only compared, and a disagreement is a warning);
* SMT siblings and sockets: ``lscpu -p`` / ``lscpu -e`` (numactl has none). They are
  kept only when lscpu knows every CPU numactl lists and no core's siblings sit on two
  numactl nodes; CPUs only lscpu lists are dropped. The lscpu summary names no siblings, so it only adds warnings.
"""

from __future__ import annotations

from numaopt.hosts.lscpu import LscpuForm, LscpuReport
from numaopt.model import HostCore, HostTopology
from numaopt.units import format_cpulist

__all__ = ["merge_numactl_lscpu"]


def merge_numactl_lscpu(numactl: HostTopology, lscpu: LscpuReport) -> tuple[HostTopology, list[str]]:
    """The host numactl describes, with lscpu's cores; plus a warning per disagreement."""
    warnings: list[str] = []
    numactl_node = numactl.cpu_to_node()
    lscpu_node = lscpu.node_of_cpu()
    only_numactl = sorted(set(numactl_node) - set(lscpu.cpus))
    only_lscpu = sorted(set(lscpu.cpus) - set(numactl_node))
    if only_lscpu:
        warnings.append(f"lscpu lists CPUs {format_cpulist(only_lscpu)} that numactl does not: they are left out")
    moved = sorted(cpu for cpu, node in lscpu_node.items() if cpu in numactl_node and numactl_node[cpu] != node)
    if moved:
        cpu = moved[0]
        warnings.append(
            f"{len(moved)} CPU(s) ({format_cpulist(moved)}) are on other nodes in lscpu than in numactl "
            f"(CPU {cpu}: node {numactl_node[cpu]} in numactl, node {lscpu_node[cpu]} in lscpu): numactl's nodes are kept"
        )
    cores: tuple[HostCore, ...] = ()
    if lscpu.form is LscpuForm.SUMMARY:
        counts = ""
        if lscpu.sockets and lscpu.threads_per_core:
            counts = f" (it counts {lscpu.sockets} socket(s), {lscpu.threads_per_core} thread(s) per core)"
        warnings.append(
            f"the lscpu summary does not say which CPUs are SMT siblings{counts}: "
            "each CPU counts as its own core; give lscpu -p output for the siblings"
        )
    elif only_numactl:
        warnings.append(
            f"numactl lists CPUs {format_cpulist(only_numactl)} that lscpu does not: "
            "SMT siblings and sockets are unknown for the whole host"
        )
    else:
        kept = (HostCore(core.socket, tuple(c for c in core.cpus if c in numactl_node)) for core in lscpu.cores)
        cores = tuple(core for core in kept if core.cpus)
        split = [core for core in cores if len({numactl_node[cpu] for cpu in core.cpus}) > 1]
        if split:
            # Siblings share a core and so one node; a core map that says otherwise is wrong
            # for this host, and placement would pin one guest core across two nodes.
            cores = ()
            warnings.append(
                f"{len(split)} core(s) have SMT siblings on different numactl nodes (first: CPUs "
                f"{format_cpulist(split[0].cpus)}): are numactl and lscpu from the same machine? "
                "SMT siblings and sockets are unknown for the whole host"
            )
    return HostTopology(nodes=numactl.nodes, distances=numactl.distances, cores=cores), warnings
