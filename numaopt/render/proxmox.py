"""Plan -> the NUMA part of a Proxmox VE VM config (``/etc/pve/qemu-server/VMID.conf``).

One ``key: value`` line each, as ``qm config`` prints them: ``name``, ``arch`` and
``machine``, ``cpu`` (the model for the accelerator, see ``target.cpu_model``),
``sockets``/``cores``/``vcpus``, ``memory`` (MiB), ``numa: 1`` and one
``numaN: cpus=...,hostnodes=...,memory=...,policy=bind`` per guest node, ``hugepages``
when the plan uses them, ``affinity`` for pinning and ``args`` for the distances.

What Proxmox VE cannot say, and what is done instead (the rules come from qemu-server's
Memory.pm, which turns ``numaN`` into ``-numa node``):

* At most 8 guest nodes (numa0..numa7), each with vCPUs and memory: a memory-less or
  CPU-less node is refused.
* Node memory is whole MiB; huge pages are 2 or 1024 MiB, each node bound to one host node.
* ``-smp`` has sockets and cores only: threads (and dies, clusters) are counted as cores
  of the socket, so every node keeps its vCPUs but the guest sees no SMT siblings.
* ``affinity`` is one host CPU set for every QEMU thread (taskset): the union of the
  plan's vCPU pinning. There is no per-vCPU pin and no separate emulator set.
* ``numaN`` has no distances: they go to ``args: -numa dist,...`` (node ids are the numaN
  indices; ``args`` needs root@pam to set), with ``-machine gic-version=3`` on aarch64.
"""

from __future__ import annotations

import re

import numpy as np

from numaopt.errors import LayoutError
from numaopt.model import BackendKind, GuestLayout, Machine, Plan
from numaopt.render.target import VmOptions, cpu_model
from numaopt.units import MIB, format_cpulist

MAX_NODES = 8  # qemu-server: $MAX_NUMA
HUGEPAGE_SIZES_MIB = (2, 1024)  # qemu-server: hugepages enum (besides "any")
# qemu-server's "dns-name" format, which ``name`` must match.
DNS_NAME = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*")


def _refuse(what: str) -> LayoutError:
    return LayoutError(f"--format proxmox: {what}")


def _id_list(ids: tuple[int, ...]) -> str:
    """Proxmox's "id[-id];..." lists: ranges joined with ';' (',' separates the properties)."""
    return format_cpulist(ids).replace(",", ";")


def _check(plan: Plan, options: VmOptions) -> None:
    layout = plan.layout
    if not DNS_NAME.fullmatch(options.name):
        raise _refuse(f"VM name {options.name!r} is not a DNS name (letters, digits, '-' and '.'), which Proxmox VE requires")
    if layout.num_nodes > MAX_NODES:
        raise _refuse(f"{layout.num_nodes} guest nodes; Proxmox VE takes at most {MAX_NODES} (numa0..numa7)")
    if layout.dimms or layout.maxmem_bytes is not None:
        raise _refuse("DIMMs per node (maxmem, slots, dimms); Proxmox VE's memory hotplug places DIMMs itself")
    if layout.hmat_lb or layout.hmat_cache:
        raise _refuse("HMAT latencies and caches; Proxmox VE's numaN has no such keys")
    for position, node in enumerate(layout.nodes):
        if not node.cpus or not node.memory_bytes:
            lacks = "vCPUs" if not node.cpus else "memory"
            raise _refuse(f"guest node {position} has no {lacks}; every Proxmox VE numaN needs both cpus and memory")
        if node.memory_bytes % MIB:
            raise _refuse(f"guest node {position} has {node.memory_bytes} bytes, not whole MiB as Proxmox VE's numaN memory")
    if layout.backend.page_size_bytes:
        if layout.backend.page_size_bytes // MIB not in HUGEPAGE_SIZES_MIB or layout.backend.page_size_bytes % MIB:
            raise _refuse(f"huge pages of {layout.backend.page_size_bytes} bytes; Proxmox VE takes 2 MiB or 1024 MiB pages")
        if any(len(node.host_nodes) != 1 for node in layout.nodes):
            raise _refuse("huge pages need every guest node bound to one host node (a search problem's plan)")


def _cpu_lines(layout: GuestLayout, options: VmOptions) -> list[tuple[str, str]]:
    shape = layout.shape
    lines = []
    if layout.machine is Machine.VIRT:
        lines.append(("arch", "aarch64"))
    lines += [
        ("machine", layout.machine.value),
        ("cpu", cpu_model(layout.machine, options.accel)),
        # qemu-server writes -smp VCPUS,sockets=S,cores=C: no threads, dies or clusters.
        ("sockets", str(shape.sockets)),
        ("cores", str(shape.cpus_per_socket)),
        ("vcpus", str(layout.vcpus)),
    ]
    return lines


def _extra_args(layout: GuestLayout) -> str | None:
    """What ``args`` adds to qemu-server's command line: GICv3 on ``virt`` (qemu-server
    leaves QEMU's GICv2, which stops at 8 vCPUs; QEMU merges a second -machine), and
    ``-numa dist`` by numaN index, one direction per symmetric pair, all when asymmetric."""
    options = ["-machine gic-version=3"] if layout.machine is Machine.VIRT else []
    matrix = layout.distances
    if matrix is not None:
        symmetric = bool(np.array_equal(matrix, matrix.T))
        n = layout.num_nodes
        options += [
            f"-numa dist,src={i},dst={j},val={int(matrix[i, j])}"
            for i in range(n)
            for j in range(n)
            if i != j and (j > i or not symmetric)
        ]
    return " ".join(options) or None


def proxmox_config(plan: Plan, options: VmOptions | None = None) -> str:
    """The config lines of ``plan``; ``LayoutError`` (one line) when Proxmox VE cannot hold it."""
    options = options or VmOptions()
    _check(plan, options)
    layout = plan.layout
    lines: list[tuple[str, str]] = [("name", options.name), *_cpu_lines(layout, options)]
    lines += [("memory", str(layout.memory_bytes // MIB)), ("numa", "1")]
    for position, node in enumerate(layout.nodes):
        properties = [f"cpus={_id_list(node.cpus)}"]
        if node.host_nodes:
            properties.append(f"hostnodes={_id_list(node.host_nodes)}")
        properties.append(f"memory={node.memory_bytes // MIB}")
        if node.host_nodes:
            properties.append("policy=bind")
        lines.append((f"numa{position}", ",".join(properties)))
    if layout.backend.kind is BackendKind.FILE and layout.backend.page_size_bytes:
        lines.append(("hugepages", str(layout.backend.page_size_bytes // MIB)))
    if plan.vcpu_to_host_cpu:
        lines.append(("affinity", format_cpulist(host for _, host in plan.vcpu_to_host_cpu)))
    args = _extra_args(layout)
    if args is not None:
        lines.append(("args", args))
    return "".join(f"{key}: {value}\n" for key, value in lines)
