"""GuestLayout / Plan -> QEMU arguments: an argv list, and shell text built from it.

Choices that keep QEMU and the guest honest (docs/rules.md #qemu-memory, #qemu-cpu, #qemu-dist):
every node gets its own memory backend and ``memdev=`` (``mem=`` is refused on 5.1+
machine types); every vCPU is mapped with ``-numa cpu`` (QEMU's default mapping splits
sockets and the partial-mapping fallback is deprecated); every node is declared before
a ``cpu`` or ``dist`` option names it; distances are the minimal set QEMU completes
itself (one direction per symmetric pair, every ordered pair when any is asymmetric).
"""

from __future__ import annotations

import shlex

import numpy as np

from numaopt.model import BackendKind, GuestLayout, GuestNode, Machine, Plan
from numaopt.units import format_cpulist, format_qemu_size


def memdev_id(node: GuestNode) -> str:
    """The backend id of a node: only [a-z0-9-], so it is a valid QOM id."""
    return f"mem-node{node.node_id}"


def _host_nodes_options(host_nodes: tuple[int, ...]) -> list[str]:
    # QemuOpts reads a uint16 list as repeated keys, each a number or a range.
    return [f"host-nodes={part}" for part in format_cpulist(host_nodes).split(",")] + ["policy=bind"]


def _smp(layout: GuestLayout) -> str:
    shape = layout.shape
    middle = f"clusters={shape.clusters}" if layout.machine is Machine.VIRT else f"dies={shape.dies}"
    return (
        f"{layout.vcpus},sockets={shape.sockets},{middle},cores={shape.cores},"
        f"threads={shape.threads},maxcpus={layout.vcpus}"
    )


def _machine(layout: GuestLayout) -> list[str]:
    if layout.machine is Machine.VIRT:
        # GICv3 takes up to 512 vCPUs (GICv2: 8); "max" is a 64-bit CPU under TCG and KVM.
        return ["-machine", "virt,gic-version=3", "-cpu", "max"]
    if layout.shape.threads > 1:
        # QEMU's default x86 CPU (qemu64, an AMD family) has no SMT: the guest would be
        # told "doesn't support hyperthreading". "max" has the topology leaves it needs.
        return ["-machine", layout.machine.value, "-cpu", "max"]
    return ["-machine", layout.machine.value]


def _backend(layout: GuestLayout, node: GuestNode) -> str:
    backend = layout.backend
    options = [f"memory-backend-{backend.kind.value}", f"id={memdev_id(node)}", f"size={format_qemu_size(node.memory_bytes)}"]
    if backend.kind is BackendKind.FILE:
        options.append(f"mem-path={(backend.mem_path or '').replace(',', ',,')}")  # QemuOpts doubles commas
    if backend.share:
        options.append("share=on")
    if backend.prealloc:
        options.append("prealloc=on")
    if node.host_nodes:
        options += _host_nodes_options(node.host_nodes)
    return ",".join(options)


def _cpu_option(layout: GuestLayout, node: GuestNode, cpu: int) -> str:
    pos = layout.shape.position(cpu)
    props = [f"node-id={node.node_id}", f"socket-id={pos.socket}"]
    # Only ids the board exposes are accepted: x86 has die-id only with dies > 1.
    if layout.machine is not Machine.VIRT and layout.shape.dies > 1:
        props.append(f"die-id={pos.die}")
    if layout.machine is Machine.VIRT and layout.shape.clusters > 1:
        props.append(f"cluster-id={pos.cluster}")
    props += [f"core-id={pos.core}", f"thread-id={pos.thread}"]
    return "cpu," + ",".join(props)


def _distance_options(layout: GuestLayout) -> list[str]:
    if layout.distances is None:
        return []
    d = layout.distances
    ids = [node.node_id for node in layout.nodes]
    n = len(ids)
    symmetric = bool(np.array_equal(d, d.T))
    # The diagonal is written only where it is not 10, so a bad one reaches QEMU as given.
    return [
        f"dist,src={ids[i]},dst={ids[j]},val={int(d[i, j])}"
        for i in range(n)
        for j in range(n)
        if (i != j and (j > i or not symmetric)) or (i == j and int(d[i, i]) != 10)
    ]


def qemu_args(layout: GuestLayout) -> list[str]:
    """The NUMA-relevant QEMU arguments, in an order QEMU accepts."""
    args = [*_machine(layout), "-m", format_qemu_size(layout.memory_bytes), "-smp", _smp(layout)]
    for node in layout.nodes:
        if node.memory_bytes:
            args += ["-object", _backend(layout, node)]
    for node in layout.nodes:
        memdev = f",memdev={memdev_id(node)}" if node.memory_bytes else ""
        args += ["-numa", f"node,nodeid={node.node_id}{memdev}"]
    for node in layout.nodes:
        for cpu in node.cpus:
            args += ["-numa", _cpu_option(layout, node, cpu)]
    for option in _distance_options(layout):
        args += ["-numa", option]
    return args


def qemu_command(plan: Plan | GuestLayout) -> list[str]:
    """argv: the QEMU binary for the machine, then ``qemu_args``."""
    layout = plan.layout if isinstance(plan, Plan) else plan
    return [layout.machine.qemu_binary, *qemu_args(layout)]


def shell_text(plan: Plan | GuestLayout) -> str:
    """One option and its value per line, with backslash continuations."""
    argv = qemu_command(plan)
    lines = [shlex.quote(argv[0])]
    i = 1
    while i < len(argv):
        if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            lines.append(f"    {shlex.quote(argv[i])} {shlex.quote(argv[i + 1])}")
            i += 2
        else:
            lines.append(f"    {shlex.quote(argv[i])}")
            i += 1
    return " \\\n".join(lines) + "\n"


def one_line(plan: Plan | GuestLayout) -> str:
    return shlex.join(qemu_command(plan)) + "\n"
