"""hwloc 2.x XML (``lstopo --of xml``) <-> ``HostTopology``.

Read: ``Package`` (socket = its ``os_index``), ``Core`` and ``PU`` objects (a PU's
``os_index`` is the Linux CPU number), ``NUMANode`` memory children (``os_index``,
``local_memory`` in bytes) and the ``<distances2>`` matrix of kind latency over NUMA
nodes (``indexes`` + ``u64values``, possibly split over several elements); the HMAT
hwloc keeps (latency and bandwidth ``<memattr>`` values, ``MemCache`` objects) as each
node's access and caches (hwloc_hmat.py). The writer writes them back the same way
(``ReadLatency`` & co. and hwloc's read/write means, ``MemCache`` objects above the node).

hwloc records neither free memory nor free huge pages, so both are unknown (``None`` /
left out). A NUMA node's CPUs are the PUs under its parent object; when two nodes
share a parent (DRAM + HBM on one die, a CXL node attached to the machine) a CPU goes
to the node attached deepest, then to the lowest id, as Linux numbers the CPU node first.
Without ``Core`` objects SMT siblings are unknown. Without a latency matrix, a
``DistanceRule`` must say what the distances are (hosts of more than one node).
"""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE
from numaopt.hosts._common import build_host, check_matrix, shown
from numaopt.hosts.distance_rule import RULE_HELP, DistanceRule
from numaopt.hosts.hwloc_hmat import cache_attributes, hwloc_bitmap, memattr_elements, node_access, node_caches
from numaopt.model import HostCore, HostNode, HostTopology
from numaopt.xml_input import XmlDocument

__all__ = ["parse_hwloc_xml", "render_hwloc_xml"]

KIND_LATENCY = 4  # hwloc/distances.h HWLOC_DISTANCES_KIND_MEANS_LATENCY
KIND_FROM_OS = 1  # HWLOC_DISTANCES_KIND_FROM_OS
_MEMORY_TYPES = ("NUMANode", "MemCache")
INT64_MAX = (1 << 63) - 1


class _Xml(XmlDocument):
    """hwloc XML, with its integers read as hwloc writes them."""

    def __init__(self, text: str, source: str):
        super().__init__(text, source, "hwloc XML", "expected hwloc XML from lstopo --of xml")

    def integer(self, element: ET.Element, name: str, default: int | None = None) -> int:
        text = element.get(name)
        if text is None:
            if default is None:
                raise self.error(f"<{element.tag} type={shown(element.get('type'))}> has no {name} attribute", element)
            return default
        if not text.isdigit() or len(text) > 20:
            raise self.error(f"expected a non-negative integer in {name}, got {shown(text)}", element)
        return int(text)


@dataclass
class _Numa:
    element: ET.Element
    node_id: int
    memory_bytes: int
    package: int | None
    locality: frozenset[int]  # PUs under the object the node is attached to


class _Walk:
    """One pass over the object tree collecting PUs, cores, packages and NUMA nodes."""

    def __init__(self, xml: _Xml):
        self.xml = xml
        self.pu_package: dict[int, int | None] = {}
        self.pu_core: dict[int, int | None] = {}
        self.has_cores = False
        self.numa: list[_Numa] = []
        self.package_count = 0

    def visit(self, element: ET.Element, package: int | None, core: int | None) -> set[int]:
        kind = element.get("type")
        if kind == "Package":
            package = self.xml.integer(element, "os_index", self.package_count)
            self.package_count += 1
        elif kind == "Core":
            core = id(element)
            self.has_cores = True
        elif kind == "PU":
            cpu = self.xml.integer(element, "os_index")
            if cpu in self.pu_package:
                raise self.xml.error(f"PU os_index {cpu} appears twice", element)
            self.pu_package[cpu] = package
            self.pu_core[cpu] = core
            return {cpu}
        pus: set[int] = set()
        memory: list[ET.Element] = []
        for child in element:
            if child.tag != "object":
                continue
            if child.get("type") in _MEMORY_TYPES:
                memory.append(child)
            else:
                pus |= self.visit(child, package, core)
        locality = frozenset(pus)
        for child in memory:
            self._memory(child, package, locality)
        return pus

    def _memory(self, element: ET.Element, package: int | None, locality: frozenset[int]) -> None:
        """A NUMA node, or a memory-side cache holding NUMA nodes, attached to one object."""
        if element.get("type") == "MemCache":
            for child in element:
                if child.tag == "object":
                    self._memory(child, package, locality)
            return
        self.numa.append(
            _Numa(
                element=element,
                node_id=self.xml.integer(element, "os_index"),
                memory_bytes=self.xml.integer(element, "local_memory", 0),
                package=package,
                locality=locality,
            )
        )


