"""Host TOML: ``HostTopology`` -> text (``numaopt host capture``) and parsed table -> host.

The format, usable as a problem file's ``[host]`` (docs/hosts.md)::

    [host]
    distances = [
        [10, 21],
        [21, 10],
    ]

    [[host.nodes]]
    id = 0
    cpus = "0-9,20-29"
    memory = "95297MiB"
    free = "80000MiB"                                          # optional
    hugepages = [ { size = "2MiB", total = 1024, free = 1000 } ]  # optional
    access = { initiators = "0", read_latency = 90, ... }      # optional: HMAT (toml_hmat.py)
    caches = [ { level = 1, size = "32GiB", line = 64, ... } ]  # optional: memory-side caches

    [[host.sockets]]                                           # optional: SMT siblings
    id = 0
    cores = ["0,20", "1,21"]

Reading takes a table already parsed (``numaopt.problem`` is the only TOML reader) and
names the source and key path in every error; unknown keys are refused with the list
of known ones.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE
from numaopt.errors import ProblemError
from numaopt.hosts._common import bad_distance, build_host, shown
from numaopt.hosts.toml_hmat import NODE_HMAT_KEYS, hmat_entries, read_access, read_caches
from numaopt.model import HostCore, HostNode, HostTopology, HugePages
from numaopt.render.toml import dumps
from numaopt.tables import TableReader
from numaopt.units import CPULIST_HELP, SIZE_HELP, format_cpulist, format_size, parse_cpulist, parse_size

__all__ = ["HOST_KEYS", "host_from_table", "host_to_toml"]

HOST_KEYS = ("nodes", "distances", "sockets")
NODE_KEYS = ("id", "cpus", "memory", "free", "hugepages", *NODE_HMAT_KEYS)
HUGEPAGE_KEYS = ("size", "total", "free")
SOCKET_KEYS = ("id", "cores")
MAX_ID = 1 << 20
INT64_MAX = (1 << 63) - 1


def host_to_toml(host: HostTopology) -> str:
    """The host as a TOML document with one ``[host]`` table (sizes exact, e.g. "95297MiB")."""
    nodes: list[dict[str, Any]] = []
    for node in host.nodes:
        entry: dict[str, Any] = {
            "id": node.node_id,
            "cpus": format_cpulist(node.cpus),
            "memory": format_size(node.memory_bytes),
        }
        if node.free_bytes is not None:
            entry["free"] = format_size(node.free_bytes)
        if node.hugepages:
            entry["hugepages"] = [
                {"size": format_size(p.page_size_bytes), "total": p.total, "free": p.free} for p in node.hugepages
            ]
        nodes.append(entry | hmat_entries(node))
    table: dict[str, Any] = {"distances": host.distances.tolist(), "nodes": nodes}
    if host.cores:
        sockets: dict[int, list[str]] = {}
        for core in host.cores:
            sockets.setdefault(core.socket, []).append(format_cpulist(core.cpus))
        table["sockets"] = [{"id": socket, "cores": cores} for socket, cores in sorted(sockets.items())]
    return dumps({"host": table}, matrices=("host.distances",))


def _reader(value: object, source: str, path: str, known: tuple[str, ...], what: str) -> TableReader:
    if not isinstance(value, Mapping):
        raise ProblemError(f"expected {what}, got {shown(value)}", source=source, where=path)
    return TableReader(source, value, path, known)


def _integer(reader: TableReader, key: str, what: str, maximum: int = MAX_ID) -> int:
    value = reader.get(key, int, what, required=True)
    if not 0 <= value <= maximum:
        raise reader.error(f"expected {what} (0..{maximum}), got {value}", key)
    return value


def _cpus(value: object) -> tuple[int, ...]:
    if not isinstance(value, (str, list)):
        raise ValueError(f"expected {CPULIST_HELP} or a list of integers, got {shown(value)}")
    return parse_cpulist(value)


def _size(value: object) -> int:
    if not isinstance(value, (str, int)):
        raise ValueError(f"expected {SIZE_HELP}, got {shown(value)}")
    return parse_size(value)


def _array(reader: TableReader, key: str, what: str) -> list[Any]:
    return reader.get(key, list, what, required=True)


def host_from_table(
    table: Mapping[str, Any], source: str, key_path: str = "host", also_known: Collection[str] = ()
) -> HostTopology:
    """A host from an inline ``[host]`` table; ``also_known`` are keys the caller reads itself
    (``reserved_cpus``...), accepted here and listed among the known keys."""
    host = _reader(table, source, key_path, (*HOST_KEYS, *also_known), "a table")
    if not host.has("nodes"):
        raise host.error('missing required key (nodes = [ { id = 0, cpus = "0-3", memory = "64GiB" }, ... ])', "nodes")
    items = _array(host, "nodes", "an array of node tables")
    nodes = [_node(item, source, host.where(f"nodes[{i}]")) for i, item in enumerate(items)]
    nodes = _with_hmat(nodes, items, source, host)
    if not nodes:
        raise host.error("give at least one node", "nodes")
    node_ids = [node.node_id for node in nodes]
    for i in range(1, len(nodes)):
        if node_ids[i] <= node_ids[i - 1]:
            raise host.error(f"node ids must increase: {node_ids[i]} comes after {node_ids[i - 1]}", f"nodes[{i}].id")
    owner: dict[int, int] = {}
    for i, node in enumerate(nodes):
        for cpu in node.cpus:
            if cpu in owner:
                raise host.error(
                    f"CPU {cpu} is already in {host.where(f'nodes[{owner[cpu]}].cpus')}", f"nodes[{i}].cpus"
                )
            owner[cpu] = i
    matrix = _distances(host, node_ids)
    cores = _sockets(host, owner) if host.has("sockets") else []
    return build_host(nodes, matrix, cores, source)


def _node(item: object, source: str, path: str) -> HostNode:
    node = _reader(item, source, path, NODE_KEYS, 'a node table such as { id = 0, cpus = "0-3", memory = "64GiB" }')
    node_id = _integer(node, "id", "a node id")
    cpus = node.convert("cpus", _cpus, required=True)
    memory = node.convert("memory", _size, required=True)
    free = node.convert("free", _size) if node.has("free") else None
    if free is not None and free > memory:
        raise node.error(f"{format_size(free)} free is more than the node's memory ({format_size(memory)})", "free")
    pages: list[HugePages] = []
    if node.has("hugepages"):
        for i, entry in enumerate(_array(node, "hugepages", "an array of { size, total, free } tables")):
            what = 'a table such as { size = "2MiB", total = 1024, free = 1024 }'
            page = _reader(entry, source, node.where(f"hugepages[{i}]"), HUGEPAGE_KEYS, what)
            size = page.convert("size", _size, required=True)
            if size <= 0:
                raise page.error("a huge page size must be more than 0", "size")
            total = _integer(page, "total", "a number of pages", maximum=1 << 40)
            free_pages = _integer(page, "free", "a number of free pages", maximum=total)
            pages.append(HugePages(page_size_bytes=size, total=total, free=free_pages))
    return HostNode(node_id=node_id, cpus=cpus, memory_bytes=memory, free_bytes=free, hugepages=tuple(pages))


def _with_hmat(nodes: list[HostNode], items: list[Any], source: str, host: TableReader) -> list[HostNode]:
    """``nodes`` with the ``access`` and ``caches`` their tables give (read once every node id
    is known: an access names its initiator nodes)."""
    node_ids = {node.node_id for node in nodes}
    found = []
    for i, (node, item) in enumerate(zip(nodes, items, strict=True)):
        reader = TableReader(source, item, host.where(f"nodes[{i}]"), NODE_KEYS)
        found.append(replace(node, access=read_access(reader, node_ids), caches=read_caches(reader)))
    return found


def _distances(host: TableReader, node_ids: list[int]) -> npt.NDArray[np.int64]:
    n = len(node_ids)
    if not host.has("distances"):
        if n == 1:
            return np.array([[LOCAL_DISTANCE]], dtype=np.int64)
        raise host.error(f"missing required key (a {n}x{n} matrix, one row per node)", "distances")
    rows = _array(host, "distances", f"a {n}x{n} matrix (one row per node)")
    if len(rows) != n or not all(isinstance(row, list) and len(row) == n for row in rows):
        lengths = [len(row) if isinstance(row, list) else row for row in rows]
        raise host.error(
            f"expected a {n}x{n} matrix (one row and column per node), got {len(rows)} rows of lengths {lengths}",
            "distances",
        )
    for i, row in enumerate(rows):
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, int):
                raise host.error(f"expected an integer, got {shown(value)}", f"distances[{i}][{j}]")
        problem = bad_distance([max(min(v, INT64_MAX), -INT64_MAX) for v in row], i, node_ids)
        if problem is not None:
            raise host.error(problem, f"distances[{i}]")
    return np.array(rows, dtype=np.int64)


def _sockets(host: TableReader, owner: dict[int, int]) -> list[HostCore]:
    cores: list[HostCore] = []
    core_of: dict[int, str] = {}
    socket_ids: set[int] = set()
    for s, item in enumerate(_array(host, "sockets", "an array of socket tables")):
        what = 'a socket table such as { id = 0, cores = ["0,8", "1,9"] }'
        socket = _reader(item, host.source, host.where(f"sockets[{s}]"), SOCKET_KEYS, what)
        socket_id = _integer(socket, "id", "a socket id")
        if socket_id in socket_ids:
            raise socket.error(f"socket {socket_id} is given twice", "id")
        socket_ids.add(socket_id)
        specs = socket.get("cores", list, 'an array of CPU lists such as ["0,8", "1,9"], one per core', required=True)
        for c, spec in enumerate(specs):
            where = f"cores[{c}]"
            try:
                cpus = _cpus(spec)
            except ValueError as exc:
                raise socket.error(str(exc), where) from None
            if not cpus:
                raise socket.error("a core needs at least one CPU", where)
            for cpu in cpus:
                if cpu not in owner:
                    raise socket.error(f"CPU {cpu} is in no node of {host.where('nodes')}", where)
                if cpu in core_of:
                    raise socket.error(f"CPU {cpu} is already in {core_of[cpu]}", where)
                core_of[cpu] = socket.where(where)
            cores.append(HostCore(socket=socket_id, cpus=cpus))
    missing = sorted(set(owner) - set(core_of))
    if missing:
        raise host.error(
            f"CPUs {format_cpulist(missing)} are in no core: with sockets given, every CPU of the nodes needs one",
            "sockets",
        )
    return cores
