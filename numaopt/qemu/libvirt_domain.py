"""A libvirt domain's guest, read back for ``numaopt check``.

The inverse of ``numaopt.render.libvirt`` for what a layout holds, read the way libvirt
reads a domain (src/conf/numa_conf.c, src/util/virutil.c): sizes in ``unit`` (KiB when
none is given, KB = 1000 and KiB = k = K = 1024), cells placed by their ``id`` (their
position when it is left out), a cell's missing distance to another taken from that
cell's distance back to it, else 10 to itself and 20 to others, and no table at all when
every distance is one of those defaults (libvirt then gives QEMU none); a CPU-less cell's
HMAT initiator picked as libvirt picks it (``layout.libvirt_initiator``). Beside the
layout, what decides how QEMU and the guest see it: the accelerator (``type``), the CPU
model libvirt passes as ``-cpu`` and whether an x86 guest has ACPI (its only source of
NUMA nodes). Disks, devices and pinning play no part and are not read.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from numaopt.inputs import shown
from numaopt.layout import libvirt_initiator
from numaopt.model import (
    BackendKind,
    CpuShape,
    Dimm,
    GuestLayout,
    GuestNode,
    HmatCache,
    HmatLb,
    Machine,
    MemoryBackend,
)
from numaopt.render.libvirt import ASSOCIATIVITY, HIERARCHY, POLICY
from numaopt.units import parse_cpulist
from numaopt.xml_input import XmlDocument

# libvirt's size suffixes (virScaleInteger): powers of 1000 spelled with B, of 1024 without.
_UNITS = {"b": 1, "byte": 1, "bytes": 1}
for _power, _letter in enumerate("kmgtpe", start=1):
    _UNITS[_letter] = _UNITS[f"{_letter}ib"] = 1024**_power
    _UNITS[f"{_letter}b"] = 1000**_power
# libvirt's words -> QEMU's, the inverse of what numaopt writes
_ASSOCIATIVITY = {libvirt: qemu for qemu, libvirt in ASSOCIATIVITY.items()}
_POLICY = {libvirt: qemu for qemu, libvirt in POLICY.items()}
_HIERARCHY = {libvirt: qemu for qemu, libvirt in HIERARCHY.items()}
_CPU_MODES = {"host-passthrough": "host", "host-model": "host", "maximum": "max"}


@dataclass(frozen=True, slots=True)
class Domain:
    """What a domain asks QEMU for, as far as the guest's NUMA view goes."""

    layout: GuestLayout
    accel: str  # kvm (type="kvm") or tcg (type="qemu")
    cpu: str | None  # the -cpu value libvirt passes (None: QEMU's default model)
    acpi: bool  # <features><acpi/>: without it an x86 guest reads no SRAT/SLIT

    def qemu_argv(self, base: list[str]) -> list[str]:
        """``base`` (the layout's QEMU command) with the accelerator, CPU model and ACPI
        switch libvirt adds: what QEMU's rules judge."""
        argv = [*base, "-accel", self.accel]
        if self.cpu is not None:
            argv += ["-cpu", self.cpu]  # the last -cpu wins, in QEMU and in numaopt's reader
        if not self.acpi and self.layout.machine is not Machine.VIRT:
            argv += ["-machine", "acpi=off"]
        return argv


def looks_like_domain(text: str) -> bool:
    """True for text that starts as XML (a declaration, a comment or an element)."""
    return text.lstrip("\ufeff \t\r\n").startswith("<")


def read_domain(text: str, source: str) -> Domain:
    """The guest of a libvirt domain; an ``InputError`` naming ``source``, the line and
    the element when the text is not a domain numaopt can read."""
    doc = XmlDocument(text, source, "a libvirt domain", "expected a libvirt domain (virsh dumpxml)")
    if doc.root.tag != "domain":
        raise doc.error(f"expected a libvirt <domain>, found <{shown(doc.root.tag)}>", doc.root)
    reader = _Reader(doc)
    layout = reader.layout(doc.root)
    kind = doc.root.get("type", "kvm")
    features = doc.root.find("features")
    return Domain(
        layout=layout,
        accel="kvm" if kind == "kvm" else "tcg",
        cpu=reader.cpu_model(doc.root),
        acpi=features is not None and features.find("acpi") is not None,
    )


