"""HMAT and hot-pluggable memory for generated layouts (``--hmat`` and ``--dimms`` shares).

Both are drawn from slots no other part of the generator uses, and only when their
share is above 0: with the default shares (0) nothing is drawn and every layout is the
one it always was.

HMAT (``-machine hmat=on``): every CPU-less node with memory (a memory-only tier) gets
the nearest CPU node as its initiator (``numaopt.layout.memory_tier_initiators``), and
every CPU node gets an access latency and bandwidth to every node with memory (one
direction per pair of nodes, which libvirt can express too; every node's own initiator
is among them), derived from the distance the guest sees between them: latency ``scale * d`` ns, bandwidth
``base * 10 / d`` MiB/s (whole MiB, QEMU wants 1 MB alignment), so a nearer node is
never slower. Half the memory nodes also get a level-1 memory-side cache (sometimes a
level-2 one behind it), which QEMU accepts only once both values reach the node.

DIMMs (``-m size,slots=S,maxmem=M`` and ``-device pc-dimm,node=N``): 1 to 4 slots, one
DIMM of 128 or 256 MiB (whole x86 memory sections, which the guest can online) per used
slot in a node with memory, and room under ``maxmem`` for the DIMMs plus none, one or
four more sections (level 1 hot-plugs one when a slot and 128 MiB are left). Only
layouts with at least 256 MiB of boot memory get DIMMs: with 128 MiB and 384 MiB of
DIMMs (one node memory-less) Debian's 6.1 ran out of memory unpacking its initramfs
("System is deadlocked on memory": its 64 MiB swiotlb no longer fit, 96 of 127 MiB were
reserved); 256 MiB with four 256 MiB DIMMs boots.

Only the ACPI machines (q35, pc) get either: a virt guest reads its device tree, which
carries no HMAT, and QEMU 7.2's virt plugs DIMMs only with firmware (acpi-ged).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from numaopt.generate.knobs import X86_MACHINES, Space
from numaopt.generate.streams import Draws
from numaopt.layout import memory_tier_initiators
from numaopt.model import Dimm, GuestLayout, HmatCache, HmatLb
from numaopt.units import MIB

SLOT_HMAT = 900  # 8 uniforms per item
SLOT_DIMMS = 901  # 8 uniforms per item
SLOT_DIMM_NODES = 902  # 4 uniforms per item: the node of each DIMM
MAX_SLOTS = 4
SECTION = 128 * MIB  # one x86_64 memory section: what the guest onlines at a time
MIN_BOOT_MEMORY_FOR_DIMMS = 256 * MIB  # below it the guest kit's kernel may not boot with DIMMs (above)
LATENCY_SCALES = (1, 2, 5)  # ns per unit of distance
BANDWIDTH_BASE_MIB = (2048, 20480)  # local bandwidth (MiB/s) range at distance 10
CACHE_SIZES = (16 * MIB, 32 * MIB, 64 * MIB)


@dataclass(frozen=True, slots=True)
class MemoryExtras:
    """What ``--hmat`` and ``--dimms`` added to one generated layout."""

    initiators: tuple[int | None, ...] = ()  # per node position; () without HMAT
    hmat_lb: tuple[HmatLb, ...] = ()
    hmat_cache: tuple[HmatCache, ...] = ()
    maxmem_bytes: int | None = None
    slots: int = 0
    dimms: tuple[Dimm, ...] = ()

    @property
    def hmat(self) -> bool:
        return bool(self.initiators)

    def apply(self, layout: GuestLayout) -> GuestLayout:
        nodes = layout.nodes
        if self.initiators:
            nodes = tuple(
                dataclasses.replace(node, initiator=initiator)
                for node, initiator in zip(layout.nodes, self.initiators, strict=True)
            )
        return dataclasses.replace(
            layout,
            nodes=nodes,
            hmat=self.hmat,
            hmat_lb=self.hmat_lb,
            hmat_cache=self.hmat_cache,
            maxmem_bytes=self.maxmem_bytes,
            slots=self.slots,
            dimms=self.dimms,
        )

    def key(self) -> str:
        """A stable text of the extras, for the canonical fingerprint ("" when none)."""
        if not self.hmat and not self.slots:
            return ""
        lb = ",".join(f"{x.initiator}>{x.target}:{x.data_type[7]}{x.value}" for x in self.hmat_lb)
        cache = ",".join(f"{c.node}:{c.level}:{c.size_bytes}" for c in self.hmat_cache)
        dimms = ",".join(f"{d.node}:{d.size_bytes}" for d in self.dimms)
        return f"|hmat[{self.initiators}|{lb}|{cache}]|mem[{self.maxmem_bytes}|{self.slots}|{dimms}]"

    def classes(self) -> dict[str, object]:
        return {"hmat": self.hmat, "dimms": len(self.dimms)}


def key_suffix(extras: MemoryExtras | None) -> str:
    """What the extras add to an item's canonical fingerprint ("" without them)."""
    return "" if extras is None else extras.key()


