"""TOML text: the one place numaopt writes TOML (host captures, generated problem files).

tomli-w writes every key, value, table and string (with its escapes). The one thing it
lays out badly is a matrix: it puts every number on a line of its own. ``dumps`` writes
the key paths named in ``matrices`` one row per line instead (``matrix_text``), at the
place tomli-w would have put them, and everything else exactly as tomli-w does.

``problem_toml`` is a layout's explicit problem file (``rules``, then ``[guest]`` with
every node's vCPUs and memory, the full matrix and the full -smp shape), which
``numaopt.problem.parse_problem`` reads back to an equal ``GuestLayout``. It is
``dumps(problem_dict(layout), matrices=PROBLEM_MATRICES)``, assembled from pieces that
tomli-w renders once and a cache keeps: a generated batch repeats them a lot, and a
whole-document tomli-w call would cost more than generating the layout.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import tomli_w

from numaopt.model import GuestLayout, Machine, MemoryBackend
from numaopt.units import format_cpulist, format_size

__all__ = ["PROBLEM_MATRICES", "comment_lines", "dumps", "matrix_text", "problem_dict", "problem_toml"]

PROBLEM_MATRICES = ("guest.distances",)
# Stands in for a matrix while tomli-w writes the rest; tomli-w writes the NUL as \u0000,
# so the quoted placeholder is a string no numaopt document holds.
_PLACEHOLDER = "\0numaopt-matrix-"
_DEFAULT_BACKEND = MemoryBackend()
# TOML 1.0 allows no control character in a comment but tab; these are the ones that do
# not end a line for str.splitlines (which makes each piece a comment line of its own).
_NOT_IN_COMMENTS = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f]")
_size = functools.lru_cache(maxsize=4096)(format_size)


def comment_lines(header: str) -> str:
    """``header`` as TOML comment lines (``#`` alone for an empty line)."""
    if _NOT_IN_COMMENTS.search(header):
        raise ValueError(f"a TOML comment cannot hold control characters: {header!r}")
    return "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())


def matrix_text(rows: Iterable[Sequence[int]]) -> str:
    """An integer matrix as a TOML array, one row per line (indented as tomli-w indents)."""
    lines = "".join(f"    [{', '.join(map(str, row))}],\n" for row in rows)
    return f"[\n{lines}]" if lines else "[]"


def dumps(document: Mapping[str, Any], *, header: str = "", matrices: Collection[str] = ()) -> str:
    """``document`` as TOML, ``header`` first as comments; each dotted key path in
    ``matrices`` that the document holds (a key of a table, not of an inline table) is
    written one row per line."""
    marked = dict(document)
    swaps: list[tuple[str, str]] = []
    for k, path in enumerate(matrices):
        *names, key = path.split(".")
        table = _copied_path(marked, names)
        if table is not None and key in table:
            placeholder = f"{_PLACEHOLDER}{k}"
            swaps.append((_quoted(placeholder), matrix_text(table[key])))
            table[key] = placeholder
    text = tomli_w.dumps(marked)
    for placeholder, matrix in swaps:
        text = text.replace(f" = {placeholder}\n", f" = {matrix}\n", 1)
    return comment_lines(header) + text


def _copied_path(document: dict[str, Any], names: list[str]) -> dict[str, Any] | None:
    """The table at ``names``, copied along the way so the caller's document is left
    alone; None if the document has no such table."""
    table = document
    for name in names:
        inner = table.get(name)
        if not isinstance(inner, Mapping):
            return None
        copy = dict(inner)
        table[name] = copy
        table = copy
    return table


def _quoted(text: str) -> str:
    """``text`` as tomli-w writes a string value."""
    return tomli_w.dumps({"k": text}).removeprefix("k = ").removesuffix("\n")


def _writable(layout: GuestLayout) -> None:
    """The explicit problem form numbers nodes by position and binds no memory."""
    if any(node.node_id != i or node.host_nodes for i, node in enumerate(layout.nodes)):
        raise ValueError("a problem file numbers nodes 0..n-1 and binds no host memory")
    if (layout.shape.clusters != 1 and layout.machine is not Machine.VIRT) or layout.backend != _DEFAULT_BACKEND:
        raise ValueError("problem_toml writes layouts with clusters on virt only and the default memory backend")


def problem_dict(layout: GuestLayout) -> dict[str, Any]:
    """The explicit problem file as plain data (``rules`` first, then ``[guest]``)."""
    _writable(layout)
    guest: dict[str, Any] = {
        "vcpus": layout.vcpus,
        "memory": format_size(layout.memory_bytes),
        "machine": layout.machine.value,
    }
    if layout.distances is not None:
        guest["distances"] = layout.distances.tolist()
    guest["nodes"] = [_node(node.cpus, node.memory_bytes) for node in layout.nodes]
    for entry, node in zip(guest["nodes"], layout.nodes, strict=True):
        if node.initiator is not None:
            entry["initiator"] = node.initiator
    if _has_hmat(layout):
        guest.update(_hmat_keys(layout))
    if _has_hotplug(layout):
        guest.update(_hotplug_keys(layout))
    shape = layout.shape
    middle, count = _middle(layout)
    guest["smp"] = {"sockets": shape.sockets, middle: count, "cores": shape.cores, "threads": shape.threads}
    return {"rules": layout.rules.value, "guest": guest}


def _has_hotplug(layout: GuestLayout) -> bool:
    return layout.maxmem_bytes is not None or bool(layout.slots) or bool(layout.dimms)


def _hotplug_keys(layout: GuestLayout) -> dict[str, Any]:
    keys: dict[str, Any] = {"slots": layout.slots}
    if layout.maxmem_bytes is not None:
        keys["maxmem"] = format_size(layout.maxmem_bytes)
    if layout.dimms:
        keys["dimms"] = [{"node": dimm.node, "size": format_size(dimm.size_bytes)} for dimm in layout.dimms]
    return keys


def _has_hmat(layout: GuestLayout) -> bool:
    return layout.hmat or bool(layout.hmat_lb) or any(node.initiator is not None for node in layout.nodes)


# HmatLb.data_type -> the problem file's key (problem/hmat.py reads them back)
_LB_KEYS = {
    "access-latency": "latency",
    "read-latency": "read_latency",
    "write-latency": "write_latency",
    "access-bandwidth": "bandwidth",
    "read-bandwidth": "read_bandwidth",
    "write-bandwidth": "write_bandwidth",
}


def _hmat_keys(layout: GuestLayout) -> dict[str, Any]:
    """``hmat``, ``hmat_lb`` (one table per value) and ``hmat_cache``, as the reader takes them."""
    keys: dict[str, Any] = {"hmat": layout.hmat}
    lbs = []
    for lb in layout.hmat_lb:
        entry: dict[str, Any] = {"initiator": lb.initiator, "target": lb.target}
        if lb.hierarchy != "memory":
            entry["hierarchy"] = lb.hierarchy
        entry[_LB_KEYS[lb.data_type]] = lb.value if lb.is_latency else format_size(lb.value)
        lbs.append(entry)
    if lbs:
        keys["hmat_lb"] = lbs
    caches = [
        {
            "node": cache.node,
            "size": format_size(cache.size_bytes),
            "level": cache.level,
            "associativity": cache.associativity,
            "policy": cache.policy,
            "line": cache.line,
        }
        for cache in layout.hmat_cache
    ]
    if caches:
        keys["hmat_cache"] = caches
    return keys


def _node(cpus: Sequence[int], memory_bytes: int) -> dict[str, Any]:
    return {"cpus": format_cpulist(cpus), "memory": format_size(memory_bytes) if memory_bytes else 0}


@functools.lru_cache(maxsize=4096)
def _head(rules: str, vcpus: int, memory: str, machine: str) -> str:
    return tomli_w.dumps({"rules": rules, "guest": {"vcpus": vcpus, "memory": memory, "machine": machine}})


@functools.lru_cache(maxsize=65536)
def _node_line(cpus: tuple[int, ...], memory_bytes: int) -> str:
    """One element of the ``nodes`` array as tomli-w lays it out (its own line, comma
    included), or "" where tomli-w would write the nodes as ``[[nodes]]`` tables."""
    lines = tomli_w.dumps({"nodes": [_node(cpus, memory_bytes)]}).splitlines(keepends=True)
    return lines[1] if lines[0] == "nodes = [\n" else ""


def _middle(layout: GuestLayout) -> tuple[str, int]:
    """The -smp level between socket and core: clusters on virt, dies on x86."""
    return ("clusters", layout.shape.clusters) if layout.machine is Machine.VIRT else ("dies", layout.shape.dies)


@functools.lru_cache(maxsize=4096)
def _smp(sockets: int, middle: str, count: int, cores: int, threads: int) -> str:
    return tomli_w.dumps({"guest": {"smp": {"sockets": sockets, middle: count, "cores": cores, "threads": threads}}})


def problem_toml(layout: GuestLayout, header: str = "") -> str:
    """``dumps(problem_dict(layout), header=header, matrices=PROBLEM_MATRICES)``, from cached pieces."""
    _writable(layout)
    lines = [_node_line(node.cpus, node.memory_bytes) for node in layout.nodes]
    if not all(lines) or _has_hmat(layout) or _has_hotplug(layout):  # rare keys: written by tomli-w whole  # a node too long for one line: tomli-w writes [[guest.nodes]] tables
        return dumps(problem_dict(layout), header=header, matrices=PROBLEM_MATRICES)
    head = _head(layout.rules.value, layout.vcpus, _size(layout.memory_bytes), layout.machine.value)
    matrix = "" if layout.distances is None else f"distances = {matrix_text(layout.distances.tolist())}\n"
    nodes = f"nodes = [\n{''.join(lines)}]\n" if lines else "nodes = []\n"
    shape = layout.shape
    return f"{comment_lines(header)}{head}{matrix}{nodes}\n{_smp(shape.sockets, *_middle(layout), shape.cores, shape.threads)}"
