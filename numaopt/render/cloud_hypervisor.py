"""Plan -> a Cloud Hypervisor command line (argv, and shell text built from it by shlex).

The option grammar is Cloud Hypervisor's own (docs/cpu.md, docs/memory.md and
``vmm/src/config.rs`` of its repository; lists in ``[...]``, as since v20):

* ``--cpus boot=N,topology=T:C:D:P,affinity=[V@[H],...]``: the topology is threads per
  core : cores per die : dies per package : packages, and must multiply to N; x86 takes
  at most 2 threads per core, aarch64 one die. It has no cluster level: clusters are
  counted as cores of their die. ``affinity`` pins each vCPU thread to its host CPU.
* ``--memory size=0`` and one ``--memory-zone id=memK,size=...,host_numa_node=H`` per
  guest node with memory (``hugepages=on,hugepage_size=...`` for huge pages, ``file=``
  for another file backend, ``shared=on``, ``prefault=on`` for preallocation).
* One ``--numa guest_numa_id=K,cpus=[...],distances=[J@D,...],memory_zones=[memK]`` per
  guest node. Every off-diagonal distance is written in both directions, so asymmetric
  tables survive (Cloud Hypervisor fills a missing direction from the other one).

Emulator CPUs: Cloud Hypervisor has no option for its own threads, so the command runs
under ``taskset --cpu-list`` on them; the vCPU threads then set their own affinity.
A zone binds to one host node: a node bound to several is refused, and so is TCG
(Cloud Hypervisor runs on KVM or MSHV only).
"""

from __future__ import annotations

import shlex

from numaopt.errors import LayoutError
from numaopt.model import BackendKind, GuestLayout, GuestNode, Machine, Plan
from numaopt.render.target import Accel, VmOptions, kernel_cmdline
from numaopt.units import GIB, KIB, MIB, format_cpulist

BINARY = "cloud-hypervisor"
MAX_X86_THREADS = 2  # vmm/src/config.rs: CpuTopologyThreadsPerCore


def _refuse(what: str) -> LayoutError:
    return LayoutError(f"--format cloud-hypervisor: {what}")


def zone_id(position: int) -> str:
    return f"mem{position}"


def byte_size(num_bytes: int) -> str:
    """Exact size in Cloud Hypervisor's ByteSized form: a number with K, M or G (powers of 1024)."""
    for suffix, scale in (("G", GIB), ("M", MIB), ("K", KIB)):
        if num_bytes and num_bytes % scale == 0:
            return f"{num_bytes // scale}{suffix}"
    return str(num_bytes)


def _list(values: tuple[int, ...]) -> str:
    # IntegerList: "a-b" needs a < b, which format_cpulist keeps (a lone id stays "a").
    return f"[{format_cpulist(values)}]"


def _check(layout: GuestLayout, options: VmOptions) -> None:
    if options.accel is Accel.TCG:
        raise _refuse("Cloud Hypervisor runs guests under KVM or MSHV only; use --accel kvm")
    if layout.machine is not Machine.VIRT and layout.shape.threads > MAX_X86_THREADS:
        raise _refuse(f"{layout.shape.threads} threads per core; Cloud Hypervisor takes at most {MAX_X86_THREADS} on x86")
    if layout.machine is Machine.VIRT and layout.shape.dies > 1:
        raise _refuse("dies on aarch64; Cloud Hypervisor takes one die per package there")
    if layout.dimms or layout.maxmem_bytes is not None:
        raise _refuse("DIMMs per node (maxmem, slots, dimms); Cloud Hypervisor hot-plugs memory per zone, not pc-dimms")
    if layout.hmat_lb or layout.hmat_cache:
        raise _refuse("HMAT latencies and caches; Cloud Hypervisor's --numa has no such keys")
    for position, node in enumerate(layout.nodes):
        if not node.cpus and not node.memory_bytes:
            raise _refuse(f"guest node {position} has neither vCPUs nor memory; a --numa node needs cpus or memory_zones")
        if len(node.host_nodes) > 1 and node.memory_bytes:
            raise _refuse(f"guest node {position} is bound to host nodes {format_cpulist(node.host_nodes)}; a memory zone binds to one")
    path = layout.backend.mem_path or ""
    if '"' in path:
        raise _refuse(f"memory path {path!r} holds a double quote, which Cloud Hypervisor's option syntax cannot carry")


