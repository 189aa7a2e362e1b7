"""Vectorised checks of NUMA distance matrices, alone ``(n, n)`` or in batches ``(b, n, n)``.

Batch functions return one value per matrix (numpy arrays, no Python loop over entries
or matrices); ``distance_findings`` judges one matrix against a rule set and names the
first offending entries. The rules and their sources:

* QEMU (hw/core/numa.c): ``val`` is a uint8; ``val < 10`` is refused; ``src == dst`` needs
  10; 10 between two different nodes is accepted (QEMU checks only ``< 10``).
* Linux ACPI (drivers/acpi/numa/srat.c ``slit_valid``): local entries exactly 10 and every
  remote entry ``> 10``, else the whole SLIT is ignored; 255 ("unreachable") is kept.
* Linux DT (drivers/of/of_numa.c): the same bounds, but a bad entry discards all NUMA.
* libvirt (conf/numa_conf.c): 10..255, 10 exactly on and only on the diagonal.
* Scheduler (kernel/sched/topology.c ``sched_init_numa``, ``init_numa_topology_type``):
  levels are the distinct values among CPU-bearing nodes; the topology type is computed
  from them as below. Asymmetry only prints ``Node-distance not symmetric`` with
  sched_verbose; nothing in Linux checks the triangle inequality.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import numpy.typing as npt

from numaopt.rules import Finding, RuleSet, Severity

LOCAL_DISTANCE = 10  # include/linux/topology.h, ACPI SLIT
REMOTE_DISTANCE = 20  # the guest's default when no SLIT / distance-map is given
UNREACHABLE_DISTANCE = 255  # QEMU NUMA_DISTANCE_UNREACHABLE, ACPI "no path"
MAX_DISTANCE = 255  # SLIT entries are one byte
RECLAIM_DISTANCE = 30  # node_reclaim_distance: above it levels lose wake-affine/exec/fork balancing

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


class TopologyType(enum.StrEnum):
    """Linux ``sched_numa_topology_type``."""

    DIRECT = "NUMA_DIRECT"
    GLUELESS_MESH = "NUMA_GLUELESS_MESH"
    BACKPLANE = "NUMA_BACKPLANE"


_TOPOLOGY_CODES = (TopologyType.DIRECT, TopologyType.GLUELESS_MESH, TopologyType.BACKPLANE)


def as_batch(matrices: npt.ArrayLike) -> IntArray:
    """``(n, n)`` or ``(b, n, n)`` integer matrices as a ``(b, n, n)`` int64 array."""
    return _as_int_batch(matrices).astype(np.int64, copy=False)


def _as_int_batch(matrices: npt.ArrayLike) -> npt.NDArray[np.integer[Any]]:
    """``as_batch`` without the widening: a uint8 batch of SLIT bytes stays 1 byte a value."""
    batch = np.asarray(matrices)
    if batch.ndim == 2:
        batch = batch[None]
    if batch.ndim != 3 or batch.shape[1] != batch.shape[2]:
        raise ValueError(f"expected square matrices shaped (n, n) or (b, n, n), got {batch.shape}")
    if batch.dtype.kind not in "iu":
        if batch.dtype.kind == "f" and np.all(np.isfinite(batch)) and np.all(batch == np.round(batch)):
            return batch.astype(np.int64)
        raise ValueError(f"distances must be integers, got dtype {batch.dtype}")
    return batch


def _offdiag_mask(n: int) -> BoolArray:
    return ~np.eye(n, dtype=bool)


def _cpu_mask(batch: npt.NDArray[np.integer[Any]], cpu_mask: npt.ArrayLike | None) -> BoolArray:
    """Per-matrix mask of CPU-bearing nodes, shaped ``(b, n)`` (default: every node)."""
    b, n, _ = batch.shape
    if cpu_mask is None:
        return np.ones((b, n), dtype=bool)
    mask = np.asarray(cpu_mask, dtype=bool)
    return np.broadcast_to(mask, (b, n))


@dataclass(frozen=True, slots=True)
class BatchChecks:
    """Per-matrix counts and flags, each an array shaped ``(b,)``."""

    bad_diagonal: IntArray  # diagonal entries other than 10
    below_local: IntArray  # off-diagonal entries < 10 (QEMU refuses)
    equal_local: IntArray  # off-diagonal entries == 10 (QEMU accepts, Linux discards)
    above_max: IntArray  # entries > 255 (not a SLIT byte)
    asymmetric_pairs: IntArray  # unordered pairs with d[i][j] != d[j][i]
    metric: BoolArray  # triangle inequality on the raw values
    metric_excess: BoolArray  # triangle inequality on d - 10
    levels: IntArray  # distinct values among CPU-bearing nodes (scheduler levels)
    topology_type: IntArray  # index into (DIRECT, GLUELESS_MESH, BACKPLANE)

    def valid_for(self, rules: RuleSet) -> BoolArray:
        """True where the matrix passes ``rules`` (errors only; warnings do not count)."""
        ok = (self.bad_diagonal == 0) & (self.below_local == 0) & (self.above_max == 0)
        if rules is not RuleSet.QEMU:
            ok &= self.equal_local == 0
        return np.asarray(ok, dtype=bool)


# Below this many entries check_batch stays in numpy: loading the JIT (about half a second)
# would cost more than it saves.
_FAST_MIN_ENTRIES = 1 << 16
# The numpy paths go a slice of about this many entries at a time, so their int64
# temporaries stay near 32 MB whatever the batch.
_CHUNK_ENTRIES = 1 << 22


def check_batch(matrices: npt.ArrayLike, cpu_mask: npt.ArrayLike | None = None) -> BatchChecks:
    """Every distance check at once for a batch (no loop over entries or matrices).

    Big batches of SLIT bytes (0..255) go to the fused numba kernel when numba is
    installed (``compiled.check_all``, same answers); everything else to the numpy path.
    """
    batch = _as_int_batch(matrices)
    b, n, _ = batch.shape
    if b * n * n >= _FAST_MIN_ENTRIES:
        from numaopt.distances import compiled  # local: the JIT is loaded only for big batches

        fast = compiled.check_all(batch, cpu_mask)
        if fast is not None:
            return BatchChecks(*fast)
    step = max(1, _CHUNK_ENTRIES // max(1, n * n))
    if b <= step:
        return _check_batch_numpy(batch.astype(np.int64, copy=False), cpu_mask)
    mask = None if cpu_mask is None else _cpu_mask(batch, cpu_mask)
    parts = [
        _check_batch_numpy(batch[s : s + step].astype(np.int64), None if mask is None else mask[s : s + step])
        for s in range(0, b, step)
    ]
    return BatchChecks(*(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(BatchChecks)))


def _check_batch_numpy(batch: IntArray, cpu_mask: npt.ArrayLike | None) -> BatchChecks:
    """The numpy path of ``check_batch``, and the reference ``compiled.check_all`` must equal."""
    n = batch.shape[1]
    off = _offdiag_mask(n)
    diagonal = np.diagonal(batch, axis1=1, axis2=2)
    offdiag = batch[:, off]
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    return BatchChecks(
        bad_diagonal=np.count_nonzero(diagonal != LOCAL_DISTANCE, axis=1),
        below_local=np.count_nonzero(offdiag < LOCAL_DISTANCE, axis=1),
        equal_local=np.count_nonzero(offdiag == LOCAL_DISTANCE, axis=1),
        above_max=np.count_nonzero(batch > MAX_DISTANCE, axis=(1, 2)),
        asymmetric_pairs=np.count_nonzero((batch != batch.transpose(0, 2, 1))[:, upper], axis=1),
        metric=triangle_ok(batch),
        metric_excess=triangle_ok(batch, excess=True),
        levels=distinct_levels(batch, cpu_mask),
        topology_type=topology_type_codes(batch, cpu_mask),
    )


def triangle_ok(matrices: npt.ArrayLike, *, excess: bool = False) -> BoolArray:
    """True per matrix where ``d[i][k] <= d[i][j] + d[j][k]`` for all i, j, k.

    The diagonal counts as 0, so only paths through a third node matter (and a round trip
    i -> j -> i, which fails only for distances below 10). With ``excess`` the check is on
    ``d - 10`` (what real SNC hosts violate). Directed: an asymmetric matrix is checked
    along every ordered path.
    """
    ints = _as_int_batch(matrices)
    b, n, _ = ints.shape
    step = max(1, _CHUNK_ENTRIES // max(1, n * n))
    if b > step:  # a slice at a time: the int64 copies below stay bounded
        return np.concatenate([triangle_ok(ints[s : s + step], excess=excess) for s in range(0, b, step)])
    batch = ints.astype(np.int64, copy=False)
    result = np.ones(b, dtype=bool)
    if n < 2:
        return result
    # The diagonal takes no part: i == j or j == k holds trivially once it is zeroed.
    work = batch - LOCAL_DISTANCE if excess else batch.copy()
    work[:, np.arange(n), np.arange(n)] = 0
    # Cheap exact shortcut: if every off-diagonal value is at most twice the smallest, no
    # sum of two can fall below any single one. Only the undecided matrices go on.
    offdiag = work[:, _offdiag_mask(n)]
    lo = offdiag.min(axis=1)
    hi = offdiag.max(axis=1)
    undecided = np.flatnonzero(~((lo >= 0) & (hi <= 2 * lo)))
    if undecided.size == 0:
        return result
    from numaopt.distances import compiled  # local: the JIT is loaded only when a matrix needs it

    result[undecided] = compiled.triangle_ok(work[undecided])
    return result


def distinct_levels(matrices: npt.ArrayLike, cpu_mask: npt.ArrayLike | None = None) -> IntArray:
    """Number of distinct distances among CPU-bearing nodes (Linux ``sched_domains_numa_levels``)."""
    batch = as_batch(matrices)
    b, n, _ = batch.shape
    mask = _cpu_mask(batch, cpu_mask)
    pair_mask = mask[:, :, None] & mask[:, None, :]
    # Masked-out entries become -1, sorted first, and are not counted.
    values = np.where(pair_mask, batch, -1).reshape(b, n * n)
    values.sort(axis=1)
    changes = np.count_nonzero(np.diff(values, axis=1) != 0, axis=1) + 1
    has_masked = values[:, 0] == -1
    return np.asarray(changes - has_masked, dtype=np.int64)


def topology_type_codes(matrices: npt.ArrayLike, cpu_mask: npt.ArrayLike | None = None) -> IntArray:
    """Linux ``init_numa_topology_type`` per matrix, as an index into ``TopologyType``.

    ``<= 2`` levels: DIRECT. Else with ``n`` the largest distance, take the first CPU-node
    pair (a, b) in row-major order with ``d(a, b) >= n``; if some CPU node c has
    ``d(a, c) < n and d(b, c) < n`` the type is GLUELESS_MESH, else BACKPLANE.
    """
    batch = as_batch(matrices)
    b, n, _ = batch.shape
    mask = _cpu_mask(batch, cpu_mask)
    pair_mask = mask[:, :, None] & mask[:, None, :]
    levels = distinct_levels(batch, mask)
    largest = np.where(pair_mask, batch, np.iinfo(np.int64).min).reshape(b, -1).max(axis=1)
    far = (batch >= largest[:, None, None]) & pair_mask
    first = np.argmax(far.reshape(b, -1), axis=1)
    a, c = np.divmod(first, n)
    rows = np.arange(b)
    near_a = batch[rows, a, :] < largest[:, None]
    near_b = batch[rows, c, :] < largest[:, None]
    mesh = np.any(near_a & near_b & mask, axis=1)
    codes = np.where(mesh, 1, 2)
    codes = np.where(levels <= 2, 0, codes)
    return codes.astype(np.int64)


def topology_type(matrix: npt.ArrayLike, cpu_mask: npt.ArrayLike | None = None) -> TopologyType:
    return _TOPOLOGY_CODES[int(topology_type_codes(matrix, cpu_mask)[0])]


def is_symmetric(matrix: npt.ArrayLike) -> bool:
    batch = as_batch(matrix)
    return bool(np.array_equal(batch, batch.transpose(0, 2, 1)))


# ---------------------------------------------------------------------------------------
# One matrix, judged against a rule set, with the culprit named.


def _first(mask: BoolArray) -> tuple[int, int] | None:
    hits = np.argwhere(mask)
    return (int(hits[0][0]), int(hits[0][1])) if hits.size else None


def _triangle_witness(matrix: IntArray, excess: bool) -> tuple[int, int, int] | None:
    """The first (i, j, k) with d[i][k] > d[i][j] + d[j][k] (on d - 10 with ``excess``)."""
    n = matrix.shape[0]
    work = matrix - LOCAL_DISTANCE if excess else matrix.copy()
    np.fill_diagonal(work, 0)
    via = work[:, :, None] + work[None, :, :]  # via[i, j, k] = d[i][j] + d[j][k]
    bad = work[:, None, :] > via
    idx = np.arange(n)
    bad[idx, idx, :] = False
    bad[:, idx, idx] = False
    hits = np.argwhere(bad)
    return (int(hits[0][0]), int(hits[0][1]), int(hits[0][2])) if hits.size else None


@dataclass(frozen=True, slots=True)
class _Judged:
    """One matrix being judged: its entries, the node ids the user wrote, the rule set,
    and the CPU mask as given (``None``: every node has CPUs)."""

    d: IntArray
    ids: list[int]
    rules: RuleSet
    cpu_mask: npt.ArrayLike | None

    def finding(self, severity: Severity, code: str, message: str, fix: str | None = None) -> Finding:
        return Finding(self.rules, severity, code, message, fix)


def distance_findings(
    matrix: npt.ArrayLike,
    rules: RuleSet,
    cpu_mask: npt.ArrayLike | None = None,
    node_ids: list[int] | None = None,
) -> list[Finding]:
    """Judge one matrix against ``rules``; messages name the first offending entries.

    ``node_ids`` maps matrix positions to the node ids the user wrote (default 0..n-1).
    QEMU and libvirt get the errors only; the guest's rule sets also get the warnings and
    facts of the guest's view.
    """
    d = as_batch(matrix)[0]
    ids = node_ids if node_ids is not None else list(range(d.shape[0]))
    judged = _Judged(d, ids, rules, cpu_mask)
    checks = _ERROR_CHECKS if rules in (RuleSet.QEMU, RuleSet.LIBVIRT) else _ERROR_CHECKS + _GUEST_VIEW_CHECKS
    return [finding for check in checks for finding in check(judged)]


def _local_distance(m: _Judged) -> list[Finding]:
    """A node's distance to itself is 10 (QEMU's words under QEMU's rules)."""
    d, ids = m.d, m.ids
    if (hit := _first(np.diag(np.diag(d) != LOCAL_DISTANCE))) is None:
        return []
    i = hit[0]
    if m.rules is RuleSet.QEMU and 0 <= d[i, i] < LOCAL_DISTANCE:  # parse_numa_distance checks this first
        return [m.finding(Severity.ERROR, "local-distance", f"NUMA distance ({d[i, i]}) is invalid, it shouldn't be less than 10.")]
    if m.rules is RuleSet.QEMU:
        return [m.finding(Severity.ERROR, "local-distance", f"Local distance of node {ids[i]} should be 10.")]
    return [
        m.finding(Severity.ERROR, "local-distance", f"distance[{ids[i]}][{ids[i]}] = {d[i, i]}: a node's distance to itself must be 10")
    ]