def extra_classes(space: Space, extras: MemoryExtras | None) -> dict[str, object]:
    """The classes the extras add: none unless a share is set (older indexes stay as they were)."""
    if not wanted(space):
        return {}
    return extras.classes() if extras is not None else {"hmat": False, "dimms": 0}


def wanted(space: Space) -> bool:
    """Whether any layout of the batch may get HMAT or DIMMs."""
    return space.knobs.hmat > 0 or space.knobs.dimms > 0


def draw_extras(space: Space, layouts: list[GuestLayout], draws: Draws) -> list[MemoryExtras | None]:
    """The extras of each layout (one row of ``draws`` each); None where it gets neither."""
    knobs = space.knobs
    hmat_u = draws.uniform(SLOT_HMAT, 8)
    dimm_u = draws.uniform(SLOT_DIMMS, 8)
    node_u = draws.uniform(SLOT_DIMM_NODES, MAX_SLOTS)
    out: list[MemoryExtras | None] = []
    for row, layout in enumerate(layouts):
        if layout.machine not in X86_MACHINES:
            out.append(None)
            continue
        extras = MemoryExtras()
        if hmat_u[row, 0] < knobs.hmat:
            extras = _hmat(layout, hmat_u[row])
        if dimm_u[row, 0] < knobs.dimms and layout.memory_bytes >= MIN_BOOT_MEMORY_FOR_DIMMS:
            maxmem, slots, dimms = _dimms(layout, dimm_u[row], node_u[row])
            extras = dataclasses.replace(extras, maxmem_bytes=maxmem, slots=slots, dimms=dimms)
        out.append(extras if extras.hmat or extras.slots else None)
    return out


def _pick(u: float, choices: tuple[int, ...]) -> int:
    return choices[min(int(u * len(choices)), len(choices) - 1)]


def _hmat(layout: GuestLayout, u: npt.NDArray[np.float64]) -> MemoryExtras:
    tiered = memory_tier_initiators(layout)
    distances = layout.effective_distances
    scale = _pick(float(u[1]), LATENCY_SCALES)
    lo, hi = BANDWIDTH_BASE_MIB
    base = lo + int(u[2] * (hi - lo + 1))
    cpu_nodes = [p for p, node in enumerate(layout.nodes) if node.cpus]
    memory_nodes = [p for p, node in enumerate(layout.nodes) if node.memory_bytes]
    lb: list[HmatLb] = []
    linked: set[frozenset[int]] = set()
    for i in cpu_nodes:
        for j in memory_nodes:
            if frozenset((i, j)) in linked:
                continue  # one direction per pair: libvirt takes a link and its reverse as one
            linked.add(frozenset((i, j)))
            d = int(distances[i, j])
            initiator, target = layout.nodes[i].node_id, layout.nodes[j].node_id
            lb.append(HmatLb(initiator, target, "access-latency", scale * d))
            lb.append(HmatLb(initiator, target, "access-bandwidth", max(1, base * 10 // d) * MIB))
    caches: list[HmatCache] = []
    for k, j in enumerate(memory_nodes):
        pick = (float(u[3]) * (k + 1) * 7.0) % 1.0  # one uniform spread over the nodes
        if pick >= 0.5:
            continue
        size = _pick(pick * 2, CACHE_SIZES)
        node_id = layout.nodes[j].node_id
        caches.append(HmatCache(node_id, size, 1))
        if u[4] < 0.25:
            caches.append(HmatCache(node_id, size * 4, 2, associativity="complex", policy="write-through"))
    return MemoryExtras(
        initiators=tuple(node.initiator for node in tiered.nodes),
        hmat_lb=tuple(lb),
        hmat_cache=tuple(caches),
    )


def _dimms(
    layout: GuestLayout, u: npt.NDArray[np.float64], node_u: npt.NDArray[np.float64]
) -> tuple[int, int, tuple[Dimm, ...]]:
    """(maxmem, slots, DIMMs)."""
    slots = 1 + min(int(u[1] * MAX_SLOTS), MAX_SLOTS - 1)
    count = 1 + min(int(u[2] * slots), slots - 1)
    memory_nodes = [node.node_id for node in layout.nodes if node.memory_bytes]
    dimms = tuple(
        Dimm(_node(memory_nodes, float(node_u[k])), _pick(float(u[3 + k % 4]), (1, 2)) * SECTION) for k in range(count)
    )
    room = _pick(float(u[7]), (0, 1, 4)) * SECTION
    maxmem = layout.memory_bytes + sum(dimm.size_bytes for dimm in dimms) + room
    return maxmem, slots, dimms


def _node(choices: list[int], u: float) -> int:
    return choices[min(int(u * len(choices)), len(choices) - 1)]


def refusals(layout: GuestLayout) -> list[str]:
    """QEMU's refusals of the layout's HMAT and memory devices (none for a generated one)."""
    from numaopt.layout import hmat_qemu_findings, hotplug_qemu_findings

    return [f.message for f in hmat_qemu_findings(layout) + hotplug_qemu_findings(layout)]
