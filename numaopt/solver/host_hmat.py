"""The host's HMAT carried into a plan: latency, bandwidth and memory-side caches for each
guest node's memory.

The host kernel shows, for each memory node, its best initiator nodes and their read and
write latency (ns) and bandwidth (MiB/s) (sysfs ``nodeN/access0/initiators``), and the
memory-side caches in front of it (``nodeN/memory_side_cache/indexL``), read by
``hosts/sysfs.py`` or a host TOML. A guest node whose memory sits on one such host node,
and whose initiator's vCPUs run on those initiators, gets the same values as ``-numa
hmat-lb`` from its initiator and the host node's caches as ``-numa hmat-cache``, so the
guest's own access0 and memory_side_cache files say what the host's do.

QEMU keeps each table (one data type) as 16-bit entries times one base and refuses a
value that does not fit (a bandwidth of 199999 MiB/s, an odd number above 65534, is one
such): a table that would not fit is rounded to the precision it can hold — latencies
to a multiple of a power of ten, bandwidths to a multiple of a power of two MiB/s — so the plan starts.
"""

from __future__ import annotations

import dataclasses

from numaopt.layout import HmatRange
from numaopt.model import GuestNode, HmatCache, HmatLb, HostNode, HostTopology, MemorySideCache, NodeAccess, Plan
from numaopt.units import MIB

__all__ = ["qemu_caches", "with_host_hmat"]

MAX_CACHE_LEVEL = 3  # QEMU 7.2: HMAT_LB_LEVELS - 1
MAX_CACHE_LINE = 0xFFFF  # hmat-cache line is a uint16 (as is the ACPI field Linux read it from)


def with_host_hmat(plan: Plan, host: HostTopology) -> Plan:
    """``plan`` with the host's access values and caches as HMAT entries (and HMAT on) where they apply."""
    hosts = {node.node_id: node for node in host.nodes if node.access is not None}
    if not hosts:
        return plan
    host_node_of_cpu = {cpu: node.node_id for node in host.nodes for cpu in node.cpus}
    pinned = dict(plan.vcpu_to_host_cpu)
    layout = plan.layout
    by_id = {node.node_id: node for node in layout.nodes}
    entries: list[HmatLb] = []
    caches: list[HmatCache] = []
    for node in layout.nodes:
        initiator = node.initiator if node.initiator is not None else (node.node_id if node.cpus else None)
        if initiator is None or len(node.host_nodes) != 1 or node.host_nodes[0] not in hosts or not node.memory_bytes:
            continue
        runs_on = {host_node_of_cpu[pinned[cpu]] for cpu in by_id[initiator].cpus if cpu in pinned}
        target: HostNode = hosts[node.host_nodes[0]]
        assert target.access is not None  # only nodes with access0 are in hosts
        if not runs_on or not runs_on <= set(target.access.initiators):
            continue
        found = _entries(initiator, node, target.access)
        entries += found
        if {lb.is_latency for lb in found} == {True, False}:  # QEMU takes a cache only after both
            caches += [dataclasses.replace(cache, node=node.node_id) for cache in qemu_caches(target.caches)]
    if not entries:
        return plan
    entries = _fit_qemu_tables(entries)
    return dataclasses.replace(
        plan,
        layout=dataclasses.replace(
            layout, hmat=True, hmat_lb=layout.hmat_lb + tuple(entries), hmat_cache=layout.hmat_cache + tuple(caches)
        ),
    )


def qemu_caches(caches: tuple[MemorySideCache, ...]) -> list[HmatCache]:
    """The levels of a host node's caches QEMU 7.2 takes, in level order (node 0 until the
    caller names the guest node): levels 1, 2, 3 with none missing, each larger than the one
    below, a line that fits 16 bits. The first level that breaks a rule ends the list: QEMU
    would refuse it, and every level above it then lacks the level below."""
    found: list[HmatCache] = []
    for cache in sorted(caches, key=lambda c: c.level):
        if (
            cache.level != len(found) + 1
            or cache.level > MAX_CACHE_LEVEL
            or cache.line > MAX_CACHE_LINE
            or (found and cache.size_bytes <= found[-1].size_bytes)
        ):
            break
        found.append(HmatCache(0, cache.size_bytes, cache.level, cache.associativity, cache.policy, cache.line))
    return found


def _entries(initiator: int, node: GuestNode, access: NodeAccess) -> list[HmatLb]:
    """One access value where read and write agree, else a read and a write value; 0s left out."""
    found = []
    for kind, read, write, scale in (
        ("latency", access.read_latency, access.write_latency, 1),
        ("bandwidth", access.read_bandwidth, access.write_bandwidth, MIB),  # MiB/s -> bytes/s, 1 MiB aligned
    ):
        pairs = [("access", read)] if read == write else [("read", read), ("write", write)]
        found += [HmatLb(initiator, node.node_id, f"{how}-{kind}", value * scale) for how, value in pairs if value]
    return found


def _fit_qemu_tables(entries: list[HmatLb]) -> list[HmatLb]:
    """Each table's values as QEMU 7.2 can hold them: unchanged when they fit, else rounded
    to the coarsest step they need (10^k ns, 2^k MiB/s), never to 0."""
    tables: dict[tuple[str, str], list[int]] = {}
    for position, lb in enumerate(entries):
        tables.setdefault((lb.hierarchy, lb.data_type), []).append(position)
    fitted = list(entries)
    for positions in tables.values():
        latency = entries[positions[0]].is_latency
        values = [entries[k].value for k in positions]
        for k in range(64):
            step = 10**k if latency else MIB << k
            rounded = values if k == 0 else [max(step, round(v / step) * step) for v in values]
            if _fits(rounded, latency):
                break
        for k, value in zip(positions, rounded, strict=True):
            fitted[k] = dataclasses.replace(entries[k], value=value)
    return fitted


def _fits(values: list[int], latency: bool) -> bool:
    table = HmatRange()
    return all(table.add_latency(v) if latency else table.add_bandwidth(v) for v in values)
