"""Canonical forms of layouts under node renumbering, for dedup.

A layout is seen as a complete directed graph whose edge colours are the distances (and
which nodes share a socket, die or core) and whose vertex colours are the node attributes
(vCPUs, memory). Two layouts are equal up to renumbering exactly when their canonical
certificates are equal: a certificate is the matrix and attributes relabelled by an
order that depends only on the layout's structure.

The order comes from colour refinement (1-dimensional Weisfeiler-Leman: a node's colour
becomes its old colour plus the sorted multiset of (edge colours, neighbour colour)),
and where refinement leaves ties, from individualisation-refinement as in nauty: try
each node of the first non-singleton cell, refine, recurse, and keep the smallest
certificate over the leaves. Automorphisms found on the way (two leaves with the same
certificate) prune children in the same orbit and cut back to where the equal leaves'
paths part, so flat, ring, mesh and socket matrices with 64 nodes cost a few dozen
refinements, not 64! orders.

``canonical_keys`` is the batch entry: one vectorised refinement round settles most
sampled matrices (all node signatures distinct); only ties go to the search.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]


def _rank_rows(rows: IntArray) -> IntArray:
    """Dense rank of each row in lexicographic order (equal rows share a rank)."""
    order = np.lexsort(rows.T[::-1])
    ranks = np.empty(rows.shape[0], dtype=np.int64)
    sorted_rows = rows[order]
    new = np.ones(rows.shape[0], dtype=bool)
    new[1:] = np.any(sorted_rows[1:] != sorted_rows[:-1], axis=1)
    ranks[order] = np.cumsum(new) - 1
    return ranks


def refine(edges: IntArray, colours: IntArray) -> IntArray:
    """The coarsest equitable refinement of ``colours`` (dense ranks, label-invariant)."""
    n = edges.shape[0]
    if n <= 1:
        return np.zeros(n, dtype=np.int64)
    scale = int(edges.max()) + 1
    pair = (edges * scale + edges.T) * n  # colour of (v -> u) and (u -> v)
    off = ~np.eye(n, dtype=bool)
    count = int(colours.max()) + 1
    while True:
        keys = np.where(off, pair + colours[None, :], -1)
        keys.sort(axis=1)
        new = _rank_rows(np.concatenate([colours[:, None], keys], axis=1))
        new_count = int(new.max()) + 1
        if new_count == count:
            return new
        colours, count = new, new_count


def _twin_cells(edges: IntArray, colours: IntArray) -> npt.NDArray[np.bool_]:
    """Per cell: whether its blocks with every cell (itself included, diagonal aside) are constant.

    The vertices of such a cell are twins: permuting them alone is an automorphism, now
    and after any further refinement, so the search never needs to branch on them.
    """
    n = edges.shape[0]
    count = int(colours.max()) + 1
    off = ~np.eye(n, dtype=bool)
    cell_pair = (colours[:, None] * count + colours[None, :])[off]
    values = edges[off]
    low = np.full(count * count, np.iinfo(np.int64).max, dtype=np.int64)
    high = np.full(count * count, np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(low, cell_pair, values)
    np.maximum.at(high, cell_pair, values)
    varied = (high > low).reshape(count, count)
    varied_cells = np.logical_or(varied.any(axis=1), varied.any(axis=0))
    return np.logical_not(varied_cells)


def _individualise(colours: IntArray, vertex: int) -> IntArray:
    twice = colours * 2 + 1
    twice[vertex] -= 1  # the chosen vertex goes first in its cell
    return _rank_rows(twice[:, None])


def _certificate(edges: IntArray, attrs: IntArray, order: IntArray) -> bytes:
    relabelled = edges[np.ix_(order, order)]
    return attrs[order].astype(">i8").tobytes() + relabelled.astype(">i4").tobytes()


def _orbit_labels(n: int, generators: list[IntArray]) -> IntArray:
    """The smallest vertex of each vertex's orbit under ``generators`` (label propagation)."""
    labels = np.arange(n)
    if not generators:
        return labels
    perms = np.stack(generators)
    while True:
        pulled = np.minimum(labels, labels[perms].min(axis=0))
        pushed = pulled.copy()
        np.minimum.at(pushed, perms.ravel(), np.tile(pulled, perms.shape[0]))
        if np.array_equal(pushed, labels):
            return labels
        labels = pushed


