"""Shared plumbing of the host importers: reading text, line numbers, distance checks.

Every importer tolerates what people paste (CRLF, a byte-order mark, tabs, runs of
spaces, blank lines) and turns everything else into one ``InputError`` that names the
file, the line and what was expected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE, MAX_DISTANCE
from numaopt.errors import InputError
from numaopt.inputs import MAX_CPU_ID, MAX_HOST_NODES, MAX_SIZE_BYTES, read_text, shown
from numaopt.model import HostCore, HostNode, HostTopology
from numaopt.units import format_cpulist

__all__ = ["Lines", "bad_distance", "build_host", "check_matrix", "end_line", "numbered_lines", "read_text", "shown"]


def numbered_lines(text: str) -> list[tuple[int, str]]:
    """(1-based line number, line with whitespace collapsed) for every non-blank line.

    Collapsing runs of spaces and tabs to one space lets every parser match one
    spelling of each line whatever the column padding (numactl widened its columns
    in 2.0.17; people paste through terminals that turn tabs into spaces).
    """
    lines = text.removeprefix("\ufeff").splitlines()
    return [(number, " ".join(line.split())) for number, line in enumerate(lines, 1) if line.strip()]


def end_line(text: str) -> int:
    """The line number just past the end of ``text``: where a truncated table was cut."""
    return len(text.removeprefix("\ufeff").splitlines()) + 1


def bad_distance(row: Sequence[int], position: int, node_ids: Sequence[int]) -> str | None:
    """Why row ``position`` of a host SLIT is impossible, or None when it is fine.

    The diagonal must be 10 and every entry a SLIT byte of at least 10. A remote 10 is
    allowed: NUMA emulation (``numa=fake``) gives it between nodes of one real node.
    """
    values = np.asarray(row, dtype=np.int64)
    source_id = node_ids[position]
    if values[position] != LOCAL_DISTANCE:
        return f"distance from node {source_id} to itself is {values[position]}: it must be {LOCAL_DISTANCE}"
    bad = np.flatnonzero((values < LOCAL_DISTANCE) | (values > MAX_DISTANCE))
    if bad.size:
        k = int(bad[0])
        return (
            f"distance from node {source_id} to node {node_ids[k]} is {values[k]}: "
            f"expected {LOCAL_DISTANCE}..{MAX_DISTANCE} (a SLIT byte)"
        )
    return None


def check_matrix(matrix: npt.NDArray[np.int64], node_ids: Sequence[int], source: str, where: str | None = None) -> None:
    """Raise ``InputError`` on the first impossible row of a whole matrix."""
    for position in range(matrix.shape[0]):
        problem = bad_distance(matrix[position], position, node_ids)
        if problem is not None:
            raise InputError(problem, source=source, where=where)


def build_host(
    nodes: Iterable[HostNode], distances: npt.ArrayLike, cores: Iterable[HostCore], source: str
) -> HostTopology:
    """A ``HostTopology``; a structural refusal from the model becomes an ``InputError``.

    Importers check what they can with line numbers first; this is the safety net that
    keeps a ``ValueError`` from ever reaching a user as a traceback, and the one place
    every importer's host meets the bounds (nodes, CPU ids, sizes).
    """
    nodes = tuple(nodes)
    if len(nodes) > MAX_HOST_NODES:
        raise InputError(f"{len(nodes)} nodes: at most {MAX_HOST_NODES} (Linux's largest MAX_NUMNODES)", source=source)
    for node in nodes:
        if node.node_id >= MAX_HOST_NODES:
            raise InputError(f"node id {node.node_id}: Linux numbers nodes 0..{MAX_HOST_NODES - 1}", source=source)
        if node.cpus and max(node.cpus) > MAX_CPU_ID:
            raise InputError(f"node {node.node_id}: CPU {max(node.cpus)} is more than {MAX_CPU_ID}", source=source)
        if node.memory_bytes > MAX_SIZE_BYTES:
            raise InputError(f"node {node.node_id}: {node.memory_bytes} bytes of memory is more than 4 PiB", source=source)
    cores = tuple(cores)
    node_of = {cpu: node.node_id for node in nodes for cpu in node.cpus}
    for core in cores:
        spanned = sorted({node_of[cpu] for cpu in core.cpus if cpu in node_of})
        if len(spanned) > 1:  # placement pins a guest core's threads to one host core, in one node
            raise InputError(
                f"CPUs {format_cpulist(core.cpus)} are SMT siblings (one core) but lie on nodes "
                f"{format_cpulist(spanned)}: a core belongs to one node",
                source=source,
            )
    try:
        return HostTopology(nodes=nodes, distances=np.asarray(distances, dtype=np.int64), cores=cores)
    except (ValueError, OverflowError) as exc:
        raise InputError(str(exc), source=source) from None


class Lines:
    """The non-blank lines of one input, a read position, and errors that name the line."""

    def __init__(self, text: str, source: str):
        self.items = numbered_lines(text)
        self.end = end_line(text)
        self.source = source
        self.position = 0

    def done(self) -> bool:
        return self.position >= len(self.items)

    def peek(self) -> str:
        return self.items[self.position][1]

    def number(self) -> int:
        """The current line's number, or the one past the end once everything is read."""
        return self.items[self.position][0] if self.position < len(self.items) else self.end

    def error(self, message: str, line: int | None = None) -> InputError:
        return InputError(message, source=self.source, where=f"line {self.number() if line is None else line}")