def parse_hwloc_xml(text: str, source: str = "<hwloc>", distances: DistanceRule | None = None) -> HostTopology:
    """Read hwloc 2.x XML; ``distances`` is used only when the XML has no latency matrix."""
    xml = _Xml(text, source)
    root = xml.root
    if root.tag != "topology":
        raise xml.error(f"expected hwloc XML (a <topology> root element), got <{root.tag}>", root)
    version = root.get("version", "")
    if not version.split(".")[0].isdigit() or int(version.split(".")[0]) < 2:
        raise xml.error(
            'hwloc 1.x XML (no version="2.x" on <topology>): export it with hwloc 2 (lstopo --of xml)', root
        )
    machine = next((child for child in root if child.tag == "object"), None)
    if machine is None:
        raise xml.error("no <object> under <topology>: expected the Machine object", root)
    walk = _Walk(xml)
    walk.visit(machine, None, None)
    if not walk.numa:
        raise xml.error("no NUMANode object: hwloc 2 XML has at least one", machine)
    numa = sorted(walk.numa, key=lambda n: n.node_id)
    for first, second in itertools.pairwise(numa):
        if first.node_id == second.node_id:
            raise xml.error(f"NUMANode os_index {second.node_id} appears twice", second.element)
    owner: dict[int, int] = {}
    # Largest locality first, then the highest id: the deepest, lowest-id node writes last.
    for node in sorted(numa, key=lambda n: (-len(n.locality), -n.node_id)):
        owner.update(dict.fromkeys(node.locality, node.node_id))
    node_cpus: dict[int, list[int]] = {node.node_id: [] for node in numa}
    for cpu, node_id in owner.items():
        node_cpus[node_id].append(cpu)
    cpus_of = {node_id: tuple(sorted(cpus)) for node_id, cpus in node_cpus.items()}
    access, caches = node_access(xml, cpus_of), node_caches(xml)
    nodes = [
        HostNode(
            node_id=n.node_id,
            cpus=cpus_of[n.node_id],
            memory_bytes=n.memory_bytes,
            access=access.get(n.node_id),
            caches=caches.get(n.node_id, ()),
        )
        for n in numa
    ]
    matrix = _latency_matrix(xml, [n.node_id for n in numa])
    if matrix is None:
        if len(numa) > 1 and distances is None:
            raise xml.error(
                f"no NUMA latency matrix (<distances2> of kind latency) for the {len(numa)} nodes: give {RULE_HELP}",
                root,
            )
        matrix = distances.matrix([n.package for n in numa]) if distances is not None else np.array([[LOCAL_DISTANCE]])
    return build_host(nodes, matrix, _cores(walk, owner), source)


def _cores(walk: _Walk, owner: dict[int, int]) -> list[HostCore]:
    if not walk.has_cores:
        return []
    grouped: dict[object, list[int]] = {}
    for cpu in owner:
        core = walk.pu_core[cpu]
        grouped.setdefault(core if core is not None else ("pu", cpu), []).append(cpu)
    return [HostCore(socket=walk.pu_package[cpus[0]] or 0, cpus=tuple(cpus)) for cpus in grouped.values()]


