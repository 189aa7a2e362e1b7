"""Canonical forms for dedup: exact under renumbering, checked against brute force."""

from __future__ import annotations

import itertools
import time

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from numaopt.generate import canonical_certificate, canonical_keys
from numaopt.generate.canonical import digest


def relabel(edges: np.ndarray, attrs: np.ndarray, order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return edges[np.ix_(order, order)], attrs[order]


def brute(edges: np.ndarray, attrs: np.ndarray) -> bytes:
    """The smallest relabelling over every order: the canonical form by definition."""
    n = len(edges)
    return min(attrs[list(p)].tobytes() + edges[np.ix_(p, p)].tobytes() for p in itertools.permutations(range(n)))


@st.composite
def small_layouts(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 6))
    values = draw(st.lists(st.integers(11, 13), min_size=n * n, max_size=n * n))
    edges = np.array(values, dtype=np.int64).reshape(n, n)
    if draw(st.booleans()):
        edges = np.minimum(edges, edges.T)
    np.fill_diagonal(edges, 10)
    attrs = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)), dtype=np.int64)
    return edges, attrs


@given(first=small_layouts(), second=small_layouts(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=200, deadline=None)
def test_equal_certificates_exactly_when_equal_up_to_renumbering(first, second, seed) -> None:  # type: ignore[no-untyped-def]
    (e1, a1), (e2, a2) = first, second
    c1, order1 = canonical_certificate(e1, a1)
    c2, _ = canonical_certificate(e2, a2)
    if len(e1) == len(e2):
        assert (c1 == c2) == (brute(e1, a1) == brute(e2, a2))
    # A renumbered copy has the same certificate, and the order reproduces it.
    perm = np.random.default_rng(seed).permutation(len(e1))
    assert canonical_certificate(*relabel(e1, a1, perm))[0] == c1
    relabelled, attrs = relabel(e1, a1, order1)
    assert c1 == attrs.astype(">i8").tobytes() + relabelled.astype(">i4").tobytes()


@given(layout=small_layouts(), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=200, deadline=None)
def test_batch_keys_agree_with_renumbered_copies(layout, seed) -> None:  # type: ignore[no-untyped-def]
    edges, attrs = layout
    perm = np.random.default_rng(seed).permutation(len(edges))
    e2, a2 = relabel(edges, attrs, perm)
    batch_e = np.stack([edges, e2])
    batch_a = np.stack([attrs, a2])[:, :, None]
    k1, k2 = canonical_keys(batch_e, batch_a)
    assert k1 == k2
    # Alone or in a batch: the same key.
    assert canonical_keys(edges[None], attrs[None, :, None])[0] == k1


@given(layout=small_layouts())
@settings(max_examples=150, deadline=None)
def test_batch_keys_are_the_search_certificates(layout) -> None:  # type: ignore[no-untyped-def]
    """The vectorised paths (discrete colours, all-twin cells) give the search's own certificate."""
    edges, attrs = layout
    cert, _ = canonical_certificate(edges, attrs)
    key = canonical_keys(edges[None], attrs[None, :, None], [b"tag"])[0]
    assert key in (digest(b"F" + cert, b"tag"), digest(b"S" + cert, b"tag"))


def test_different_layouts_differ() -> None:
    rng = np.random.default_rng(0)
    edges = rng.integers(11, 255, size=(200, 8, 8))
    edges = np.minimum(edges, edges.transpose(0, 2, 1))
    edges[:, np.arange(8), np.arange(8)] = 10
    attrs = np.ones((200, 8, 1), dtype=np.int64)
    assert len(set(canonical_keys(edges, attrs))) == 200
    flat = np.full((8, 8), 20)
    np.fill_diagonal(flat, 10)
    memory = np.array([1, 1, 1, 1, 1, 1, 1, 2])
    assert canonical_keys(np.stack([flat, flat]), np.stack([memory, memory[::-1]])[:, :, None])[0] == canonical_keys(
        flat[None], memory[None, :, None]
    )[0]
    assert canonical_keys(flat[None], memory[None, :, None])[0] != canonical_keys(flat[None], np.ones((1, 8, 1)))[0]


def _ring(n: int) -> np.ndarray:
    i = np.arange(n)
    hops = np.abs(i[:, None] - i[None, :])
    return 10 + 10 * np.minimum(hops, n - hops)


def _mesh(n: int, cols: int) -> np.ndarray:
    i = np.arange(n)
    r, c = i // cols, i % cols
    return 10 + 5 * (np.abs(r[:, None] - r[None, :]) + np.abs(c[:, None] - c[None, :]))


def _sockets(n: int, size: int, boards: int) -> np.ndarray:
    i = np.arange(n)
    socket = i // size
    board = socket // boards
    matrix = np.where(socket[:, None] == socket[None, :], 12, np.where(board[:, None] == board[None, :], 20, 30))
    np.fill_diagonal(matrix, 10)
    return matrix


def test_symmetric_structures_with_64_nodes_are_quick_and_exact() -> None:
    flat = np.full((64, 64), 20)
    np.fill_diagonal(flat, 10)
    rng = np.random.default_rng(5)
    for edges in (flat, _ring(64), _mesh(64, 8), _sockets(64, 4, 4), _sockets(64, 8, 2), _ring(128)):
        attrs = np.ones(len(edges), dtype=np.int64)
        started = time.perf_counter()
        cert, _ = canonical_certificate(edges, attrs)
        assert time.perf_counter() - started < 5  # 64! orders would never finish
        perm = rng.permutation(len(edges))
        assert canonical_certificate(*relabel(edges, attrs, perm))[0] == cert
    # Same structure, one node's memory differs: not equal.
    attrs = np.ones(64, dtype=np.int64)
    other = attrs.copy()
    other[5] = 2
    assert canonical_certificate(_sockets(64, 4, 4), attrs)[0] != canonical_certificate(_sockets(64, 4, 4), other)[0]
    # A ring and a ring with one chord are not renumberings of each other.
    chord = _ring(16)
    chord[0, 8] = chord[8, 0] = 20
    assert canonical_certificate(_ring(16), np.ones(16))[0] != canonical_certificate(chord, np.ones(16))[0]