@dataclass
class _Search:
    edges: IntArray
    attrs: IntArray
    best: bytes | None = None
    best_order: IntArray | None = None
    best_path: tuple[int, ...] = ()
    first: bytes | None = None
    first_order: IntArray | None = None
    first_path: tuple[int, ...] = ()
    generators: list[IntArray] = field(default_factory=list)
    leaves: int = 0

    def _automorphism(self, order_a: IntArray, order_b: IntArray) -> IntArray:
        gamma = np.empty_like(order_a)
        gamma[order_a] = order_b  # position p of leaf a maps to position p of leaf b
        return gamma

    def visit(self, colours: IntArray, path: tuple[int, ...]) -> int | None:
        """Explore below ``path``; returns a level to cut back to, or None."""
        n = colours.shape[0]
        count = int(colours.max()) + 1
        if count == n:
            return self._leaf(colours, path)
        sizes = np.bincount(colours, minlength=count)
        open_cells = np.flatnonzero((sizes > 1) & ~_twin_cells(self.edges, colours))
        if open_cells.size == 0:
            return self._leaf(colours, path)  # any order inside twin cells gives the same certificate
        target = int(open_cells[0])  # the first such cell: a position, so invariant
        cell = np.flatnonzero(colours == target).tolist()
        explored: list[int] = []
        known = 0  # generators already folded into ``labels``
        labels = np.arange(n)
        fixed = np.asarray(path, dtype=np.int64)
        for vertex in cell:
            if explored and len(self.generators) > known:
                fixing = [g for g in self.generators if np.array_equal(g[fixed], fixed)]
                known = len(self.generators)
                labels = _orbit_labels(n, fixing)
            if explored and labels[vertex] in {int(labels[e]) for e in explored}:
                continue
            cut = self.visit(refine(self.edges, _individualise(colours, vertex)), (*path, vertex))
            explored.append(vertex)
            if cut is not None and cut < len(path):
                return cut
        return None

    def _leaf(self, colours: IntArray, path: tuple[int, ...]) -> int | None:
        self.leaves += 1
        order = np.argsort(colours, kind="stable")
        cert = _certificate(self.edges, self.attrs, order)
        if self.first is None:
            self.first, self.first_order, self.first_path = cert, order, path
            self.best, self.best_order, self.best_path = cert, order, path
            return None
        for known, known_order, known_path in (
            (self.first, self.first_order, self.first_path),
            (self.best, self.best_order, self.best_path),
        ):
            if cert == known and known_order is not None:
                self.generators.append(self._automorphism(known_order, order))
                common = 0
                while common < min(len(path), len(known_path)) and path[common] == known_path[common]:
                    common += 1
                return common
        assert self.best is not None
        if cert < self.best:
            self.best, self.best_order, self.best_path = cert, order, path
        return None


def canonical_certificate(
    edges: npt.ArrayLike, attrs: npt.ArrayLike, *, refined: npt.ArrayLike | None = None
) -> tuple[bytes, IntArray]:
    """The canonical certificate of one edge-coloured graph, and the order that gives it.

    ``edges`` is (n, n) integer colours (its diagonal included); ``attrs`` (n,) or (n, k)
    integer node colours. Equal certificates <=> the inputs are equal up to renumbering.
    ``refined`` skips the first refinement: the dense colours it gives (``canonical_keys``
    computes them for a whole batch).
    """
    e = np.asarray(edges, dtype=np.int64)
    a = np.asarray(attrs, dtype=np.int64)
    if a.ndim == 1:
        a = a[:, None]
    n = e.shape[0]
    if n == 0:
        return b"", np.zeros(0, dtype=np.int64)
    if refined is None:
        start = _rank_rows(np.concatenate([a, np.diagonal(e)[:, None]], axis=1))
        colours = refine(e, start)
    else:
        colours = np.asarray(refined, dtype=np.int64)
    search = _Search(e, a)
    search.visit(colours, ())
    assert search.best is not None and search.best_order is not None
    return search.best, search.best_order


def digest(certificate: bytes, extra: bytes = b"") -> str:
    """A 128-bit hex fingerprint of a certificate (and of global attributes)."""
    return hashlib.blake2b(extra + b"|" + certificate, digest_size=16).hexdigest()