def _distance_range(m: _Judged) -> list[Finding]:
    """Every entry fits a SLIT byte."""
    d, ids = m.d, m.ids
    if (hit := _first((d > MAX_DISTANCE) | (d < 0))) is None:
        return []
    i, j = hit
    return [
        m.finding(
            Severity.ERROR,
            "distance-range",
            f"distance[{ids[i]}][{ids[j]}] = {d[i, j]} does not fit a SLIT byte (valid: 10..255, 255 = unreachable)",
        )
    ]


def _below_local(m: _Judged) -> list[Finding]:
    """No remote distance below 10 (QEMU's words under QEMU's rules)."""
    d, ids = m.d, m.ids
    if (hit := _first(_offdiag_mask(d.shape[0]) & (d < LOCAL_DISTANCE) & (d >= 0))) is None:
        return []
    i, j = hit
    if m.rules is RuleSet.QEMU:
        return [m.finding(Severity.ERROR, "distance-below-10", f"NUMA distance ({d[i, j]}) is invalid, it shouldn't be less than 10.")]
    return [m.finding(Severity.ERROR, "distance-below-10", f"distance[{ids[i]}][{ids[j]}] = {d[i, j]} is below 10 (valid: 11..255)")]


def _remote_equals_local(m: _Judged) -> list[Finding]:
    """10 between two different nodes: what each guest and libvirt make of it (QEMU
    accepts it: it only checks < 10)."""
    d, ids = m.d, m.ids
    if (hit := _first(_offdiag_mask(d.shape[0]) & (d == LOCAL_DISTANCE))) is None:
        return []
    i, j = hit
    where = f"distance[{ids[i]}][{ids[j]}] = 10 between two different nodes"
    fix = "use 11..255 between different nodes"
    if m.rules is RuleSet.LINUX_ACPI:
        message = f"{where}: the guest prints 'ACPI: SLIT table looks invalid. Not used.' and falls back to 10/20"
    elif m.rules is RuleSet.LINUX_DT:
        message = f"{where}: the guest prints 'Invalid distance[node{ids[i]} -> node{ids[j]}] = 10' and drops all NUMA"
    elif m.rules is RuleSet.LIBVIRT:
        message = f"'value 10' is invalid for 'sibling id {ids[j]}' under NUMA 'cell id {ids[i]}'"
    else:
        return []
    return [m.finding(Severity.ERROR, "remote-equals-local", message, fix)]


