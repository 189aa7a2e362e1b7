"""Node roles, vCPUs, memory and the -smp shape of generated layouts.

CPU-less nodes come last and vCPUs are dealt in node order, so the guest numbers nodes
as QEMU does (no ``node-renumbered`` warning); memory-less nodes are CPU nodes. Node
sizes are whole granules (128 MiB by default). Shapes keep every x86 APIC ID below 255
(QEMU 7.2 without KVM's irqchip refuses more).

Socket modes:

* ``whole``: every node holds whole sockets (sockets of ``dies`` x ``cores`` x ``threads``);
* ``split``: a socket spans nodes, either along die boundaries (the guest drops its
  package level, legal) or inside a die (the guest warns ``llc-sibling ... not on the
  same node``, a warning for linux-acpi). On virt the same shapes split a socket along
  cluster boundaries, or inside a socket of one cluster: an arm64 device-tree guest
  stops its scheduler levels below NUMA at the node and says nothing (measured, Debian
  6.1); a cluster is never split (``cluster-split``, an error for linux-dt), and a
  guest target's virt items have one thread per core (``virt-smt``, an error for linux-dt);
* ``split-core`` (qemu target): one SMT core has threads in two nodes.

A mode that cannot apply to an item (one CPU node, one thread) falls back to ``whole``;
the classes record what each layout really is.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from numaopt.generate.knobs import SocketMode, Space, apic_limit_ok, one_thread_on_virt
from numaopt.generate.streams import Draws
from numaopt.model import Machine

SLOT_CPULESS = 10
SLOT_THREADS = 11
SLOT_MEMORYLESS = 12
SLOT_MEMORYLESS_PICK = 13
SLOT_MEMORY = 14
SLOT_MODE = 15
SLOT_MACHINE = 16
SLOT_CPUS = 17  # 4 + n uniforms per item


@dataclass(frozen=True, slots=True)
class NodeBatch:
    """Nodes of ``len(cpus)`` items with ``n`` nodes each (rows are items)."""

    cpus: npt.NDArray[np.int64]  # (g, n) vCPUs per node
    memory: npt.NDArray[np.int64]  # (g, n) bytes per node
    shapes: npt.NDArray[np.int64]  # (g, 4): sockets, dies, cores, threads
    modes: tuple[SocketMode, ...]  # what each item's shape really is
    machines: tuple[Machine, ...]

    @property
    def cpu_mask(self) -> npt.NDArray[np.bool_]:
        return self.cpus > 0


@functools.lru_cache(maxsize=1024)
def _divisors(value: int) -> list[int]:
    small = [d for d in range(1, math.isqrt(value) + 1) if value % d == 0]
    return sorted({*small, *(value // d for d in small)})


def _pick(options: list[int] | list[tuple[int, int, int]], u: float) -> int:
    return min(int(u * len(options)), len(options) - 1)


def _per_node(us: npt.NDArray[np.float64], lo: int, hi: int) -> list[int]:
    return [lo + min(int(u * (hi - lo + 1)), hi - lo) for u in us]


def _apic_ok(apic: bool, sockets: int, dies: int, cores: int, threads: int) -> bool:
    return not apic or apic_limit_ok(sockets, dies, cores, threads)


def _whole(
    u: npt.NDArray[np.float64], cpu_nodes: int, threads: int, vmin: int, vmax: int, apic: bool = True
) -> tuple[list[int], tuple[int, int, int, int]]:
    """Every node holds whole sockets of ``dies`` x ``cores`` x ``threads`` vCPUs."""
    per_socket = [q for q in range(1, vmax // threads + 1) if vmax // (q * threads) >= -(-vmin // (q * threads))]
    q = per_socket[_pick(per_socket, u[0])]
    dies_options = [d for d in (1, 2, 3, 4) if q % d == 0]
    dies = dies_options[_pick(dies_options, u[1])]
    cores = q // dies
    unit = q * threads
    sockets_each = _per_node(u[4 : 4 + cpu_nodes], -(-vmin // unit), vmax // unit)
    if not _apic_ok(apic, sum(sockets_each), dies, cores, threads):
        dies, cores, unit = 1, 1, threads  # one-core sockets always fit (see knobs.vcpu_cap)
        sockets_each = _per_node(u[4 : 4 + cpu_nodes], -(-vmin // unit), vmax // unit)
    return [k * unit for k in sockets_each], (sum(sockets_each), dies, cores, threads)


def _split(
    u: npt.NDArray[np.float64], cpu_nodes: int, threads: int, vmin: int, vmax: int, apic: bool = True
) -> tuple[list[int], tuple[int, int, int, int]] | None:
    """Sockets that span nodes: along dies (package split) or inside one (LLC split)."""
    if cpu_nodes < 2:
        return None
    cores_each = _per_node(u[4 : 4 + cpu_nodes], -(-vmin // threads), vmax // threads)
    total = sum(cores_each)
    bounds = list(np.cumsum(cores_each)[:-1])
    options: list[tuple[int, int, int]] = []  # (sockets, dies, cores per die)
    common = math.gcd(*cores_each)
    for socket_cores in _divisors(total):
        if socket_cores == 1 or all(b % socket_cores == 0 for b in bounds):
            continue  # no socket crosses a node boundary
        sockets = total // socket_cores
        # Package split: nodes hold whole dies of the socket.
        for die_cores in _divisors(common):
            dies = socket_cores // die_cores
            if socket_cores % die_cores == 0 and dies >= 2 and _apic_ok(apic, sockets, dies, die_cores, threads):
                options.append((sockets, dies, die_cores))
        if _apic_ok(apic, sockets, 1, socket_cores, threads):
            options.append((sockets, 1, socket_cores))  # LLC split
    if not options:
        return None
    sockets, dies, cores = options[_pick(options, u[1])]
    return [c * threads for c in cores_each], (sockets, dies, cores, threads)


def _split_core(
    u: npt.NDArray[np.float64], cpu_nodes: int, threads: int, vmin: int, vmax: int
) -> tuple[list[int], tuple[int, int, int, int]] | None:
    """One vCPU moves across a node boundary, so one core has threads in two nodes."""
    if cpu_nodes < 2 or threads < 2:
        return None
    counts = [c * threads for c in _per_node(u[4 : 4 + cpu_nodes], -(-vmin // threads), vmax // threads)]
    movable = [i for i in range(cpu_nodes - 1) if counts[i] - 1 >= vmin and counts[i + 1] + 1 <= vmax]
    if not movable:
        return None
    i = movable[_pick(movable, u[2])]
    counts[i] -= 1
    counts[i + 1] += 1
    return counts, (sum(counts) // threads, 1, 1, threads)


def sample_nodes(space: Space, n: int, draws: Draws) -> NodeBatch:
    """Roles, vCPUs, memory and shape for ``len(draws)`` items with ``n`` nodes."""
    knobs = space.knobs
    g = len(draws)
    roles = space.roles[n]
    cpuless = np.asarray(roles.cpuless, dtype=np.int64)[draws.choice(SLOT_CPULESS, np.full(g, len(roles.cpuless)))]
    cpu_nodes = n - cpuless
    thread_pick = draws.uniform(SLOT_THREADS)[:, 0]
    threads = np.array(
        [roles.threads[int(c)][min(int(u * len(roles.threads[int(c)])), len(roles.threads[int(c)]) - 1)]
         for c, u in zip(cpuless, thread_pick, strict=True)],
        dtype=np.int64,
    )
    most_memoryless = np.minimum(knobs.memoryless.hi, cpu_nodes - (cpuless == 0))
    memoryless = draws.integers(SLOT_MEMORYLESS, knobs.memoryless.lo, most_memoryless)[:, 0]

    position = np.arange(n)[None, :]
    is_cpu = position < cpu_nodes[:, None]
    keys = np.where(is_cpu, draws.uniform(SLOT_MEMORYLESS_PICK, n), 2.0)
    rank = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
    no_memory = rank < memoryless[:, None]
    units = draws.integers(SLOT_MEMORY, space.memory_units.lo, space.memory_units.hi, n)
    memory = np.where(no_memory, 0, units * knobs.memory_granule)

    modes_drawn = draws.choice(SLOT_MODE, np.full(g, len(space.split_modes)))
    machine_drawn = draws.choice(SLOT_MACHINE, np.full(g, len(knobs.machines)))
    uniforms = draws.uniform(SLOT_CPUS, 4 + n)
    cpus = np.zeros((g, n), dtype=np.int64)
    shapes = np.zeros((g, 4), dtype=np.int64)
    modes: list[SocketMode] = []
    vmin = knobs.vcpus_per_node.lo
    machines = tuple(knobs.machines[int(i)] for i in machine_drawn)
    for row in range(g):
        c, t = int(cpu_nodes[row]), int(threads[row])
        if machines[row] is Machine.VIRT and one_thread_on_virt(knobs):
            t = 1  # roles always hold 1 then (knobs._role_refusal)
        vmax = space.vcpu_max(c, t)
        mode = space.split_modes[int(modes_drawn[row])]
        built = None
        if mode is SocketMode.SPLIT:
            built = _split(uniforms[row], c, t, vmin, vmax, space.apic)
        elif mode is SocketMode.SPLIT_CORE:
            built = _split_core(uniforms[row], c, t, vmin, vmax)
        if built is None:
            mode = SocketMode.WHOLE
            built = _whole(uniforms[row], c, t, vmin, vmax, space.apic)
        counts, shape = built
        cpus[row, :c] = counts
        shapes[row] = shape
        modes.append(mode)
    return NodeBatch(
        cpus=cpus,
        memory=memory.astype(np.int64),
        shapes=shapes,
        modes=tuple(modes),
        machines=machines,
    )
