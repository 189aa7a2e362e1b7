"""The campaign executor: boot each item, judge it with the four oracles, shrink failures,
write reproducers, journal every result; in this process, a process pool, or on Dask.

Work is split so that a worker needs nothing but its ``Task`` (an item and the run
settings, both picklable): it boots, judges and shrinks, and sends back an
``ItemResult``. Only the parent writes: reproducer directories first (atomically, by a
rename), then the journal record (fsync'd), so a campaign killed at any moment resumes
with every journaled item complete on disk and nothing else counted.

Processes: ``jobs > 1`` uses a spawned ``multiprocessing`` pool. Every QEMU dies with the
thread that started it and every worker with the campaign (``numaopt.processes``), so
nothing outlives a campaign, even one killed with SIGKILL; terminating the pool (Ctrl-C,
SIGTERM, an error) ends the workers and with them their QEMU. ``dask_address`` submits
the same tasks to a ``dask.distributed`` scheduler instead (a sliding window of twice the
worker count).
"""

from __future__ import annotations

import functools
import importlib
import itertools
import json
import multiprocessing
import os
import shlex
import shutil
import signal
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from numaopt.files import make_temporary_dir, prepare_output_dir, remove_stale, writing
from numaopt.fuzz.compare import guest_differences
from numaopt.fuzz.items import WorkItem
from numaopt.fuzz.journal import Journal
from numaopt.fuzz.provenance import KERNEL_FILE, kernel_record, qemu_version
from numaopt.fuzz.shrink import shrink
from numaopt.fuzz.signatures import Expected, layout_class, signature, signatures_of
from numaopt.guest.boot import BootResult, boot
from numaopt.guest.kit import GuestKit, kernel_arch, load_kit
from numaopt.guest.oracles import Failure, Oracle, judge
from numaopt.guest.predictions import judge_predictions
from numaopt.guest.workload import WORKLOAD_FILE, parse_workload
from numaopt.model import GuestLayout
from numaopt.processes import die_with_parent
from numaopt.qemu.qmp import QemuRefused
from numaopt.render.toml import problem_toml

__all__ = [
    "ORACLE_ORDER",
    "CampaignSummary",
    "ItemResult",
    "RunSettings",
    "Task",
    "reason_key",
    "run_campaign",
    "run_item",
    "summarise",
]

JOURNAL_NAME = "journal.jsonl"
FAILURES_DIR = "failures"
# Which failure names an item (and is kept while shrinking): the most severe first.
ORACLE_ORDER = (Oracle.HANG, Oracle.MESSAGES, Oracle.SCHED, Oracle.TOPOLOGY, Oracle.BALANCE, Oracle.PREDICTIONS)


@dataclass(frozen=True, slots=True)
class RunSettings:
    """How every item is booted and judged (the same for all workers).

    ``compare_kernel`` set: every layout boots under ``kernel`` (A) and this kernel (B),
    and an item fails only where the two guests' failure signatures differ. Each image
    applies to the guests of its own architecture (``kernels_for``): in a campaign of q35
    and virt layouts the other architecture's guests boot the kit's Debian kernel, and an
    x86 and an arm64 image given together are one kernel per architecture, not a comparison.
    """

    kernel: str | None = None
    accel: str | None = None
    timeout_s: float | None = None
    shrink: bool = True
    shrink_checks: int = 12
    compare_kernel: str | None = None
    workload: str | None = None  # a workload spec ("spread", "pairs:4"): every boot runs it (guest.workload)

    @property
    def kernels(self) -> tuple[str | None, ...]:
        return (self.kernel,) if self.compare_kernel is None else (self.kernel, self.compare_kernel)

    def kernels_for(self, arch: str) -> tuple[str | None, ...]:
        """The images an ``arch`` guest boots under: the given ones of that architecture
        (two: compared), else (None,), the kit's Debian kernel."""
        mine = tuple(kernel for kernel in self.kernels if kernel is not None and _kernel_arch(kernel) == arch)
        return mine or (None,)

    @property
    def compares(self) -> bool:
        """Two images of one architecture: its guests boot under both."""
        return self.compare_kernel is not None and self.kernel is not None and _kernel_arch(self.kernel) == _kernel_arch(self.compare_kernel)


