"""Fast paths for the hot batch checks; results identical to the numpy references.

numba is optional: without it ``triangle_ok`` answers with the numpy reference and
``check_all`` with ``None`` ("use the numpy path"). With it, the kernels are compiled on
first use and cached next to this file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple, TypeVar, cast

import numpy as np
import numpy.typing as npt

from numaopt.distances.reference import triangle_ok_numpy

# numba is the optional extra "fast". Imported by name so that its type is the same (Any)
# whether it is installed or not: mypy --strict then passes in both environments.
numba: Any
try:
    numba = importlib.import_module("numba")
except ImportError:
    numba = None
prange: Any = range if numba is None else numba.prange

HAVE_NUMBA = numba is not None

_F = TypeVar("_F", bound=Callable[..., Any])

# Largest |value| for which the int64 kernel's sums cannot wrap; beyond it only numpy
# reproduces numpy's wrapping arithmetic, so numpy answers.
_NO_WRAP = 1 << 61

_LANES = 64  # matrices per block in check_all: one byte lane each in a 512-bit register
_MAX_N = 128  # QEMU's MAX_NODES; a block of 128 x 128 x 64 bytes still fits in L2
_INF = 32767  # int16 "no path yet"
_CHUNKS_PER_THREAD = 4


def _parallel(fn: _F) -> _F:
    if numba is None:
        return fn
    return cast(_F, numba.njit(parallel=True, cache=True, nogil=True)(fn))


def _serial(fn: _F) -> _F:
    if numba is None:
        return fn
    return cast(_F, numba.njit(cache=True, nogil=True)(fn))


def _inlined(fn: _F) -> _F:
    """Compiled into its caller by numba (not called): for pieces whose callers must see
    what they build (see ``_scratch``)."""
    if numba is None:
        return fn
    return cast(_F, numba.njit(inline="always", cache=True, nogil=True)(fn))


def _chunks(units: int) -> int:
    """Parallel chunks for ``units`` of work (passed in: asking numba for its thread count
    inside a kernel would stop the kernel from being cached)."""
    return max(1, min(units, _CHUNKS_PER_THREAD * int(numba.get_num_threads())))


# ---------------------------------------------------------------------------------------
# Triangle inequality alone, on int64 work matrices (diagonal zeroed).


@_parallel
def _triangle_kernel(work: npt.NDArray[np.int64], ok: npt.NDArray[np.bool_], chunks: int) -> None:
    b, n, _ = work.shape
    per = (b + chunks - 1) // chunks
    for c in prange(chunks):
        best = np.empty(n, np.int64)
        for m in range(c * per, min(b, (c + 1) * per)):
            w = work[m]
            bad = False
            for i in range(n):
                # best[k] = min over j of w[i, j] + w[j, k]: row i of the min-plus square.
                # Rows are contiguous, so the k loop vectorises. Every j takes part, as in
                # the reference; with a zero diagonal j == i or j == k adds no violation.
                for k in range(n):
                    best[k] = w[i, 0] + w[0, k]
                for j in range(1, n):
                    a = w[i, j]
                    for k in range(n):
                        best[k] = min(best[k], a + w[j, k])
                for k in range(n):
                    bad |= w[i, k] > best[k]
                if bad:
                    break  # the first failing row decides the matrix
            ok[m] = not bad


def triangle_ok(work: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Triangle inequality per matrix of ``work`` (diagonal already zeroed)."""
    work = np.asarray(work)
    if numba is None or work.size == 0 or work.dtype != np.int64:
        return triangle_ok_numpy(work)
    if work.min() < -_NO_WRAP or work.max() > _NO_WRAP:
        return triangle_ok_numpy(work)
    ok = np.empty(work.shape[0], dtype=bool)
    _triangle_kernel(np.ascontiguousarray(work), ok, _chunks(work.shape[0]))
    return ok


# ---------------------------------------------------------------------------------------
# Every check of ``distances.check_batch`` in one pass, for SLIT-byte (0..255) values.
#
# A block of _LANES matrices is copied into ``z[i, j, lane]`` (uint8), so every loop below
# the copy runs over lanes: 64 matrices per instruction whatever n is, and no per-matrix
# loop overhead. Only what needs a CPU mask is done matrix by matrix.
#
# Some loops below look odd on purpose; each form was measured. Four entries are handled
# per pass over the lanes because the per-lane accumulators live in memory (LLVM cannot
# prove they do not alias the block), so fewer passes mean fewer loads and stores; the
# triangle loop keeps its running minimum in a register instead (see _make_triangle_bytes).

