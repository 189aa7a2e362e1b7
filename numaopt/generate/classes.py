"""What a generated layout exercises: its classes, computed from the layout itself.

Distance classes come from ``numaopt.distances.check_batch`` (levels and topology type
as Linux computes them among CPU nodes, symmetry, the triangle inequality on d and on
d - 10) plus the hop diameter below; node classes from the CPU and memory of each node
and the -smp shape.

Hop diameter: with e = d - 10, a pair of CPU nodes (i, j) is *split* by a CPU node k when
e(i,k) + e(k,j) <= e(i,j) with both parts shorter than e(i,j); unsplit pairs are links.
The diameter is the longest shortest path, in links, between two CPU nodes: 1 for a
flat matrix, 2 for a socket hierarchy (10/16/22), 3 for the chain 10/20/30/40 that
Linux before 5.13 mishandled ("groups don't span domain->span").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE, RECLAIM_DISTANCE, BatchChecks, TopologyType, check_batch

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
_CHUNK_ENTRIES = 1 << 22  # work arrays are cut to about 32 MiB


def hop_diameter(matrices: npt.ArrayLike, cpu_mask: npt.ArrayLike | None = None) -> IntArray:
    """Hop diameter among CPU nodes per matrix (0 with fewer than two CPU nodes)."""
    batch = np.asarray(matrices, dtype=np.int64)
    if batch.ndim == 2:
        batch = batch[None]
    b, n, _ = batch.shape
    mask = np.ones((b, n), dtype=bool) if cpu_mask is None else np.broadcast_to(np.asarray(cpu_mask, dtype=bool), (b, n))
    out = np.zeros(b, dtype=np.int64)
    step = max(1, _CHUNK_ENTRIES // max(1, n**3))
    for start in range(0, b, step):
        out[start : start + step] = _hop_diameter(batch[start : start + step], mask[start : start + step])
    return out


def _split_pairs(e: IntArray, mask: BoolArray) -> BoolArray:
    """split[b, i, j]: some CPU node k (not i or j) has e(i,k) + e(k,j) <= e(i,j), both parts shorter.

    With every remote e >= 1 the parts are shorter whenever the sum fits, so a min-plus
    product (a loop over k, vectorised over the batch and pairs) decides it; matrices
    with a remote 0 (d = 10, qemu target) take the exact (b, n, n, n) form.
    """
    b, n, _ = e.shape
    big = np.iinfo(np.int64).max // 4
    eye = np.eye(n, dtype=bool)
    zero = np.any((e <= 0) & ~eye[None], axis=(1, 2))
    split = np.zeros((b, n, n), dtype=bool)
    easy = np.flatnonzero(~zero)
    if easy.size:
        ee = e[easy]
        best = np.full(ee.shape, big, dtype=np.int64)
        for k in range(n):
            through = ee[:, :, k, None] + ee[:, None, k, :]
            through[:, k, :] = big
            through[:, :, k] = big
            through[~mask[easy, k]] = big
            np.minimum(best, through, out=best)
        split[easy] = best <= ee
    hard = np.flatnonzero(zero)
    if hard.size:
        eh = e[hard]
        via = eh[:, :, :, None] + eh[:, None, :, :]  # via[b, i, k, j] = e(i,k) + e(k,j)
        target = eh[:, :, None, :]
        shorter = (eh[:, :, :, None] < target) & (eh[:, None, :, :] < target)
        cut = (via <= target) & shorter & mask[hard][:, None, :, None]
        idx = np.arange(n)
        cut[:, idx, idx, :] = False
        cut[:, :, idx, idx] = False
        split[hard] = cut.any(axis=2)
    return split


def _hop_diameter(batch: IntArray, mask: BoolArray) -> IntArray:
    b, n, _ = batch.shape
    if n < 2:
        return np.zeros(b, dtype=np.int64)
    e = batch - LOCAL_DISTANCE
    eye = np.eye(n, dtype=bool)
    pair = mask[:, :, None] & mask[:, None, :] & ~eye[None]
    link = pair & ~_split_pairs(e, mask)
    reach = link.copy()
    hops = np.where(link, 1, 0)
    step = link.astype(np.float64)  # float matmul goes to BLAS; counts stay exact
    frontier = reach
    level = 1
    while True:
        level += 1
        grown = (np.matmul(frontier.astype(np.float64), step) > 0) & pair & ~reach
        if not grown.any():
            break
        hops = np.where(grown, level, hops)
        reach |= grown
        frontier = grown
    longest: IntArray = np.where(pair, hops, 0).reshape(b, -1).max(axis=1)
    return longest


def socket_class(cpus: list[int], shape: tuple[int, int, int, int], virt: bool = False) -> str:
    """whole / package-split / llc-split / core-split, from vCPUs per node and the -smp shape;
    on virt (``shape[1]`` is clusters) whole / socket-split / cluster-split / core-split.

    Nodes hold consecutive vCPUs, so a block of vCPUs (core, die, socket) spans nodes
    exactly when a node boundary falls inside it.
    """
    _, dies, cores, threads = shape
    bounds = []
    total = 0
    for count in cpus[:-1]:
        total += count
        if count:
            bounds.append(total)
    bounds = [b for b in bounds if b < sum(cpus)]

    def spans(block: int) -> bool:
        return any(b % block for b in bounds)

    if threads > 1 and spans(threads):
        return "core-split"
    if virt:
        if dies > 1 and spans(cores * threads):
            return "cluster-split"
        return "socket-split" if spans(dies * cores * threads) else "whole"
    if spans(cores * threads):
        return "llc-split"
    if spans(dies * cores * threads):
        return "package-split"
    return "whole"


def distance_classes(matrices: IntArray, cpu_mask: BoolArray, checks: BatchChecks | None = None) -> list[dict[str, Any]]:
    """Distance classes of (b, n, n) effective matrices with (b, n) CPU masks."""
    if checks is None:
        checks = check_batch(matrices, cpu_mask)
    diameters = hop_diameter(matrices, cpu_mask)
    b, n, _ = matrices.shape
    off = ~np.eye(n, dtype=bool)
    pair = cpu_mask[:, :, None] & cpu_mask[:, None, :] & off[None]
    near = np.any(pair & (matrices <= RECLAIM_DISTANCE), axis=(1, 2))
    far = np.any(pair & (matrices > RECLAIM_DISTANCE), axis=(1, 2))
    remote = matrices[:, off] if n > 1 else np.zeros((b, 0), dtype=np.int64)
    types = list(TopologyType)
    out = []
    for i in range(b):
        if checks.metric_excess[i]:
            triangle = "metric"
        elif checks.metric[i]:
            triangle = "excess"  # holds on d, fails on d - 10
        else:
            triangle = "raw"
        values = set(remote[i].tolist())
        out.append(
            {
                "levels": int(checks.levels[i]),
                "topology": types[int(checks.topology_type[i])].value,
                "symmetric": bool(checks.asymmetric_pairs[i] == 0),
                "triangle": triangle,
                "diameter": int(diameters[i]),
                "reclaim": "both" if near[i] and far[i] else ("above-30" if far[i] else ("up-to-30" if near[i] else "none")),
                "edge_values": sorted(v for v in values if v in (LOCAL_DISTANCE, 11, 254, 255)),
            }
        )
    return out
