"""GuestLayout / Plan -> QEMU arguments: an argv list, and shell text built from it.

Choices that keep QEMU and the guest honest (docs/rules.md #qemu-memory, #qemu-cpu, #qemu-dist):
every node gets its own memory backend and ``memdev=`` (``mem=`` is refused on 5.1+
machine types); every vCPU is mapped with ``-numa cpu`` (QEMU's default mapping splits
sockets and the partial-mapping fallback is deprecated); every node is declared before
a ``cpu`` or ``dist`` option names it; distances are the minimal set QEMU completes
itself (one direction per symmetric pair, every ordered pair when any is asymmetric).
"""

from __future__ import annotations

import functools
import operator
import re
import shlex

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE
from numaopt.model import BackendKind, GuestLayout, GuestNode, Machine, MemoryBackend, Plan
from numaopt.render.target import TCG_X86_CPU
from numaopt.units import format_cpulist, format_qemu_size

# Batches of generated layouts render the same sizes, nodes and matrices over and over:
# the pieces are cached, so the one renderer is fast enough for ``numaopt generate``.
_size = functools.lru_cache(maxsize=4096)(format_qemu_size)
# The characters shlex.quote leaves alone (its own test): text with no other needs no quotes.
_needs_quotes = re.compile(r"[^\w@%+=:,./-]", re.ASCII).search


def memdev_id(node: GuestNode) -> str:
    """The backend id of a node: only [a-z0-9-], so it is a valid QOM id."""
    return _memdev(node.node_id)


def _memdev(node_id: int) -> str:
    return f"mem-node{node_id}"


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


def _machine(layout: GuestLayout) -> list[tuple[str, str]]:
    hmat = ",hmat=on" if layout.hmat else ""
    if layout.machine is Machine.VIRT:
        # GICv3 takes up to 512 vCPUs (GICv2: 8); "max" is a 64-bit CPU under TCG and KVM.
        return [("-machine", f"virt,gic-version=3{hmat}"), ("-cpu", "max")]
    if layout.shape.threads > 1:
        # With no -accel QEMU runs TCG, where its default x86 CPU has no SMT threads
        # (TCG_X86_CPU says why); under KVM a user's later -cpu host wins.
        return [("-machine", layout.machine.value + hmat), ("-cpu", TCG_X86_CPU)]
    return [("-machine", layout.machine.value + hmat)]


@functools.lru_cache(maxsize=64)
def _backend_options(backend: MemoryBackend) -> tuple[str, str]:
    """What every node's backend object says before and after its id and size."""
    after = []
    if backend.kind is BackendKind.FILE:
        after.append(f",mem-path={(backend.mem_path or '').replace(',', ',,')}")  # QemuOpts doubles commas
    if backend.share:
        after.append(",share=on")
    if backend.prealloc:
        after.append(",prealloc=on")
    return f"memory-backend-{backend.kind.value}", "".join(after)


def _head(layout: GuestLayout) -> list[tuple[str, str]]:
    """Machine, CPU, memory and -smp options, and one memory backend per node with memory:
    the options that can hold text from the user (a backend's mem-path)."""
    options = [*_machine(layout), ("-m", _memory(layout)), ("-smp", _smp(layout))]
    kind, after = _backend_options(layout.backend)
    options += [
        ("-object", _backend_object(kind, after, node.node_id, node.memory_bytes, node.host_nodes))
        for node in layout.nodes
        if node.memory_bytes
    ]
    return options


def _memory(layout: GuestLayout) -> str:
    if layout.maxmem_bytes is None and not layout.slots:
        return _size(layout.memory_bytes)
    slots = f",slots={layout.slots}" if layout.slots else ""
    maxmem = "" if layout.maxmem_bytes is None else f",maxmem={_size(layout.maxmem_bytes)}"
    return f"{_size(layout.memory_bytes)}{slots}{maxmem}"


def dimm_id(index: int) -> str:
    """The id of the index-th DIMM (``-device``); its backend is ``<id>-mem``."""
    return f"dimm{index}"


def _dimm_options(layout: GuestLayout) -> list[tuple[str, str]]:
    """Each DIMM's backend (bound like its node's memory) and its ``-device pc-dimm,node=``."""
    kind, after = _backend_options(layout.backend)
    host_nodes = {node.node_id: node.host_nodes for node in layout.nodes}
    options = []
    for index, dimm in enumerate(layout.dimms):
        bind = host_nodes.get(dimm.node, ())
        backend = f"{kind},id={dimm_id(index)}-mem,size={_size(dimm.size_bytes)}{after}"
        backend += "," + ",".join(_host_nodes_options(bind)) if bind else ""
        options += [("-object", backend), ("-device", f"pc-dimm,id={dimm_id(index)},memdev={dimm_id(index)}-mem,node={dimm.node}")]
    return options


@functools.lru_cache(maxsize=65536)
def _backend_object(kind: str, after: str, node_id: int, memory_bytes: int, host_nodes: tuple[int, ...]) -> str:
    bind = "," + ",".join(_host_nodes_options(host_nodes)) if host_nodes else ""
    return f"{kind},id={_memdev(node_id)},size={_size(memory_bytes)}{after}{bind}"


@functools.lru_cache(maxsize=4096)
def _node_value(node_id: int, has_memory: bool, initiator: int | None = None) -> str:
    value = f"node,nodeid={node_id},memdev={_memdev(node_id)}" if has_memory else f"node,nodeid={node_id}"
    return value if initiator is None else f"{value},initiator={initiator}"