_popcount: Any = None  # POPCNT for the kernels (never called without numba)
if numba is not None:

    def _ctpop(typingctx: Any, x: Any) -> Any:
        """Bits set in a uint64: one POPCNT instruction."""

        def codegen(context: Any, builder: Any, signature: Any, args: Any) -> Any:
            return builder.ctpop(args[0])

        return numba.types.int64(numba.types.uint64), codegen

    _popcount = importlib.import_module("numba.extending").intrinsic(_ctpop)

_M32 = np.uint64(0x00000000FFFFFFFF)
_M16 = np.uint64(0x0000FFFF0000FFFF)
_M8 = np.uint64(0x00FF00FF00FF00FF)
_S32 = np.uint64(32)
_S16 = np.uint64(16)
_S8 = np.uint64(8)


@_serial
def _gather_bytes(words: npt.NDArray[np.uint64], m0: int, active: int, zw: npt.NDArray[np.uint64]) -> None:
    """Copy matrices into their lanes, 8 matrices x 8 entries at a time.

    ``words`` is the batch seen as uint64 (8 entries each), ``zw`` the block seen as uint64
    (8 lanes each): eight loads, an 8 x 8 byte transpose in registers (three rounds of
    masked swaps), eight stores -- instead of 64 single-byte stores.
    """
    zero = np.uint64(0)
    for g in range((active + 7) // 8):
        have = active - 8 * g
        row = m0 + 8 * g
        for w in range(words.shape[1]):
            x0 = words[row, w]
            x1 = words[row + 1, w] if have > 1 else zero
            x2 = words[row + 2, w] if have > 2 else zero
            x3 = words[row + 3, w] if have > 3 else zero
            x4 = words[row + 4, w] if have > 4 else zero
            x5 = words[row + 5, w] if have > 5 else zero
            x6 = words[row + 6, w] if have > 6 else zero
            x7 = words[row + 7, w] if have > 7 else zero
            t = ((x0 >> _S32) ^ x4) & _M32
            x0 ^= t << _S32
            x4 ^= t
            t = ((x1 >> _S32) ^ x5) & _M32
            x1 ^= t << _S32
            x5 ^= t
            t = ((x2 >> _S32) ^ x6) & _M32
            x2 ^= t << _S32
            x6 ^= t
            t = ((x3 >> _S32) ^ x7) & _M32
            x3 ^= t << _S32
            x7 ^= t
            t = ((x0 >> _S16) ^ x2) & _M16
            x0 ^= t << _S16
            x2 ^= t
            t = ((x1 >> _S16) ^ x3) & _M16
            x1 ^= t << _S16
            x3 ^= t
            t = ((x4 >> _S16) ^ x6) & _M16
            x4 ^= t << _S16
            x6 ^= t
            t = ((x5 >> _S16) ^ x7) & _M16
            x5 ^= t << _S16
            x7 ^= t
            t = ((x0 >> _S8) ^ x1) & _M8
            x0 ^= t << _S8
            x1 ^= t
            t = ((x2 >> _S8) ^ x3) & _M8
            x2 ^= t << _S8
            x3 ^= t
            t = ((x4 >> _S8) ^ x5) & _M8
            x4 ^= t << _S8
            x5 ^= t
            t = ((x6 >> _S8) ^ x7) & _M8
            x6 ^= t << _S8
            x7 ^= t
            e = 8 * w
            zw[e, g] = x0
            zw[e + 1, g] = x1
            zw[e + 2, g] = x2
            zw[e + 3, g] = x3
            zw[e + 4, g] = x4
            zw[e + 5, g] = x5
            zw[e + 6, g] = x6
            zw[e + 7, g] = x7


@_serial
def _block_stats(
    z: npt.NDArray[np.uint8],
    stats: npt.NDArray[np.int16],
    part: npt.NDArray[np.uint8],
    top: npt.NDArray[np.uint8],
    row: npt.NDArray[np.uint8],
    col: npt.NDArray[np.uint8],
    low: npt.NDArray[np.uint8],
) -> None:
    """Entry counts per lane, the diagonal still raw in ``z``.

    ``stats`` rows: bad diagonal, off-diagonal below 10, off-diagonal equal 10, (above 255:
    never, for bytes), asymmetric pairs. ``top`` gets the largest entry, ``row`` and ``col``
    the first (row-major) place it occurs, ``low`` the smallest off-diagonal entry (255
    when there is none). The counts over all entries go through byte partial sums: one
    pass adds at most 4, so 63 passes fit a byte.
    """
    n = z.shape[0]
    nn = n * n
    stats[:, :] = 0
    for i in range(n):  # counted below with every entry, so taken out here
        for lane in range(_LANES):
            d = z[i, i, lane]
            stats[0, lane] += d != 10
            stats[1, lane] -= d < 10
            stats[2, lane] -= d == 10
    flat = z.reshape(nn, _LANES)
    for lane in range(_LANES):
        top[lane] = flat[0, lane]
    part[:, :] = 0
    passes = 0
    for e in range(0, nn, 4):
        e3 = min(nn - 1, e + 3)
        e1 = min(e + 1, e3)
        e2 = min(e + 2, e3)
        # A short tail repeats its last entry: harmless for the maximum, weighed out here.
        w1 = np.uint8(e + 1 <= e3)
        w2 = np.uint8(e + 2 <= e3)
        w3 = np.uint8(e + 3 <= e3)
        for lane in range(_LANES):
            part[0, lane] += (
                np.uint8(flat[e, lane] < 10)
                + w1 * np.uint8(flat[e1, lane] < 10)
                + w2 * np.uint8(flat[e2, lane] < 10)
                + w3 * np.uint8(flat[e3, lane] < 10)
            )
        for lane in range(_LANES):
            part[1, lane] += (
                np.uint8(flat[e, lane] == 10)
                + w1 * np.uint8(flat[e1, lane] == 10)
                + w2 * np.uint8(flat[e2, lane] == 10)
                + w3 * np.uint8(flat[e3, lane] == 10)
            )
        for lane in range(_LANES):
            pair = max(max(flat[e, lane], flat[e1, lane]), max(flat[e2, lane], flat[e3, lane]))
            top[lane] = max(top[lane], pair)
        passes += 1
        if passes == 63 or e + 4 >= nn:
            for lane in range(_LANES):
                stats[1, lane] += part[0, lane]
                stats[2, lane] += part[1, lane]
            part[:, :] = 0
            passes = 0
    # Backwards, so the first hit is written last. One loop over entries indexing z[i, j]:
    # two nested loops, or the flat view, ran four times slower here.
    for back in range(nn):
        e = nn - 1 - back
        i = e // n
        j = e - i * n
        i8 = np.uint8(i)
        j8 = np.uint8(j)
        for lane in range(_LANES):
            hit = z[i, j, lane] >= top[lane]
            row[lane] = i8 if hit else row[lane]
            col[lane] = j8 if hit else col[lane]
    low[:] = 255
    for i in range(n):  # each off-diagonal pair once: symmetry, and the smallest entry
        for j in range(i + 1, n):
            for lane in range(_LANES):
                stats[4, lane] += z[i, j, lane] != z[j, i, lane]
            for lane in range(_LANES):
                low[lane] = min(low[lane], min(z[i, j, lane], z[j, i, lane]))


@_serial
def _block_levels(
    z: npt.NDArray[np.uint8],
    cells: npt.NDArray[np.int64],
    bits: npt.NDArray[np.uint64],
    levels: npt.NDArray[np.int64],
) -> None:
    """Distinct values per lane (no CPU mask): a 256-bit set per lane.

    Only the flat positions in ``cells`` are read (the upper triangle is enough when the
    whole block is symmetric).
    """
    flat = z.reshape(z.shape[0] * z.shape[1], _LANES)
    count = cells.shape[0]
    zero = np.uint64(0)
    one = np.uint64(1)
    bits[:, :] = 0
    for p in range(0, count, 4):
        last = count - 1  # a short tail repeats its last entry: harmless for a set
        e0 = cells[p]
        e1 = cells[min(p + 1, last)]
        e2 = cells[min(p + 2, last)]
        e3 = cells[min(p + 3, last)]
        for lane in range(_LANES):
            v0 = np.int64(flat[e0, lane])
            v1 = np.int64(flat[e1, lane])
            v2 = np.int64(flat[e2, lane])
            v3 = np.int64(flat[e3, lane])
            x0 = one << np.uint64(v0 & 63)
            x1 = one << np.uint64(v1 & 63)
            x2 = one << np.uint64(v2 & 63)
            x3 = one << np.uint64(v3 & 63)
            w0 = v0 >> 6
            w1 = v1 >> 6
            w2 = v2 >> 6
            w3 = v3 >> 6
            for q in range(4):
                bits[q, lane] |= (
                    (x0 if w0 == q else zero)
                    | (x1 if w1 == q else zero)
                    | (x2 if w2 == q else zero)
                    | (x3 if w3 == q else zero)
                )
    for lane in range(_LANES):
        levels[lane] = (
            _popcount(bits[0, lane]) + _popcount(bits[1, lane]) + _popcount(bits[2, lane]) + _popcount(bits[3, lane])
        )


@_serial
def _block_mesh(
    z: npt.NDArray[np.uint8],
    top: npt.NDArray[np.uint8],
    row: npt.NDArray[np.uint8],
    col: npt.NDArray[np.uint8],
    near: npt.NDArray[np.uint8],
    mesh: npt.NDArray[np.bool_],
) -> None:
    """Per lane (no CPU mask): some node is nearer than ``top`` to both ends of the pair
    (row, col). Every row is read and each lane keeps its own two, so no gathers: bit 0 of
    ``near[k]`` says row's k is near, bit 1 says col's k is."""
    n = z.shape[0]
    one = np.uint8(1)
    two = np.uint8(2)
    zero = np.uint8(0)
    near[:, :] = 0
    for e in range(n * n):
        i, k = divmod(e, n)
        i8 = np.uint8(i)
        for lane in range(_LANES):
            ends = (one if row[lane] == i8 else zero) | (two if col[lane] == i8 else zero)
            near[k, lane] |= ends if z[i, k, lane] < top[lane] else zero
    mesh[:] = False
    for k in range(n):
        for lane in range(_LANES):
            mesh[lane] |= near[k, lane] == 3


@_serial
def _all_bad(bad: npt.NDArray[np.uint8], active: int) -> bool:
    """Every matrix of the block already fails raw (which implies d - 10): stop early."""
    count = 0
    for lane in range(active):
        count += bad[lane] & 1
    return count == active


@_serial
def _block_triangle(
    z: npt.NDArray[np.uint8], acc: npt.NDArray[np.int16], active: int, bad: npt.NDArray[np.uint8]
) -> None:
    """Triangle violations per lane: bit 0 of ``bad`` on raw values, bit 1 on d - 10.

    ``z`` holds 255 on the diagonal, so a path through it (255 + d) never beats d + 10
    and j needs no exclusions. Row i of the min-plus square gives both answers at once:
    raw fails where d[i][k] > min, d - 10 where d[i][k] + 10 > min; on the diagonal (a
    round trip i -> j -> i) the thresholds are 0 and 20. Sums in int16.
    """
    n = z.shape[0]
    bad[:] = 0
    for i in range(n):
        acc[:, :] = _INF
        for j in range(0, n, 4):
            j3 = min(n - 1, j + 3)  # a short tail repeats its last j: harmless for a min
            j1 = min(j + 1, j3)
            j2 = min(j + 2, j3)
            for k in range(n):
                for lane in range(_LANES):
                    s0 = np.int16(np.int16(z[i, j, lane]) + np.int16(z[j, k, lane]))
                    s1 = np.int16(np.int16(z[i, j1, lane]) + np.int16(z[j1, k, lane]))
                    s2 = np.int16(np.int16(z[i, j2, lane]) + np.int16(z[j2, k, lane]))
                    s3 = np.int16(np.int16(z[i, j3, lane]) + np.int16(z[j3, k, lane]))
                    acc[k, lane] = min(acc[k, lane], min(min(s0, s1), min(s2, s3)))
        for k in range(n):
            for lane in range(_LANES):
                t = np.int16(0) if k == i else np.int16(z[i, k, lane])
                t_excess = np.int16(20) if k == i else np.int16(t + 10)
                m = acc[k, lane]
                bad[lane] |= np.uint8(t > m) | np.uint8(t_excess > m) << np.uint8(1)
        if _all_bad(bad, active):
            return


def _make_triangle_bytes(span: int) -> Callable[..., None]:
    """``_block_triangle`` in bytes, for blocks whose off-diagonal entries are all 10..255.

    Twice the lanes per instruction of int16, and j runs ``span`` at a time in an inner
    loop of constant length: LLVM unrolls it, so the lane loop stays innermost and the
    running minimum stays in a register instead of going to memory for every j.
    """

    @_serial
    def triangle(
        y: npt.NDArray[np.uint8], n: int, acc: npt.NDArray[np.uint8], active: int, bad: npt.NDArray[np.uint8]
    ) -> None:
        """``y`` is (pad, pad, lanes) with pad a multiple of ``span``; in rows i < n it holds
        d - 10 (0..245) off the diagonal and 255 on it and in columns j >= n. Sums saturate
        at 255, above every d - 10, so neither the padding nor the diagonal changes an
        answer. With y >= 0 a round trip cannot fail. d - 10 fails where y[i][k] > min,
        raw where y[i][k] > min + 10."""
        top = np.uint8(255)
        ten = np.uint8(10)
        zero = np.uint8(0)
        spans = y.shape[1] // span
        bad[:] = 0
        for i in range(n):
            # All spans but the last keep a running minimum in acc. (Three copies of the
            # span loop: folding them into one with flags cost up to half the speed.)
            for base in range(0, (spans - 1) * span, span):
                for k in range(n):
                    for lane in range(_LANES):
                        m = top if base == 0 else acc[k, lane]
                        for jj in range(span):
                            # a + b wrapped to a byte is below a exactly when it overflowed:
                            # the saturating add LLVM turns into one instruction.
                            a = y[i, base + jj, lane]
                            s = np.uint8(a + y[base + jj, k, lane])
                            m = min(m, top if s < a else s)
                        acc[k, lane] = m
            # The last span finishes each minimum and tests it.
            base = (spans - 1) * span
            for k in range(n):
                if spans == 1:
                    for lane in range(_LANES):
                        m = top
                        for jj in range(span):
                            a = y[i, jj, lane]
                            s = np.uint8(a + y[jj, k, lane])
                            m = min(m, top if s < a else s)
                        t = y[i, k, lane]
                        raw = (t > ten) & (np.uint8(t - ten) > m)  # t - 10 > m, in bytes
                        flags = np.uint8(raw) | np.uint8(t > m) << np.uint8(1)
                        bad[lane] |= flags if k != i else zero
                else:
                    for lane in range(_LANES):
                        m = acc[k, lane]
                        for jj in range(span):
                            a = y[i, base + jj, lane]
                            s = np.uint8(a + y[base + jj, k, lane])
                            m = min(m, top if s < a else s)
                        t = y[i, k, lane]
                        raw = (t > ten) & (np.uint8(t - ten) > m)
                        flags = np.uint8(raw) | np.uint8(t > m) << np.uint8(1)
                        bad[lane] |= flags if k != i else zero
            if _all_bad(bad, active):
                return

    return triangle


_SHORT_SPAN = 8
_LONG_SPAN = 16
_triangle_short = _make_triangle_bytes(_SHORT_SPAN)  # n <= 8, and n > 16 (several spans)
_triangle_long = _make_triangle_bytes(_LONG_SPAN)  # 8 < n <= 16: one span


@_serial
def _levels_masked(src: npt.NDArray[np.uint8], mrow: npt.NDArray[np.bool_]) -> int:
    """``distinct_levels`` of one matrix under a CPU mask.

    No byte is below 0, so a masked-out pair (-1 in the reference) always sorts first and is
    always discounted: the answer is the number of distinct values among CPU pairs.
    """
    n = src.shape[0]
    b0 = b1 = b2 = b3 = np.uint64(0)
    zero = np.uint64(0)
    for i in range(n):
        if not mrow[i]:
            continue
        for j in range(n):
            v = np.int64(src[i, j])
            bit = np.uint64(1) << np.uint64(v & 63) if mrow[j] else zero
            w = v >> 6
            b0 |= bit if w == 0 else zero
            b1 |= bit if w == 1 else zero
            b2 |= bit if w == 2 else zero
            b3 |= bit if w == 3 else zero
    return int(_popcount(b0) + _popcount(b1) + _popcount(b2) + _popcount(b3))


@_serial
def _topology_masked(src: npt.NDArray[np.uint8], mrow: npt.NDArray[np.bool_], levels: int) -> int:
    """``topology_type_codes`` of one matrix under a CPU mask, given its levels."""
    if levels <= 2:
        return 0
    n = src.shape[0]
    largest = np.int64(0)
    for i in range(n):
        for j in range(n):
            if mrow[i] and mrow[j] and src[i, j] > largest:
                largest = np.int64(src[i, j])
    a = 0
    c = 0
    found = False
    for i in range(n):
        for j in range(n):
            if mrow[i] and mrow[j] and src[i, j] >= largest:
                a = i
                c = j
                found = True
                break
        if found:
            break
    for k in range(n):
        if mrow[k] and src[a, k] < largest and src[c, k] < largest:
            return 1
    return 2


class _Work(NamedTuple):
    """What the block kernel reads: the matrices as bytes; the same as uint64 words of 8
    entries for ``_gather_bytes`` (a (1, 1) stand-in when n * n is not a multiple of 8);
    the CPU mask, (1, n) for one mask shared by all or (b, n); whether some node lacks
    CPUs (levels and topology then go matrix by matrix); whether to try the triangle
    shortcut first."""

    matrices: npt.NDArray[np.uint8]
    words: npt.NDArray[np.uint64]
    mask: npt.NDArray[np.bool_]
    masked: bool
    shortcut: bool


class _Results(NamedTuple):
    """What the block kernel writes, one column per matrix. ``counts`` rows: bad diagonal,
    below 10, equal 10, above 255, asymmetric pairs, levels, topology type code;
    ``metric`` rows: triangle inequality on raw values, on d - 10."""

    counts: npt.NDArray[np.int64]
    metric: npt.NDArray[np.bool_]


class _Scratch(NamedTuple):
    """One thread's working arrays for a block of _LANES matrices, made once per run."""

    z: npt.NDArray[np.uint8]  # (n, n, lanes): the block, one matrix per lane
    zw: npt.NDArray[np.uint64]  # z seen as (n * n, lanes / 8) words
    y: npt.NDArray[np.uint8]  # (pad, pad, lanes): d - 10 for the byte triangle, 255 padding
    upper: npt.NDArray[np.int64]  # flat cells of the upper triangle, diagonal included
    every: npt.NDArray[np.int64]  # every flat cell
    stats: npt.NDArray[np.int16]  # (5, lanes): _block_stats' counts
    part: npt.NDArray[np.uint8]  # (2, lanes): _block_stats' byte partial sums
    levels: npt.NDArray[np.int64]
    topology: npt.NDArray[np.int64]  # topology type code per lane
    bits: npt.NDArray[np.uint64]  # (4, lanes): _block_levels' 256-bit sets
    top: npt.NDArray[np.uint8]  # largest entry per lane
    low: npt.NDArray[np.uint8]  # smallest off-diagonal entry per lane
    row: npt.NDArray[np.uint8]  # first (row-major) place of the largest entry
    col: npt.NDArray[np.uint8]
    near: npt.NDArray[np.uint8]  # (n, lanes): _block_mesh's flags
    mesh: npt.NDArray[np.bool_]
    acc: npt.NDArray[np.int16]  # (n, lanes): _block_triangle's running minima
    acc8: npt.NDArray[np.uint8]  # (n, lanes): the byte triangle's running minima
    bad: npt.NDArray[np.uint8]  # triangle violations per lane (bit 0 raw, bit 1 d - 10)


@_inlined
def _scratch(n: int) -> _Scratch:
    """The working arrays for n-node matrices. Inlined: a caller that sees the arrays made
    knows their shapes (mostly constants), which made the kernel a fifth faster at n = 4
    than receiving them from a call."""
    nn = n * n
    z = np.zeros((n, n, _LANES), np.uint8)
    span = _LONG_SPAN if _SHORT_SPAN < n <= _LONG_SPAN else _SHORT_SPAN
    pad = (n + span - 1) // span * span
    upper = np.empty(n * (n + 1) // 2, np.int64)
    p = 0
    for i in range(n):
        for j in range(i, n):
            upper[p] = i * n + j
            p += 1
    return _Scratch(
        z,
        z.reshape(nn, _LANES).view(np.uint64),
        np.full((pad, pad, _LANES), 255, np.uint8),
        upper,
        np.arange(nn),
        np.empty((5, _LANES), np.int16),
        np.empty((2, _LANES), np.uint8),
        np.empty(_LANES, np.int64),
        np.empty(_LANES, np.int64),
        np.empty((4, _LANES), np.uint64),
        np.empty(_LANES, np.uint8),
        np.empty(_LANES, np.uint8),
        np.zeros(_LANES, np.uint8),
        np.zeros(_LANES, np.uint8),
        np.empty((n, _LANES), np.uint8),
        np.empty(_LANES, np.bool_),
        np.empty((n, _LANES), np.int16),
        np.empty((n, _LANES), np.uint8),
        np.empty(_LANES, np.uint8),
    )


@_serial
def _copy_bytes(matrices: npt.NDArray[np.uint8], m0: int, active: int, z: npt.NDArray[np.uint8]) -> None:
    """Matrices m0 .. m0 + active - 1 into the lanes of ``z`` byte by byte (when n * n is
    not a multiple of 8, so ``_gather_bytes`` cannot take them 8 entries at a time)."""
    n = matrices.shape[1]
    for lane in range(active):
        src = matrices[m0 + lane]
        for i in range(n):
            for j in range(n):
                z[i, j, lane] = src[i, j]


@_serial
def _levels_topology_masked(
    matrices: npt.NDArray[np.uint8],
    mask: npt.NDArray[np.bool_],
    m0: int,
    active: int,
    levels: npt.NDArray[np.int64],
    topology: npt.NDArray[np.int64],
) -> None:
    """Levels and topology type codes per lane under a CPU mask, matrix by matrix."""
    per_matrix_mask = mask.shape[0] > 1
    for lane in range(active):
        m = m0 + lane
        mrow = mask[m if per_matrix_mask else 0]
        levels[lane] = _levels_masked(matrices[m], mrow)
        topology[lane] = _topology_masked(matrices[m], mrow, levels[lane])


@_serial
def _block_symmetric(stats: npt.NDArray[np.int16], active: int) -> bool:
    """No matrix of the block has an asymmetric pair (then the upper triangle is enough)."""
    asymmetric = 0
    for lane in range(active):
        asymmetric += stats[4, lane] != 0
    return asymmetric == 0


@_serial
def _topology_codes(levels: npt.NDArray[np.int64], mesh: npt.NDArray[np.bool_], active: int, topology: npt.NDArray[np.int64]) -> None:
    """Topology type codes per lane from the levels and ``_block_mesh`` (no CPU mask)."""
    for lane in range(active):
        topology[lane] = 0 if levels[lane] <= 2 else 1 if mesh[lane] else 2


@_serial
def _store_counts(
    stats: npt.NDArray[np.int16],
    levels: npt.NDArray[np.int64],
    topology: npt.NDArray[np.int64],
    m0: int,
    active: int,
    counts: npt.NDArray[np.int64],
) -> None:
    """The block's entry counts, levels and topology codes into ``counts``."""
    for lane in range(active):
        m = m0 + lane
        counts[0, m] = stats[0, lane]
        counts[1, m] = stats[1, lane]
        counts[2, m] = stats[2, lane]
        counts[3, m] = 0  # a byte is never above 255
        counts[4, m] = stats[4, lane]
        counts[5, m] = levels[lane]
        counts[6, m] = topology[lane]


@_serial
def _triangle_shortcut(low: npt.NDArray[np.uint8], top: npt.NDArray[np.uint8], active: int, shortcut: bool) -> tuple[bool, bool]:
    """(decided, in_bytes): whether the exact shortcut of distances.triangle_ok decides
    every matrix of the block (if every off-diagonal d - 10 is at most twice the smallest,
    both forms hold), and whether every off-diagonal entry is 10..255 (the byte triangle's
    domain). A block runs the cubic loop only if one of its matrices is undecided.
    (``top`` includes the diagonal, which can only leave more undecided.)"""
    decided = shortcut
    in_bytes = True
    for lane in range(active):
        lo = np.int64(low[lane]) - 10
        if lo < 0:
            in_bytes = False
            decided = False
        elif np.int64(top[lane]) - 10 > 2 * lo:
            decided = False
    return decided, in_bytes


@_serial
def _excess_bytes(z: npt.NDArray[np.uint8], y: npt.NDArray[np.uint8]) -> None:
    """d - 10 off the diagonal into ``y``; 255 on it (the padding keeps its 255)."""
    n = z.shape[0]
    for i in range(n):
        for j in range(n):
            for lane in range(_LANES):
                y[i, j, lane] = z[i, j, lane] - 10 if i != j else 255


@_serial
def _diagonal_255(z: npt.NDArray[np.uint8]) -> None:
    """255 on the diagonal, as ``_block_triangle`` wants it."""
    for i in range(z.shape[0]):
        for lane in range(_LANES):
            z[i, i, lane] = 255


@_serial
def _store_metric(bad: npt.NDArray[np.uint8], m0: int, active: int, metric: npt.NDArray[np.bool_]) -> None:
    """Triangle results from the violation bits into ``metric``."""
    for lane in range(active):
        metric[0, m0 + lane] = (bad[lane] & 1) == 0
        metric[1, m0 + lane] = (bad[lane] & 2) == 0


@_serial
def _check_blocks(work: _Work, first_block: int, end_block: int, results: _Results) -> None:
    """Blocks ``first_block`` to ``end_block`` of the batch; runs without the GIL, so
    threads can share a batch (numba's own parallel loop doubled the compile time).

    Every array is taken out of its tuple here, once: taken out inside the loop, each
    would cost a reference count per block.
    """
    matrices, words, mask, masked, shortcut = work
    counts, metric = results
    b, n, _ = matrices.shape
    by_words = words.shape[1] * 8 == n * n
    long_span = _SHORT_SPAN < n <= _LONG_SPAN
    s = _scratch(n)
    z, zw, y, upper, every = s.z, s.zw, s.y, s.upper, s.every
    stats, part, levels, topology, bits, bad = s.stats, s.part, s.levels, s.topology, s.bits, s.bad
    top, low, row, col, near, mesh, acc, acc8 = s.top, s.low, s.row, s.col, s.near, s.mesh, s.acc, s.acc8
    for blk in range(first_block, end_block):
        m0 = blk * _LANES
        active = min(_LANES, b - m0)
        if by_words:
            _gather_bytes(words, m0, active, zw)
        else:
            _copy_bytes(matrices, m0, active, z)
        _block_stats(z, stats, part, top, row, col, low)
        if masked:
            _levels_topology_masked(matrices, mask, m0, active, levels, topology)
        else:
            _block_levels(z, upper if _block_symmetric(stats, active) else every, bits, levels)
            _block_mesh(z, top, row, col, near, mesh)
            _topology_codes(levels, mesh, active, topology)
        _store_counts(stats, levels, topology, m0, active, counts)
        decided, in_bytes = _triangle_shortcut(low, top, active, shortcut)
        if decided:
            bad[:] = 0  # both forms hold for every matrix of the block
        elif in_bytes:
            _excess_bytes(z, y)
            if long_span:
                _triangle_long(y, n, acc8, active, bad)
            else:
                _triangle_short(y, n, acc8, active, bad)
        else:
            _diagonal_255(z)
            _block_triangle(z, acc, active, bad)
        _store_metric(bad, m0, active, metric)


CheckAll = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.bool_],
    npt.NDArray[np.bool_],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
]