@functools.cache
def _kernel_arch(kernel: str) -> str:
    return kernel_arch(Path(kernel))


@dataclass(frozen=True, slots=True)
class Task:
    item: WorkItem
    settings: RunSettings


@dataclass(frozen=True, slots=True)
class Attempt:
    """One boot of one layout (under each kernel of the run), as a reproducer needs it."""

    layout_toml: str
    argv: list[str]
    console: str
    failures: list[dict[str, str]]
    wall_s: float
    kernels: tuple[dict[str, Any], ...] = ()  # provenance.kernel_record of each kernel booted
    qemu: str = ""
    others: tuple[Attempt, ...] = ()  # kernel B's boot when two kernels are compared
    workload: dict[str, Any] | None = None  # Workload.record(): the spec, its seed, the kernel argument


@dataclass(frozen=True, slots=True)
class ItemResult:
    item_id: int
    child_seed: str
    label: str
    verdict: str  # pass | fail | error | skipped
    failures: list[dict[str, str]]
    wall_s: float
    accel: str = ""
    vcpus: int = 0
    nodes: int = 0
    original: Attempt | None = None  # failures and errors only
    shrunk: Attempt | None = None
    shrink_steps: tuple[str, ...] = ()
    shrink_checks: int = 0
    layout_class: str = ""  # signatures.layout_class of the item's layout (none when skipped)
    differences: tuple[str, ...] = ()  # two kernels: where the guests show different things (compare.py)

    @property
    def reason(self) -> str:
        if not self.failures:
            return ""
        first = self.failures[0]
        return f"{first['oracle']}: {first['message']}"


def _failure_dict(failure: Failure) -> dict[str, str]:
    return {"oracle": failure.oracle.value, "code": failure.code, "message": failure.message}


def _ordered(failures: list[Failure]) -> list[Failure]:
    return sorted(failures, key=lambda f: ORACLE_ORDER.index(f.oracle))


def _toml(layout: GuestLayout, header: str) -> str:
    """The reproducer's problem file: the layout's explicit ``[guest]`` form."""
    return problem_toml(layout, header)


@functools.cache
def _kit(kernel: str | None, arch: str) -> GuestKit:
    return load_kit(Path(kernel) if kernel else None, arch)


@dataclass(frozen=True, slots=True)
class Judged:
    """A layout booted under each kernel of the run: the boots and the run's failures."""

    boots: tuple[BootResult, ...]
    failures: list[dict[str, str]]  # one kernel: the oracles'; two: one "kernels" failure where they differ
    kernels: tuple[dict[str, Any], ...]
    per_kernel: tuple[list[dict[str, str]], ...]  # each boot's own oracle failures
    workload: dict[str, Any] | None = None
    differences: tuple[str, ...] = ()  # two kernels: what the guests show differently, failing or not

    def attempt(self, layout_toml: str) -> Attempt:
        first = self.boots[0]
        others = tuple(
            Attempt(layout_toml, b.argv, b.console, failures, b.wall_time_s, (kernel,), workload=self.workload)
            for b, failures, kernel in zip(self.boots[1:], self.per_kernel[1:], self.kernels[1:], strict=True)
        )
        return Attempt(layout_toml, first.argv, first.console, self.failures, first.wall_time_s, self.kernels,
                       qemu_version(first.argv[0]), others, self.workload)


def workload_seed(child_seed: str) -> int:
    """The seed of an item's workload (where its tasks start): from the item's own seed, so a
    resumed or sharded campaign runs the same workload, and shrinking keeps it."""
    return zlib.crc32(child_seed.encode())


