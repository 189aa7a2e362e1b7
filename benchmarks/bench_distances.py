"""Distance-matrix validation benchmark: matrices per second of the full ``check_batch``.

Run: python3 benchmarks/bench_distances.py [--quick] [--write]

The full check is ``numaopt.distances.check_batch``: diagonal, range, symmetry, levels,
topology type and the triangle inequality on raw values and on d - 10. It is timed for
n = 4, 8, 16 and 64 on uint8 batches (SLIT entries are bytes) of metric matrices the cheap
shortcut cannot decide: shortest paths over sparse random graphs, so values spread over
11..255, half symmetric, half directed, a third of them with one entry pushed up so the
triangle inequality fails. The batch is drawn from a pool of distinct matrices, each draw
with a fresh random node relabelling.

Same run, same data:

* what numaopt itself reaches: the fused numba kernel (1 and 2 threads, with and without
  the shortcut), the numpy path with the int64 triangle kernel (check_batch before the
  fused kernel), the all-numpy reference, the triangle kernel alone;
* peers for the triangle inequality alone (raw and d - 10): scipy's
  ``csgraph.floyd_warshall`` per matrix (metric iff floyd_warshall(d) == d), a
  plain-Python triple loop, and the numpy reference loop over the middle node.

Slow approaches are timed on a slice of the batch and their rate extrapolated (the
"timed" column says how many). Every approach's answers are checked against the full
check on the same matrices. Targets on 2 cores: >= 20 million 8x8/s, >= 3 million
16x16/s, >= 50,000 64x64/s. ``--quick`` is a small version (under 30 s once compiled).

The machine is shared: the run reports the load of other processes during the timings
and the CPU time per matrix (which other load barely changes) next to the wall-clock
rates.

``--write`` replaces (or appends) the "Distance-matrix validation (issue 2)" section of
benchmarks/RESULTS.md, leaving every other section as it is.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numba
import scipy
from scipy.sparse.csgraph import floyd_warshall

from numaopt import distances as D
from numaopt.distances import compiled as _fast
from numaopt.distances.reference import triangle_ok_numpy

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import RESULTS, cpu_model, free_memory_table, write_section

SECTION = "## Distance-matrix validation (issue 2)"
TARGETS = {8: 20e6, 16: 3e6, 64: 50e3}
SIZES = (4, 8, 16, 64)


# ---------------------------------------------------------------------------------------
# Data


def shortest_paths(weights: np.ndarray) -> np.ndarray:
    """Floyd-Warshall per matrix, vectorised over the batch (int16 is enough: <= 2 * 245)."""
    w = weights.astype(np.int16)
    n = w.shape[1]
    w[:, np.arange(n), np.arange(n)] = 0
    for k in range(n):
        np.minimum(w, w[:, :, k, None] + w[:, None, k, :], out=w)
    return w


def pool(rng: np.random.Generator, count: int, n: int) -> np.ndarray:
    """Distinct matrices: metric on raw values, or also on d - 10, or with one violation."""
    # Sparse graphs (a ring plus about three random edges per node; a missing edge weighs
    # 245) keep the shortest paths spread over the whole range instead of all short.
    weights = rng.integers(1, 121, size=(count, n, n))
    keep = rng.random((count, n, n)) < min(1.0, 3.0 / max(1, n - 1))
    keep[:, np.arange(n), (np.arange(n) + 1) % n] = True
    weights = np.where(keep, weights, 245)
    symmetric = np.arange(count) % 2 == 0
    weights[symmetric] = np.minimum(weights[symmetric], weights[symmetric].transpose(0, 2, 1))
    excess_metric = np.arange(count) % 3 != 2
    # d - 10 metric: 10 + shortest paths of 1..245. Raw metric only: shortest paths of 11..245.
    paths = shortest_paths(np.where(excess_metric[:, None, None], weights, np.maximum(weights, 11) + 10))
    d = np.where(excess_metric[:, None, None], paths + 10, np.minimum(paths, 255)).astype(np.int64)
    # A third get one entry pushed above some two-hop path (capped at 255: not always).
    broken = np.flatnonzero(rng.random(count) < 1 / 3)
    if n >= 3:
        i = rng.integers(0, n, broken.size)
        j = (i + rng.integers(1, n, broken.size)) % n
        k = rng.integers(0, n - 2, broken.size)  # the k-th node other than i and j
        k += k >= np.minimum(i, j)
        k += k >= np.maximum(i, j)
        d[broken, i, k] = d[broken, i, j] + d[broken, j, k] + rng.integers(1, 20, broken.size)
    d = np.clip(d, 11, 255)
    d[:, np.arange(n), np.arange(n)] = 10
    return d.astype(np.uint8)


def relabelled(rng: np.random.Generator, source: np.ndarray, count: int) -> np.ndarray:
    """``count`` matrices drawn from ``source``, each slice of 4096 under its own node relabelling."""
    n = source.shape[1]
    out = np.empty((count, n, n), dtype=np.uint8)
    for start in range(0, count, 4096):
        size = min(4096, count - start)
        perm = rng.permutation(n)
        out[start : start + size] = source[rng.integers(0, len(source), size)][:, perm][:, :, perm]
    return out


# ---------------------------------------------------------------------------------------
# Timing


@dataclass
class Row:
    approach: str
    computes: str
    timed: int
    seconds: float
    cpu_seconds: float

    @property
    def rate(self) -> float:
        return self.timed / self.seconds


def timed(fn: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Best wall time of ``repeat`` runs, the CPU time of that run, and its result."""
    best = (float("inf"), 0.0)
    result: object = None
    for _ in range(repeat):
        cpu = time.process_time()
        wall = time.perf_counter()
        result = fn()
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        if wall < best[0]:
            best = (wall, cpu)
    return best[0], best[1], result