_CONVERT_BYTES = 1 << 24  # wider inputs are narrowed to bytes this much at a time
_pool: ThreadPoolExecutor | None = None
_pool_threads = 0


def _run_blocks(
    batch: npt.NDArray[Any], mask: npt.NDArray[np.bool_], masked: bool, shortcut: bool, results: _Results
) -> None:
    """All blocks of ``batch``, split over numba's thread count (``numba.set_num_threads``)."""
    global _pool, _pool_threads
    b, n, _ = batch.shape
    # uint64 views of the matrices for _gather_bytes, or a stand-in when n * n is not a
    # multiple of 8 (the kernel then copies byte by byte).
    whole = (n * n) % 8 == 0
    words = batch.reshape(b, n * n).view(np.uint64) if whole else np.zeros((1, 1), dtype=np.uint64)
    work = _Work(batch, words, mask, masked, shortcut)
    blocks = (b + _LANES - 1) // _LANES
    threads = int(numba.get_num_threads())
    tasks = min(blocks, threads * _CHUNKS_PER_THREAD) if threads > 1 else 1
    bounds = [blocks * t // tasks for t in range(tasks + 1)]

    def run(t: int) -> None:
        _check_blocks(work, bounds[t], bounds[t + 1], results)

    if tasks == 1:
        run(0)
        return
    if _pool is None or _pool_threads != threads:
        _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="numaopt-check")
        _pool_threads = threads
    list(_pool.map(run, range(tasks)))


