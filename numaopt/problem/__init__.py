"""Problem files (TOML) -> ``Problem``: the only place that reads TOML.

Every mistake is a ``ProblemError`` naming the file, the key path and what is valid:
``problems/x.toml: guest.nodes[2].cpus: CPU 17 is outside 0-15 (guest.vcpus = 16)``.
The format is documented in ``docs/problem-format.md``; its shape is declared once in
``problem/schema.py``, whose models give the key lists here and check every file read.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from numaopt.errors import InputError, ProblemError
from numaopt.inputs import MAX_VCPUS, read_text, shown
from numaopt.layout import MAX_NODES, complete_shape, split_cpus, split_memory
from numaopt.model import (
    BackendKind,
    GuestLayout,
    GuestNode,
    Machine,
    MemoryBackend,
    PlacementRequest,
    SharedHostRequest,
)
from numaopt.problem import schema
from numaopt.problem.schema import DISTANCE_BOUND, check_shape, cpu_list, keys
from numaopt.rules import RuleSet
from numaopt.tables import TableReader
from numaopt.units import format_cpulist, parse_size

TOP_KEYS = keys(schema.Explicit)
GUEST_KEYS = keys(schema.Guest)
SMP_KEYS = keys(schema.Smp)
NODE_KEYS = keys(schema.GuestNode)
PAIR_KEYS = keys(schema.DistancePair)
BACKEND_KEYS = keys(schema.Backend)


@dataclass(frozen=True, slots=True)
class Problem:
    """What a problem file asks for: an explicit layout, or a placement to search."""

    source: str
    layout: GuestLayout | None = None
    placement: PlacementRequest | None = None
    warnings: tuple[str, ...] = ()
    shared: SharedHostRequest | None = None  # several VMs ([[vm]] tables) on one host


def load_problem(path: str | Path) -> Problem:
    """Read and validate a problem file."""
    source = str(path)
    try:
        text = read_text(path)
    except InputError as exc:
        raise ProblemError(exc.detail, source=source) from None
    return parse_problem(text, source, Path(path).parent)


def parse_problem(text: str, source: str = "<problem>", base_dir: Path | None = None) -> Problem:
    """A problem from TOML text; host files it names are found relative to ``base_dir``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ProblemError(f"invalid TOML: {exc}", source=source) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ProblemError("invalid TOML: arrays or tables nested too deeply", source=source) from None
    except ValueError:  # int() inside tomllib refuses more than 4300 digits (CVE-2020-10735)
        raise ProblemError("invalid TOML: a number with thousands of digits", source=source) from None
    if "guest" not in data and "vm" in data:
        from numaopt.problem.search import read_vms

        shared, warnings = read_vms(data, source, base_dir or Path("."))
        check_shape(data, schema.SharedHost, source)
        return Problem(source=source, shared=shared, warnings=tuple(warnings))
    if "guest" not in data and ("workload" in data or "host" in data):
        from numaopt.problem.search import read_search

        request, warnings = read_search(data, source, base_dir or Path("."))
        check_shape(data, schema.Search, source)
        return Problem(source=source, placement=request, warnings=tuple(warnings))
    top = TableReader(source, data, "", TOP_KEYS)
    guest = top.sub("guest", GUEST_KEYS)
    if guest is None:
        raise top.error(
            "missing the [guest] table (vcpus, memory, nodes, distances), or [host] and [workload] for a search", "guest"
        )
    from numaopt.problem.hmat import read_hmat
    from numaopt.problem.hotplug import read_hotplug

    layout = read_hotplug(guest, read_hmat(guest, _read_guest(guest, top)))
    check_shape(data, schema.Explicit, source)
    return Problem(source=source, layout=layout)


def _positive_int(reader: TableReader, key: str, what: str, maximum: int, required: bool = False, default: int | None = None) -> int:
    value = reader.get(key, int, what, default=default, required=required)
    if value is not None and not 1 <= value <= maximum:
        raise reader.error(f"expected {what} between 1 and {maximum}, got {value}", key)
    return value