def boot_and_judge(layout: GuestLayout, settings: RunSettings, seed: int = 0) -> Judged:
    """Boot ``layout`` under each kernel of ``settings`` (with its workload, placed by ``seed``)
    and judge it (QemuRefused passes through)."""
    boots: list[BootResult] = []
    judged: list[list[dict[str, str]]] = []
    kernels: list[dict[str, Any]] = []
    workload = parse_workload(settings.workload).for_layout(layout, seed) if settings.workload else None
    append = [workload.kernel_argument()] if workload is not None else []
    for kernel in settings.kernels_for(layout.machine.arch):
        kit = _kit(kernel, layout.machine.arch)
        result = boot(layout, kit, timeout_s=settings.timeout_s, accel=settings.accel, extra_append=append)
        boots.append(result)
        found = judge(layout, result) + judge_predictions(layout, result)  # oracles (a)-(e), then (f)
        judged.append([_failure_dict(f) for f in _ordered(found)])
        kernels.append(kernel_record(kit, result.report.kernel if result.report is not None else ""))
    failures = judged[0] if len(judged) == 1 else kernel_difference(judged[0], judged[1])
    differences = guest_differences(boots[0].report, boots[1].report) if len(boots) == 2 else ()
    return Judged(tuple(boots), failures, tuple(kernels), tuple(judged), workload.record() if workload else None, differences)


def _outcome(signatures: tuple[str, ...]) -> str:
    return " | ".join(signatures) if signatures else "pass"


def kernel_difference(a: list[dict[str, str]], b: list[dict[str, str]]) -> list[dict[str, str]]:
    """No failure when both kernels' guests fail the same ways (or both pass); else one
    ``kernels`` failure naming each side's signatures (its own signature, numbers as N)."""
    under_a, under_b = signatures_of(a), signatures_of(b)
    if set(under_a) == set(under_b):
        return []
    message = f"kernel A: {_outcome(under_a)}; kernel B: {_outcome(under_b)}"
    return [{"oracle": "kernels", "code": "message:differ", "message": message}]


def run_item(task: Task) -> ItemResult:
    """Boot one item, judge it, and shrink it if it fails (the worker's whole job)."""
    item, settings = task.item, task.settings
    started = time.monotonic()
    if item.layout is None:
        return ItemResult(item.item_id, item.child_seed, item.label, "skipped", [{"oracle": "generator", "code": "skipped",
                          "message": item.skipped or "no layout"}], 0.0)
    layout = item.layout
    header = f"numaopt fuzz item {item.item_id} (child seed {item.child_seed}, {item.label})"
    try:
        judged = boot_and_judge(layout, settings, workload_seed(item.child_seed))
    except QemuRefused as exc:
        failure = {"oracle": "qemu", "code": "refused", "message": str(exc)}
        # No kernel ran (QEMU refused before the guest started): the QEMU version alone is recorded.
        attempt = Attempt(_toml(layout, header), [], exc.stderr, [failure], time.monotonic() - started,
                          qemu=qemu_version(layout.machine.qemu_binary))
        return ItemResult(item.item_id, item.child_seed, item.label, "error", [failure], time.monotonic() - started,
                          vcpus=layout.vcpus, nodes=layout.num_nodes, original=attempt, layout_class=layout_class(layout))
    accel = judged.boots[0].accel
    if not judged.failures:
        return ItemResult(item.item_id, item.child_seed, item.label, "pass", [], time.monotonic() - started,
                          accel=accel, vcpus=layout.vcpus, nodes=layout.num_nodes, layout_class=layout_class(layout),
                          differences=judged.differences)
    original = judged.attempt(_toml(layout, header))
    seed = workload_seed(item.child_seed)
    shrunk, steps, checks = _shrink(layout, judged.failures[0], settings, header, seed) if settings.shrink else (None, (), 0)
    return ItemResult(item.item_id, item.child_seed, item.label, "fail", judged.failures, time.monotonic() - started,
                      accel=accel, vcpus=layout.vcpus, nodes=layout.num_nodes,
                      original=original, shrunk=shrunk, shrink_steps=steps, shrink_checks=checks,
                      layout_class=layout_class(layout), differences=judged.differences)


