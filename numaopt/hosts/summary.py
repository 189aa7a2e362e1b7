"""The text ``numaopt host show`` prints: numactl's view, then sockets / cores / SMT,
huge pages, the HMAT (access and memory-side caches) and the findings. Pure: the CLI prints it."""

from __future__ import annotations

from numaopt.hosts.findings import host_findings
from numaopt.hosts.numactl import render_numactl
from numaopt.model import HostTopology
from numaopt.units import format_cpulist, format_size

__all__ = ["host_summary"]


def host_summary(host: HostTopology) -> str:
    lines = [render_numactl(host).rstrip("\n"), *_topology(host), *_hugepages(host), *_hmat(host), *host_findings(host)]
    return "\n".join(lines) + "\n"


def _topology(host: HostTopology) -> list[str]:
    if not host.cores:
        return [f"CPUs: {host.num_cpus}; sockets, cores and SMT siblings: unknown (numactl alone: add lscpu -p output)"]
    threads = sorted({len(core.cpus) for core in host.cores})
    per_core = str(threads[0]) if len(threads) == 1 else f"{threads[0]}-{threads[-1]}"
    sockets: dict[int, list[int]] = {}
    for core in host.cores:
        sockets.setdefault(core.socket, []).extend(core.cpus)
    node_of = host.cpu_to_node()
    lines = [f"sockets: {len(sockets)}, cores: {len(host.cores)}, threads per core: {per_core}, CPUs: {host.num_cpus}"]
    for socket, cpus in sorted(sockets.items()):
        num_cores = sum(1 for core in host.cores if core.socket == socket)
        nodes = format_cpulist({node_of[cpu] for cpu in cpus})
        lines.append(f"socket {socket}: {num_cores} cores, CPUs {format_cpulist(cpus)}, node(s) {nodes}")
    return lines


def _hugepages(host: HostTopology) -> list[str]:
    return [
        f"node {node.node_id} huge pages: "
        + ", ".join(f"{p.total} x {format_size(p.page_size_bytes)} ({p.free} free)" for p in node.hugepages)
        for node in host.nodes
        if node.hugepages
    ]


def _hmat(host: HostTopology) -> list[str]:
    """One line per node the HMAT describes: its best initiators' latency and bandwidth, its caches."""
    lines = []
    for node in host.nodes:
        if node.access is not None:
            access = node.access
            lines.append(
                f"node {node.node_id} access from node(s) {format_cpulist(access.initiators) or '-'}: "
                f"latency {access.read_latency}/{access.write_latency} ns, "
                f"bandwidth {access.read_bandwidth}/{access.write_bandwidth} MiB/s (read/write, 0 = not reported)"
            )
        lines += [
            f"node {node.node_id} memory-side cache level {cache.level}: {format_size(cache.size_bytes)}, "
            f"{cache.line}-byte lines, associativity {cache.associativity}, write policy {cache.policy}"
            for cache in node.caches
        ]
    return lines
