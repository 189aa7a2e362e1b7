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


def size_of(layout: GuestLayout) -> tuple[int, int, int, int, int]:
    """What shrinking lowers, most important first."""
    matrix = layout.distances
    distinct = 0 if matrix is None else len(np.unique(matrix[~np.eye(len(matrix), dtype=bool)]))
    asymmetric = 0 if matrix is None else int(np.count_nonzero(matrix != matrix.T))
    return (layout.num_nodes, layout.vcpus, layout.shape.threads, distinct + asymmetric, layout.memory_bytes)


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
    """Simpler layouts than ``layout``, biggest simplification first (may repeat shapes)."""
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