def _latency_matrix(xml: _Xml, node_ids: list[int]) -> npt.NDArray[np.int64] | None:
    """The NUMA latency matrix in node-id order (hwloc's own ``NUMALatency`` first), or None."""
    candidates = []
    for element in xml.root:
        # hwloc itself ignores NUMA matrices indexed other than by os_index.
        if element.tag != "distances2" or element.get("type") != "NUMANode" or element.get("indexing", "os") != "os":
            continue
        kind = xml.integer(element, "kind", 0)
        if kind & KIND_LATENCY:
            candidates.append((element.get("name") != "NUMALatency", not kind & KIND_FROM_OS, element))
    if not candidates:
        return None
    element = min(candidates, key=lambda c: c[:2])[2]
    count = xml.integer(element, "nbobjs")
    indexes = _numbers(xml, element, ("indexes",))
    values = _numbers(xml, element, ("u64values", "values"))
    if len(indexes) != count or len(values) != count * count:
        raise xml.error(
            f"a distances2 matrix of {count} objects needs {count} indexes and {count * count} values, "
            f"got {len(indexes)} and {len(values)}",
            element,
        )
    if sorted(indexes) != node_ids:
        raise xml.error(
            f"the latency matrix covers nodes {' '.join(map(str, sorted(indexes)))} but the XML has nodes "
            f"{' '.join(map(str, node_ids))}",
            element,
        )
    position = {node_id: p for p, node_id in enumerate(node_ids)}
    order = np.array([position[i] for i in indexes])
    matrix = np.empty((count, count), dtype=np.int64)
    # Values above a SLIT byte are refused below; clamping u64 into int64 keeps numpy from overflowing.
    clamped = np.array([min(value, INT64_MAX) for value in values], dtype=np.int64)
    matrix[np.ix_(order, order)] = clamped.reshape(count, count)
    check_matrix(matrix, node_ids, xml.source, f"line {xml.lines.get(id(element), 1)}")
    return matrix


def _numbers(xml: _Xml, element: ET.Element, tags: tuple[str, ...]) -> list[int]:
    tokens = [token for child in element if child.tag in tags for token in (child.text or "").split()]
    for token in tokens:
        if not token.isdigit() or len(token) > 20:
            raise xml.error(f"expected integers in <{'/'.join(tags)}>, got {shown(token)}", element)
    return [int(token) for token in tokens]


# ---------------------------------------------------------------------------------------
# Writing: the inverse, for tests, benchmarks and `numaopt host capture` of hypotheticals.


class _Writer:
    def __init__(self) -> None:
        self.gp_index = 0

    def element(
        self, parent: ET.Element, kind: str, cpus: Iterable[int], nodes: Iterable[int], **attrs: str
    ) -> ET.Element:
        self.gp_index += 1
        cpuset, nodeset = hwloc_bitmap(cpus), hwloc_bitmap(nodes)
        return ET.SubElement(
            parent,
            "object",
            {
                "type": kind,
                **attrs,
                "cpuset": cpuset,
                "complete_cpuset": cpuset,
                "nodeset": nodeset,
                "complete_nodeset": nodeset,
                "gp_index": str(self.gp_index),
            },
        )


def render_hwloc_xml(host: HostTopology) -> str:
    """``host`` as hwloc 2 XML that ``lstopo --input`` accepts and ``parse_hwloc_xml`` reads back.

    Machine > Package > (Group per node when a package holds several) > Core > PU, with
    each NUMA node attached to the smallest object holding its CPUs, CPU-less nodes to
    the machine, the SLIT as a ``NUMALatency`` matrix, and the HMAT as hwloc keeps it. Free
    memory, huge pages and a cache's write policy are not written (hwloc has no place for them). Raises ``ValueError`` for a host whose nodes and
    packages do not nest (a package split across nodes that also span packages).
    """
    root = ET.Element("topology", {"version": "2.0"})
    tree = _XmlTree(host, root)
    tree.build()
    if host.num_nodes > 1:
        _distances_element(root, host)
    memattr_elements(root, host, tree.node_gp_index)
    ET.indent(root)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE topology SYSTEM "hwloc2.dtd">\n'
        + ET.tostring(root, encoding="unicode")
        + "\n"
    )