def _shrink(
    layout: GuestLayout, first: dict[str, str], settings: RunSettings, header: str, seed: int = 0
) -> tuple[Attempt | None, tuple[str, ...], int]:
    """Shrink while the item's first failure (oracle and code) still shows: the shrunk attempt,
    steps, boots. The workload and its seed stay; only the layout shrinks."""
    target = (first["oracle"], first["code"])
    last: list[Judged] = []

    def still_fails(candidate: GuestLayout) -> bool:
        try:
            judged = boot_and_judge(candidate, settings, seed)
        except QemuRefused:
            return False
        if any((f["oracle"], f["code"]) == target for f in judged.failures):
            last.append(judged)  # the shrinker keeps this candidate
            return True
        return False

    outcome = shrink(layout, still_fails, max_checks=settings.shrink_checks)
    if not outcome.steps:
        return None, (), outcome.checks
    attempt = last[-1].attempt(_toml(outcome.layout, header + ", shrunk: " + "; ".join(outcome.steps)))
    return attempt, outcome.steps, outcome.checks


# ---------------------------------------------------------------------------------------
# Reproducers


def _write_attempt(directory: Path, attempt: Attempt, reason: str) -> None:
    directory.mkdir(exist_ok=True)
    (directory / "problem.toml").write_text(attempt.layout_toml, encoding="utf-8")
    if attempt.argv:
        (directory / "qemu-args.txt").write_text(shlex.join(attempt.argv) + "\n", encoding="utf-8")
    (directory / "guest-report.txt").write_text(attempt.console, encoding="utf-8")
    (directory / "reason.txt").write_text(reason + "\n", encoding="utf-8")
    lines = [f"{f['oracle']}: {f['message']}" for f in attempt.failures]
    (directory / "failures.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    # The failures as data (replay compares its signatures with these) and what ran them.
    (directory / "failures.json").write_text(json.dumps(attempt.failures, indent=1) + "\n", encoding="utf-8")
    if attempt.kernels or attempt.qemu:
        provenance = {"kernels": list(attempt.kernels), "qemu": attempt.qemu}
        (directory / KERNEL_FILE).write_text(json.dumps(provenance, indent=1) + "\n", encoding="utf-8")
    if attempt.workload is not None:
        (directory / WORKLOAD_FILE).write_text(json.dumps(attempt.workload, indent=1) + "\n", encoding="utf-8")
    for other in attempt.others:  # kernel B's guest, when two kernels are compared
        _write_attempt(directory / "kernel-b", other, _reason_of(other.failures) or "pass")


def _reason_of(failures: list[dict[str, str]]) -> str:
    return f"{failures[0]['oracle']}: {failures[0]['message']}" if failures else ""


def write_reproducer(out: Path, result: ItemResult) -> Path:
    """``out/failures/item-NNNNNN``: problem.toml, qemu-args.txt, guest-report.txt, reason.txt
    (and ``shrunk/`` with the same files for the shrunk layout), written atomically."""
    parent = out / FAILURES_DIR
    final = parent / f"item-{result.item_id:06d}"
    with writing(final, "--out"):
        parent.mkdir(exist_ok=True)
        _write_reproducer(final, result)
    return final


def _write_reproducer(final: Path, result: ItemResult) -> None:
    # Filled under a temporary name, then renamed: a reproducer is whole or absent (a
    # killed run's half-filled one is removed by remove_stale when the campaign resumes).
    scratch = make_temporary_dir(final.parent, final.name)
    try:
        assert result.original is not None
        _write_attempt(scratch, result.original, result.reason)
        if result.shrunk is not None:
            _write_attempt(scratch / "shrunk", result.shrunk, _reason_of(result.shrunk.failures))
            (scratch / "shrunk" / "steps.txt").write_text("\n".join(result.shrink_steps) + "\n", encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)  # left by a run killed between writing it and journaling it
        scratch.rename(final)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise


# ---------------------------------------------------------------------------------------
# Summary


def reason_key(failure: dict[str, str], layout: str = "") -> str:
    """A failure without its numbers, on a class of layout: failures that are the same
    defect on the same kind of layout share it (its signature)."""
    return signature(failure, layout)


@dataclass
class CampaignSummary:
    """Counts over every journaled item (a resumed campaign included).

    ``reasons`` counts the items showing each signature; with known signatures (``--expect``)
    an item whose signatures are all known is counted in ``known_items``, any other failing
    item in ``new_items``, and only the latter make a campaign fail.
    """

    total: int = 0  # items of this campaign (this shard)
    done: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)
    by_oracle: Counter[str] = field(default_factory=Counter)  # items failing each oracle
    reasons: Counter[str] = field(default_factory=Counter)
    examples: dict[str, tuple[int, str]] = field(default_factory=dict)  # reason -> (first item, its message)
    reproducers: list[str] = field(default_factory=list)
    wall_s: float = 0.0  # this run
    ran: int = 0  # items run by this run (not counting resumed ones)
    shrunk: int = 0
    interrupted: bool = False
    expected: Expected = field(default_factory=Expected)
    new_items: int = 0
    known_items: int = 0
    differences: Counter[str] = field(default_factory=Counter)  # two kernels: items showing each kind of difference
    differing: int = 0  # two kernels: items whose guests show something differently

    @property
    def per_minute(self) -> float:
        return 60.0 * self.ran / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def new_reasons(self) -> list[tuple[str, int]]:
        return [(key, n) for key, n in self.reasons.most_common() if not self.expected.knows(key)]

    @property
    def known_reasons(self) -> list[tuple[str, int]]:
        return [(key, n) for key, n in self.reasons.most_common() if self.expected.knows(key)]


