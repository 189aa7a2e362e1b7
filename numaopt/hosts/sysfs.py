"""A sysfs tree (the live ``/sys`` or a copied snapshot) -> ``HostTopology``.

Read, under ``ROOT/sys/devices/system`` (or ``ROOT/devices/system`` when ROOT is a copy
of ``/sys`` itself):

* ``node/nodeN/cpulist``, ``distance`` (one row of the SLIT, online nodes in id
  order), ``meminfo`` (``MemTotal``, ``MemFree`` in kB) and
  ``hugepages/hugepages-<size>kB/{nr_hugepages,free_hugepages}``;
* ``cpu/cpuN/topology/core_cpus_list`` (``thread_siblings_list`` on kernels before
  5.x) and ``physical_package_id`` for SMT siblings and sockets;
* ``node/nodeN/access0/initiators/`` where the kernel built an HMAT: the best initiator
  nodes (entries ``nodeM``) and ``read|write_latency`` (ns), ``read|write_bandwidth`` (MiB/s);
* ``node/nodeN/memory_side_cache/indexL/{size,line_size,indexing,write_policy}`` where the
  HMAT describes a memory-side cache in front of the node (Linux's numaperf.rst): level L,
  bytes, bytes per line, 0 direct-mapped / 1 indexed / 2 other, 0 write-back /
  1 write-through / 2 other (include/linux/node.h's enums).

Huge page sizes with no pages reserved are left out: they cannot back a guest. A
snapshot without ``cpu/`` gives a host without SMT siblings.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from numaopt.errors import InputError
from numaopt.hosts._common import bad_distance, build_host, read_text, shown
from numaopt.inputs import MAX_SYSFS_FILE_BYTES
from numaopt.model import HostCore, HostNode, HostTopology, HugePages, MemorySideCache, NodeAccess
from numaopt.units import KIB, format_cpulist, parse_cpulist

__all__ = ["read_sysfs", "system_dir", "write_sysfs_tree"]

_NODE_DIR = re.compile(r"node(\d{1,5})")
_HUGE_DIR = re.compile(r"hugepages-(\d{1,12})kB")
_CACHE_DIR = re.compile(r"index(\d{1,3})")
_MEMINFO = re.compile(r"Node (\d{1,5}) (MemTotal|MemFree): (\d{1,15}) kB")
_INT = re.compile(r"\d{1,12}")


def system_dir(root: str | Path = "/") -> Path:
    """``ROOT/sys/devices/system``, or ``ROOT/devices/system`` for a copy of /sys itself."""
    base = Path(root)
    for candidate in (base / "sys" / "devices" / "system", base / "devices" / "system"):
        if (candidate / "node").is_dir():
            return candidate
    raise InputError(
        "no sys/devices/system/node directory: expected a sysfs snapshot root (or / for this machine; "
        "a kernel without CONFIG_NUMA has no node directory)",
        source=str(root),
    )


def read_sysfs(root: str | Path = "/") -> HostTopology:
    """The host under ``root`` (default: this machine)."""
    system = system_dir(root)
    node_dir = system / "node"
    node_ids = sorted(int(m.group(1)) for name in _list(node_dir) if (m := _NODE_DIR.fullmatch(name)))
    if not node_ids:
        raise InputError("no nodeN directories: expected at least node0", source=str(node_dir))
    nodes = [_read_node(node_dir / f"node{node_id}", node_id) for node_id in node_ids]
    matrix = np.empty((len(node_ids), len(node_ids)), dtype=np.int64)
    for position, node_id in enumerate(node_ids):
        matrix[position] = _read_distance_row(node_dir / f"node{node_id}" / "distance", position, node_ids)
    owner: dict[int, int] = {}
    for node in nodes:
        for cpu in node.cpus:
            if cpu in owner:
                raise InputError(
                    f"CPU {cpu} is also in node{owner[cpu]}", source=str(node_dir / f"node{node.node_id}" / "cpulist")
                )
            owner[cpu] = node.node_id
    cores = _read_cores(system / "cpu", sorted(owner))
    return build_host(nodes, matrix, cores, str(root))


def _list(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except OSError as exc:
        raise InputError(f"cannot list: {exc.strerror or exc}", source=str(path)) from None


def _read_file(path: str | Path) -> str:
    # tar trusts sysfs's 4096-byte file size and pads what it archives with NULs.
    return read_text(path, MAX_SYSFS_FILE_BYTES).rstrip("\x00").strip()


def _read_node(path: Path, node_id: int) -> HostNode:
    cpulist = path / "cpulist"
    try:
        cpus = parse_cpulist(_read_file(cpulist))
    except ValueError as exc:
        raise InputError(str(exc), source=str(cpulist)) from None
    meminfo = path / "meminfo"
    found: dict[str, int] = {}
    for line in _read_file(meminfo).splitlines():
        match = _MEMINFO.fullmatch(" ".join(line.split()))
        if match and int(match.group(1)) == node_id:
            found[match.group(2)] = int(match.group(3)) * KIB
    if "MemTotal" not in found:
        raise InputError(f"no 'Node {node_id} MemTotal: N kB' line", source=str(meminfo))
    total, free = found["MemTotal"], found.get("MemFree")
    if free is not None and free > total:
        raise InputError(f"MemFree ({free // KIB} kB) is more than MemTotal ({total // KIB} kB)", source=str(meminfo))
    return HostNode(
        node_id=node_id,
        cpus=cpus,
        memory_bytes=total,
        free_bytes=free,
        hugepages=_read_hugepages(path / "hugepages"),
        access=_read_access(path / "access0" / "initiators"),
        caches=_read_caches(path / "memory_side_cache"),
    )


_ACCESS_FILES = ("read_latency", "write_latency", "read_bandwidth", "write_bandwidth")


def _read_access(path: Path) -> NodeAccess | None:
    """``access0/initiators/``: the best initiators (links named nodeN) and their four values;
    None where the kernel has no HMAT for the node (no such directory)."""
    if not path.is_dir():
        return None
    initiators = tuple(sorted(int(m.group(1)) for name in _list(path) if (m := _NODE_DIR.fullmatch(name))))
    values = {}
    for name in _ACCESS_FILES:
        if (path / name).is_file():
            text = _read_file(path / name)
            if not _INT.fullmatch(text):
                raise InputError(f"expected a number, got {shown(text)}", source=str(path / name))
            values[name] = int(text)
    return NodeAccess(initiators, **values)


# Linux's enum cache_indexing and enum cache_write_policy values, in QEMU's hmat-cache words.
_INDEXING = {0: "direct", 1: "complex", 2: "none"}
_WRITE_POLICY = {0: "write-back", 1: "write-through", 2: "none"}
_CACHE_FILES = ("size", "line_size", "indexing", "write_policy")


def _read_caches(path: Path) -> tuple[MemorySideCache, ...]:
    """``memory_side_cache/indexL/``, one per level; none where the directory is missing
    (no HMAT, or no cache in front of the node)."""
    if not path.is_dir():
        return ()
    caches = []
    for name in _list(path):
        match = _CACHE_DIR.fullmatch(name)
        if not match or int(match.group(1)) < 1:
            continue
        values = {}
        for file in _CACHE_FILES:
            text = _read_file(path / name / file)
            if not _INT.fullmatch(text):
                raise InputError(f"expected a number, got {shown(text)}", source=str(path / name / file))
            values[file] = int(text)
        for file, meaning in (("indexing", _INDEXING), ("write_policy", _WRITE_POLICY)):
            if values[file] not in meaning:
                valid = ", ".join(f"{number} ({word})" for number, word in meaning.items())
                raise InputError(f"expected {valid}, got {values[file]}", source=str(path / name / file))
        caches.append(
            MemorySideCache(
                level=int(match.group(1)),
                size_bytes=values["size"],
                line=values["line_size"],
                associativity=_INDEXING[values["indexing"]],
                policy=_WRITE_POLICY[values["write_policy"]],
            )
        )
    return tuple(caches)


def _read_hugepages(path: Path) -> tuple[HugePages, ...]:
    if not path.is_dir():
        return ()
    pages = []
    for name in _list(path):
        match = _HUGE_DIR.fullmatch(name)
        if not match:
            continue
        counts = []
        for file in ("nr_hugepages", "free_hugepages"):
            text = _read_file(path / name / file)
            if not _INT.fullmatch(text):
                raise InputError(f"expected a number of pages, got {shown(text)}", source=str(path / name / file))
            counts.append(int(text))
        total, free = counts
        if free > total:
            raise InputError(f"free_hugepages ({free}) is more than nr_hugepages ({total})", source=str(path / name))
        if total:
            pages.append(HugePages(page_size_bytes=int(match.group(1)) * KIB, total=total, free=free))
    return tuple(pages)


def _read_distance_row(path: Path, position: int, node_ids: list[int]) -> list[int]:
    tokens = _read_file(path).split()
    if len(tokens) != len(node_ids) or not all(_INT.fullmatch(token) for token in tokens):
        raise InputError(
            f"expected {len(node_ids)} distances (one per node: {' '.join(map(str, node_ids))}), got {shown(' '.join(tokens))}",
            source=str(path),
        )
    row = [int(token) for token in tokens]
    problem = bad_distance(row, position, node_ids)
    if problem is not None:
        raise InputError(problem, source=str(path))
    return row


def _read_cores(cpu_dir: Path, cpus: list[int]) -> list[HostCore]:
    """SMT siblings and package of every CPU; none at all when the snapshot has no cpu/.

    Reads one sibling list and one package id per core (plain string paths: pathlib's
    overhead is a third of the time on a 1024-CPU host).
    """
    if not cpu_dir.is_dir() or not cpus:
        return []
    # core_cpus_list arrived in Linux 5.x; older kernels have only thread_siblings_list.
    name = (
        "core_cpus_list"
        if (cpu_dir / f"cpu{cpus[0]}" / "topology" / "core_cpus_list").exists()
        else "thread_siblings_list"
    )
    known = set(cpus)
    cores: list[HostCore] = []
    done: dict[int, str] = {}
    for cpu in cpus:
        if cpu in done:
            continue
        topology = f"{cpu_dir}/cpu{cpu}/topology"
        siblings_file = f"{topology}/{name}"
        try:
            siblings = parse_cpulist(_read_file(siblings_file))
        except ValueError as exc:
            raise InputError(str(exc), source=siblings_file) from None
        if cpu not in siblings:
            raise InputError(
                f"CPU {cpu} is not among its own siblings ({format_cpulist(siblings)})", source=siblings_file
            )
        siblings = tuple(sibling for sibling in siblings if sibling in known)  # offline siblings are in no node
        package_file = f"{topology}/physical_package_id"
        package = _read_file(package_file)
        if not re.fullmatch(r"-?\d{1,6}", package):
            raise InputError(f"expected a package number, got {shown(package)}", source=package_file)
        for sibling in siblings:
            if sibling in done:
                raise InputError(
                    f"CPU {sibling} is a sibling of CPU {cpu} here but not in {done[sibling]}", source=siblings_file
                )
            done[sibling] = siblings_file
        cores.append(HostCore(socket=max(int(package), 0), cpus=siblings))
    return cores


def write_sysfs_tree(host: HostTopology, root: Path) -> None:
    """Lay out the files ``read_sysfs`` reads, for ``host``, under ``root/sys/devices/system``.

    For tests and benchmarks: a snapshot that reads back as ``host`` (sizes are written in
    kB, so they must be whole KiB). Without cores, no ``cpu/`` directory is written.
    """
    system = root / "sys" / "devices" / "system"
    for position, node in enumerate(host.nodes):
        path = system / "node" / f"node{node.node_id}"
        path.mkdir(parents=True, exist_ok=True)
        (path / "cpulist").write_text(format_cpulist(node.cpus) + "\n")
        (path / "distance").write_text(" ".join(str(v) for v in host.distances[position].tolist()) + "\n")
        lines = [f"Node {node.node_id} MemTotal:       {node.memory_bytes // KIB:8d} kB"]
        if node.free_bytes is not None:
            lines.append(f"Node {node.node_id} MemFree:        {node.free_bytes // KIB:8d} kB")
        lines.append(f"Node {node.node_id} HugePages_Total: {0:5d}")
        (path / "meminfo").write_text("\n".join(lines) + "\n")
        if node.access is not None:
            _write_access(path / "access0" / "initiators", node.access)
        for cache in node.caches:
            _write_cache(path / "memory_side_cache" / f"index{cache.level}", cache)
        for pages in node.hugepages:
            huge = path / "hugepages" / f"hugepages-{pages.page_size_bytes // KIB}kB"
            huge.mkdir(parents=True, exist_ok=True)
            (huge / "nr_hugepages").write_text(f"{pages.total}\n")
            (huge / "free_hugepages").write_text(f"{pages.free}\n")
    for core in host.cores:
        siblings = format_cpulist(core.cpus) + "\n"
        for cpu in core.cpus:
            topology = system / "cpu" / f"cpu{cpu}" / "topology"
            topology.mkdir(parents=True, exist_ok=True)
            (topology / "core_cpus_list").write_text(siblings)
            (topology / "thread_siblings_list").write_text(siblings)
            (topology / "physical_package_id").write_text(f"{core.socket}\n")


def _write_access(path: Path, access: NodeAccess) -> None:
    path.mkdir(parents=True, exist_ok=True)
    for initiator in access.initiators:
        (path / f"node{initiator}").mkdir(exist_ok=True)  # a symlink in sysfs; only its name is read
    for name in _ACCESS_FILES:
        (path / name).write_text(f"{getattr(access, name)}\n")


def _write_cache(path: Path, cache: MemorySideCache) -> None:
    path.mkdir(parents=True, exist_ok=True)
    indexing = {word: number for number, word in _INDEXING.items()}[cache.associativity]
    policy = {word: number for number, word in _WRITE_POLICY.items()}[cache.policy]
    for name, value in (
        ("size", cache.size_bytes),
        ("line_size", cache.line),
        ("indexing", indexing),
        ("write_policy", policy),
    ):
        (path / name).write_text(f"{value}\n")