def _read_guest(guest: TableReader, top: TableReader) -> GuestLayout:
    vcpus = _positive_int(guest, "vcpus", "a number of vCPUs", MAX_VCPUS, required=True)
    memory = guest.convert("memory", parse_size, required=True)
    if memory <= 0:
        raise guest.error("guest memory must be more than 0", "memory")
    machine_name = guest.get("machine", str, "a machine type", default="q35")
    try:
        machine = Machine(machine_name)
    except ValueError:
        valid = ", ".join(m.value for m in Machine)
        raise guest.error(f"unknown machine {shown(machine_name)} (valid: {valid})", "machine") from None
    rules_name = top.get("rules", str, "a rule set name", default=machine.default_rules.value)
    try:
        rules = RuleSet(rules_name)
    except ValueError:
        valid = ", ".join(r.value for r in RuleSet)
        raise top.error(f"unknown rule set {shown(rules_name)} (valid: {valid})", "rules") from None

    smp_given: dict[str, int] = {}
    if (smp := guest.sub("smp", SMP_KEYS)) is not None:
        for key in SMP_KEYS:
            if smp.has(key):
                smp_given[key] = _positive_int(smp, key, f"a number of {key}", MAX_VCPUS)
    backend = _read_backend(guest)

    raw_nodes = guest.get("nodes", list, "a list of node tables such as { cpus = \"0-3\", memory = \"512MiB\" }", default=[])
    if not raw_nodes:
        raise guest.error("give at least one node, e.g. nodes = [ { cpus = \"0-3\" }, { cpus = \"4-7\" } ]", "nodes")
    if len(raw_nodes) > MAX_NODES:
        raise guest.error(f"{len(raw_nodes)} nodes: QEMU allows at most {MAX_NODES}", "nodes")
    cpu_lists: list[tuple[int, ...] | None] = []
    memories: list[int | None] = []
    owner: dict[int, int] = {}
    for index, raw in enumerate(raw_nodes):
        path = guest.where(f"nodes[{index}]")
        if not isinstance(raw, dict):
            raise ProblemError(f"expected a table such as {{ cpus = \"0-3\" }}, got {shown(raw)}", source=guest.source, where=path)
        node = TableReader(guest.source, raw, path, NODE_KEYS)
        cpus = node.convert("cpus", cpu_list) if node.has("cpus") else None
        for cpu in cpus or ():
            if cpu >= vcpus:
                raise node.error(f"CPU {cpu} is outside 0-{vcpus - 1} (guest.vcpus = {vcpus})", "cpus")
            if cpu in owner:
                raise node.error(f"CPU {cpu} is already in guest.nodes[{owner[cpu]}].cpus", "cpus")
            owner[cpu] = index
        cpu_lists.append(cpus)
        memories.append(node.convert("memory", parse_size) if node.has("memory") else None)

    node_cpus = _fill_cpus(guest, vcpus, cpu_lists, owner, smp_given)
    node_memory = _fill_memory(guest, memory, memories, backend)
    shape = complete_shape(vcpus, smp_given, node_cpus)
    nodes = tuple(GuestNode(node_id=i, cpus=node_cpus[i], memory_bytes=node_memory[i]) for i in range(len(raw_nodes)))
    distances = _read_distances(guest, len(nodes))
    return GuestLayout(
        vcpus=vcpus,
        memory_bytes=memory,
        nodes=nodes,
        shape=shape,
        distances=distances,
        machine=machine,
        backend=backend,
        rules=rules,
    )


def _fill_cpus(
    guest: TableReader,
    vcpus: int,
    cpu_lists: list[tuple[int, ...] | None],
    owner: dict[int, int],
    smp_given: dict[str, int],
) -> list[tuple[int, ...]]:
    """Give nodes without ``cpus`` the unassigned vCPUs, split evenly along whole sockets."""
    free = [cpu for cpu in range(vcpus) if cpu not in owner]
    open_nodes = [i for i, cpus in enumerate(cpu_lists) if cpus is None]
    if not open_nodes:
        if free:
            raise guest.error(
                f"vCPUs {format_cpulist(free)} are in no node: list every vCPU in exactly one node "
                "(or leave a node's cpus out to share the rest)",
                "nodes",
            )
        return [cpus or () for cpus in cpu_lists]
    threads = smp_given.get("threads", 1)
    per_socket = threads * smp_given.get("cores", 1) * smp_given.get("dies", 1) * smp_given.get("clusters", 1)
    unit = per_socket if "cores" in smp_given and len(free) // per_socket >= len(open_nodes) else threads
    if len(free) < unit * len(open_nodes) or len(free) % unit:
        unit = 1
    shares = split_cpus(free, len(open_nodes), unit)
    filled = list(cpu_lists)
    for index, share in zip(open_nodes, shares, strict=True):
        filled[index] = share
    return [cpus or () for cpus in filled]


def _fill_memory(guest: TableReader, total: int, memories: list[int | None], backend: MemoryBackend) -> list[int]:
    """Split what explicit node sizes leave over among nodes without ``memory``."""
    given = sum(m for m in memories if m is not None)
    open_nodes = [i for i, m in enumerate(memories) if m is None]
    if given > total or (not open_nodes and given != total):
        raise guest.error(
            f"node memory adds up to {given} bytes but guest.memory is {total} bytes: they must be equal",
            "nodes",
        )
    page = backend.page_size_bytes or 4096
    shares = split_memory(total - given, len(open_nodes), page) if open_nodes else []
    filled = list(memories)
    for index, share in zip(open_nodes, shares, strict=True):
        filled[index] = share
    return [m or 0 for m in filled]