def summarise(
    records: list[dict[str, Any]],
    total: int,
    expected: Expected | None = None,
    *,
    ran: int = 0,
    wall_s: float = 0.0,
    interrupted: bool = False,
) -> CampaignSummary:
    """The summary of a journal's records, complete when returned (this run's ``ran``,
    ``wall_s`` and ``interrupted`` included: nothing is set on it afterwards)."""
    summary = CampaignSummary(total=total, expected=expected or Expected(), ran=ran, wall_s=wall_s, interrupted=interrupted)
    for record in records:
        if record.get("type") != "item":
            continue
        summary.done += 1
        summary.verdicts[record["verdict"]] += 1
        _count_differences(summary, record.get("differences", []))
        if record["verdict"] in ("fail", "error"):
            _count_failure(summary, record)
    return summary


def _count_differences(summary: CampaignSummary, differences: list[str]) -> None:
    if differences:
        summary.differing += 1
    for kind in dict.fromkeys(line.split(":", 1)[0] for line in differences):
        summary.differences[kind] += 1


def _count_failure(summary: CampaignSummary, record: dict[str, Any]) -> None:
    for oracle in dict.fromkeys(f["oracle"] for f in record["failures"]):
        summary.by_oracle[oracle] += 1
    keys: dict[str, str] = {}
    for failure in record["failures"]:
        # A journal written before signatures had a class has none: its keys are classless.
        keys.setdefault(signature(failure, record.get("layout_class", "")), failure["message"])
    for key, message in keys.items():
        summary.reasons[key] += 1
        summary.examples.setdefault(key, (record["item"], message))
    if summary.expected.new(keys):
        summary.new_items += 1
    else:
        summary.known_items += 1
    if record.get("reproducer"):
        summary.reproducers.append(record["reproducer"])
    if record.get("shrink_steps"):
        summary.shrunk += 1


# ---------------------------------------------------------------------------------------
# Running


def _record(result: ItemResult, reproducer: Path | None, out: Path) -> dict[str, Any]:
    return {
        "type": "item",
        "item": result.item_id,
        "child_seed": result.child_seed,
        "label": result.label,
        "layout_class": result.layout_class,
        "verdict": result.verdict,
        "failures": result.failures,
        "wall_s": round(result.wall_s, 3),
        "accel": result.accel,
        "vcpus": result.vcpus,
        "nodes": result.nodes,
        "reproducer": str(reproducer.relative_to(out)) if reproducer else None,
        "shrink_steps": list(result.shrink_steps),
        "shrink_checks": result.shrink_checks,
        "shrunk_failures": result.shrunk.failures if result.shrunk else None,
        # Only when two kernels' guests differ: a one-kernel journal's lines stay as they were.
        **({"differences": list(result.differences)} if result.differences else {}),
    }


