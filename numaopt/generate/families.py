"""Sampled distance families, vectorised: ``g`` matrices of one family and size at a time.

Every function takes the items' ``Draws`` and returns a ``(g, n, n)`` int64 array with 10
on the diagonal and remote values in the knob's range. The graph families (ring, mesh,
chain, random-metric) are ``10 + shortest path`` over weighted edges, which satisfies
the triangle inequality on ``d - 10`` and so on ``d``; the socket families are
ultrametric. CP-SAT synthesis (``numaopt.solver.synthesis``) is not here.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE, RECLAIM_DISTANCE
from numaopt.generate.knobs import Family, Space, Symmetry, mesh_columns
from numaopt.generate.streams import Draws
from numaopt.rules import RuleSet

IntArray = npt.NDArray[np.int64]

SLOT_FAMILY_BASE = 100  # each family uses slots 100 + 16 * its position + 0..15
_BIG = 1 << 40  # "no edge" in shortest-path sums


def _slot(family: Family, offset: int) -> int:
    return SLOT_FAMILY_BASE + 16 * list(Family).index(family) + offset


def _with_diagonal(matrices: IntArray) -> IntArray:
    n = matrices.shape[1]
    matrices[:, np.arange(n), np.arange(n)] = LOCAL_DISTANCE
    return matrices


def _symmetric_from_upper(values: IntArray, n: int) -> IntArray:
    """(g, n*n) draws -> symmetric (g, n, n) using the strict upper triangle."""
    matrices = values.reshape(-1, n, n).copy()
    lower = np.tril_indices(n, -1)
    matrices[:, lower[0], lower[1]] = matrices[:, lower[1], lower[0]]
    return _with_diagonal(matrices)


def _distinct_sorted(draws: Draws, slot: int, lo: int, hi: int, count: int) -> IntArray:
    """``count`` increasing values in [lo, hi] per item (fewer distinct if the range is short)."""
    span = hi - lo + 1
    if span >= count:
        picks = np.sort(draws.integers(slot, 0, span - count, count), axis=1)
        return lo + picks + np.arange(count)[None, :]
    picks = np.sort(draws.integers(slot, 0, span - 1, count), axis=1)
    return lo + picks


def _shortest_paths(weights: IntArray) -> IntArray:
    """Floyd-Warshall over a batch: loop over the middle node, vectorised over the rest."""
    paths = weights.copy()
    n = paths.shape[1]
    paths[:, np.arange(n), np.arange(n)] = 0
    for k in range(n):
        np.minimum(paths, paths[:, :, k, None] + paths[:, None, k, :], out=paths)
    return paths


def flat(space: Space, n: int, draws: Draws) -> IntArray:
    dist = space.knobs.distance_range
    value = draws.integers(_slot(Family.FLAT, 0), dist.lo, dist.hi)[:, 0]
    matrices = np.broadcast_to(value[:, None, None], (len(draws), n, n)).copy()
    return _with_diagonal(matrices)


def _hierarchy(n: int, draws: Draws, family: Family, values: IntArray, min_socket: int) -> IntArray:
    """Nodes in sockets in boards: values[:, 0] within a socket, 1 within a board, 2 across."""
    g = len(draws)
    size = draws.integers(_slot(family, 1), min_socket, max(min_socket, n - 1))[:, 0]
    sockets = -(-n // size)
    per_board = draws.integers(_slot(family, 2), 1, sockets)[:, 0]
    node = np.arange(n)[None, :]
    socket_of = node // size[:, None]
    board_of = socket_of // per_board[:, None]
    same_socket = socket_of[:, :, None] == socket_of[:, None, :]
    same_board = board_of[:, :, None] == board_of[:, None, :]
    matrices = np.where(
        same_socket,
        values[:, 0, None, None],
        np.where(same_board, values[:, 1, None, None], values[:, 2, None, None]),
    ).astype(np.int64)
    assert matrices.shape == (g, n, n)
    return _with_diagonal(matrices)


def socket(space: Space, n: int, draws: Draws) -> IntArray:
    dist = space.knobs.distance_range
    values = _distinct_sorted(draws, _slot(Family.SOCKET, 0), dist.lo, dist.hi, 3)
    return _hierarchy(n, draws, Family.SOCKET, values, 1)


def reclaim(space: Space, n: int, draws: Draws) -> IntArray:
    """A hierarchy whose socket level is <= 30 and board level > 30 (node_reclaim_distance)."""
    dist = space.knobs.distance_range
    near = draws.integers(_slot(Family.RECLAIM, 0), dist.lo, RECLAIM_DISTANCE)[:, 0]
    far = _distinct_sorted(draws, _slot(Family.RECLAIM, 3), RECLAIM_DISTANCE + 1, dist.hi, 2)
    # Half of them sit right at the threshold: 30 and 31.
    edge = draws.uniform(_slot(Family.RECLAIM, 4))[:, 0] < 0.5
    near = np.where(edge, RECLAIM_DISTANCE, near)
    far[:, 0] = np.where(edge, RECLAIM_DISTANCE + 1, far[:, 0])
    far[:, 1] = np.maximum(far[:, 1], far[:, 0])
    values = np.stack([near, far[:, 0], far[:, 1]], axis=1)
    return _hierarchy(n, draws, Family.RECLAIM, values, 2)


def _graph(space: Space, n: int, draws: Draws, family: Family, edges: list[tuple[int, int]], hops: int) -> IntArray:
    """10 + shortest paths over ``edges``: one weight for all edges, or one per edge."""
    dist = space.knobs.distance_range
    g = len(draws)
    low = dist.lo - LOCAL_DISTANCE
    high = (dist.hi - LOCAL_DISTANCE) // hops
    uniform = draws.integers(_slot(family, 0), low, high)[:, 0]
    each = draws.integers(_slot(family, 1), low, high, len(edges))
    same = draws.uniform(_slot(family, 2))[:, 0] < 0.5
    weights = np.where(same[:, None], uniform[:, None], each)
    matrix = np.full((g, n, n), _BIG, dtype=np.int64)
    a = np.array([e[0] for e in edges])
    b = np.array([e[1] for e in edges])
    matrix[:, a, b] = weights
    matrix[:, b, a] = weights
    return _with_diagonal(_shortest_paths(matrix) + LOCAL_DISTANCE)


def ring(space: Space, n: int, draws: Draws) -> IntArray:
    return _graph(space, n, draws, Family.RING, [(i, (i + 1) % n) for i in range(n)], n // 2)


def chain(space: Space, n: int, draws: Draws) -> IntArray:
    return _graph(space, n, draws, Family.CHAIN, [(i, i + 1) for i in range(n - 1)], n - 1)


def mesh(space: Space, n: int, draws: Draws) -> IntArray:
    cols = mesh_columns(n)
    edges = [(i, i + 1) for i in range(n - 1) if (i + 1) % cols] + [(i, i + cols) for i in range(n - cols)]
    hops = (cols - 1) + (-(-n // cols) - 1)
    return _graph(space, n, draws, Family.MESH, edges, hops)


def random_metric(space: Space, n: int, draws: Draws) -> IntArray:
    """10 + shortest paths of a random weighted graph; directed (asymmetric) half the time.

    Pairs without an edge get the largest weight, so every value stays in range.
    """
    dist = space.knobs.distance_range
    g = len(draws)
    low, high = dist.lo - LOCAL_DISTANCE, dist.hi - LOCAL_DISTANCE
    density = 0.2 + 0.8 * draws.uniform(_slot(Family.RANDOM_METRIC, 0))[:, 0]
    present = draws.uniform(_slot(Family.RANDOM_METRIC, 1), n * n).reshape(g, n, n) < density[:, None, None]
    weights = np.where(present, draws.integers(_slot(Family.RANDOM_METRIC, 2), low, high, n * n).reshape(g, n, n), high)
    directed = draws.uniform(_slot(Family.RANDOM_METRIC, 3))[:, 0] < 0.5
    if space.knobs.symmetry is Symmetry.SYMMETRIC:
        directed[:] = False
    lower = np.tril_indices(n, -1)
    symmetric = weights.copy()
    symmetric[:, lower[0], lower[1]] = symmetric[:, lower[1], lower[0]]
    weights = np.where(directed[:, None, None], weights, symmetric)
    return _with_diagonal(_shortest_paths(weights) + LOCAL_DISTANCE)


def asymmetric(space: Space, n: int, draws: Draws) -> IntArray:
    """Random values; d[j][i] = d[i][j] + a skew of at most ``max_skew``; d[1][0] != d[0][1]."""
    knobs = space.knobs
    dist = knobs.distance_range
    g = len(draws)
    base = _symmetric_from_upper(draws.integers(_slot(Family.ASYMMETRIC, 0), dist.lo, dist.hi, n * n), n)
    skew = draws.integers(_slot(Family.ASYMMETRIC, 1), -knobs.max_skew, knobs.max_skew, n * n).reshape(g, n, n)
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    skewed = np.clip(base + skew, dist.lo, dist.hi)
    matrices = np.where(upper.T[None], skewed, base)  # lower triangle: the skewed transpose
    same = matrices[:, 1, 0] == matrices[:, 0, 1]
    bumped = np.where(matrices[:, 0, 1] < dist.hi, matrices[:, 0, 1] + 1, matrices[:, 0, 1] - 1)
    matrices[:, 1, 0] = np.where(same, bumped, matrices[:, 1, 0])
    return _with_diagonal(matrices)


def triangle(space: Space, n: int, draws: Draws) -> IntArray:
    """A random triple (i, j, k) with d(i,k) - 10 > (d(i,j) - 10) + (d(j,k) - 10).

    Half the items (where the range allows) also break the raw form, d(i,k) > d(i,j) +
    d(j,k), on top of random values. The other half keep the raw form everywhere: every
    value lies in a band [m, 2m], where no three values break it, and the triple gets
    d(i,k) <= d(i,j) + d(j,k) too (what real sub-NUMA hosts do: only d - 10 fails).
    """
    dist = space.knobs.distance_range
    g = len(draws)
    lo, hi = dist.lo, dist.hi
    raw = (draws.uniform(_slot(Family.TRIANGLE, 2))[:, 0] < 0.5) & (2 * lo + 1 <= hi)
    u = draws.uniform(_slot(Family.TRIANGLE, 3), 6)
    # Band of the raw-metric half: [m, min(hi, 2m)].
    m = lo + np.floor(u[:, 3] * (max(lo, hi // 2) - lo + 1)).astype(np.int64)
    band_hi = np.minimum(hi, 2 * m)
    low = np.where(raw, lo, m)
    high = np.where(raw, hi, band_hi)
    base = draws.uniform(_slot(Family.TRIANGLE, 0), n * n)
    values = low[:, None] + np.floor(base * (high - low + 1)[:, None]).astype(np.int64)
    matrices = _symmetric_from_upper(np.minimum(values, high[:, None]), n)
    order = np.argsort(draws.uniform(_slot(Family.TRIANGLE, 1), n), axis=1, kind="stable")
    i, j, k = order[:, 0], order[:, 1], order[:, 2]
    # Raw half: a, b >= lo and c >= a + b + 1. Band half: a = m + x, b = m + y with
    # x + y <= 9, and a + b - 9 <= c <= min(band top, a + b).
    slack = np.where(raw, hi - (2 * lo + 1), np.minimum(9, hi - 2 * m + 9))
    x = np.floor(u[:, 0] * (slack + 1)).astype(np.int64)
    y = np.floor(u[:, 1] * (slack - x + 1)).astype(np.int64)
    a, b = low + x, low + y
    c_low = np.where(raw, a + b + 1, np.maximum(a + b - 9, m))
    c_high = np.where(raw, hi, np.minimum(band_hi, a + b))
    c = c_low + np.floor(u[:, 2] * (c_high - c_low + 1)).astype(np.int64)
    rows = np.arange(g)
    for p, q, value in ((i, j, a), (j, k, b), (i, k, c)):
        matrices[rows, p, q] = value
        matrices[rows, q, p] = value
    return matrices


def edge(space: Space, n: int, draws: Draws) -> IntArray:
    """Every remote value one of the range's edge values: 11, 254, 255 (and 10 for qemu)."""
    values = np.asarray(space.edge_values, dtype=np.int64)
    picks = draws.integers(_slot(Family.EDGE, 0), 0, len(values) - 1, n * n)
    return _symmetric_from_upper(values[picks], n)


