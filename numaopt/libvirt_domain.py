"""A libvirt domain's guest NUMA layout, read back for ``numaopt check``.

The inverse of ``numaopt.render.libvirt`` for what a layout holds, read the way libvirt
reads a domain (src/conf/numa_conf.c, src/util/virutil.c): sizes in ``unit`` (KiB when
none is given, KB = 1000 and KiB = k = K = 1024), a cell's missing distance to another
cell taken from that cell's distance back to it, else 10 to itself and 20 to others, and
a CPU-less cell's HMAT initiator taken from the first ``<interconnects>`` entry that
targets it (libvirt has no initiator attribute). What a domain says about disks,
devices or pinning plays no part in the guest's NUMA view and is not read.
"""

from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import numpy as np

from numaopt.errors import InputError
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
from numaopt.units import parse_cpulist

# libvirt's size suffixes (virScaleInteger): powers of 1000 spelled with B, of 1024 without.
_UNITS = {"b": 1, "bytes": 1}
for _power, _letter in enumerate("kmgtpe", start=1):
    _UNITS[_letter] = _UNITS[f"{_letter}ib"] = 1024**_power
    _UNITS[f"{_letter}b"] = 1000**_power
_ASSOCIATIVITY = {"none": "none", "direct": "direct", "full": "complex"}
_POLICY = {"none": "none", "writeback": "write-back", "writethrough": "write-through"}
_HIERARCHY = {"1": "first-level", "2": "second-level", "3": "third-level"}


def looks_like_domain(text: str) -> bool:
    """True for text that starts as a libvirt domain (after an XML declaration or comments)."""
    return text.lstrip().startswith(("<domain", "<?xml", "<!--"))


def read_domain(text: str, source: str) -> GuestLayout:
    """The guest layout of a libvirt domain; an ``InputError`` naming ``source`` and the
    element when the text is not a domain numaopt can read."""
    try:
        domain = ET.fromstring(text)
    except ET.ParseError as exc:
        raise InputError(f"not well-formed XML: {exc}", source=source) from None
    if domain.tag != "domain":
        raise InputError(f"expected a libvirt <domain>, found <{domain.tag}>", source=source)
    reader = _Reader(source)
    try:
        return reader.layout(domain)
    except ValueError as exc:  # a value the model refuses (e.g. no vCPUs)
        raise InputError(str(exc), source=source) from None