def _worker_init(parent: int) -> None:
    # A parent killed with SIGKILL takes its workers along, and each worker its QEMU (the
    # QEMU a worker boots dies with the worker's thread: PR_SET_PDEATHSIG).
    die_with_parent(parent)
    # Pool.terminate() sends SIGTERM: its default action ends the worker at once, and the
    # kernel then kills its QEMU. (Unwinding with an exception instead is not reliable:
    # one raised inside an at-fork or __del__ callback is swallowed, and the worker lives on.)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Ctrl-C reaches the whole process group: the parent alone decides, and terminates us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _local(tasks: Iterator[Task], jobs: int) -> Iterator[ItemResult]:
    if jobs <= 1:
        for task in tasks:
            yield run_item(task)
        return
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(jobs, initializer=_worker_init, initargs=(os.getpid(),))
    try:
        yield from pool.imap_unordered(run_item, tasks, chunksize=1)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _dask(tasks: Iterator[Task], address: str) -> Iterator[ItemResult]:
    try:
        # By name, so its type is Any whether the extra is installed or not (mypy --strict
        # passes in both environments without ignores).
        distributed: Any = importlib.import_module("distributed")
    except ImportError:
        from numaopt.errors import NumaoptError

        raise NumaoptError("--dask needs dask.distributed: pip install 'numaopt[dask]'") from None
    client = distributed.Client(address, set_as_default=False)
    submitted: list[Any] = []
    try:
        window = 2 * max(1, len(client.scheduler_info().get("workers", {})))
        first = []
        for task in itertools.islice(tasks, window):
            first.append(client.submit(run_item, task, pure=False))
        submitted.extend(first)
        if not first:
            return
        # The client's own loop: this client is not the process's default one.
        running = distributed.as_completed(first, loop=client.loop)
        for future in running:
            yield future.result()
            following = next(tasks, None)
            if following is not None:
                extra = client.submit(run_item, following, pure=False)
                submitted.append(extra)
                running.add(extra)
    finally:
        for future in submitted:
            future.cancel()
        client.close()


def run_campaign(
    items: Iterable[WorkItem],
    out: Path,
    header: dict[str, Any],
    settings: RunSettings,
    *,
    total: int,
    jobs: int = 1,
    resume: bool = False,
    dask_address: str | None = None,
    on_result: Callable[[ItemResult, CampaignSummary], None] | None = None,
    expected: Expected | None = None,
) -> CampaignSummary:
    """Run ``items`` (those not journaled yet), journal each, write reproducers; the summary.

    ``header`` identifies the campaign (a resumed one must match it). A KeyboardInterrupt
    stops the campaign with every finished item journaled; the summary says so.
    """
    prepare_output_dir(out, "--out")
    for folder in (out, out / FAILURES_DIR):
        remove_stale(folder)  # what a campaign killed with SIGKILL was writing
    started = time.monotonic()
    with Journal(out / JOURNAL_NAME, {"type": "campaign", **header}, resume=resume) as journal:
        done = journal.done
        todo = (Task(item, settings) for item in items if item.item_id not in done)
        results = _dask(todo, dask_address) if dask_address else _local(todo, jobs)
        ran = 0
        interrupted = False
        try:
            for result in results:
                reproducer = write_reproducer(out, result) if result.verdict in ("fail", "error") else None
                journal.append(_record(result, reproducer, out))
                ran += 1
                if on_result is not None:
                    summary = summarise(journal.records, total, expected, ran=ran, wall_s=time.monotonic() - started)
                    on_result(result, summary)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()
        records = journal.records
    return summarise(records, total, expected, ran=ran, wall_s=time.monotonic() - started, interrupted=interrupted)


def result_dict(result: ItemResult) -> dict[str, Any]:
    """An ``ItemResult`` as plain data (tests, benchmarks)."""
    return asdict(result)
