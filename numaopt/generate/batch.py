"""Generate items of a batch: sample (vectorised) or synthesise, validate, classify, key.

``generate_items(space, seed, indices)`` is the whole pipeline for a list of item
indices. Items are grouped by node count and family so that every sampled family runs
as one numpy operation over its group; every per-item number comes from the item's own
stream (``streams.Draws``), so the grouping never changes a result. Matrices are checked
with ``numaopt.distances.check_batch`` on the whole group, node structure with plain
array arithmetic; a layout that fails its target is a generator bug and raises
``GenerationBug``, never a silent skip.

``iter_generated`` runs ``generate_items`` over consecutive chunks of indices, in this
process or in a pool of worker processes, and yields results in index order.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE, REMOTE_DISTANCE, TopologyType, check_batch
from numaopt.generate.canonical import canonical_keys
from numaopt.generate.classes import distance_classes, socket_class
from numaopt.generate.families import sample_matrices
from numaopt.generate.knobs import (
    MAX_APIC_ID,
    Family,
    Knobs,
    Metric,
    SocketMode,
    Space,
    Symmetry,
    item_rules,
    max_levels,
    resolve,
)
from numaopt.generate.memory import MemoryExtras, draw_extras, extra_classes, key_suffix, refusals, wanted
from numaopt.generate.nodes import NodeBatch, sample_nodes
from numaopt.generate.streams import Draws, child_keys
from numaopt.model import CpuShape, GuestLayout, GuestNode, Machine
from numaopt.processes import die_with_parent
from numaopt.rules import RuleSet

SLOT_NODES = 1
SLOT_FAMILY = 2
SLOT_SYNTH = 40  # + 8 * attempt
SYNTH_ATTEMPTS = 4
METHOD_SAMPLED = "sampled"
METHOD_CP_SAT = "cp-sat"


class GenerationBug(AssertionError):
    """A generated layout failed its own target: a bug in the generator, never bad input."""


@dataclass(frozen=True, slots=True, eq=False)
class Generated:
    """One layout of a batch, with what it exercises and its canonical fingerprint.

    The layout is kept compact (vCPUs dealt to nodes in order, so a count per node says
    it all) and built as a ``GuestLayout`` on demand: most of a batch is only rendered.
    """

    index: int
    family: Family
    method: str
    classes: dict[str, Any]
    canonical: str
    cpus: tuple[int, ...]  # vCPUs per node; node i holds the next cpus[i] vCPU indices
    memory: tuple[int, ...]  # bytes per node
    shape: tuple[int, int, int, int]  # -smp sockets, dies (clusters on virt), cores, threads
    distances: npt.NDArray[np.int64] | None
    machine: Machine
    rules: RuleSet
    synth_time_s: float = 0.0

    memory_extras: MemoryExtras | None = None  # --hmat / --dimms (numaopt.generate.memory)

    @property
    def layout(self) -> GuestLayout:
        layout = _base_layout(self.cpus, self.memory, self.shape, self.distances, self.machine, self.rules)
        return layout if self.memory_extras is None else self.memory_extras.apply(layout)


def _base_layout(
    cpus: tuple[int, ...] | list[int],
    memory: tuple[int, ...] | list[int],
    shape: tuple[int, int, int, int],
    distances: npt.NDArray[np.int64] | None,
    machine: Machine,
    rules: RuleSet,
) -> GuestLayout:
    start = 0
    nodes = []
    for node_id, (count, size) in enumerate(zip(cpus, memory, strict=True)):
        nodes.append(_guest_node(node_id, start, count, size))
        start += count
    return GuestLayout(
        vcpus=start,
        memory_bytes=sum(memory),
        nodes=tuple(nodes),
        shape=_cpu_shape(*shape, virt=machine is Machine.VIRT),
        distances=distances,
        machine=machine,
        rules=rules,
    )


# Every written layout is built as a GuestLayout to be rendered, and building frozen,
# self-checking nodes costs more than rendering them: batches repeat the same nodes and
# shapes, and frozen objects can be shared.
@functools.lru_cache(maxsize=65536)
def _guest_node(node_id: int, start: int, count: int, size: int) -> GuestNode:
    return GuestNode(node_id=node_id, cpus=tuple(range(start, start + count)), memory_bytes=size)


@functools.lru_cache(maxsize=4096)
def _cpu_shape(sockets: int, middle: int, cores: int, threads: int, virt: bool = False) -> CpuShape:
    """``middle`` is the level between socket and core: dies on x86, clusters on virt."""
    if virt:
        return CpuShape(sockets=sockets, clusters=middle, cores=cores, threads=threads)
    return CpuShape(sockets=sockets, dies=middle, cores=cores, threads=threads)


@dataclass(frozen=True, slots=True)
class Skipped:
    """An item CP-SAT could not satisfy (every attempt infeasible or out of time)."""

    index: int
    family: Family
    reason: str


Outcome = Generated | Skipped


# ---------------------------------------------------------------------------------------
# Per-item choices


def _choose(space: Space, draws: Draws) -> tuple[npt.NDArray[np.int64], list[Family]]:
    counts = np.asarray(space.node_counts, dtype=np.int64)
    n = counts[draws.choice(SLOT_NODES, np.full(len(draws), len(counts)))]
    options = [space.families[int(k)] for k in n]
    picks = draws.choice(SLOT_FAMILY, np.array([len(o) for o in options]))
    return n, [o[int(p)] for o, p in zip(options, picks, strict=True)]


@dataclass(slots=True)
class _Group:
    """Items of one node count: rows of ``nodes`` are the items in ``rows`` order."""

    n: int
    rows: list[int]
    nodes: NodeBatch
    families: list[Family]
    matrices: list[npt.NDArray[np.int64] | None] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    synth_times: list[float] = field(default_factory=list)
    failures: dict[int, str] = field(default_factory=dict)  # position in rows -> reason


def _synth_spec(space: Space, n: int, cpu_mask: npt.NDArray[np.bool_], draws: Draws, attempt: int) -> tuple[Any, int]:
    """The properties one synthesised matrix must have, drawn from the item's stream."""
    from numaopt.solver import MatrixSpec

    knobs = space.knobs
    base = SLOT_SYNTH + 8 * attempt
    u = draws.uniform(base, 8)[0]
    cpu_nodes = int(cpu_mask.sum())
    dist = knobs.distance_range
    values = dist.hi - max(dist.lo, LOCAL_DISTANCE + 1) + 1
    if knobs.symmetry is Symmetry.SYMMETRIC:
        symmetric: bool | None = True
    elif knobs.symmetry is Symmetry.ASYMMETRIC:
        symmetric = False
    else:
        symmetric = bool(u[0] < 0.5)
    if knobs.levels is not None:
        lo_k, hi_k = knobs.levels.lo, knobs.levels.hi
    else:
        lo_k = 1 if cpu_nodes <= 1 else 2
        hi_k = min(8, max_levels(cpu_nodes, bool(symmetric), values))
    if knobs.topology is TopologyType.DIRECT:
        hi_k = min(hi_k, 2)
    elif knobs.topology is not None:
        lo_k = max(lo_k, 3)
    hi_k = min(hi_k, max_levels(cpu_nodes, symmetric is True and knobs.symmetry is not Symmetry.ANY, values))
    hi_k = max(hi_k, lo_k)
    levels = lo_k + min(int(u[1] * (hi_k - lo_k + 1)), hi_k - lo_k)
    if symmetric and levels > max_levels(cpu_nodes, True, values):
        symmetric = None  # only an asymmetric matrix has that many values (--symmetry any)
    topology = knobs.topology
    if topology is None and levels >= 3:
        topology = TopologyType.GLUELESS_MESH if u[2] < 0.5 else TopologyType.BACKPLANE
    diameter: int | None = None
    if knobs.diameter is not None:
        hi_d = min(knobs.diameter.hi, max(cpu_nodes - 1, 0))
        diameter = knobs.diameter.lo + min(int(u[3] * (hi_d - knobs.diameter.lo + 1)), max(hi_d - knobs.diameter.lo, 0))
    metric: bool | None = {Metric.YES: True, Metric.NO: False}.get(knobs.metric, bool(u[4] < 0.5))
    if metric is False and n < 3:
        metric = None  # breaking the triangle inequality takes three nodes
    spec = MatrixSpec(
        num_nodes=n,
        cpu_nodes=tuple(bool(x) for x in cpu_mask),
        value_range=(dist.lo, dist.hi),
        levels=levels,
        topology=topology if topology is not TopologyType.DIRECT else None,
        diameter=diameter,
        metric=metric,
        symmetric=symmetric,
        max_skew=knobs.max_skew,
    )
    return spec, int(draws.seed32(base + 7)[0])