def remote_10(space: Space, n: int, draws: Draws) -> IntArray:
    """QEMU accepts 10 between two nodes; Linux then ignores the whole SLIT."""
    assert space.knobs.target is RuleSet.QEMU
    dist = space.knobs.distance_range
    g = len(draws)
    matrices = _symmetric_from_upper(draws.integers(_slot(Family.REMOTE_10, 0), dist.lo, dist.hi, n * n), n)
    share = draws.uniform(_slot(Family.REMOTE_10, 1))[:, 0]
    tens = _symmetric_from_upper((draws.uniform(_slot(Family.REMOTE_10, 2), n * n) < share[:, None]).astype(np.int64), n)
    tens[:, np.arange(n), np.arange(n)] = 0
    tens[:, 0, 1] = tens[:, 1, 0] = 1
    matrices = np.where(tens.astype(bool), LOCAL_DISTANCE, matrices)
    assert matrices.shape == (g, n, n)
    return matrices


SAMPLERS = {
    Family.FLAT: flat,
    Family.SOCKET: socket,
    Family.RECLAIM: reclaim,
    Family.RING: ring,
    Family.MESH: mesh,
    Family.CHAIN: chain,
    Family.RANDOM_METRIC: random_metric,
    Family.ASYMMETRIC: asymmetric,
    Family.TRIANGLE: triangle,
    Family.EDGE: edge,
    Family.REMOTE_10: remote_10,
}


def sample_matrices(family: Family, space: Space, n: int, draws: Draws) -> IntArray | None:
    """``(g, n, n)`` matrices of ``family`` (None for ``none``: no distances given)."""
    if family is Family.NONE:
        return None
    return SAMPLERS[family](space, n, draws)