def _asymmetry(m: _Judged) -> list[Finding]:
    """An asymmetric matrix: kept by Linux, with consequences worth a warning."""
    d, ids = m.d, m.ids
    if (hit := _first(d != d.T)) is None:
        return []
    i, j = hit
    return [
        m.finding(
            Severity.WARNING,
            "asymmetric",
            f"distance[{ids[i]}][{ids[j]}] = {d[i, j]} but distance[{ids[j]}][{ids[i]}] = {d[j, i]} (asymmetric): "
            "Linux keeps it, prints 'Node-distance not symmetric' with sched_verbose, and builds per-CPU "
            "scheduler domains of unequal depth",
        )
    ]


def _triangle(m: _Judged) -> list[Finding]:
    """The triangle inequality on raw values, else on d - 10: the first form that fails
    (the raw form failing implies nothing new about the excess form worth repeating)."""
    d, ids = m.d, m.ids
    for excess, label in ((False, "raw values"), (True, "d - 10")):
        witness = _triangle_witness(d, excess)
        if witness is None:
            continue
        i, j, k = witness
        if excess:
            detail = (
                f"distance[{ids[i]}][{ids[k]}] - 10 = {d[i, k] - 10} > "
                f"(distance[{ids[i]}][{ids[j]}] - 10) + (distance[{ids[j]}][{ids[k]}] - 10) = {d[i, j] - 10} + {d[j, k] - 10}"
            )
        else:
            detail = (
                f"distance[{ids[i]}][{ids[k]}] = {d[i, k]} > "
                f"distance[{ids[i]}][{ids[j]}] + distance[{ids[j]}][{ids[k]}] = {d[i, j]} + {d[j, k]}"
            )
        return [
            m.finding(
                Severity.WARNING,
                "triangle-excess" if excess else "triangle",
                f"triangle inequality fails on {label}: {detail} (Linux accepts it; real SNC hosts do this)",
            )
        ]
    return []