class _Reader:
    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, message: str) -> InputError:
        return InputError(message, source=self.source, where=where)

    def integer(self, element: ET.Element, attribute: str | None, where: str) -> int:
        text = element.text if attribute is None else element.get(attribute)
        if text is None or not text.strip().isdigit():
            name = "its text" if attribute is None else f"{attribute}="
            raise self.fail(where, f"{name} {text!r} is not a whole number")
        return int(text)

    def size(self, element: ET.Element, attribute: str | None, where: str, default_unit: str = "KiB") -> int:
        unit = element.get("unit", default_unit)
        scale = _UNITS.get(unit.lower())
        if scale is None:
            raise self.fail(where, f"unknown unit {unit!r} (libvirt's: b, KB, KiB or k, MB, MiB or M, GB, GiB or G, ...)")
        return self.integer(element, attribute, where) * scale

    def layout(self, domain: ET.Element) -> GuestLayout:
        machine = self.machine(domain)
        vcpu = domain.find("vcpu")
        if vcpu is None:
            raise self.fail("domain", "no <vcpu> element (the number of vCPUs)")
        vcpus = self.integer(vcpu, None, "vcpu")
        cells = domain.findall("cpu/numa/cell")
        ids = [self.integer(cell, "id", f"cpu/numa/cell[{k}]") for k, cell in enumerate(cells)]
        if ids != list(range(len(cells))):
            raise self.fail("cpu/numa/cell", f"cell ids {ids} are not 0, 1, 2, ... in order, as libvirt requires")
        bound = self.memory_binding(domain)
        nodes = tuple(
            GuestNode(
                node_id=k,
                cpus=parse_cpulist(cell.get("cpus", ""), "vCPU") if cell.get("cpus") else (),
                memory_bytes=self.size(cell, "memory", f"cpu/numa/cell[{k}]"),
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
                raise self.fail("domain", "no <memory> element and no NUMA cells")
            memory = self.size(total, None, "memory") - sum(d.size_bytes for d in dimms)
        lbs = self.interconnects(domain)
        caches = tuple(cache for k, cell in enumerate(cells) for cache in self.caches(cell, k))
        nodes = self.initiators(nodes, lbs)
        limit = domain.find("maxMemory")
        return GuestLayout(
            vcpus=vcpus,
            memory_bytes=memory,
            nodes=nodes,
            shape=self.shape(domain, vcpus),
            distances=self.distances(cells),
            machine=machine,
            backend=self.backend(domain, cells),
            rules=machine.default_rules,
            hmat=bool(lbs or caches),
            hmat_lb=lbs,
            hmat_cache=caches,
            maxmem_bytes=None if limit is None else self.size(limit, None, "maxMemory"),
            slots=0 if limit is None else self.integer(limit, "slots", "maxMemory"),
            dimms=dimms,
        )

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
        raise self.fail("os/type", f"arch={arch!r} machine={name!r}: numaopt checks q35 and pc on x86_64, virt on aarch64")

    def shape(self, domain: ET.Element, vcpus: int) -> CpuShape:
        topology = domain.find("cpu/topology")
        if topology is None:
            return CpuShape(sockets=vcpus)  # libvirt and QEMU: one core per socket
        levels = ("sockets", "dies", "clusters", "cores", "threads")
        return CpuShape(**{level: self.integer(topology, level, "cpu/topology") for level in levels if topology.get(level)})

    def distances(self, cells: list[ET.Element]) -> np.ndarray | None:
        given: dict[tuple[int, int], int] = {}
        for a, cell in enumerate(cells):
            for sibling in cell.findall("distances/sibling"):
                b = self.integer(sibling, "id", f"cpu/numa/cell[{a}]/distances/sibling")
                if b >= len(cells):
                    raise self.fail(f"cpu/numa/cell[{a}]/distances/sibling", f"id={b} names no cell (0-{len(cells) - 1})")
                given[(a, b)] = self.integer(sibling, "value", f"cpu/numa/cell[{a}]/distances/sibling[id={b}]")
        if not given:
            return None
        n = len(cells)
        matrix = np.full((n, n), 20, dtype=np.int64)
        np.fill_diagonal(matrix, 10)
        for (a, b), value in given.items():
            matrix[a, b] = value
            if (b, a) not in given:  # libvirt applies a distance both ways unless told otherwise
                matrix[b, a] = value
        return matrix

    def memory_binding(self, domain: ET.Element) -> dict[int, tuple[int, ...]]:
        bound = {}
        for memnode in domain.findall("numatune/memnode"):
            cell = self.integer(memnode, "cellid", "numatune/memnode")
            bound[cell] = parse_cpulist(memnode.get("nodeset", ""), "host node")
        return bound

    def backend(self, domain: ET.Element, cells: list[ET.Element]) -> MemoryBackend:
        backing = domain.find("memoryBacking")
        shared = any(cell.get("memAccess") == "shared" for cell in cells)
        if backing is None:
            return MemoryBackend(share=shared)
        page = backing.find("hugepages/page")
        page_size = None if page is None else self.size(page, "size", "memoryBacking/hugepages/page")
        huge = backing.find("hugepages") is not None
        file_backed = huge or (backing.find("source") is not None and backing.find("source").get("type") == "file")  # type: ignore[union-attr]
        access = backing.find("access")
        allocation = backing.find("allocation")
        # libvirt picks the files: under its hugetlbfs mount, or qemu.conf's memory_backing_dir.
        path = "/dev/hugepages" if huge else "/var/lib/libvirt/qemu/ram" if file_backed else None
        return MemoryBackend(
            kind=BackendKind.FILE if file_backed else BackendKind.RAM,
            mem_path=path,
            page_size_bytes=page_size,
            share=shared or (access is not None and access.get("mode") == "shared"),
            prealloc=allocation is not None and allocation.get("mode") == "immediate",
        )

    def dimms(self, domain: ET.Element) -> tuple[Dimm, ...]:
        found = []
        for k, memory in enumerate(domain.findall("devices/memory[@model='dimm']")):
            where = f"devices/memory[{k}]"
            size, node = memory.find("target/size"), memory.find("target/node")
            if size is None or node is None:
                raise self.fail(where, "a DIMM needs <target> with <size> and <node>")
            found.append(Dimm(node=self.integer(node, None, f"{where}/target/node"), size_bytes=self.size(size, None, f"{where}/target/size")))
        return tuple(found)

    def caches(self, cell: ET.Element, node: int) -> list[HmatCache]:
        found = []
        for cache in cell.findall("cache"):
            where = f"cpu/numa/cell[{node}]/cache"
            size, line = cache.find("size"), cache.find("line")
            if size is None or line is None:
                raise self.fail(where, "a cache needs <size> and <line>")
            found.append(
                HmatCache(
                    node=node,
                    size_bytes=self.size(size, "value", f"{where}/size"),
                    level=self.integer(cache, "level", where),
                    associativity=self.word(cache, "associativity", _ASSOCIATIVITY, where),
                    policy=self.word(cache, "policy", _POLICY, where),
                    line=self.size(line, "value", f"{where}/line", default_unit="b"),
                )
            )
        return found

    def interconnects(self, domain: ET.Element) -> tuple[HmatLb, ...]:
        found = []
        for entry in domain.findall("cpu/numa/interconnects/*"):
            where = f"cpu/numa/interconnects/{entry.tag}"
            if entry.tag not in ("latency", "bandwidth"):
                raise self.fail(where, "expected <latency> or <bandwidth>")
            kind = entry.get("type", "")
            if kind not in ("access", "read", "write"):
                raise self.fail(where, f"type={kind!r} is not access, read or write")
            latency = entry.tag == "latency"
            found.append(
                HmatLb(
                    initiator=self.integer(entry, "initiator", where),
                    target=self.integer(entry, "target", where),
                    data_type=f"{kind}-{entry.tag}",
                    # latency in ns; bandwidth in bytes per second (libvirt: unit per second)
                    value=self.integer(entry, "value", where) if latency else self.size(entry, "value", where),
                    hierarchy=_HIERARCHY[entry.get("cache", "")] if entry.get("cache") in _HIERARCHY else "memory",
                )
            )
        return tuple(found)

    def word(self, element: ET.Element, attribute: str, meaning: dict[str, str], where: str) -> str:
        value = element.get(attribute, "")
        if value not in meaning:
            raise self.fail(where, f"{attribute}={value!r} is not one of {', '.join(meaning)}")
        return meaning[value]

    @staticmethod
    def initiators(nodes: tuple[GuestNode, ...], lbs: tuple[HmatLb, ...]) -> tuple[GuestNode, ...]:
        """Each CPU-less cell gets the initiator of the first interconnect that targets it."""
        first: dict[int, int] = {}
        for lb in lbs:
            first.setdefault(lb.target, lb.initiator)
        return tuple(
            node if node.cpus or node.node_id not in first else dataclasses.replace(node, initiator=first[node.node_id])
            for node in nodes
        )
