"""A host node's HMAT in the host TOML: ``access`` (sysfs ``access0/initiators``) and
``caches`` (sysfs ``memory_side_cache``), written and read in sysfs's own units::

    [[host.nodes]]
    id = 2
    cpus = ""
    memory = "128GiB"
    access = { initiators = "0", read_latency = 250, write_latency = 260, read_bandwidth = 20000, write_bandwidth = 15000 }
    caches = [ { level = 1, size = "32GiB", line = 64, associativity = "direct", policy = "write-back" } ]

Latencies in ns and bandwidths in MiB/s, 0 for a value the kernel did not report (as
sysfs shows them, so a capture reads back to the same host). Apart from toml.py because
these keys only add to a node already read.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from numaopt.errors import ProblemError
from numaopt.hosts._common import shown
from numaopt.model import HostNode, MemorySideCache, NodeAccess
from numaopt.tables import TableReader
from numaopt.units import UINT16_MAX, UINT32_MAX, format_cpulist, format_size, parse_cpulist, parse_size

__all__ = ["NODE_HMAT_KEYS", "hmat_entries", "read_access", "read_caches"]

NODE_HMAT_KEYS = ("access", "caches")
ACCESS_VALUES = ("read_latency", "write_latency", "read_bandwidth", "write_bandwidth")
ACCESS_KEYS = ("initiators", *ACCESS_VALUES)
CACHE_KEYS = ("level", "size", "line", "associativity", "policy")
ASSOCIATIVITY = ("direct", "complex", "none")
POLICY = ("write-back", "write-through", "none")
# Linux keeps access0 values in unsigned ints (UINT32_MAX) and a cache line size in a u16
# (UINT16_MAX), from the HMAT's 16-bit field.
MAX_LEVEL = 255  # the HMAT's cache level is one byte
NODE_LIST_HELP = 'a node list such as "0" or "0-1", or a list of node ids'
ACCESS_EXAMPLE = 'a table such as { initiators = "0", read_latency = 120, read_bandwidth = 20000 }'
CACHE_EXAMPLE = (
    'a table such as { level = 1, size = "32GiB", line = 64, associativity = "direct", policy = "write-back" }'
)


def hmat_entries(node: HostNode) -> dict[str, Any]:
    """``access`` and ``caches`` of ``node`` for the TOML, the keys it has."""
    entries: dict[str, Any] = {}
    if node.access is not None:
        access = node.access
        entries["access"] = {"initiators": format_cpulist(access.initiators)} | {
            name: getattr(access, name) for name in ACCESS_VALUES
        }
    if node.caches:
        entries["caches"] = [
            {
                "level": cache.level,
                "size": format_size(cache.size_bytes),
                "line": cache.line,
                "associativity": cache.associativity,
                "policy": cache.policy,
            }
            for cache in node.caches
        ]
    return entries


def read_access(node: TableReader, node_ids: Collection[int]) -> NodeAccess | None:
    """``access`` of a node table (None when absent); its initiators must be nodes of the host."""
    if not node.has("access"):
        return None
    raw = node.table["access"]
    if not isinstance(raw, Mapping):
        raise node.error(f"expected {ACCESS_EXAMPLE}, got {shown(raw)}", "access")
    access = TableReader(node.source, raw, node.where("access"), ACCESS_KEYS)
    if not access.has("initiators"):
        raise access.error(f"missing required key ({NODE_LIST_HELP})", "initiators")
    initiators = access.convert("initiators", _node_list)
    strangers = [initiator for initiator in initiators if initiator not in node_ids]
    if strangers:
        known = format_cpulist(sorted(node_ids))
        raise access.error(f"node {strangers[0]} is not in host.nodes (ids {known})", "initiators")
    units = {"latency": "a latency in ns", "bandwidth": "a bandwidth in MiB/s"}
    values = {name: access.integer(name, 0, UINT32_MAX, units[name.split("_")[1]], default=0) for name in ACCESS_VALUES}
    return NodeAccess(initiators, **values)


def _node_list(value: object) -> tuple[int, ...]:
    if isinstance(value, (str, list)):
        try:
            return parse_cpulist(value, "node")
        except ValueError:
            pass
    raise ValueError(f"expected {NODE_LIST_HELP}, got {shown(value)}")


def read_caches(node: TableReader) -> tuple[MemorySideCache, ...]:
    """``caches`` of a node table: one table per level, each level once."""
    if not node.has("caches"):
        return ()
    items = node.table["caches"]
    if not isinstance(items, list):
        raise node.error(f"expected a list of cache tables, each {CACHE_EXAMPLE}, got {shown(items)}", "caches")
    caches: list[MemorySideCache] = []
    for index, item in enumerate(items):
        where = node.where(f"caches[{index}]")
        if not isinstance(item, Mapping):
            raise ProblemError(f"expected {CACHE_EXAMPLE}, got {shown(item)}", source=node.source, where=where)
        cache = TableReader(node.source, item, where, CACHE_KEYS)
        level = cache.integer("level", 1, MAX_LEVEL, "a cache level", required=True)
        if any(other.level == level for other in caches):
            raise cache.error(f"level {level} is given twice", "level")
        caches.append(
            MemorySideCache(
                level=level,
                size_bytes=cache.convert("size", parse_size, required=True),
                line=cache.integer("line", 0, UINT16_MAX, "a line size in bytes", default=64),
                associativity=_word(cache, "associativity", ASSOCIATIVITY, "direct"),
                policy=_word(cache, "policy", POLICY, "write-back"),
            )
        )
    return tuple(caches)


def _word(reader: TableReader, key: str, valid: tuple[str, ...], default: str) -> str:
    value = reader.get(key, str, " or ".join(valid), default=default)
    if value not in valid:
        raise reader.error(f"unknown {key} {shown(value)} (valid: {', '.join(valid)})", key)
    return value