class _XmlTree:
    """The object tree of one host under ``root``: machine, packages, groups, cores, PUs."""

    def __init__(self, host: HostTopology, root: ET.Element) -> None:
        self.host = host
        self.writer = _Writer()
        self.node_of = host.cpu_to_node()
        self.cpu_nodes = [node for node in host.nodes if node.cpus]
        all_cpus = [cpu for node in host.nodes for cpu in node.cpus]
        all_nodes = [node.node_id for node in host.nodes]
        self.machine = self.writer.element(root, "Machine", all_cpus, all_nodes, os_index="0")
        self.node_gp_index: dict[int, str] = {}  # node id -> its NUMANode's gp_index (memattrs name it)

    def build(self) -> None:
        for node in self.host.nodes:
            if not node.cpus:
                self.attach(self.machine, node)
        if not self.host.cores:
            self.nodes_of_pus()
            return
        packages: dict[int, list[HostCore]] = {}
        for core in self.host.cores:
            packages.setdefault(core.socket, []).append(core)
        package_nodes = {s: sorted({self.node_of[c] for core in cores for c in core.cpus}) for s, cores in packages.items()}
        node_packages = {
            n.node_id: sorted({s for s, ids in package_nodes.items() if n.node_id in ids}) for n in self.cpu_nodes
        }
        if all(len(p) == 1 for p in node_packages.values()):
            self.nodes_in_packages(packages, package_nodes)
        elif all(len(ids) == 1 for ids in package_nodes.values()):
            self.packages_in_nodes(packages, node_packages)
        else:
            raise ValueError("nodes and packages do not nest: a package is split across nodes that also span packages")

    def attach(self, parent: ET.Element, node: HostNode) -> None:
        """The node, under its memory-side caches (the highest level outermost, level 1 next
        to the memory)."""
        for cache in sorted(node.caches, key=lambda c: -c.level):
            parent = self.writer.element(parent, "MemCache", node.cpus, [node.node_id], **cache_attributes(cache))
        element = self.writer.element(
            parent, "NUMANode", node.cpus, [node.node_id], os_index=str(node.node_id), local_memory=str(node.memory_bytes)
        )
        self.node_gp_index[node.node_id] = element.get("gp_index", "")

    def cores_under(self, parent: ET.Element, cores: list[HostCore]) -> None:
        for core in cores:
            nodes = {self.node_of[c] for c in core.cpus}
            core_element = self.writer.element(parent, "Core", core.cpus, nodes, os_index=str(core.cpus[0]))
            for cpu in core.cpus:
                self.writer.element(core_element, "PU", [cpu], [self.node_of[cpu]], os_index=str(cpu))

    def node_group(self, node: HostNode) -> ET.Element:
        """A Group per CPU node when there are several, else the machine itself."""
        if len(self.cpu_nodes) > 1:
            return self.writer.element(self.machine, "Group", node.cpus, [node.node_id])
        return self.machine

    def nodes_of_pus(self) -> None:
        """No core facts: each node's PUs directly under its group."""
        for node in self.cpu_nodes:
            group = self.node_group(node)
            self.attach(group, node)
            for cpu in node.cpus:
                self.writer.element(group, "PU", [cpu], [node.node_id], os_index=str(cpu))

    def nodes_in_packages(self, packages: dict[int, list[HostCore]], package_nodes: dict[int, list[int]]) -> None:
        """Every node inside one package (SNC, NPS): Package > Group per node > Core."""
        for socket, cores in sorted(packages.items()):
            cpus = [c for core in cores for c in core.cpus]
            package = self.writer.element(self.machine, "Package", cpus, package_nodes[socket], os_index=str(socket))
            inside = [n for n in self.cpu_nodes if n.node_id in package_nodes[socket]]
            for node in inside:
                parent = self.writer.element(package, "Group", node.cpus, [node.node_id]) if len(inside) > 1 else package
                self.attach(parent, node)
                self.cores_under(parent, [core for core in cores if self.node_of[core.cpus[0]] == node.node_id])

    def packages_in_nodes(self, packages: dict[int, list[HostCore]], node_packages: dict[int, list[int]]) -> None:
        """Every package inside one node (several sockets per node): Group per node > Package > Core."""
        for node in self.cpu_nodes:
            group = self.node_group(node)
            self.attach(group, node)
            for socket in node_packages[node.node_id]:
                cpus = [c for core in packages[socket] for c in core.cpus]
                package = self.writer.element(group, "Package", cpus, [node.node_id], os_index=str(socket))
                self.cores_under(package, packages[socket])


def _distances_element(root: ET.Element, host: HostTopology) -> None:
    """The SLIT as hwloc's ``NUMALatency`` matrix, rows in OS index order."""
    attributes = {
        "type": "NUMANode",
        "nbobjs": str(host.num_nodes),
        "kind": str(KIND_FROM_OS | KIND_LATENCY),
        "name": "NUMALatency",
        "indexing": "os",
    }
    distances = ET.SubElement(root, "distances2", attributes)
    indexes = ET.SubElement(distances, "indexes")
    indexes.text = " ".join(str(node.node_id) for node in host.nodes)
    indexes.set("length", str(len(indexes.text)))
    for row in host.distances.tolist():
        values = ET.SubElement(distances, "u64values")
        values.text = " ".join(map(str, row))
        values.set("length", str(len(values.text)))
