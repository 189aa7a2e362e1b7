"""The HMAT keys of an explicit ``[guest]``: node initiators, ``hmat``, ``hmat_lb``, ``hmat_cache``.

Apart from the node and distance reading because they only add to a layout already read:
whether QEMU accepts them (an initiator without vCPUs, bandwidth not 1 MiB aligned, a
cache before its node's latency and bandwidth) is for ``numaopt check`` to say in QEMU's
words, so only the form of each value is refused here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from numaopt.errors import ProblemError
from numaopt.inputs import shown
from numaopt.model import GuestLayout, HmatCache, HmatLb
from numaopt.problem import schema
from numaopt.problem.schema import keys
from numaopt.tables import TableReader
from numaopt.units import UINT16_MAX, parse_size

__all__ = ["read_hmat", "tables"]

LB_KEYS = keys(schema.HmatLb)
CACHE_KEYS = keys(schema.HmatCache)
NODE_KEYS = keys(schema.GuestNode)
# Problem-file key -> QEMU's data-type; latencies in ns, bandwidths a size per second.
_LB_TYPES = {
    "latency": "access-latency",
    "read_latency": "read-latency",
    "write_latency": "write-latency",
    "bandwidth": "access-bandwidth",
    "read_bandwidth": "read-bandwidth",
    "write_bandwidth": "write-bandwidth",
}
_MAX_NODE_ID = 127  # QEMU's MAX_NODES - 1; a larger id could not name any node


def read_hmat(guest: TableReader, layout: GuestLayout) -> GuestLayout:
    """``layout`` with the initiators, HMAT entries and the ``hmat`` switch the file gives."""
    initiators = _initiators(guest, len(layout.nodes))
    lbs = tuple(lb for index, raw in enumerate(tables(guest, "hmat_lb")) for lb in _lb(guest, index, raw))
    caches = tuple(_cache(guest, index, raw) for index, raw in enumerate(tables(guest, "hmat_cache")))
    wanted = any(i is not None for i in initiators) or bool(lbs) or bool(caches)
    hmat = guest.get("hmat", bool, "true or false", default=wanted)
    nodes = tuple(
        node if initiator is None else dataclasses.replace(node, initiator=initiator)
        for node, initiator in zip(layout.nodes, initiators, strict=True)
    )
    return dataclasses.replace(layout, nodes=nodes, hmat=hmat, hmat_lb=lbs, hmat_cache=caches)


def _initiators(guest: TableReader, count: int) -> list[int | None]:
    found: list[int | None] = []
    for index, raw in enumerate(guest.get("nodes", list, "a list of node tables", default=[])[:count]):
        node = TableReader(guest.source, raw, guest.where(f"nodes[{index}]"), NODE_KEYS)
        found.append(node.integer("initiator", 0, _MAX_NODE_ID, "a node id") if node.has("initiator") else None)
    return found


def tables(guest: TableReader, key: str) -> list[dict[str, Any]]:
    raw = guest.get(key, list, "a list of tables", default=[])
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise ProblemError(f"expected a table, got {shown(item)}", source=guest.source, where=guest.where(f"{key}[{index}]"))
    return raw


def _lb(guest: TableReader, index: int, raw: dict[str, Any]) -> list[HmatLb]:
    entry = TableReader(guest.source, raw, guest.where(f"hmat_lb[{index}]"), LB_KEYS)
    initiator = entry.integer("initiator", 0, _MAX_NODE_ID, "a node id", required=True)
    target = entry.integer("target", 0, _MAX_NODE_ID, "a node id", required=True)
    hierarchy = entry.get("hierarchy", str, "memory, first-level, second-level or third-level", default="memory")
    if hierarchy not in ("memory", "first-level", "second-level", "third-level"):
        raise entry.error(f"unknown hierarchy {shown(hierarchy)} (valid: memory, first-level, second-level, third-level)", "hierarchy")
    found = []
    for key, data_type in _LB_TYPES.items():
        if not entry.has(key):
            continue
        if key.endswith("latency"):
            value = entry.integer(key, 0, (1 << 63) - 1, "a latency in ns")
        else:
            value = entry.convert(key, parse_size)
        found.append(HmatLb(initiator, target, data_type, value, hierarchy))
    if not found:
        raise entry.error("give a latency or a bandwidth: " + ", ".join(_LB_TYPES), None)
    return found


def _cache(guest: TableReader, index: int, raw: dict[str, Any]) -> HmatCache:
    entry = TableReader(guest.source, raw, guest.where(f"hmat_cache[{index}]"), CACHE_KEYS)
    associativity = entry.get("associativity", str, "none, direct or complex", default="direct")
    policy = entry.get("policy", str, "none, write-back or write-through", default="write-back")
    if associativity not in ("none", "direct", "complex"):
        raise entry.error(f"unknown associativity {shown(associativity)} (valid: none, direct, complex)", "associativity")
    if policy not in ("none", "write-back", "write-through"):
        raise entry.error(f"unknown policy {shown(policy)} (valid: none, write-back, write-through)", "policy")
    return HmatCache(
        node=entry.integer("node", 0, _MAX_NODE_ID, "a node id", required=True),
        size_bytes=entry.convert("size", parse_size, required=True),
        level=entry.integer("level", 1, 3, "a cache level", required=True),
        associativity=associativity,
        policy=policy,
        line=entry.integer("line", 0, UINT16_MAX, "a line size in bytes", default=64),
    )