def _cpus(plan: Plan) -> str:
    layout = plan.layout
    shape = layout.shape
    topology = f"{shape.threads}:{shape.clusters * shape.cores}:{shape.dies}:{shape.sockets}"
    parts = [f"boot={layout.vcpus}", f"topology={topology}"]
    if plan.vcpu_to_host_cpu:
        pins = ",".join(f"{vcpu}@[{host}]" for vcpu, host in plan.vcpu_to_host_cpu)
        parts.append(f"affinity=[{pins}]")
    return ",".join(parts)


def _zone(layout: GuestLayout, position: int, node: GuestNode) -> str:
    backend = layout.backend
    parts = [f"id={zone_id(position)}", f"size={byte_size(node.memory_bytes)}"]
    if backend.kind is BackendKind.FILE and backend.page_size_bytes:
        parts += ["hugepages=on", f"hugepage_size={byte_size(backend.page_size_bytes)}"]
    elif backend.kind is BackendKind.FILE:
        path = backend.mem_path or ""
        parts.append(f'file="{path}"' if any(c in path for c in ",[]=") else f"file={path}")
    if backend.share:
        parts.append("shared=on")
    if backend.prealloc:
        parts.append("prefault=on")
    if node.host_nodes:
        parts.append(f"host_numa_node={node.host_nodes[0]}")
    return ",".join(parts)


def _numa(layout: GuestLayout, position: int, node: GuestNode) -> str:
    parts = [f"guest_numa_id={position}"]
    if node.cpus:
        parts.append(f"cpus={_list(node.cpus)}")
    if layout.distances is not None and layout.num_nodes > 1:
        row = layout.distances[position]
        pairs = ",".join(f"{other}@{int(row[other])}" for other in range(layout.num_nodes) if other != position)
        parts.append(f"distances=[{pairs}]")
    if node.memory_bytes:
        parts.append(f"memory_zones=[{zone_id(position)}]")
    return ",".join(parts)


def cloud_hypervisor_command(plan: Plan, options: VmOptions | None = None) -> list[str]:
    """argv; ``LayoutError`` (one line) when Cloud Hypervisor cannot hold the plan."""
    options = options or VmOptions()
    layout = plan.layout
    _check(layout, options)
    argv = ["taskset", "--cpu-list", format_cpulist(plan.emulator_cpus)] if plan.emulator_cpus else []
    argv += [BINARY, "--cpus", _cpus(plan), "--memory", "size=0"]
    for position, node in enumerate(layout.nodes):
        if node.memory_bytes:
            argv += ["--memory-zone", _zone(layout, position, node)]
    for position, node in enumerate(layout.nodes):
        argv += ["--numa", _numa(layout, position, node)]
    if options.kernel is not None:
        argv += ["--kernel", options.kernel]
        if options.initrd is not None:
            argv += ["--initramfs", options.initrd]
        argv += ["--cmdline", kernel_cmdline(layout.machine, options)]
    return argv


def cloud_hypervisor_text(plan: Plan, options: VmOptions | None = None) -> str:
    """Shell text: the program (after any taskset) on the first line, one option and its value per line."""
    argv = cloud_hypervisor_command(plan, options)
    start = argv.index(BINARY) + 1
    lines = [shlex.join(argv[:start])]
    lines += [f"    {shlex.quote(argv[i])} {shlex.quote(argv[i + 1])}" for i in range(start, len(argv), 2)]
    return " \\\n".join(lines) + "\n"
