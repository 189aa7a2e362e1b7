"""Shrink a failing layout while the same oracle still fails.

Greedy and deterministic, in the spirit of delta debugging: each pass tries candidates
from the biggest simplification down — drop a node, halve then trim every node's vCPUs,
one thread per core, symmetric distances, fewer distinct distances, one remote distance,
no distance table, the smallest node memory — and keeps the first candidate for which
``still_fails`` holds, until a pass keeps nothing or the budget of checks is spent.
Every candidate keeps what the generator promises (nodes numbered 0..n-1 holding
consecutive vCPUs, a QEMU-valid -smp shape) and breaks no rule of the layout's rule set
that the original kept, so a shrunk layout is a fair reproducer of the same failure.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from numaopt.layout import MEMORY_GRANULE, check_layout, choose_shape
from numaopt.model import CpuShape, GuestLayout, GuestNode
from numaopt.rules import RuleSet, Severity

__all__ = ["ShrinkResult", "candidates", "shrink", "size_of"]


@dataclass(frozen=True, slots=True, eq=False)
class ShrinkResult:
    layout: GuestLayout
    checks: int  # how many candidates were tried (each a boot, for the real oracle)
    steps: tuple[str, ...] = field(default=())  # the simplifications kept, in order


def size_of(layout: GuestLayout) -> tuple[int, int, int, int, int, int]:
    """What shrinking lowers, most important first (HMAT entries and memory devices last)."""
    matrix = layout.distances
    distinct = 0 if matrix is None else len(np.unique(matrix[~np.eye(len(matrix), dtype=bool)]))
    asymmetric = 0 if matrix is None else int(np.count_nonzero(matrix != matrix.T))
    extras = int(layout.hmat) + len(layout.hmat_lb) + len(layout.hmat_cache) + layout.slots + len(layout.dimms)
    return (layout.num_nodes, layout.vcpus, layout.shape.threads, distinct + asymmetric, layout.memory_bytes, extras)


def _errors(layout: GuestLayout, rules: RuleSet) -> set[str]:
    found = check_layout(layout, RuleSet.QEMU)
    if rules is not RuleSet.QEMU:
        found += check_layout(layout, rules)
    return {f.code for f in found if f.severity is Severity.ERROR}


def _shape_for(vcpus: int, node_cpus: list[tuple[int, ...]], threads: int, per_socket: int) -> CpuShape:
    """Keep the original socket size when it still divides, else choose one that does."""
    if per_socket % threads == 0 and vcpus % per_socket == 0:
        return CpuShape(sockets=vcpus // per_socket, cores=per_socket // threads, threads=threads)
    return choose_shape(vcpus, node_cpus, threads)


def _rebuild(
    layout: GuestLayout,
    counts: list[int],
    memory: list[int],
    distances: npt.NDArray[np.int64] | None,
    threads: int | None = None,
    keep_dies: bool = True,
) -> GuestLayout | None:
    """A layout with ``counts`` consecutive vCPUs per node; None when it makes no sense."""
    vcpus = sum(counts)
    if vcpus < 1 or sum(memory) < 1 or any(c < 0 for c in counts):
        return None
    threads = threads or layout.shape.threads
    if any(c % threads for c in counts):
        return None
    node_cpus: list[tuple[int, ...]] = []
    start = 0
    for count in counts:
        node_cpus.append(tuple(range(start, start + count)))
        start += count
    old = layout.shape
    if keep_dies and (old.dies > 1 or old.clusters > 1) and threads == old.threads and vcpus % old.cpus_per_socket == 0:
        # dies on x86 and clusters on virt are kept while the socket size still divides: a
        # failure may need them (a candidate that splits one breaks a rule and is dropped)
        shape = CpuShape(sockets=vcpus // old.cpus_per_socket, dies=old.dies, clusters=old.clusters, cores=old.cores,
                         threads=old.threads)
    else:
        per_socket = old.cores * old.threads * old.dies
        shape = _shape_for(vcpus, node_cpus, threads, per_socket)
    nodes = tuple(
        GuestNode(node_id=i, cpus=cpus, memory_bytes=size) for i, (cpus, size) in enumerate(zip(node_cpus, memory, strict=True))
    )
    if any(not n.cpus and not n.memory_bytes for n in nodes):
        return None
    return GuestLayout(
        vcpus=vcpus,
        memory_bytes=sum(memory),
        nodes=nodes,
        shape=shape,
        distances=distances,
        machine=layout.machine,
        backend=layout.backend,
        rules=layout.rules,
    )


def candidates(layout: GuestLayout) -> Iterator[tuple[str, GuestLayout]]:
    """Simpler layouts than ``layout``, biggest simplification first (may repeat shapes).

    HMAT and the DIMMs go first, each on its own step (two boots at most, and a failure
    that needs neither shrinks without them). After that, a candidate with the same nodes
    keeps the layout's HMAT and memory devices (a failure may need them), and one with
    fewer nodes has neither."""
    yield from _memory_steps(layout)
    for step, candidate in _structural(layout):
        if candidate.num_nodes == layout.num_nodes:
            candidate = _with_memory_extras(candidate, layout)
        yield step, candidate


def _memory_steps(layout: GuestLayout) -> Iterator[tuple[str, GuestLayout]]:
    if layout.hmat:
        yield "no HMAT", _with_memory_extras(_without_hmat(layout), layout, hmat=False)
        if layout.hmat_cache:
            yield "no memory-side caches", dataclasses.replace(layout, hmat_cache=())
    if layout.slots or layout.dimms:
        yield "no DIMMs or slots", dataclasses.replace(layout, maxmem_bytes=None, slots=0, dimms=())


def _without_hmat(layout: GuestLayout) -> GuestLayout:
    nodes = tuple(dataclasses.replace(node, initiator=None) for node in layout.nodes)
    return dataclasses.replace(layout, nodes=nodes, hmat=False, hmat_lb=(), hmat_cache=())


def _with_memory_extras(candidate: GuestLayout, original: GuestLayout, hmat: bool = True) -> GuestLayout:
    """``candidate`` (the same node ids as ``original``) with ``original``'s initiators, HMAT
    and memory devices (the HMAT ones only with ``hmat``); a candidate that makes them
    invalid is dropped by ``shrink``'s error check."""
    if hmat and original.hmat:
        nodes = tuple(
            dataclasses.replace(node, initiator=old.initiator)
            for node, old in zip(candidate.nodes, original.nodes, strict=True)
        )
        candidate = dataclasses.replace(
            candidate, nodes=nodes, hmat=True, hmat_lb=original.hmat_lb, hmat_cache=original.hmat_cache
        )
    return dataclasses.replace(
        candidate, maxmem_bytes=original.maxmem_bytes, slots=original.slots, dimms=original.dimms
    )


