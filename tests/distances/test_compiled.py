"""The numba kernels in ``numaopt.distances.compiled`` answer exactly what the numpy references answer.

Every comparison here is against pure numpy: ``triangle_ok_numpy`` for the triangle
kernel, and ``_check_batch_numpy`` with its triangle step forced onto that same numpy
reference for the fused ``check_all``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from numaopt import distances as D
from numaopt.distances import compiled as _fast
from numaopt.distances.reference import triangle_ok_numpy

pytest.importorskip("numba")

FIELDS = [f.name for f in dataclasses.fields(D.BatchChecks)]


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Hundreds of tiny batches: thread hand-offs would dominate (and crawl on a busy
    machine). Two threads get their own test below."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def numpy_checks(batch: np.ndarray, cpu_mask: np.ndarray | None) -> D.BatchChecks:
    """check_batch with no numba anywhere."""
    with mock.patch.object(_fast, "triangle_ok", triangle_ok_numpy):
        return D._check_batch_numpy(D.as_batch(batch), cpu_mask)


def assert_same(got: D.BatchChecks | tuple[np.ndarray, ...] | None, want: D.BatchChecks) -> None:
    assert got is not None
    values = [getattr(got, f) for f in FIELDS] if isinstance(got, D.BatchChecks) else list(got)
    for name, value in zip(FIELDS, values, strict=True):
        expected = getattr(want, name)
        assert value.dtype == expected.dtype, name
        bad = np.flatnonzero(value != expected)
        assert bad.size == 0, f"{name} differs for matrices {bad[:5].tolist()}: {value[bad[:5]]} != {expected[bad[:5]]}"


def closure(batch: np.ndarray) -> np.ndarray:
    """Shortest paths (Floyd-Warshall) per matrix: a metric with the same diagonal."""
    out = batch.astype(np.int64)
    n = out.shape[1]
    diag = out[:, np.arange(n), np.arange(n)].copy()
    out[:, np.arange(n), np.arange(n)] = 0
    for k in range(n):
        np.minimum(out, out[:, :, k, None] + out[:, None, k, :], out=out)
    out[:, np.arange(n), np.arange(n)] = diag
    return out


@st.composite
def batches(draw: st.DrawFn, max_b: int = 40, max_n: int = 12) -> np.ndarray:
    """Random, metric (closed), symmetric, asymmetric and slightly broken batches, 0..300."""
    b = draw(st.integers(1, max_b))
    n = draw(st.integers(1, max_n))
    lo = draw(st.sampled_from([0, 10, 11, 60]))
    hi = draw(st.sampled_from([lo + 1, 40, 120, 255, 300]))
    batch = draw(hnp.arrays(np.int64, (b, n, n), elements=st.integers(lo, max(lo, hi))))
    if draw(st.booleans()):
        batch = np.minimum(batch, batch.transpose(0, 2, 1))
    if draw(st.booleans()):
        batch[:, np.arange(n), np.arange(n)] = 10
    if draw(st.booleans()):
        batch = closure(batch)
        if draw(st.booleans()):  # one entry pushed up: the metric breaks, often just barely
            i, k = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
            batch[:, i, k] += draw(st.integers(1, 30))
    return batch


@settings(max_examples=250, deadline=None)
@given(batches(), st.booleans())
def test_triangle_kernel_equals_numpy(batch: np.ndarray, excess: bool) -> None:
    n = batch.shape[1]
    work = batch - 10 if excess else batch.copy()
    work[:, np.arange(n), np.arange(n)] = 0
    want = triangle_ok_numpy(work)
    ok = np.empty(len(work), dtype=bool)
    _fast._triangle_kernel(np.ascontiguousarray(work), ok, 3)
    assert np.array_equal(ok, want)
    assert np.array_equal(_fast.triangle_ok(work), want)
    # And through the public function (shortcut first, kernel for the rest).
    full = D.triangle_ok(batch, excess=excess)
    if n >= 2:
        assert np.array_equal(full, want)


def test_triangle_kernel_keeps_numpy_wraparound() -> None:
    """Values near the int64 limits wrap in numpy's sums; those batches stay in numpy."""
    work = np.zeros((2, 3, 3), dtype=np.int64)
    work[:, 0, 1] = work[:, 1, 2] = np.iinfo(np.int64).max // 2 + 10
    work[:, 0, 2] = 5
    assert np.array_equal(_fast.triangle_ok(work), triangle_ok_numpy(work))