def busy_jiffies() -> int:
    """Busy jiffies of all CPUs together, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(fields) - fields[3] - fields[4]  # minus idle and iowait


def set_threads(count: int) -> int:
    count = min(count, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(count)
    return count


# ---------------------------------------------------------------------------------------
# Peers (triangle inequality only, raw and d - 10)


def work_of(batch: np.ndarray, excess: bool) -> np.ndarray:
    work = batch.astype(np.int64) - (10 if excess else 0)
    n = work.shape[1]
    work[:, np.arange(n), np.arange(n)] = 0
    return work


def python_triangle(w: list[list[int]]) -> bool:
    n = len(w)
    for i in range(n):
        wi = w[i]
        for j in range(n):
            wij = wi[j]
            wj = w[j]
            for k in range(n):
                if wi[k] > wij + wj[k]:
                    return False
    return True


def python_peer(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raw = [python_triangle(m) for m in work_of(batch, False).tolist()]
    excess = [python_triangle(m) for m in work_of(batch, True).tolist()]
    return np.array(raw), np.array(excess)


def floyd_peer(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # floyd_warshall reads 0 off the diagonal as "no edge": fine here, every off-diagonal
    # value is >= 11 (>= 1 after - 10). Metric iff no shortest path is shorter than d.
    out = []
    for excess in (False, True):
        work = work_of(batch, excess).astype(np.float64)
        out.append(np.array([np.array_equal(floyd_warshall(w, directed=True), w) for w in work]))
    return out[0], out[1]


def numpy_triangle_peer(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return triangle_ok_numpy(work_of(batch, False)), triangle_ok_numpy(work_of(batch, True))


def all_numpy_check(batch: np.ndarray) -> D.BatchChecks:
    with mock.patch.object(_fast, "triangle_ok", triangle_ok_numpy):
        return D._check_batch_numpy(batch.astype(np.int64), None)


# ---------------------------------------------------------------------------------------


def same_checks(got: object, want: D.BatchChecks, start: int, stop: int, what: str) -> None:
    if isinstance(got, tuple) and len(got) == 2:  # (metric, metric_excess)
        pairs = [("metric", got[0]), ("metric_excess", got[1])]
    elif isinstance(got, D.BatchChecks):
        pairs = [(name, getattr(got, name)) for name in D.BatchChecks.__dataclass_fields__]
    else:
        names = list(D.BatchChecks.__dataclass_fields__)
        assert isinstance(got, tuple)
        pairs = list(zip(names, got, strict=True))
    for name, values in pairs:
        expected = getattr(want, name)[start:stop]
        assert np.array_equal(np.asarray(values), expected), f"{what}: {name} disagrees with the full check"


def bench_size(n: int, quick: bool, rng: np.random.Generator, two: int) -> tuple[list[Row], dict[str, float]]:
    full = {4: 1_000_000, 8: 1_000_000, 16: 1_000_000, 64: 100_000}[n]
    slices = {  # matrices for the slow approaches
        "numpy check": {4: 200_000, 8: 100_000, 16: 20_000, 64: 1_000}[n],
        "triangle kernel": {4: 200_000, 8: 200_000, 16: 100_000, 64: 5_000}[n],
        "numpy triangle": {4: 100_000, 8: 50_000, 16: 10_000, 64: 300}[n],
        "floyd": {4: 3_000, 8: 3_000, 16: 1_000, 64: 100}[n],
        "python": {4: 5_000, 8: 1_000, 16: 200, 64: 4}[n],
    }
    repeat = 5  # best of 5: the machine may be shared, and one quiet run is what counts
    if quick:
        full = {4: 100_000, 8: 200_000, 16: 50_000, 64: 4_000}[n]
        slices = {key: max(2, value // 20) for key, value in slices.items()}
        repeat = 2
    source = pool(rng, 2_000 if n == 64 else 20_000, n)
    batch = relabelled(rng, source, full)

    # Compile (or load) the kernels before any timing.
    D.check_batch(batch[:1024])
    _fast.check_all(batch[:64], shortcut=False)
    _fast.triangle_ok(work_of(batch[:8], False))

    rows: list[Row] = []
    set_threads(two)
    seconds, cpu, reference = timed(lambda: D.check_batch(batch), repeat)
    assert isinstance(reference, D.BatchChecks)
    rows.append(Row(f"check_batch, fused numba kernel, {two} threads", "full check", full, seconds, cpu))

    def add(approach: str, computes: str, count: int, fn: Callable[[np.ndarray], object], threads: int) -> None:
        set_threads(threads)
        part = batch[:count]
        seconds, cpu, got = timed(lambda: fn(part), repeat if count == full else 1)
        same_checks(got, reference, 0, count, approach)
        rows.append(Row(approach, computes, count, seconds, cpu))

    add("check_batch, fused numba kernel, 1 thread", "full check", full, D.check_batch, 1)
    add(
        f"fused kernel without the shortcut, {two} threads",
        "full check",
        full,
        lambda b: _fast.check_all(b, shortcut=False),
        two,
    )
    add(
        "fused kernel without the shortcut, 1 thread",
        "full check",
        full,
        lambda b: _fast.check_all(b, shortcut=False),
        1,
    )
    add(
        f"numpy checks + int64 numba triangle (check_batch before), {two} threads",
        "full check",
        slices["numpy check"],
        lambda b: D._check_batch_numpy(b.astype(np.int64), None),
        two,
    )
    add("all-numpy reference", "full check", slices["numpy check"], all_numpy_check, 1)
    add(
        f"triangle_ok (shortcut + int64 numba kernel), {two} threads",
        "triangle only",
        slices["triangle kernel"],
        lambda b: (D.triangle_ok(b), D.triangle_ok(b, excess=True)),
        two,
    )
    add(
        "triangle_ok (shortcut + int64 numba kernel), 1 thread",
        "triangle only",
        slices["triangle kernel"],
        lambda b: (D.triangle_ok(b), D.triangle_ok(b, excess=True)),
        1,
    )
    add(
        f"int64 numba triangle kernel, no shortcut, {two} threads",
        "triangle only",
        slices["triangle kernel"],
        lambda b: (_fast.triangle_ok(work_of(b, False)), _fast.triangle_ok(work_of(b, True))),
        two,
    )
    add("numpy reference loop over the middle node", "triangle only", slices["numpy triangle"], numpy_triangle_peer, 1)
    add("scipy.sparse.csgraph.floyd_warshall per matrix", "triangle only", slices["floyd"], floyd_peer, 1)
    add("plain-Python triple loop", "triangle only", slices["python"], python_peer, 1)
    set_threads(two)

    # What the data is: the shortcut must not decide it.
    work = work_of(batch[:100_000], False)
    off = work[:, ~np.eye(n, dtype=bool)]
    lo, hi = off.min(axis=1), off.max(axis=1)
    facts = {
        "decided by the shortcut": float(np.mean((lo >= 0) & (hi <= 2 * lo))),
        "metric": float(np.mean(reference.metric)),
        "metric on d - 10": float(np.mean(reference.metric_excess)),
        "symmetric": float(np.mean(reference.asymmetric_pairs == 0)),
    }
    # The same full check on matrices the shortcut does decide (off-diagonal 16..22, as in
    # real 10/16/21-style tables): what skipping the cubic loop is worth.
    easy = rng.integers(16, 23, size=(full, n, n), dtype=np.uint8)
    easy[:, np.arange(n), np.arange(n)] = 10
    set_threads(two)
    with_shortcut, _, got = timed(lambda: D.check_batch(easy), repeat)
    without, _, got_without = timed(lambda: _fast.check_all(easy, shortcut=False), repeat)
    assert isinstance(got, D.BatchChecks) and got.metric.all() and got.metric_excess.all()
    same_checks(got_without, got, 0, full, "shortcut-decided data")
    facts["decided rate"] = full / with_shortcut
    facts["decided rate without shortcut"] = full / without
    return rows, facts


def machine() -> list[str]:
    model = cpu_model()
    free = free_memory_table()
    return [
        f"- nproc: {os.cpu_count()}; CPU: {model}; Python {platform.python_version()}, numpy {np.__version__}, "
        f"numba {numba.__version__} (threading layer {numba.threading_layer()}), scipy {scipy.__version__}",
        "- `free -g`:",
        "",
        "```",
        free,
        "```",
    ]


def human(rate: float) -> str:
    return f"{rate:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small version (under 30 s once compiled)")
    parser.add_argument("--write", action="store_true", help=f"write the section into {RESULTS}")
    args = parser.parse_args()
    if not _fast.HAVE_NUMBA:
        sys.exit("numba is not installed: nothing fast to measure")

    rng = np.random.default_rng(2)
    two = set_threads(2)
    started = time.perf_counter()
    busy0 = busy_jiffies()
    cpu0 = time.process_time()
    results: dict[int, tuple[list[Row], dict[str, float]]] = {}
    for n in SIZES:
        results[n] = bench_size(n, args.quick, rng, two)
        print(f"n = {n} done ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    busy1 = busy_jiffies()
    wall = time.perf_counter() - started
    ours = time.process_time() - cpu0
    hz = os.sysconf("SC_CLK_TCK")
    others = max(0.0, (busy1 - busy0) / hz - ours) / wall  # CPUs kept busy by other processes

    command = "python3 benchmarks/bench_distances.py" + (" --quick" if args.quick else "")
    lines = [
        SECTION,
        "",
        f"Command: `{command}`. Full check = `numaopt.distances.check_batch` (diagonal, range, symmetry, "
        "triangle inequality on raw values and on d - 10, scheduler levels, topology type) on uint8 batches "
        "of metric matrices the shortcut cannot decide (shortest paths over sparse random graphs, values "
        "11..255, half symmetric, a third with one entry pushed up). Rates are matrices/s, best of 5 runs "
        "(1 run for slices); a row timed on fewer matrices than the batch is extrapolated from that slice. "
        "Peers compute the triangle inequality only (raw and d - 10). Every row's answers were checked "
        "against the full check.",
        "",
        *machine(),
        f"- Other processes kept {others:.2f} of the {os.cpu_count()} CPUs busy on average during this run "
        f"({wall:.0f} s); wall-clock rates below include that contention, the CPU ns/matrix column does not.",
        "",
        "Targets (2 cores, full check):",
        "",
        "| n | full check, 2 threads (matrices/s) | target | met | CPU ns/matrix (1 thread) "
        "| 2 x 1-thread CPU rate (estimate for 2 idle cores) |",
        "|---:|---:|---:|---|---:|---:|",
    ]
    for n in SIZES:
        rows, _ = results[n]
        head, single = rows[0], rows[1]
        target = TARGETS.get(n)
        met = "n/a" if target is None else ("yes" if head.rate >= target else "**NO**")
        lines.append(
            f"| {n} | {human(head.rate)} | {'-' if target is None else human(target)} | {met} | "
            f"{single.cpu_seconds / single.timed * 1e9:,.0f} | {human(2 * single.timed / single.cpu_seconds)} |"
        )
    lines += [
        "",
        "Full check, 2 threads, on matrices the shortcut decides (off-diagonal 16..22): what skipping the "
        "cubic loop is worth.",
        "",
        "| n | with the shortcut | without |",
        "|---:|---:|---:|",
        *(
            f"| {n} | {human(results[n][1]['decided rate'])} | {human(results[n][1]['decided rate without shortcut'])} |"
            for n in SIZES
        ),
    ]
    for n in SIZES:
        rows, facts = results[n]
        shares = {k: v for k, v in facts.items() if not k.startswith("decided rate")}
        peers = {
            "floyd": next(r for r in rows if "floyd" in r.approach),
            "python": next(r for r in rows if "Python" in r.approach),
            "numpy": next(r for r in rows if r.approach.startswith("numpy reference")),
        }
        lines += [
            "",
            f"n = {n} ({rows[0].timed:,} matrices; "
            + ", ".join(f"{name} {share:.0%}" for name, share in shares.items())
            + "):",
            "",
            "| approach | computes | timed | matrices/s | x scipy FW | x Python loop | x numpy loop |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for row in rows:
            ratios = " | ".join(f"{row.rate / peer.rate:,.1f}" for peer in peers.values())
            lines.append(f"| {row.approach} | {row.computes} | {row.timed:,} | {human(row.rate)} | {ratios} |")
    lines += ["", summary(results, others), ""]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section(SECTION, section)
        print(f"wrote the section into {RESULTS}", file=sys.stderr)


def summary(results: dict[int, tuple[list[Row], dict[str, float]]], others: float) -> str:
    """The paragraph under the tables, from the numbers."""

    def rate(n: int, start: str) -> float:
        return next(r for r in results[n][0] if r.approach.startswith(start)).rate

    def at(start: str) -> str:
        return ", ".join(f"{human(rate(n, start))}" for n in SIZES)

    missed = [
        f"{n}x{n} ({human(results[n][0][0].rate)}/s < {human(target)}/s)"
        for n, target in TARGETS.items()
        if results[n][0][0].rate < target
    ]
    verdict = (
        "All three targets are met."
        if not missed
        else "Targets missed in this run: "
        + ", ".join(missed)
        + f", with other processes using {others:.2f} of the 2 CPUs; the CPU-time column estimates what "
        "two idle cores would give."
    )
    sizes = "/".join(str(n) for n in SIZES)
    return (
        f"Matrices/s for n = {sizes}: the fused kernel (check_batch) reaches {at('check_batch, fused')} with 2 "
        f"threads and {at('check_batch, fused numba kernel, 1')} with 1; check_batch before it (numpy checks, "
        f"int64 triangle kernel) {at('numpy checks')}; the all-numpy reference {at('all-numpy')}. For the "
        f"triangle inequality alone: the int64 kernel {at('int64 numba')}, the numpy loop over the middle node "
        f"{at('numpy reference')}, per-matrix floyd_warshall {at('scipy')}, the Python loop {at('plain-Python')}. "
        "The shortcut decides (almost) none of these matrices, so it only costs a pass; on matrices it decides "
        "(second table) it pays most at n = 64. " + verdict
    )


if __name__ == "__main__":
    main()