def _structural(layout: GuestLayout) -> Iterator[tuple[str, GuestLayout]]:
    """Fewer nodes, fewer vCPUs, one thread per core, simpler distances, less memory."""
    counts = [len(node.cpus) for node in layout.nodes]
    memory = [node.memory_bytes for node in layout.nodes]
    matrix = layout.distances
    threads = layout.shape.threads
    n = layout.num_nodes
    # Fewer nodes.
    for k in reversed(range(n)):
        if n == 1:
            break
        keep = [i for i in range(n) if i != k]
        sub = None if matrix is None else matrix[np.ix_(keep, keep)]
        built = _rebuild(layout, [counts[i] for i in keep], [memory[i] for i in keep], sub)
        if built is not None:
            yield f"drop node {k}", built
    # Fewer vCPUs: halve every node, then one core less on one node.
    halved = [max(threads, (c // 2) // threads * threads) if c else 0 for c in counts]
    if halved != counts:
        built = _rebuild(layout, halved, memory, matrix)
        if built is not None:
            yield "halve every node's vCPUs", built
    for k in range(n):
        if counts[k] > threads:
            fewer = list(counts)
            fewer[k] -= threads
            built = _rebuild(layout, fewer, memory, matrix)
            if built is not None:
                yield f"one core less on node {k}", built
    # One thread per core.
    if threads > 1:
        built = _rebuild(layout, counts, memory, matrix, threads=1, keep_dies=False)
        if built is not None:
            yield "one thread per core", built
    # Simpler distances.
    if matrix is not None:
        off = ~np.eye(n, dtype=bool)
        if not np.array_equal(matrix, matrix.T):
            yield "symmetric distances (the smaller direction)", _replace(layout, np.minimum(matrix, matrix.T))
            yield "symmetric distances (the larger direction)", _replace(layout, np.maximum(matrix, matrix.T))
        values = sorted({int(v) for v in matrix[off]})
        for low, high in itertools.pairwise(values):
            merged = matrix.copy()
            merged[off & (matrix == high)] = low
            yield f"distance {high} -> {low}", _replace(layout, merged)
        if len(values) > 1:
            flat = matrix.copy()
            flat[off] = values[-1]
            yield f"every remote distance {values[-1]}", _replace(layout, flat)
        yield "no distance table", _replace(layout, None)
    # Less memory.
    smallest = [min(size, MEMORY_GRANULE) if size else 0 for size in memory]
    if smallest != memory:
        built = _rebuild(layout, counts, smallest, matrix)
        if built is not None:
            yield f"{MEMORY_GRANULE // (1024 * 1024)} MiB per memory node", built


def _replace(layout: GuestLayout, distances: npt.NDArray[np.int64] | None) -> GuestLayout:
    return GuestLayout(
        vcpus=layout.vcpus,
        memory_bytes=layout.memory_bytes,
        nodes=layout.nodes,
        shape=layout.shape,
        distances=distances,
        machine=layout.machine,
        backend=layout.backend,
        rules=layout.rules,
    )


def shrink(
    layout: GuestLayout,
    still_fails: Callable[[GuestLayout], bool],
    *,
    max_checks: int = 24,
) -> ShrinkResult:
    """The smallest layout found for which ``still_fails`` holds (``layout`` itself if none)."""
    allowed = _errors(layout, layout.rules)
    current = layout
    checks = 0
    steps: list[str] = []
    seen: set[str] = set()
    progress = True
    while progress and checks < max_checks:
        progress = False
        for step, candidate in candidates(current):
            if size_of(candidate) >= size_of(current):
                continue
            key = repr((size_of(candidate), [n.cpus for n in candidate.nodes], [n.memory_bytes for n in candidate.nodes],
                        None if candidate.distances is None else candidate.distances.tolist(), candidate.shape))
            if key in seen or not _errors(candidate, candidate.rules) <= allowed:
                continue
            seen.add(key)
            if checks >= max_checks:
                break
            checks += 1
            if still_fails(candidate):
                current = candidate
                steps.append(step)
                progress = True
                break
    return ShrinkResult(current, checks, tuple(steps))