masks = st.sampled_from(["none", "all", "nodes", "matrices"])


def draw_mask(kind: str, batch: np.ndarray, seed: int) -> np.ndarray | None:
    b, n, _ = batch.shape
    rng = np.random.default_rng(seed)
    if kind == "none":
        return None
    if kind == "all":
        return np.ones(n, dtype=bool)
    if kind == "nodes":
        return np.asarray(rng.random(n) < 0.6)
    return np.asarray(rng.random((b, n)) < 0.6)


@settings(max_examples=250, deadline=None)
@given(batches(max_b=150), masks, st.integers(0, 2**32 - 1), st.booleans())
def test_check_all_equals_numpy(batch: np.ndarray, mask_kind: str, seed: int, shortcut: bool) -> None:
    mask = draw_mask(mask_kind, batch, seed)
    want = numpy_checks(batch, mask)
    with mock.patch.object(D, "_FAST_MIN_ENTRIES", 0):  # the public path, fast whatever the size
        assert_same(D.check_batch(batch, mask), want)
    got = _fast.check_all(batch, mask, shortcut=shortcut)
    if batch.min() < 0 or batch.max() > 255:
        assert got is None  # not SLIT bytes: numpy answers
        return
    assert got is not None
    assert_same(got, want)
    assert_same(_fast.check_all(batch.astype(np.uint8), mask, shortcut=shortcut), want)


@pytest.mark.parametrize("n", [16, 17, 24, 33, 64])
def test_check_all_equals_numpy_on_wide_matrices(n: int) -> None:
    """Sizes past one span of the byte kernel (n > 16), metric and broken, 3 blocks."""
    rng = np.random.default_rng(n)
    batch = closure(rng.integers(11, 200, size=(150, n, n)))
    batch[::3, 1, 2] += 25  # some violate
    batch[::7] = np.minimum(batch[::7], batch[::7].transpose(0, 2, 1))
    want = numpy_checks(batch, None)
    assert_same(_fast.check_all(batch.astype(np.uint8)), want)
    assert not want.metric.all() and want.metric.any()


def test_check_batch_takes_the_fast_path_and_agrees() -> None:
    rng = np.random.default_rng(1)
    batch = closure(rng.integers(11, 120, size=(2000, 8, 8))).astype(np.uint8)
    batch[::5, 0, 3] = 200
    answers = []
    real = _fast.check_all

    def spy(*args: object, **kwargs: object) -> object:
        answers.append(real(*args, **kwargs))  # type: ignore[arg-type]
        return answers[-1]

    with mock.patch.object(_fast, "check_all", spy):
        got = D.check_batch(batch)
    assert len(answers) == 1 and answers[0] is not None
    assert_same(got, numpy_checks(batch, None))


def test_two_threads_give_the_same_answers() -> None:
    import numba

    rng = np.random.default_rng(2)
    batch = closure(rng.integers(11, 120, size=(1000, 8, 8))).astype(np.uint8)
    batch[::4, 2, 5] = 250
    work = batch.astype(np.int64)
    work[:, np.arange(8), np.arange(8)] = 0
    one = _fast.check_all(batch)
    one_triangle = _fast.triangle_ok(work)
    numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
    two = _fast.check_all(batch)
    assert one is not None and two is not None
    for a, b in zip(one, two, strict=True):
        assert np.array_equal(a, b)
    assert np.array_equal(_fast.triangle_ok(work), one_triangle)
    assert np.array_equal(one_triangle, triangle_ok_numpy(work))


def test_without_numba_everything_is_numpy() -> None:
    rng = np.random.default_rng(3)
    batch = rng.integers(0, 120, size=(3000, 6, 6)).astype(np.uint8)
    work = batch.astype(np.int64)
    work[:, np.arange(6), np.arange(6)] = 0
    with mock.patch.object(_fast, "numba", None):
        assert _fast.check_all(batch) is None
        assert np.array_equal(_fast.triangle_ok(work), triangle_ok_numpy(work))
        got = D.check_batch(batch)
    assert_same(got, numpy_checks(batch, None))