def _synthesise(space: Space, n: int, cpu_mask: npt.NDArray[np.bool_], draws: Draws) -> tuple[npt.NDArray[np.int64] | None, float, str]:
    from numaopt.solver import synthesize

    spent = 0.0
    statuses = []
    for attempt in range(SYNTH_ATTEMPTS):
        spec, seed = _synth_spec(space, n, cpu_mask, draws, attempt)
        result = synthesize(spec, seed)
        spent += result.wall_time_s
        if result.matrix is not None:
            _check_synthesised(spec, result.matrix)
            return result.matrix, spent, ""
        statuses.append(f"{result.status.value} for levels={spec.levels} topology={spec.topology} diameter={spec.diameter}")
    return None, spent, "CP-SAT found no matrix: " + "; ".join(statuses)


def _check_synthesised(spec: Any, matrix: npt.NDArray[np.int64]) -> None:
    mask = np.asarray(spec.cpu_nodes, dtype=bool)
    got = distance_classes(matrix[None], mask[None], check_batch(matrix[None], mask[None]))[0]
    wanted = {
        "levels": spec.levels,
        "topology": None if spec.topology is None else spec.topology.value,
        "diameter": spec.diameter,
        "symmetric": spec.symmetric,
    }
    for key, value in wanted.items():
        if value is not None and got[key] != value:
            raise GenerationBug(f"CP-SAT matrix has {key} {got[key]}, asked {value}: {matrix.tolist()}")
    if spec.metric is not None and (got["triangle"] == "metric") != spec.metric:
        raise GenerationBug(f"CP-SAT matrix is {got['triangle']}, asked metric={spec.metric}: {matrix.tolist()}")


