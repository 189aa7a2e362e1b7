"""``numactl --hardware`` text <-> ``HostTopology``.

numactl gives nodes, their CPUs, total and free memory (MiB, truncated) and the SLIT;
it says nothing of SMT siblings or sockets (pair it with ``lscpu -p``, see ``merge``).
Both column layouts are read: ``% 3d`` (numactl <= 2.0.16) and ``% 4d`` (2.0.17+), and
CPU lists written one by one or compressed (``--cpu-compress``: ``0-3 8-11 (8)``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE
from numaopt.hosts._common import Lines, bad_distance, build_host, shown
from numaopt.model import HostNode, HostTopology
from numaopt.units import MIB, format_cpulist, parse_cpulist

__all__ = ["parse_numactl", "render_numactl"]

_AVAILABLE = re.compile(r"available: (\d{1,5}) nodes? \(([0-9,\- ]*)\)")
_NODE_FIELD = re.compile(r"node (\d{1,5}) (cpus|size|free) ?:(.*)")
_SIZE = re.compile(r"(\d{1,15}) ?MB")
_CPU_TOKEN = re.compile(r"(\d{1,5})(?:-(\d{1,5}))?")
_CPU_COUNT = re.compile(r"\((\d{1,6})\)")
_HEADER = re.compile(r"node((?: \d{1,5})+)")
_ROW = re.compile(r"(\d{1,5}) ?:(.*)")
_VALUE = re.compile(r"\d{1,5}")
NOT_AVAILABLE = "<not available>"  # numactl's fmt_mem when libnuma cannot read a size


@dataclass
class _Node:
    """What the lines about one node said so far, with the line of each field."""

    node_id: int
    cpus: tuple[int, ...] | None = None
    memory_bytes: int | None = None
    free_bytes: int | None = None
    lines: dict[str, int] = field(default_factory=dict)


def parse_numactl(text: str, source: str = "<numactl>") -> HostTopology:
    """Read ``numactl --hardware`` output; one ``InputError`` names the first bad line."""
    lines = Lines(text, source)
    # A pasted command line ("$ numactl --hardware") before the output is fine.
    while not lines.done() and "numactl" in lines.peek() and not lines.peek().startswith("available"):
        lines.position += 1
    if lines.done():
        raise lines.error("empty input: expected numactl --hardware output, starting 'available: N nodes (LIST)'")
    match = _AVAILABLE.fullmatch(lines.peek())
    if not match:
        raise lines.error(
            f"expected 'available: N nodes (LIST)', the first line of numactl --hardware, got {shown(lines.peek())}"
        )
    try:
        node_ids = parse_cpulist(match.group(2).replace(" ", ""))
    except ValueError:
        raise lines.error(f"expected a node list such as (0-3) or (0,2), got ({match.group(2)})") from None
    if len(node_ids) != int(match.group(1)):
        raise lines.error(
            f"'available: {match.group(1)} nodes' but the list ({match.group(2)}) has {len(node_ids)} nodes"
        )
    if not node_ids:
        raise lines.error("'available: 0 nodes': numactl found no NUMA node")
    lines.position += 1
    nodes = _node_lines(lines, node_ids)
    distances = _distance_table(lines, node_ids)
    host_nodes = [
        HostNode(node_id=n.node_id, cpus=n.cpus or (), memory_bytes=n.memory_bytes or 0, free_bytes=n.free_bytes)
        for n in nodes
    ]
    return build_host(host_nodes, distances, (), source)


def _node_lines(lines: Lines, node_ids: tuple[int, ...]) -> list[_Node]:
    """The ``node N cpus/size/free:`` lines, in any order, up to the distance table."""
    nodes = {node_id: _Node(node_id) for node_id in node_ids}
    owner: dict[int, int] = {}
    while not lines.done():
        match = _NODE_FIELD.fullmatch(lines.peek())
        if not match:
            break
        node_id, key, value = int(match.group(1)), match.group(2), match.group(3).strip()
        if node_id not in nodes:
            raise lines.error(f"node {node_id} is not in the available list ({format_cpulist(node_ids)})")
        node = nodes[node_id]
        if key in node.lines:
            raise lines.error(f"node {node_id} {key} is given twice (first on line {node.lines[key]})")
        node.lines[key] = lines.number()
        if key == "cpus":
            node.cpus = _cpus(value, lines)
            for cpu in node.cpus:
                if cpu in owner:
                    first = nodes[owner[cpu]].lines["cpus"]
                    raise lines.error(f"CPU {cpu} is already in node {owner[cpu]} (line {first})")
                owner[cpu] = node_id
        else:
            amount = _megabytes(value, key, node_id, lines)
            if key == "size":
                if amount is None:
                    raise lines.error(f"node {node_id} size is {NOT_AVAILABLE}: numaopt needs every node's memory size")
                node.memory_bytes = amount
            else:
                node.free_bytes = amount
        lines.position += 1
    for node in nodes.values():
        for key in ("cpus", "size"):
            if key not in node.lines:
                raise lines.error(
                    f"expected 'node {node.node_id} {key}: ...' before the distance table "
                    "(numactl prints cpus, size and free for every node)"
                )
        if node.free_bytes is not None and node.memory_bytes is not None and node.free_bytes > node.memory_bytes:
            raise lines.error(
                f"node {node.node_id} free {node.free_bytes // MIB} MB is more than its size "
                f"{node.memory_bytes // MIB} MB",
                node.lines["free"],
            )
    return [nodes[node_id] for node_id in node_ids]


def _cpus(value: str, lines: Lines) -> tuple[int, ...]:
    """``0 1 2 3`` or, compressed, ``0-3 8-11 (8)``."""
    tokens = value.split()
    expected_count = None
    if tokens and (count := _CPU_COUNT.fullmatch(tokens[-1])):
        expected_count = int(count.group(1))
        tokens = tokens[:-1]
    cpus: list[int] = []
    for token in tokens:
        match = _CPU_TOKEN.fullmatch(token)
        if not match:
            raise lines.error(f"expected CPU numbers such as '0 1 2 3' (or ranges '0-3'), got {shown(token)}")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise lines.error(f"CPU range {token} runs backwards")
        cpus.extend(range(first, last + 1))
    if len(set(cpus)) != len(cpus):
        raise lines.error("a CPU is listed twice in one node")
    if expected_count is not None and expected_count != len(cpus):
        raise lines.error(f"the CPU count ({expected_count}) does not match the {len(cpus)} CPUs listed")
    return tuple(cpus)


def _megabytes(value: str, key: str, node_id: int, lines: Lines) -> int | None:
    if value == NOT_AVAILABLE:
        return None
    match = _SIZE.fullmatch(value)
    if not match:
        raise lines.error(f"expected 'node {node_id} {key}: N MB' (or {NOT_AVAILABLE}), got {shown(value)}")
    return int(match.group(1)) * MIB


def _distance_table(lines: Lines, node_ids: tuple[int, ...]) -> npt.NDArray[np.int64]:
    """The ``node distances:`` table: a header of node ids, then one row per node."""
    n = len(node_ids)
    listed = " ".join(map(str, node_ids))
    if lines.done():
        raise lines.error("input ends before the 'node distances:' table")
    if lines.peek() == "No distance information available.":
        lines.position += 1
        if n == 1 and lines.done():
            return np.array([[LOCAL_DISTANCE]], dtype=np.int64)
        raise lines.error(
            "numactl could not read the distances ('No distance information available.'): "
            "import sysfs or hwloc XML instead, which carry them",
            lines.items[lines.position - 1][0],
        )
    if lines.peek().lower() != "node distances:":
        raise lines.error(
            f"expected 'node distances:' or another 'node N cpus/size/free:' line, got {shown(lines.peek())}"
        )
    lines.position += 1
    if lines.done():
        raise lines.error(f"input ends before the distance table header 'node {listed}'")
    header = _HEADER.fullmatch(lines.peek())
    if not header:
        raise lines.error(f"expected the distance table header 'node {listed}', got {shown(lines.peek())}")
    columns = " ".join(header.group(1).split())
    if columns != listed:
        raise lines.error(f"the distance table header lists nodes {columns} but numactl listed {listed}")
    matrix = np.empty((n, n), dtype=np.int64)
    for row_index, node_id in enumerate(node_ids):
        lines.position += 1
        if lines.done():
            raise lines.error(
                f"input ends after {row_index} of {n} distance rows "
                f"(expected the row '{node_id}: ...' with {n} distances)"
            )
        row = _ROW.fullmatch(lines.peek())
        if not row or int(row.group(1)) != node_id:
            raise lines.error(
                f"expected the distance row for node {node_id} ('{node_id}:' and {n} distances), got {shown(lines.peek())}"
            )
        tokens = row.group(2).split()
        if not all(_VALUE.fullmatch(token) for token in tokens):
            raise lines.error(f"expected {n} distances (numbers) after '{node_id}:', got {shown(row.group(2).strip())}")
        values = [int(token) for token in tokens]
        if len(values) != n:
            raise lines.error(f"the row for node {node_id} has {len(values)} distances, expected {n} (one per node)")
        problem = bad_distance(values, row_index, node_ids)
        if problem is not None:
            raise lines.error(problem)
        matrix[row_index] = values
    lines.position += 1
    if not lines.done():
        raise lines.error(f"unexpected text after the distance table: {shown(lines.peek())}")
    return matrix


def render_numactl(host: HostTopology) -> str:
    """``host`` as ``numactl --hardware`` prints it (numactl 2.0.16 layout, sizes in MiB).

    Sizes are truncated to whole MiB as numactl does (``mem >> 20``); an unknown free
    size prints as numactl prints it, ``<not available>``.
    """
    ids = [node.node_id for node in host.nodes]
    out = [f"available: {len(ids)} nodes ({format_cpulist(ids)})"]
    for node in host.nodes:
        out.append(f"node {node.node_id} cpus:" + "".join(f" {cpu}" for cpu in node.cpus))
        out.append(f"node {node.node_id} size: {node.memory_bytes >> 20} MB")
        free = NOT_AVAILABLE if node.free_bytes is None else f"{node.free_bytes >> 20} MB"
        out.append(f"node {node.node_id} free: {free}")
    out.append("node distances:")
    out.append("node " + "".join(f"{node_id:3d} " for node_id in ids))
    for node_id, row in zip(ids, host.distances.tolist(), strict=True):
        out.append(f"{node_id:3d}: " + "".join(f"{value:3d} " for value in row))
    return "\n".join(out) + "\n"
