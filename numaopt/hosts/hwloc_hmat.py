"""hwloc 2.x memory attributes and memory-side caches -> each node's ``NodeAccess`` and caches.

What hwloc's Linux backend writes from sysfs ``access0``/``access1`` and ``memory_side_cache``:

* ``<memattr name="Latency|ReadLatency|WriteLatency|Bandwidth|ReadBandwidth|WriteBandwidth">``
  holding ``<memattr_value target_obj_type="NUMANode" target_obj_gp_index=G value=V
  initiator_cpuset="0x...">`` (or ``initiator_obj_type`` + ``initiator_obj_gp_index``):
  ns and MiB/s, as sysfs. hwloc's ``Latency`` and ``Bandwidth`` are the mean of read and
  write, so ``Read*``/``Write*`` replace them where given. A target with several initiators
  keeps the best (lowest latency, then highest bandwidth), which is what ``access0`` holds;
  an initiator whose CPUs hold no whole node is left out (no node could name it).
* ``MemCache`` objects above a ``NUMANode``: ``depth`` (the level), ``cache_size``,
  ``cache_linesize`` and ``cache_associativity`` (1 direct-mapped; hwloc writes 0,
  unknown, for any other Linux indexing). hwloc keeps no write policy, so it is ``none``
  (QEMU's word for "other") and an associativity other than direct is ``none`` too;
  a fully associative (-1) or N-way cache, which hwloc writes from other sources, is
  ``complex``.

The writer (``memattr_elements``, ``cache_attributes``) writes the same: ``Read*`` and
``Write*`` values, the ``Latency``/``Bandwidth`` means where both are known, the
initiators' CPUs as the cpuset; what is 0 (not reported) is left out.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from numaopt.errors import InputError
from numaopt.hosts._common import shown
from numaopt.model import HostTopology, MemorySideCache, NodeAccess

__all__ = ["cache_attributes", "hwloc_bitmap", "memattr_elements", "node_access", "node_caches"]

# memattr name -> the NodeAccess fields it sets; the read/write ones are applied last.
_FIELDS = {
    "Latency": ("read_latency", "write_latency"),
    "Bandwidth": ("read_bandwidth", "write_bandwidth"),
    "ReadLatency": ("read_latency",),
    "WriteLatency": ("write_latency",),
    "ReadBandwidth": ("read_bandwidth",),
    "WriteBandwidth": ("write_bandwidth",),
}
_WORD = re.compile(r"0x[0-9a-fA-F]{1,8}")
MAX_VALUE = (1 << 32) - 1  # Linux's unsigned int


class _Xml(Protocol):
    """What hwloc.py's parsed document offers here (a protocol: hwloc.py imports this module)."""

    @property
    def root(self) -> ET.Element: ...

    def error(self, message: str, element: ET.Element) -> InputError: ...

    def integer(self, element: ET.Element, name: str, default: int | None = None) -> int: ...


def node_access(xml: _Xml, node_cpus: Mapping[int, tuple[int, ...]]) -> dict[int, NodeAccess]:
    """Node id -> how its best initiators reach it, from the XML's memattrs (none: {})."""
    objects = {element.get("gp_index"): element for element in xml.root.iter("object")}
    found: dict[int, dict[tuple[int, ...], dict[str, int]]] = {}
    memattrs = [element for element in xml.root if element.tag == "memattr" and element.get("name") in _FIELDS]
    for memattr in sorted(memattrs, key=lambda element: -len(_FIELDS[element.get("name", "")])):  # means first
        fields = _FIELDS[memattr.get("name", "")]
        for value in memattr:
            if value.tag != "memattr_value" or value.get("target_obj_type") != "NUMANode":
                continue
            target = _target(xml, value, objects)
            initiators = _initiators(xml, value, objects, node_cpus)
            if initiators:
                number = xml.integer(value, "value")
                if number > MAX_VALUE:
                    raise xml.error(f"memattr value {number} is more than {MAX_VALUE}", value)
                found.setdefault(target, {}).setdefault(initiators, {}).update(dict.fromkeys(fields, number))
    return {target: _best(by_initiators) for target, by_initiators in found.items()}


def _best(by_initiators: dict[tuple[int, ...], dict[str, int]]) -> NodeAccess:
    def rank(item: tuple[tuple[int, ...], dict[str, int]]) -> tuple[int, int]:
        values = item[1]
        latency = values.get("read_latency") or values.get("write_latency") or MAX_VALUE + 1
        return latency, -(values.get("read_bandwidth") or values.get("write_bandwidth") or 0)

    initiators, values = min(by_initiators.items(), key=rank)
    return NodeAccess(initiators, **values)


def _target(xml: _Xml, value: ET.Element, objects: Mapping[str | None, ET.Element]) -> int:
    element = objects.get(value.get("target_obj_gp_index"))
    if element is None or element.get("type") != "NUMANode":
        gp_index = value.get("target_obj_gp_index")
        raise xml.error(f"memattr_value target_obj_gp_index {shown(gp_index)} is no NUMANode object", value)
    return xml.integer(element, "os_index")


