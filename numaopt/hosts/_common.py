"""Shared plumbing of the host importers: reading text, line numbers, distance checks.

Every importer tolerates what people paste (CRLF, a byte-order mark, tabs, runs of
spaces, blank lines) and turns everything else into one ``InputError`` that names the
file, the line and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE, MAX_DISTANCE
from numaopt.errors import InputError
from numaopt.model import HostCore, HostNode, HostTopology

MAX_SHOWN = 60  # characters of an offending line quoted in an error


def read_text(path: str | Path) -> str:
    """The text of ``path``; any failure is an ``InputError`` naming the file.

    Plain ``os.read``: a sysfs import opens a thousand small files, and buffered file
    objects cost more than the reads.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
        try:
            chunks = []
            while chunk := os.read(fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(fd)
        data = b"".join(chunks)
    except FileNotFoundError:
        raise InputError("no such file", source=str(path)) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", source=str(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=str(path)) from None
    except ValueError:  # a NUL byte in the name
        raise InputError("not a valid file name", source=repr(str(path))) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text (byte {exc.start})", source=str(path)) from None


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


def shown(line: str) -> str:
    """A line quoted in an error, cut short when long."""
    return repr(line if len(line) <= MAX_SHOWN else line[: MAX_SHOWN - 3] + "...")


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
    keeps a ``ValueError`` from ever reaching a user as a traceback.
    """
    try:
        return HostTopology(nodes=tuple(nodes), distances=np.asarray(distances, dtype=np.int64), cores=tuple(cores))
    except ValueError as exc:
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