def _read_backend(guest: TableReader) -> MemoryBackend:
    reader = guest.sub("memory_backend", BACKEND_KEYS)
    if reader is None:
        return MemoryBackend()
    kind_name = reader.get("kind", str, "ram or file", default="ram")
    try:
        kind = BackendKind(kind_name)
    except ValueError:
        raise reader.error(f"unknown backend {shown(kind_name)} (valid: ram, file)", "kind") from None
    mem_path = reader.get("mem_path", str, "a path such as /dev/hugepages")
    if kind is BackendKind.FILE and not mem_path:
        raise reader.error("a file backend needs mem_path (e.g. /dev/hugepages)", "mem_path")
    if kind is BackendKind.RAM and mem_path:
        raise reader.error("mem_path needs kind = \"file\"", "mem_path")
    page = reader.convert("page_size", parse_size) if reader.has("page_size") else None
    if page is not None and (page <= 0 or page & (page - 1)):
        raise reader.error(f"page size must be a power of two such as 2MiB or 1GiB, got {page} bytes", "page_size")
    return MemoryBackend(
        kind=kind,
        mem_path=mem_path,
        page_size_bytes=page,
        share=reader.get("share", bool, "true or false", default=False),
        prealloc=reader.get("prealloc", bool, "true or false", default=False),
    )


def _checked_distance(reader: TableReader, key: str, value: int) -> int:
    # Distances outside 10..255 are kept so that the checks can name them, but they must fit
    # int64 arithmetic (numpy raises OverflowError for larger Python ints).
    if not -DISTANCE_BOUND < value < DISTANCE_BOUND:
        raise reader.error(f"distance {value} is out of range (valid: 10..255, 255 = unreachable)", key)
    return value


def _read_distances(guest: TableReader, n: int) -> np.ndarray | None:
    """A full matrix, or pairs (one direction given => symmetric) plus ``default_distance``."""
    default = guest.get("default_distance", int, "an integer distance such as 20")
    if default is not None:
        _checked_distance(guest, "default_distance", default)
    if not guest.has("distances"):
        if default is None:
            return None
        matrix = np.full((n, n), default, dtype=np.int64)
        np.fill_diagonal(matrix, 10)
        return matrix
    raw = guest.get("distances", list, "a matrix (list of rows) or a list of { a, b, value } pairs")
    if raw and all(isinstance(row, list) for row in raw):
        return _read_matrix(guest, raw, n, default)
    return _read_pairs(guest, raw, n, default)


def _read_matrix(guest: TableReader, raw: list[Any], n: int, default: int | None) -> np.ndarray:
    if default is not None:
        raise guest.error("default_distance only goes with distances given as pairs", "default_distance")
    if len(raw) != n or any(len(row) != n for row in raw):
        shape = f"{len(raw)} rows of lengths {sorted({len(row) for row in raw})}"
        raise guest.error(f"expected a {n}x{n} matrix (one row and column per node), got {shape}", "distances")
    for i, row in enumerate(raw):
        for j, value in enumerate(row):
            if isinstance(value, bool) or not isinstance(value, int):
                raise guest.error(f"expected an integer, got {shown(value)}", f"distances[{i}][{j}]")
            _checked_distance(guest, f"distances[{i}][{j}]", value)
    return np.array(raw, dtype=np.int64)


def _read_pairs(guest: TableReader, raw: list[Any], n: int, default: int | None) -> np.ndarray:
    given = np.zeros((n, n), dtype=np.int64)
    was_given = np.zeros((n, n), dtype=bool)
    for index, item in enumerate(raw):
        path = guest.where(f"distances[{index}]")
        if not isinstance(item, dict):
            raise ProblemError(
                f"expected {{ a = 0, b = 1, value = 15 }} or a matrix row, got {shown(item)}", source=guest.source, where=path
            )
        pair = TableReader(guest.source, item, path, PAIR_KEYS)
        a = pair.get("a", int, "a node index", required=True)
        b = pair.get("b", int, "a node index", required=True)
        value = _checked_distance(pair, "value", pair.get("value", int, "an integer distance", required=True))
        for key, node in (("a", a), ("b", b)):
            if not 0 <= node < n:
                raise pair.error(f"node {node} does not exist (nodes are 0-{n - 1})", key)
        if was_given[a, b]:
            raise pair.error(f"distance from node {a} to node {b} is given twice", "value")
        given[a, b] = value
        was_given[a, b] = True
    matrix = given.copy()
    one_way = ~was_given & was_given.T
    matrix[one_way] = given.T[one_way]  # one direction given => symmetric (QEMU does the same)
    known = was_given | was_given.T
    diagonal = np.eye(n, dtype=bool)
    matrix[diagonal & ~known] = 10
    missing = np.argwhere(~known & ~diagonal)
    if missing.size:
        if default is None:
            a, b = (int(x) for x in missing[0])
            raise guest.error(f"no distance between node {a} and node {b}: give it, or set guest.default_distance", "distances")
        matrix[~known & ~diagonal] = default
    return matrix