def _batch_refine(e: IntArray, a: IntArray) -> IntArray:
    """Colour refinement of a whole batch at once, ranks shared across the batch.

    A node's colour is compared only with nodes of its own item, and every encoding
    below is monotone, so each item ends with the same ordered partition ``refine``
    gives it alone.
    """
    b, n, _ = e.shape
    start = np.concatenate([a, np.diagonal(e, axis1=1, axis2=2)[:, :, None]], axis=2).reshape(b * n, -1)
    colours = _rank_rows(start).reshape(b, n)
    scale = int(e.max()) + 1
    pair = e * scale + e.transpose(0, 2, 1)
    off = ~np.eye(n, dtype=bool)

    def distinct(c: IntArray) -> IntArray:
        ordered = np.sort(c, axis=1)
        changes: IntArray = np.count_nonzero(np.diff(ordered, axis=1), axis=1)
        return changes + 1

    count = distinct(colours)
    while True:
        keys = np.where(off[None], pair * (b * n) + colours[:, None, :], -1)
        keys.sort(axis=2)
        rows = np.concatenate([colours[:, :, None], keys], axis=2).reshape(b * n, -1)
        new = _rank_rows(rows).reshape(b, n)
        new_count = distinct(new)
        if np.array_equal(new_count, count):
            return colours
        colours, count = new, new_count


def _all_twins(e: IntArray, colours: IntArray) -> npt.NDArray[np.bool_]:
    """Per item: whether every block between two cells (diagonal aside) holds one value."""
    b, n, _ = e.shape
    off = ~np.eye(n, dtype=bool)
    cell_pair = (colours[:, :, None] * (b * n) + colours[:, None, :])[:, off]  # (b, n*(n-1))
    values = e[:, off]
    if values.shape[1] == 0:
        return np.ones(b, dtype=bool)
    scale = int(values.max()) - int(values.min()) + 1
    order = np.argsort(cell_pair * scale + (values - values.min()), axis=1, kind="stable")
    pairs = np.take_along_axis(cell_pair, order, axis=1)
    vals = np.take_along_axis(values, order, axis=1)
    clash = (pairs[:, 1:] == pairs[:, :-1]) & (vals[:, 1:] != vals[:, :-1])
    fine: npt.NDArray[np.bool_] = ~np.any(clash, axis=1)
    return fine


def canonical_keys(edges: npt.ArrayLike, attrs: npt.ArrayLike, extras: list[bytes] | None = None) -> list[str]:
    """Fingerprints of canonical certificates for a batch: ``edges`` (b, n, n), ``attrs`` (b, n, k).

    Colour refinement runs vectorised over the whole batch; an item whose nodes then all
    have distinct colours is canonically ordered by them. Items left with ties take the
    individualisation search of ``canonical_certificate``. Both certificates are
    relabellings of the item, so equal fingerprints mean equal layouts up to
    renumbering either way (and which way an item goes is itself invariant).
    """
    e = np.asarray(edges, dtype=np.int64)
    a = np.asarray(attrs, dtype=np.int64)
    if a.ndim == 2:
        a = a[:, :, None]
    b, n, _ = e.shape
    tags = extras if extras is not None else [b""] * b
    if n == 0 or b == 0:
        return [digest(b"", tag) for tag in tags]
    colours = _batch_refine(e, a)
    node_order = np.argsort(colours, axis=1, kind="stable")
    ordered = np.take_along_axis(colours, node_order, axis=1)
    ties = np.any(ordered[:, 1:] == ordered[:, :-1], axis=1) if n > 1 else np.zeros(b, dtype=bool)
    # Certificates of the discrete items at once: relabel, then slice one buffer.
    relabelled = e[np.arange(b)[:, None, None], node_order[:, :, None], node_order[:, None, :]].astype(">i4")
    attr_sorted = a[np.arange(b)[:, None], node_order].astype(">i8")
    matrix_bytes = relabelled.tobytes()
    attr_bytes = attr_sorted.tobytes()
    m_len = n * n * 4
    a_len = attr_sorted.shape[1] * attr_sorted.shape[2] * 8
    twins = _all_twins(e, colours) & ties
    result = []
    for i in range(b):
        if twins[i]:
            # Every cell is a twin cell: the search's only leaf is this order (see _Search.visit).
            cert = attr_bytes[i * a_len : (i + 1) * a_len] + matrix_bytes[i * m_len : (i + 1) * m_len]
            result.append(digest(b"S" + cert, tags[i]))
        elif ties[i]:
            dense = np.unique(colours[i], return_inverse=True)[1].reshape(-1).astype(np.int64)
            cert, _ = canonical_certificate(e[i], a[i], refined=dense)
            result.append(digest(b"S" + cert, tags[i]))
        else:
            cert = attr_bytes[i * a_len : (i + 1) * a_len] + matrix_bytes[i * m_len : (i + 1) * m_len]
            result.append(digest(b"F" + cert, tags[i]))
    return result