class _Reader:
    def __init__(self, doc: XmlDocument):
        self.doc = doc

    def integer(self, element: ET.Element, attribute: str | None) -> int:
        text = element.text if attribute is None else element.get(attribute)
        what = f"<{element.tag}>" if attribute is None else f"<{element.tag} {attribute}=...>"
        if text is None or not text.strip().isdigit() or len(text.strip()) > 20:
            raise self.doc.error(f"{what}: expected a whole number, got {shown(text)}", element)
        return int(text)

    def size(self, element: ET.Element, attribute: str | None, default_unit: str = "KiB") -> int:
        unit = element.get("unit", default_unit)
        scale = _UNITS.get(unit.lower())
        if scale is None:
            raise self.doc.error(
                f"<{element.tag}>: unknown unit {shown(unit)} (libvirt's: b, KB, KiB or k, MB, MiB or M, GB, GiB or G, ...)",
                element,
            )
        return self.integer(element, attribute) * scale

    def cpus(self, element: ET.Element, attribute: str) -> tuple[int, ...]:
        try:
            return parse_cpulist(element.get(attribute, ""), "vCPU")
        except ValueError as exc:
            raise self.doc.error(f"<{element.tag} {attribute}=...>: {exc}", element) from None

    def word(self, element: ET.Element, attribute: str, meaning: dict[str, str]) -> str:
        value = element.get(attribute, "")
        if value not in meaning:
            raise self.doc.error(f"<{element.tag}>: {attribute}={shown(value)} is not one of {', '.join(meaning)}", element)
        return meaning[value]

    def layout(self, domain: ET.Element) -> GuestLayout:
        machine = self.machine(domain)
        vcpu = domain.find("vcpu")
        if vcpu is None:
            raise self.doc.error("no <vcpu> element (the number of vCPUs)", domain)
        vcpus = self.integer(vcpu, None)
        cells = self.cells(domain)
        bound = self.memory_binding(domain)
        nodes = tuple(
            GuestNode(
                node_id=k,
                cpus=self.cpus(cell, "cpus") if cell.get("cpus") else (),
                memory_bytes=self.size(cell, "memory"),
                host_nodes=bound.get(k, ()),
            )
            for k, cell in enumerate(cells)
        )
        dimms = self.dimms(domain)
        if nodes:
            memory = sum(node.memory_bytes for node in nodes)  # libvirt sizes the guest from its cells
        else:
            total = domain.find("memory")
            if total is None:
                raise self.doc.error("no <memory> element and no NUMA cells", domain)
            memory = self.size(total, None) - sum(d.size_bytes for d in dimms)
        lbs = self.interconnects(domain)
        caches = tuple(cache for k, cell in enumerate(cells) for cache in self.caches(cell, k))
        limit = domain.find("maxMemory")
        try:
            return GuestLayout(
                vcpus=vcpus,
                memory_bytes=memory,
                nodes=tuple(
                    node if node.cpus else dataclasses.replace(node, initiator=libvirt_initiator(node.node_id, lbs))
                    for node in nodes
                ),
                shape=self.shape(domain, vcpus),
                distances=self.distances(cells),
                machine=machine,
                backend=self.backend(domain, cells),
                rules=machine.default_rules,
                hmat=bool(lbs or caches),  # libvirt's virDomainNumaHasHMAT
                hmat_lb=lbs,
                hmat_cache=caches,
                maxmem_bytes=None if limit is None else self.size(limit, None),
                slots=0 if limit is None or limit.get("slots") is None else self.integer(limit, "slots"),
                dimms=dimms,
            )
        except ValueError as exc:  # a value the model refuses (e.g. no vCPUs)
            raise self.doc.error(str(exc), domain) from None

    def cells(self, domain: ET.Element) -> list[ET.Element]:
        """The cells by id; libvirt's own words for ids it refuses."""
        cells = domain.findall("cpu/numa/cell")
        by_id: dict[int, ET.Element] = {}
        for position, cell in enumerate(cells):
            cell_id = position if cell.get("id") is None else self.integer(cell, "id")
            if cell_id >= len(cells):
                raise self.doc.error(
                    "Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or ranges not "
                    "starting from 0 are not allowed",
                    cell,
                )
            if cell_id in by_id:
                raise self.doc.error(f"Duplicate NUMA cell info for cell id '{cell_id}'", cell)
            by_id[cell_id] = cell
        return [by_id[k] for k in range(len(cells))]

    def machine(self, domain: ET.Element) -> Machine:
        kind = domain.find("os/type")
        arch = "x86_64" if kind is None else kind.get("arch", "x86_64")
        name = "" if kind is None else kind.get("machine", "")
        if arch == "aarch64" and (not name or name.startswith("virt")):
            return Machine.VIRT
        if arch in ("x86_64", "i686") and (name == "q35" or name.startswith("pc-q35")):
            return Machine.Q35
        if arch in ("x86_64", "i686") and (not name or name == "pc" or name.startswith("pc-i440fx")):
            return Machine.PC  # libvirt's default x86 machine is QEMU's "pc"
        raise self.doc.error(
            f"<type arch={shown(arch)} machine={shown(name)}>: numaopt checks q35 and pc on x86_64, virt on aarch64",
            domain if kind is None else kind,
        )

    def cpu_model(self, domain: ET.Element) -> str | None:
        cpu = domain.find("cpu")
        if cpu is None:
            return None
        mode = cpu.get("mode", "custom")
        if mode in _CPU_MODES:
            return _CPU_MODES[mode]
        model = cpu.find("model")
        if model is None or not (model.text or "").strip():
            return None
        vendor = model.get("vendor_id")
        return model.text.strip() + ("" if vendor is None else f",vendor={vendor}")  # type: ignore[union-attr]

    def shape(self, domain: ET.Element, vcpus: int) -> CpuShape:
        topology = domain.find("cpu/topology")
        if topology is None:
            return CpuShape(sockets=vcpus)  # libvirt and QEMU: one core per socket
        levels = ("sockets", "dies", "clusters", "cores", "threads")
        return CpuShape(**{level: self.integer(topology, level) for level in levels if topology.get(level)})

    def distances(self, cells: list[ET.Element]) -> npt.NDArray[np.int64] | None:
        given: dict[tuple[int, int], int] = {}
        for a, cell in enumerate(cells):
            for sibling in cell.findall("distances/sibling"):
                b = self.integer(sibling, "id")
                if b >= len(cells):
                    raise self.doc.error(f"<sibling id={b}> names no cell (0-{len(cells) - 1})", sibling)
                given[(a, b)] = self.integer(sibling, "value")
        n = len(cells)
        matrix = np.full((n, n), 20, dtype=np.int64)
        np.fill_diagonal(matrix, 10)
        default = matrix.copy()
        for (a, b), value in given.items():
            matrix[a, b] = value
            if (b, a) not in given:  # libvirt applies a distance both ways unless told otherwise
                matrix[b, a] = value
        # Only defaults: libvirt writes no -numa dist, and the guest assumes them anyway.
        return None if np.array_equal(matrix, default) else matrix

    def memory_binding(self, domain: ET.Element) -> dict[int, tuple[int, ...]]:
        bound = {}
        for memnode in domain.findall("numatune/memnode"):
            try:
                bound[self.integer(memnode, "cellid")] = parse_cpulist(memnode.get("nodeset", ""), "host node")
            except ValueError as exc:
                raise self.doc.error(f"<memnode nodeset=...>: {exc}", memnode) from None
        return bound

    def backend(self, domain: ET.Element, cells: list[ET.Element]) -> MemoryBackend:
        backing = domain.find("memoryBacking")
        shared = any(cell.get("memAccess") == "shared" for cell in cells)
        if backing is None:
            return MemoryBackend(share=shared)
        page = backing.find("hugepages/page")
        huge = backing.find("hugepages") is not None
        source = backing.find("source")
        file_backed = huge or (source is not None and source.get("type") == "file")
        access, allocation = backing.find("access"), backing.find("allocation")
        # libvirt picks the files: under its hugetlbfs mount, or qemu.conf's memory_backing_dir.
        path = "/dev/hugepages" if huge else "/var/lib/libvirt/qemu/ram" if file_backed else None
        return MemoryBackend(
            kind=BackendKind.FILE if file_backed else BackendKind.RAM,
            mem_path=path,
            page_size_bytes=None if page is None else self.size(page, "size"),
            share=shared or (access is not None and access.get("mode") == "shared"),
            prealloc=allocation is not None and allocation.get("mode") == "immediate",
        )

    def dimms(self, domain: ET.Element) -> tuple[Dimm, ...]:
        found = []
        for memory in domain.findall("devices/memory[@model='dimm']"):
            size, node = memory.find("target/size"), memory.find("target/node")
            if size is None or node is None:
                raise self.doc.error("<memory model='dimm'>: a DIMM needs <target> with <size> and <node>", memory)
            found.append(Dimm(node=self.integer(node, None), size_bytes=self.size(size, None)))
        return tuple(found)

    def caches(self, cell: ET.Element, node: int) -> list[HmatCache]:
        found = []
        for cache in cell.findall("cache"):
            size, line = cache.find("size"), cache.find("line")
            if size is None or line is None:
                raise self.doc.error("<cache>: needs <size> and <line>", cache)
            found.append(
                HmatCache(
                    node=node,
                    size_bytes=self.size(size, "value"),
                    level=self.integer(cache, "level"),
                    associativity=self.word(cache, "associativity", _ASSOCIATIVITY),
                    policy=self.word(cache, "policy", _POLICY),
                    line=self.size(line, "value", default_unit="b"),
                )
            )
        return found

    def interconnects(self, domain: ET.Element) -> tuple[HmatLb, ...]:
        found = []
        for entry in domain.findall("cpu/numa/interconnects/*"):
            if entry.tag not in ("latency", "bandwidth"):
                raise self.doc.error(f"<{shown(entry.tag)}>: expected <latency> or <bandwidth>", entry)
            kind = self.word(entry, "type", {"access": "access", "read": "read", "write": "write"})
            latency = entry.tag == "latency"
            found.append(
                HmatLb(
                    initiator=self.integer(entry, "initiator"),
                    target=self.integer(entry, "target"),
                    data_type=f"{kind}-{entry.tag}",
                    # latency in ns; bandwidth in bytes per second (libvirt: unit per second)
                    value=self.integer(entry, "value") if latency else self.size(entry, "value"),
                    hierarchy=self.word(entry, "cache", _HIERARCHY) if entry.get("cache") is not None else "memory",
                )
            )
        return tuple(found)