@functools.lru_cache(maxsize=65536)
def _cpu_values(node_id: int, cpus: tuple[int, ...], dies: int, clusters: int, cores: int, threads: int, virt: bool) -> tuple[str, ...]:
    """The ``-numa cpu`` values of one node. The ids are ``CpuShape.position``'s (QEMU's
    x86_topo_ids_from_idx), worked out here with plain integers: building a position
    object per vCPU was most of a large layout's rendering; the socket count changes none."""
    per_cluster = cores * threads
    per_die = clusters * per_cluster
    per_socket = dies * per_die
    # Only ids the board exposes are accepted: x86 has die-id only with dies > 1, virt
    # cluster-id only with clusters > 1.
    if not virt and dies > 1:
        middle = [f",die-id={cpu // per_die % dies}" for cpu in cpus]
    elif virt and clusters > 1:
        middle = [f",cluster-id={cpu // per_cluster % clusters}" for cpu in cpus]
    else:
        middle = [""] * len(cpus)
    return tuple(
        f"cpu,node-id={node_id},socket-id={cpu // per_socket}{extra},core-id={cpu // threads % cores},thread-id={cpu % threads}"
        for cpu, extra in zip(cpus, middle, strict=True)
    )


@functools.lru_cache(maxsize=512)
def _distance_heads(ids: tuple[int, ...], symmetric: bool) -> tuple[tuple[str, ...], npt.NDArray[np.intp]]:
    """``-numa dist`` values less the number, and the flat matrix entries they print:
    one direction per pair when symmetric, every ordered pair otherwise."""
    n = len(ids)
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j and (j > i or not symmetric)]
    heads = tuple(f"dist,src={ids[i]},dst={ids[j]},val=" for i, j in pairs)
    return heads, np.array([i * n + j for i, j in pairs], dtype=np.intp)


def _distance_values(layout: GuestLayout) -> list[str]:
    d = layout.distances
    if d is None:
        return []
    ids = tuple(node.node_id for node in layout.nodes)
    symmetric = bool((d == d.T).all())
    if (d.diagonal() != LOCAL_DISTANCE).any():
        # The diagonal is written only where it is not 10, so a bad one reaches QEMU as
        # given, in its place among the pairs.
        n = len(ids)
        return [
            f"dist,src={ids[i]},dst={ids[j]},val={int(d[i, j])}"
            for i in range(n)
            for j in range(n)
            if (i != j and (j > i or not symmetric)) or (i == j and int(d[i, i]) != LOCAL_DISTANCE)
        ]
    heads, flat = _distance_heads(ids, symmetric)
    return list(map(operator.add, heads, map(str, d.ravel()[flat].tolist())))  # as many values as heads


def _numa_values(layout: GuestLayout) -> list[str]:
    """The ``-numa`` values: every node, then every vCPU's place, then the distances.
    Only numbers and ids numaopt chose: nothing here needs shell quotes."""
    values = [_node_value(node.node_id, node.memory_bytes > 0, node.initiator) for node in layout.nodes]
    shape, virt = layout.shape, layout.machine is Machine.VIRT
    for node in layout.nodes:
        values += _cpu_values(node.node_id, node.cpus, shape.dies, shape.clusters, shape.cores, shape.threads, virt)
    values += _distance_values(layout)
    return values + _hmat_values(layout)


def _hmat_values(layout: GuestLayout) -> list[str]:
    """``-numa hmat-lb`` then ``hmat-cache`` (QEMU takes a cache only after its node's
    latency and bandwidth), after the ``-numa cpu`` lines that make the initiators."""
    values = [
        f"hmat-lb,initiator={lb.initiator},target={lb.target},hierarchy={lb.hierarchy},data-type={lb.data_type},"
        + (f"latency={lb.value}" if lb.is_latency else f"bandwidth={_size(lb.value)}")
        for lb in layout.hmat_lb
    ]
    return values + [
        f"hmat-cache,node-id={cache.node},size={_size(cache.size_bytes)},level={cache.level},"
        f"associativity={cache.associativity},policy={cache.policy},line={cache.line}"
        for cache in layout.hmat_cache
    ]


def qemu_args(layout: GuestLayout) -> list[str]:
    """The NUMA-relevant QEMU arguments, in an order QEMU accepts."""
    args = [word for option in _head(layout) for word in option]
    args += [word for value in _numa_values(layout) for word in ("-numa", value)]
    return args + [word for option in _dimm_options(layout) for word in option]


def qemu_command(plan: Plan | GuestLayout) -> list[str]:
    """argv: the QEMU binary for the machine, then ``qemu_args``."""
    layout = plan.layout if isinstance(plan, Plan) else plan
    return [layout.machine.qemu_binary, *qemu_args(layout)]


def shell_text(plan: Plan | GuestLayout) -> str:
    """``qemu_command`` as shell text: one option and its value per line, with backslash
    continuations (``numaopt generate`` writes exactly this as a layout's ``.args`` file)."""
    layout = plan.layout if isinstance(plan, Plan) else plan
    binary, head = layout.machine.qemu_binary, _head(layout)
    if _needs_quotes(binary + "".join(map("".join, head))):
        lines = [shlex.quote(binary), *(f"    {shlex.quote(option)} {shlex.quote(value)}" for option, value in head)]
    else:  # the usual case; shlex.quote would be most of the cost
        lines = [binary, *(f"    {option} {value}" for option, value in head)]
    numa = _numa_values(layout)
    if numa:  # one join for all the -numa lines: a 32-node layout has hundreds
        lines.append("    -numa " + " \\\n    -numa ".join(numa))
    lines += [f"    {option} {shlex.quote(value)}" for option, value in _dimm_options(layout)]
    return " \\\n".join(lines) + "\n"


def one_line(plan: Plan | GuestLayout) -> str:
    return shlex.join(qemu_command(plan)) + "\n"