def _unreachable(m: _Judged) -> list[Finding]:
    """255 is 'unreachable' to ACPI but a plain distance to Linux."""
    if not np.any(_offdiag_mask(m.d.shape[0]) & (m.d == UNREACHABLE_DISTANCE)):
        return []
    return [m.finding(Severity.INFO, "unreachable", "distance 255 means 'unreachable'; Linux keeps it as a plain distance")]


def _scheduler(m: _Judged) -> list[Finding]:
    """What the scheduler builds from the CPU nodes' distances (nothing without CPU nodes)."""
    d = m.d
    mask = np.ones(d.shape[0], dtype=bool) if m.cpu_mask is None else np.asarray(m.cpu_mask, dtype=bool)
    if not mask.any():
        return []
    levels = int(distinct_levels(d, mask)[0])
    kind = topology_type(d, mask)
    found = [m.finding(Severity.INFO, "sched-levels", f"scheduler: {levels} NUMA level(s) among CPU nodes, {kind}")]
    if np.any(d[np.ix_(mask, mask)] > RECLAIM_DISTANCE):
        found.append(
            m.finding(
                Severity.INFO,
                "beyond-reclaim-distance",
                "some CPU nodes are further than 30 apart: those scheduler levels lose wake-affine and exec/fork balancing",
            )
        )
    return found


# In the order their findings are listed. The guest's view (warnings and facts) is only
# for the guest's rule sets.
_ERROR_CHECKS = (_local_distance, _distance_range, _below_local, _remote_equals_local)
_GUEST_VIEW_CHECKS = (_asymmetry, _triangle, _unreachable, _scheduler)
