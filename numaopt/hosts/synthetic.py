"""hwloc synthetic strings (``"pack:2 numa:2 core:4 pu:2"``) -> ``HostTopology``.

The same host ``lstopo --input "<string>" --of xml`` describes: levels from the machine
down, PUs numbered in order (siblings adjacent: CPU 0 and 1 share core 0), packages,
NUMA nodes and cores numbered in order, 1 GiB per NUMA node unless the level says
``numa:2(memory=64GiB)`` (hwloc units: kB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB
of 1024, a bare number is bytes). Without a ``numa`` level the machine is one node.
Caches (``l1``..``l5``, ``l3cache``...), ``die`` and ``group`` levels only group.

The grammar has no distances: a ``DistanceRule`` (``12,32``: same package, other) gives
them, and is required for more than one node.
"""

from __future__ import annotations

import enum
import math
import re

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE
from numaopt.errors import InputError
from numaopt.hosts._common import build_host, shown
from numaopt.hosts.distance_rule import RULE_HELP, DistanceRule
from numaopt.model import HostCore, HostNode, HostTopology
from numaopt.units import GIB

__all__ = ["MAX_PUS", "parse_synthetic"]

MAX_PUS = 65536
DEFAULT_NODE_MEMORY = GIB  # hwloc's synthetic backend gives each NUMA node 1 GiB
_LEVEL = re.compile(r"([A-Za-z][A-Za-z0-9]*):(\d{1,6})(?:\(([^()]*)\))?")
_MEMORY = re.compile(r"(\d{1,18}) ?([kmgt]i?b)?", re.IGNORECASE)
_UNITS = {
    "": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 1 << 10,
    "mib": 1 << 20,
    "gib": 1 << 30,
    "tib": 1 << 40,
}


class _Kind(enum.Enum):
    PACKAGE = "package"
    NUMA = "numa"
    CORE = "core"
    PU = "pu"
    GROUPING = "grouping"


_NAMES = {
    "package": _Kind.PACKAGE,
    "pack": _Kind.PACKAGE,
    "socket": _Kind.PACKAGE,
    "numanode": _Kind.NUMA,
    "numa": _Kind.NUMA,
    "node": _Kind.NUMA,
    "core": _Kind.CORE,
    "pu": _Kind.PU,
    "die": _Kind.GROUPING,
    "group": _Kind.GROUPING,
}
_CACHE = re.compile(r"l[1-5](?:[diu]|cache|[diu]cache)?", re.IGNORECASE)
KNOWN_LEVELS = "pack (package, socket), numa (numanode, node), core, pu, die, group, l1..l5 (l3cache, l1d, ...)"


def parse_synthetic(description: str, distances: DistanceRule | None = None, source: str | None = None) -> HostTopology:
    """The host a synthetic string describes; ``distances`` is required for several nodes."""
    where = source or f"synthetic:{shown(description)}"

    def fail(message: str) -> InputError:
        return InputError(message, source=where)

    text = description.strip()
    if "[" in text:
        raise fail("memory children in brackets ('[numa(...)]') are not supported: write numa:N as a level")
    levels: list[tuple[_Kind, int, str]] = []
    for token in text.split():
        level = _LEVEL.fullmatch(token)
        if not level:
            raise fail(f"expected a level such as pack:2 or numa:2(memory=64GiB), got {shown(token)}")
        name, count, attrs = level.group(1), int(level.group(2)), level.group(3)
        kind = _NAMES.get(name.lower()) or (_Kind.GROUPING if _CACHE.fullmatch(name) else None)
        if kind is None:
            raise fail(f"unknown level type {shown(name)} (known: {KNOWN_LEVELS})")
        if count == 0:
            raise fail(f"{token}: a level needs at least one object")
        levels.append((kind, count, attrs or ""))
    if not levels or levels[-1][0] is not _Kind.PU:
        raise fail("the last level must be pu, e.g. 'pack:2 numa:2 core:4 pu:2'")
    kinds = [kind for kind, _, _ in levels]
    for kind in (_Kind.PACKAGE, _Kind.NUMA, _Kind.CORE, _Kind.PU):
        if kinds.count(kind) > 1:
            raise fail(f"more than one {kind.value} level")
    order = [kind for kind in kinds if kind in (_Kind.PACKAGE, _Kind.CORE, _Kind.PU)]
    if order != sorted(order, key=[_Kind.PACKAGE, _Kind.CORE, _Kind.PU].index):
        raise fail("levels must run pack > core > pu from the machine down")
    if _Kind.NUMA in kinds and _Kind.CORE in kinds and kinds.index(_Kind.NUMA) > kinds.index(_Kind.CORE):
        raise fail("the numa level must be above the core level (a core belongs to one node)")
    memory = DEFAULT_NODE_MEMORY
    for kind, _, attrs in levels:
        for attr in attrs.split():
            key, _, value = attr.partition("=")
            if key != "memory" or kind is not _Kind.NUMA:
                raise fail(f"unsupported attribute {shown(attr)}: numaopt reads only numa:N(memory=SIZE)")
            size = _MEMORY.fullmatch(value)
            if not size:
                raise fail(f"expected a size such as 64GiB or 32GB in {shown(attr)}")
            memory = int(size.group(1)) * _UNITS[(size.group(2) or "").lower()]
    counts = [count for _, count, _ in levels]
    num_pus = math.prod(counts)
    if num_pus > MAX_PUS:
        raise fail(f"{num_pus} PUs: at most {MAX_PUS}")
    # below[i]: PUs under one object of level i; a PU's object at level i is pu // below[i].
    below = [math.prod(counts[i + 1 :]) for i in range(len(counts))]
    pus = np.arange(num_pus)

    def index_at(kind: _Kind) -> npt.NDArray[np.int64] | None:
        return pus // below[kinds.index(kind)] if kind in kinds else None

    node_of = index_at(_Kind.NUMA)
    package_of = index_at(_Kind.PACKAGE)
    core_of = index_at(_Kind.CORE)
    num_nodes = 1 if node_of is None else int(node_of[-1]) + 1
    node_cpus = [pus] if node_of is None else np.split(pus, num_nodes)
    nodes = [HostNode(node_id=i, cpus=tuple(cpus.tolist()), memory_bytes=memory) for i, cpus in enumerate(node_cpus)]
    cores: list[HostCore] = []
    if core_of is not None:
        for cpus in np.split(pus, int(core_of[-1]) + 1):
            socket = 0 if package_of is None else int(package_of[cpus[0]])
            cores.append(HostCore(socket=socket, cpus=tuple(cpus.tolist())))
    if num_nodes == 1:
        matrix = np.array([[LOCAL_DISTANCE]])
    elif distances is None:
        raise fail(f"{num_nodes} NUMA nodes but no distances: the synthetic grammar has none, give {RULE_HELP}")
    else:
        if package_of is not None and kinds.index(_Kind.PACKAGE) < kinds.index(_Kind.NUMA):
            packages: list[int | None] = [int(package_of[cpus[0]]) for cpus in node_cpus]
        else:
            packages = [None] * num_nodes  # a node holding several packages (or none) shares no package
        matrix = distances.matrix(packages)
    return build_host(nodes, matrix, cores, where)