def check_all(
    batch: npt.NDArray[np.integer[Any]],
    cpu_mask: npt.ArrayLike | None = None,
    *,
    shortcut: bool = True,
) -> CheckAll | None:
    """Every ``check_batch`` field, in ``BatchChecks`` order, or None where numpy must answer.

    ``batch`` is ``(b, n, n)`` of any integer dtype; uint8 is read in place, wider types are
    narrowed a slice at a time. None means: numba is missing, the batch is empty or wider
    than 128 nodes, or some value is not a SLIT byte (0..255).
    """
    if numba is None or batch.ndim != 3 or batch.dtype.kind not in "iu":
        return None
    b, n, _ = batch.shape
    if b == 0 or n == 0 or n > _MAX_N:
        return None
    if cpu_mask is None:
        mask = np.ones((1, n), dtype=bool)
    else:
        full = np.broadcast_to(np.asarray(cpu_mask, dtype=bool), (b, n))  # refuses what numpy refuses
        # A fresh writable copy: numba compiles read-only arrays (broadcast views) separately.
        mask = np.array(full[:1] if full.strides[0] == 0 or b == 1 else full, dtype=bool, order="C")
    masked = not bool(mask.all())
    counts = np.empty((7, b), dtype=np.int64)
    metric = np.empty((2, b), dtype=bool)
    if batch.dtype == np.uint8:
        part = batch if batch.flags.c_contiguous and batch.flags.writeable else np.array(batch, order="C")
        _run_blocks(part, mask, masked, shortcut, _Results(counts, metric))
    else:
        step = max(_LANES, _CONVERT_BYTES // (n * n))
        for start in range(0, b, step):
            wide = batch[start : start + step]
            if wide.min() < 0 or wide.max() > 255:
                return None
            stop = start + wide.shape[0]
            part_counts = np.empty((7, stop - start), dtype=np.int64)  # contiguous: one compiled kernel
            part_metric = np.empty((2, stop - start), dtype=bool)
            part_mask = mask if mask.shape[0] == 1 else mask[start:stop]
            _run_blocks(wide.astype(np.uint8, order="C"), part_mask, masked, shortcut, _Results(part_counts, part_metric))
            counts[:, start:stop] = part_counts
            metric[:, start:stop] = part_metric
    return (counts[0], counts[1], counts[2], counts[3], counts[4], metric[0], metric[1], counts[5], counts[6])