# ---------------------------------------------------------------------------------------
# Layouts


def _effective(n: int, matrix: npt.NDArray[np.int64] | None) -> npt.NDArray[np.int64]:
    if matrix is not None:
        return matrix
    default = np.full((n, n), REMOTE_DISTANCE, dtype=np.int64)
    np.fill_diagonal(default, LOCAL_DISTANCE)
    return default


def _pair_relations(cpus: npt.NDArray[np.int64], shapes: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Per item and node pair: 3 share a core, 2 a die, 1 a socket, 0 nothing.

    Nodes hold consecutive vCPUs, so two nodes share a block (socket, die, core) when the
    block ranges [first, last] their vCPUs fall in overlap.
    """
    g, n = cpus.shape
    end = np.cumsum(cpus, axis=1)
    start = end - cpus
    has = cpus > 0
    both = has[:, :, None] & has[:, None, :]
    _, dies, cores, threads = (shapes[:, k, None] for k in range(4))
    relation = np.zeros((g, n, n), dtype=np.int64)
    for level, block in ((1, dies * cores * threads), (2, cores * threads), (3, threads)):
        first, last = start // block, np.maximum(end - 1, 0) // block
        overlap = np.maximum(first[:, :, None], first[:, None, :]) <= np.minimum(last[:, :, None], last[:, None, :])
        relation = np.where(overlap & both, level, relation)
    relation[:, np.arange(n), np.arange(n)] = 0
    return relation


_BITS = np.array([0] + [(count - 1).bit_length() for count in range(1, 1025)], dtype=np.int64)


def _structure_problems(space: Space, nodes: NodeBatch, rows: list[int], socket_kinds: list[str]) -> list[str | None]:
    """Node-structure rules of the target that the matrix checks do not cover, per row
    (APIC IDs on x86 only: virt numbers its vCPUs by MPIDR)."""
    knobs = space.knobs
    cpus = nodes.cpus[rows]
    memory = nodes.memory[rows]
    sockets, dies, cores, threads = (nodes.shapes[rows, k] for k in range(4))
    vcpus = cpus.sum(axis=1)
    core_shift = _BITS[threads]
    die_shift = core_shift + _BITS[cores]
    socket_shift = die_shift + _BITS[dies]
    last_apic = ((sockets - 1) << socket_shift) | ((dies - 1) << die_shift) | ((cores - 1) << core_shift) | (threads - 1)
    has_cpus = cpus > 0
    out_of_range = has_cpus & ((cpus < knobs.vcpus_per_node.lo) | (cpus > knobs.vcpus_per_node.hi))
    empty = ~has_cpus & (memory == 0)
    problems: list[str | None] = []
    for q in range(len(rows)):
        virt = nodes.machines[rows[q]] is Machine.VIRT
        if sockets[q] * dies[q] * cores[q] * threads[q] != vcpus[q]:
            problems.append(f"-smp product {nodes.shapes[rows[q]].tolist()} != {vcpus[q]} vCPUs")
        elif not virt and last_apic[q] > MAX_APIC_ID:
            problems.append(f"-smp {nodes.shapes[rows[q]].tolist()} needs APIC IDs above {MAX_APIC_ID}")
        elif vcpus[q] > space.machine_cap:
            problems.append(f"{vcpus[q]} vCPUs exceed the machines' {space.machine_cap}")
        elif memory[q].sum() <= 0:
            problems.append("no node has memory")
        elif knobs.target is not RuleSet.QEMU and socket_kinds[q] in ("core-split", "cluster-split"):
            problems.append(f"{'an SMT core' if socket_kinds[q] == 'core-split' else 'a cluster'} is split across nodes")
        elif out_of_range[q].any():
            problems.append(f"vCPUs per node {cpus[q].tolist()} outside --vcpus-per-node {knobs.vcpus_per_node}")
        elif empty[q].any():
            problems.append("a node has neither vCPUs nor memory")
        else:
            problems.append(None)
    return problems


def generate_items(space: Space, seed: int, indices: list[int]) -> list[Outcome]:
    """Items ``indices`` of the batch with ``seed``, in the order given."""
    if not indices:
        return []
    draws = Draws(child_keys(seed, indices))
    n_of, families = _choose(space, draws)
    outcomes: dict[int, Outcome] = {}
    for n in sorted({int(k) for k in n_of}):
        rows = [i for i in range(len(indices)) if n_of[i] == n]
        sub = draws.take(rows)
        group = _Group(n, rows, sample_nodes(space, n, sub), [families[i] for i in rows])
        group.matrices = [None] * len(rows)
        group.methods = [METHOD_SAMPLED] * len(rows)
        group.synth_times = [0.0] * len(rows)
        for family in dict.fromkeys(group.families):
            members = [p for p, f in enumerate(group.families) if f is family]
            if family is Family.SYNTH:
                for p in members:
                    matrix, spent, why = _synthesise(space, n, group.nodes.cpu_mask[p], sub.take([p]))
                    group.methods[p] = METHOD_CP_SAT
                    group.synth_times[p] = spent
                    if matrix is None:
                        group.failures[p] = why
                    group.matrices[p] = matrix
                continue
            sampled = sample_matrices(family, space, n, sub.take(members))
            for q, p in enumerate(members):
                group.matrices[p] = None if sampled is None else sampled[q]
        _finish_group(space, group, indices, outcomes, sub)
    return [outcomes[index] for index in indices]


def _shape(row: npt.NDArray[np.int64]) -> tuple[int, int, int, int]:
    sockets, dies, cores, threads = (int(v) for v in row)
    return sockets, dies, cores, threads


def _memory_extras(
    space: Space, group: _Group, keep: list[int], rules: list[RuleSet], draws: Draws | None
) -> list[MemoryExtras | None]:
    """--hmat / --dimms for the kept items (all None, nothing drawn, with the default shares)."""
    if draws is None or not wanted(space):
        return [None] * len(keep)
    nodes = group.nodes
    layouts = [
        _base_layout(nodes.cpus[p].tolist(), nodes.memory[p].tolist(), _shape(nodes.shapes[p]), group.matrices[p],
                     nodes.machines[p], rules[q])
        for q, p in enumerate(keep)
    ]
    return draw_extras(space, layouts, draws.take(keep))


def _keep_and_skip(group: _Group, indices: list[int], outcomes: dict[int, Outcome]) -> list[int]:
    """The group positions that have a matrix; the others are recorded as skipped."""
    for p, why in group.failures.items():
        index = indices[group.rows[p]]
        outcomes[index] = Skipped(index, group.families[p], why)
    return [p for p in range(len(group.rows)) if p not in group.failures]


def _finish_group(
    space: Space, group: _Group, indices: list[int], outcomes: dict[int, Outcome], draws: Draws | None = None
) -> None:
    knobs = space.knobs
    n = group.n
    nodes = group.nodes
    keep = _keep_and_skip(group, indices, outcomes)
    if not keep:
        return
    effective = np.stack([_effective(n, group.matrices[p]) for p in keep])
    given = [group.matrices[p] is not None for p in keep]
    mask = nodes.cpu_mask[keep]
    checks = check_batch(effective, mask)
    valid = checks.valid_for(knobs.target) & checks.valid_for(RuleSet.QEMU)
    if knobs.target is not RuleSet.QEMU:
        valid &= checks.valid_for(RuleSet.LINUX_ACPI)
    dist_classes = distance_classes(effective, mask, checks)
    cpus = nodes.cpus[keep]
    memory = nodes.memory[keep]
    shapes = nodes.shapes[keep]
    socket_kinds = [
        "whole" if nodes.modes[p] is SocketMode.WHOLE
        else socket_class(cpus[q].tolist(), _shape(shapes[q]), nodes.machines[p] is Machine.VIRT)
        for q, p in enumerate(keep)
    ]
    rules = [item_rules(knobs.target, nodes.machines[p]) for p in keep]
    relations = np.zeros((len(keep), n, n), dtype=np.int64)
    split = [q for q, kind in enumerate(socket_kinds) if kind != "whole"]
    if split:
        relations[split] = _pair_relations(cpus[split], shapes[split])
    attrs = np.stack([cpus, memory // 4096], axis=2)
    shape_rows = shapes.tolist()
    memory_extras = _memory_extras(space, group, keep, rules, draws)
    extras = [
        f"{nodes.machines[p].value}|{shape_rows[q]}|{int(given[q])}|{rules[q].value}{key_suffix(memory_extras[q])}".encode()
        for q, p in enumerate(keep)
    ]
    keys = canonical_keys(effective * 4 + relations, attrs, extras)
    problems = _structure_problems(space, nodes, keep, socket_kinds)
    cpu_nodes = mask.sum(axis=1).tolist()
    memoryless = (mask & (memory == 0)).sum(axis=1).tolist()
    cpu_rows = cpus.tolist()
    memory_rows = memory.tolist()
    for q, p in enumerate(keep):
        index = indices[group.rows[p]]
        if not valid[q]:
            raise GenerationBug(f"item {index}: distances fail {rules[q].value}: {effective[q].tolist()}")
        if problems[q] is not None:
            raise GenerationBug(f"item {index}: {problems[q]}")
        classes = {
            "nodes": n,
            "cpu_nodes": cpu_nodes[q],
            **dist_classes[q],
            "memoryless": memoryless[q],
            "cpuless": n - cpu_nodes[q],
            "threads": shape_rows[q][3],
            "sockets": socket_kinds[q],
            "distances": "given" if given[q] else "default",
            "machine": nodes.machines[p].value,
        }
        if not given[q]:
            classes["edge_values"] = []
        classes.update(extra_classes(space, memory_extras[q]))
        outcomes[index] = Generated(
            index=index,
            family=group.families[p],
            method=group.methods[p],
            classes=classes,
            canonical=keys[q],
            cpus=tuple(cpu_rows[q]),
            memory=tuple(memory_rows[q]),
            shape=_shape(shapes[q]),
            distances=group.matrices[p],
            machine=nodes.machines[p],
            rules=rules[q],
            synth_time_s=group.synth_times[p],
            memory_extras=memory_extras[q],
        )
        _check_extras(outcomes[index])


def _check_extras(outcome: Outcome) -> None:
    """A layout with HMAT or DIMMs that QEMU would refuse is a generator bug."""
    if isinstance(outcome, Generated) and outcome.memory_extras is not None:
        refused = refusals(outcome.layout)
        if refused:
            raise GenerationBug(f"item {outcome.index}: QEMU refuses its HMAT or DIMMs: {refused[0]}")


# ---------------------------------------------------------------------------------------
# Running over many items, in one process or several


_WORKER: dict[str, Any] = {}
# A chunk should take about this long: long enough that per-chunk costs vanish, short
# enough that a stop (the batch is complete, Ctrl-C, SIGTERM) waits little for the chunks
# the workers are in the middle of (CP-SAT items take 100 times longer than sampled ones).
CHUNK_TARGET_S = 1.0


def _init_worker(knobs: Knobs, seed: int, render: Callable[[Generated], Any] | None, parent: int) -> None:
    die_with_parent(parent)  # a parent killed with SIGKILL takes its workers along
    # Ctrl-C reaches the whole process group: the parent alone stops the batch, and the
    # workers finish the chunk they are in so that the pool shuts down cleanly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER["space"] = resolve(knobs)
    _WORKER["seed"] = seed
    _WORKER["render"] = render


@contextlib.contextmanager
def one_numba_thread() -> Iterator[None]:
    """Run numba kernels on one thread: generation checks many small groups, where a
    parallel launch costs more than it saves (and a pool of workers fills the cores)."""
    try:
        import numba
    except ImportError:
        yield
        return
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        yield
    finally:
        numba.set_num_threads(before)


def _run_chunk(space: Space, seed: int, render: Callable[[Generated], Any] | None, indices: list[int]) -> tuple[float, list[Any]]:
    """(wall seconds, outcomes) of one chunk."""
    started = time.monotonic()
    with one_numba_thread():
        outcomes = generate_items(space, seed, indices)
        rendered = [render(o) if render is not None and isinstance(o, Generated) else o for o in outcomes]
    return time.monotonic() - started, rendered


def _work(indices: list[int]) -> tuple[float, list[Any]]:
    return _run_chunk(_WORKER["space"], _WORKER["seed"], _WORKER["render"], indices)


@dataclass(slots=True)
class _Chunks:
    """Consecutive runs of item indices: small at first (the first results, and an early
    stop, come quickly), then doubling up to ``limit`` while a chunk takes less than
    ``CHUNK_TARGET_S`` and halving when one takes more than twice that. How items are
    grouped never changes an item."""

    position: int
    limit: int
    size: int = 0

    def __post_init__(self) -> None:
        self.size = max(1, min(self.limit, 32))

    def next(self) -> list[int]:
        indices = list(range(self.position, self.position + self.size))
        self.position += self.size
        return indices

    def took(self, seconds: float) -> None:
        if seconds < CHUNK_TARGET_S:
            self.size = min(self.limit, self.size * 2)
        elif seconds > 2 * CHUNK_TARGET_S:
            self.size = max(1, self.size // 2)


def iter_generated(
    space: Space,
    seed: int,
    start: int = 0,
    *,
    jobs: int = 1,
    chunk: int = 512,
    render: Callable[[Generated], Any] | None = None,
) -> Iterator[Any]:
    """Outcomes for items start, start + 1, ... in order, forever (the caller stops).

    With ``render``, each ``Generated`` is passed through it where it was made (in the
    worker), so only the rendered result crosses processes. ``jobs > 1`` runs a pool of
    spawned processes (safe with numba's and OR-Tools' threads) a few chunks ahead; they
    die with this process even when it is killed, and closing the iterator stops the pool
    after the chunks in flight (about ``CHUNK_TARGET_S`` each).
    """
    chunks = _Chunks(start, chunk)
    if jobs <= 1:
        while True:
            took, outcomes = _run_chunk(space, seed, render, chunks.next())
            chunks.took(took)
            yield from outcomes
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_init_worker,
                             initargs=(space.knobs, seed, render, os.getpid())) as pool:
        pending: list[Future[tuple[float, list[Any]]]] = []
        try:
            while True:
                while len(pending) < 2 * jobs:
                    pending.append(pool.submit(_work, chunks.next()))
                took, outcomes = pending.pop(0).result()
                chunks.took(took)
                yield from outcomes
        finally:
            for future in pending:
                future.cancel()


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