def _initiators(
    xml: _Xml, value: ET.Element, objects: Mapping[str | None, ET.Element], node_cpus: Mapping[int, tuple[int, ...]]
) -> tuple[int, ...]:
    """The nodes whose CPUs all lie in the value's initiator (a cpuset, or an object's)."""
    text = value.get("initiator_cpuset")
    if text is None:
        initiator = objects.get(value.get("initiator_obj_gp_index"))
        if initiator is None:
            raise xml.error("memattr_value has no initiator_cpuset and no initiator object hwloc wrote", value)
        text = initiator.get("cpuset", "0x0")
    cpus = _cpuset(xml, value, text)
    return tuple(node for node, mine in sorted(node_cpus.items()) if mine and set(mine) <= cpus)


def _cpuset(xml: _Xml, element: ET.Element, text: str) -> set[int]:
    """An hwloc bitmap: 32-bit hex words, most significant first ("0x000000ff,0xffffffff")."""
    words = text.split(",")
    if not all(_WORD.fullmatch(word) for word in words):
        raise xml.error(f"expected an hwloc cpuset such as 0x0000ff00,0x000000ff, got {shown(text)}", element)
    mask = 0
    for word in words:
        mask = (mask << 32) | int(word, 16)
    return {bit for bit in range(mask.bit_length()) if mask >> bit & 1}


def node_caches(xml: _Xml) -> dict[int, tuple[MemorySideCache, ...]]:
    """Node id -> the MemCache objects above its NUMANode, by level."""
    found: dict[int, list[MemorySideCache]] = {}
    for element in xml.root.iter("object"):
        if element.get("type") != "MemCache":
            continue
        cache = _cache(xml, element)
        for node in element.iter("object"):
            if node.get("type") == "NUMANode":
                found.setdefault(xml.integer(node, "os_index"), []).append(cache)
    return {node: tuple(sorted(caches, key=lambda c: c.level)) for node, caches in found.items()}


def _cache(xml: _Xml, element: ET.Element) -> MemorySideCache:
    line = xml.integer(element, "cache_linesize", 0)
    if line > 0xFFFF:
        raise xml.error(f"cache_linesize {line} is more than 65535 (a memory-side cache line is 16 bits)", element)
    associativity = element.get("cache_associativity", "0")
    if not re.fullmatch(r"-1|\d{1,5}", associativity):
        raise xml.error(f"expected -1 or a number of ways in cache_associativity, got {shown(associativity)}", element)
    ways, level = int(associativity), xml.integer(element, "depth")
    if level < 1:
        raise xml.error(f"MemCache depth {level}: memory-side cache levels start at 1", element)
    return MemorySideCache(
        level=level,
        size_bytes=xml.integer(element, "cache_size"),
        line=line,
        associativity="direct" if ways == 1 else "none" if ways == 0 else "complex",
        policy="none",
    )


# memattr name -> hwloc's flags (higher or lower first, needs an initiator) and the value of an access.
_WRITTEN: dict[str, tuple[str, Callable[[NodeAccess], int]]] = {
    "Bandwidth": ("5", lambda a: (a.read_bandwidth + a.write_bandwidth) // 2 if a.read_bandwidth and a.write_bandwidth else 0),
    "Latency": ("6", lambda a: (a.read_latency + a.write_latency) // 2 if a.read_latency and a.write_latency else 0),
    "ReadBandwidth": ("5", lambda a: a.read_bandwidth),
    "WriteBandwidth": ("5", lambda a: a.write_bandwidth),
    "ReadLatency": ("6", lambda a: a.read_latency),
    "WriteLatency": ("6", lambda a: a.write_latency),
}


def memattr_elements(root: ET.Element, host: HostTopology, gp_index: Mapping[int, str]) -> None:
    """Each node's access values as hwloc's memattrs under ``root`` (none without access)."""
    cpus_of = {node.node_id: node.cpus for node in host.nodes}
    for name, (flags, value_of) in _WRITTEN.items():
        values = []
        for node in host.nodes:
            value = value_of(node.access) if node.access is not None else 0
            if node.access is None or not value:
                continue
            cpus = [cpu for initiator in node.access.initiators for cpu in cpus_of.get(initiator, ())]
            values.append({
                "target_obj_type": "NUMANode",
                "target_obj_gp_index": gp_index[node.node_id],
                "value": str(value),
                "initiator_cpuset": hwloc_bitmap(cpus),
            })
        if values:
            memattr = ET.SubElement(root, "memattr", {"name": name, "flags": flags})
            for attributes in values:
                ET.SubElement(memattr, "memattr_value", attributes)


def cache_attributes(cache: MemorySideCache) -> dict[str, str]:
    """A ``MemCache`` object's attributes (hwloc keeps no write policy)."""
    ways = {"direct": "1", "none": "0", "complex": "-1"}[cache.associativity]
    return {
        "cache_size": str(cache.size_bytes),
        "depth": str(cache.level),
        "cache_linesize": str(cache.line),
        "cache_associativity": ways,
        "cache_type": "0",
    }


def hwloc_bitmap(ids: Iterable[int]) -> str:
    """An hwloc bitmap string: 32-bit hex words, most significant first ("0x000000ff,0xffffffff")."""
    value = 0
    for i in ids:
        value |= 1 << i
    words = []
    while value:
        words.append(value & 0xFFFFFFFF)
        value >>= 32
    return ",".join(f"0x{word:08x}" for word in reversed(words)) or "0x0"
