"""Writing a batch: one file per layout and format, atomically, and a JSON Lines index.

``DIR/index.jsonl`` holds one JSON object per line: a ``batch`` record (seed, knobs,
formats), then, in item order, a ``layout`` record per written layout (id, item index,
child seed, family, method, canonical fingerprint, classes, paths), a ``duplicate``
record for an item equal to an earlier one up to renumbering, a ``skipped`` record for
an item CP-SAT could not satisfy, and at the end a ``coverage`` record.

Each layout file is written to a temporary file in ``DIR`` and renamed into place, so a
reader never sees half a file; the index line follows its files. Running again into a
half-filled directory removes the temporary files a killed run left (``files.remove_stale``),
reads the index, drops a torn last line, regenerates any file a record names that is
missing, and continues with the next item: the directory ends byte-identical to an
uninterrupted run. ``DIR`` is made if missing, in a folder that exists.
"""

from __future__ import annotations

import contextlib
import enum
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from numaopt.errors import InputError, NumaoptError
from numaopt.files import check_output_file, prepare_output_dir, remove_stale, write_atomically, writing
from numaopt.generate.batch import Generated, Skipped, default_jobs, generate_items, iter_generated
from numaopt.generate.coverage import Coverage
from numaopt.generate.knobs import Space
from numaopt.generate.render import args_text, json_text, toml_text

INDEX_NAME = "index.jsonl"
FORMAT_VERSION = 1
# Candidates examined per requested layout before a batch gives up: dedup can exhaust a
# small space (one node, one vCPU), and CP-SAT can find nothing for every item.
MAX_CANDIDATES_PER_LAYOUT = 50
MIN_CANDIDATES = 2000
EARLY_SKIPS = 16  # this many unsatisfiable items before any layout: the knobs ask the impossible


class OutputKind(enum.StrEnum):
    TOML = "toml"  # the problem file (numaopt solve / check read it)
    ARGS = "args"  # QEMU arguments as shell text (numaopt check reads it)
    JSON = "json"  # the plan JSON (numaopt launch reads it)


SUFFIX = {OutputKind.TOML: ".toml", OutputKind.ARGS: ".args", OutputKind.JSON: ".json"}


class GenerateError(NumaoptError):
    """A batch that cannot be completed (exit 3: like a search that finds no plan)."""

    exit_code = 3


def layout_id(index: int) -> str:
    return f"layout-{index:06d}"


def render_files(item: Generated, formats: Iterable[OutputKind], seed: int) -> dict[str, str]:
    """File name -> text for one layout."""
    name = layout_id(item.index)
    layout = item.layout  # built once for every format
    texts: dict[str, str] = {}
    for kind in formats:
        if kind is OutputKind.TOML:
            header = (
                f"numaopt generate: item {item.index} of seed {seed} "
                f"(family {item.family.value}, {item.method}); see index.jsonl for its classes"
            )
            texts[name + SUFFIX[kind]] = toml_text(layout, header)
        elif kind is OutputKind.ARGS:
            texts[name + SUFFIX[kind]] = args_text(layout)
        else:
            texts[name + SUFFIX[kind]] = json_text(layout)
    return texts


@dataclass(frozen=True, slots=True)
class _Rendered:
    """What a worker sends back for one layout: its record and its files."""

    index: int
    canonical: str
    family: str
    method: str
    classes: dict[str, Any]
    files: dict[str, str]


@dataclass(frozen=True, slots=True)
class _Renderer:
    """Picklable: renders each Generated in the worker that made it."""

    formats: tuple[OutputKind, ...]
    seed: int

    def __call__(self, item: Generated) -> _Rendered:
        return _Rendered(item.index, item.canonical, item.family.value, item.method, item.classes,
                         render_files(item, self.formats, self.seed))


def layout_record(rendered: _Rendered, seed: int, formats: tuple[OutputKind, ...]) -> dict[str, Any]:
    name = layout_id(rendered.index)
    return {
        "record": "layout",
        "id": name,
        "index": rendered.index,
        "child_seed": {"entropy": seed, "spawn_key": [rendered.index]},
        "family": rendered.family,
        "method": rendered.method,
        "canonical": rendered.canonical,
        "classes": rendered.classes,
        "paths": {kind.value: name + SUFFIX[kind] for kind in formats},
    }


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record) + "\n"


@dataclass
class BatchReport:
    out: Path
    written: int  # layouts written by this run
    total: int  # layouts in the directory
    coverage: Coverage
    resumed_from: int = 0  # layouts already there
    complete: bool = True
    repaired: list[str] = field(default_factory=list)  # files regenerated because they were missing


def _header(space: Space, seed: int, formats: tuple[OutputKind, ...]) -> dict[str, Any]:
    return {
        "record": "batch",
        "numaopt_generate": FORMAT_VERSION,
        "seed": seed,
        "knobs": space.knobs.to_json(),
        "formats": [kind.value for kind in formats],
    }


def _read_index(path: Path, header: dict[str, Any]) -> list[dict[str, Any]]:
    """Records after the header, up to the first torn or unreadable line."""
    records: list[dict[str, Any]] = []
    check_output_file(path, "--out")  # a FIFO or a folder by that name would not be read
    with writing(path, "--out"), path.open(encoding="utf-8", errors="replace") as handle:
        lines = handle.read().split("\n")
    if not lines or not lines[0]:
        return records
    try:
        first = json.loads(lines[0])
    except json.JSONDecodeError:
        first = None
    if first != header:
        raise InputError(
            f"{path.parent} holds a batch made with other settings ({_describe(first)}); "
            "use another --out, or the same --seed, knobs and --format",
        )
    # Only lines that end in a newline are complete; the last piece never does.
    for text in lines[1:-1]:
        try:
            record = json.loads(text)
        except json.JSONDecodeError:
            break
        if not isinstance(record, dict) or record.get("record") not in ("layout", "duplicate", "skipped", "coverage"):
            break
        records.append(record)
    return records


def _describe(header: Any) -> str:
    if not isinstance(header, dict) or header.get("record") != "batch":
        return "its index.jsonl is not a numaopt generate index"
    return f"seed {header.get('seed')}, knobs {json.dumps(header.get('knobs'), sort_keys=True)}, formats {header.get('formats')}"


def write_batch(
    space: Space,
    seed: int,
    out: Path,
    count: int,
    formats: tuple[OutputKind, ...] = (OutputKind.TOML, OutputKind.ARGS),
    *,
    jobs: int | None = None,
    chunk: int = 512,
    on_progress: Callable[[int, int], None] | None = None,
) -> BatchReport:
    """Write ``count`` distinct layouts into ``out`` (completing a half-filled directory)."""
    if count < 0:
        raise InputError(f"--count {count}: must be 0 or more")
    if not formats:
        raise InputError("--format: give at least one of toml, args, json")
    prepare_output_dir(out, "--out")
    remove_stale(out)  # temporary files of a run killed with SIGKILL
    index_path = out / INDEX_NAME
    header = _header(space, seed, formats)
    records = _read_index(index_path, header) if index_path.exists() else []
    records = [r for r in records if r["record"] != "coverage"]
    layouts = [r for r in records if r["record"] == "layout"]
    if len(layouts) > count:
        raise InputError(f"{out} already holds {len(layouts)} layouts, more than --count {count}: use another --out")

    coverage = Coverage()
    seen: dict[str, str] = {}
    for record in records:
        if record["record"] == "layout":
            coverage.add(record["classes"], record["family"], record["method"])
            seen[record["canonical"]] = record["id"]
        elif record["record"] == "duplicate":
            coverage.duplicates += 1
        else:
            coverage.skipped += 1
    repaired = _repair(space, seed, out, layouts, formats)
    write_atomically(index_path, "".join(_line(r) for r in [header, *records]), "--out")
    next_index = max((r["index"] for r in records), default=-1) + 1
    report = BatchReport(out, 0, len(layouts), coverage, resumed_from=len(layouts), repaired=repaired)
    if on_progress:
        on_progress(report.total, count)
    if report.total < count:
        workers = default_jobs() if jobs is None else jobs
        # Spawning workers costs about a second: not worth it for a few hundred layouts.
        workers = max(1, min(workers, (count - report.total) // 200))
        limit = max(MIN_CANDIDATES, MAX_CANDIDATES_PER_LAYOUT * count)
        stream = iter_generated(space, seed, next_index, jobs=workers, chunk=chunk, render=_Renderer(formats, seed))
        try:
            with _appending(index_path) as append:
                for outcome in stream:
                    record = _place(outcome, seed, formats, out, seen, coverage, report)
                    append(record)
                    if on_progress and record["record"] == "layout":
                        on_progress(report.total, count)
                    if report.total >= count:
                        break
                    if coverage.skipped >= EARLY_SKIPS and coverage.layouts == 0:
                        reason = record.get("reason", "")
                        raise GenerateError(f"CP-SAT found no matrix for the first {coverage.skipped} items: {reason}")
                    if outcome.index + 1 >= limit:
                        report.complete = False
                        break
        finally:
            stream.close()  # type: ignore[attr-defined]
    if report.complete:
        with _appending(index_path) as append:
            append(coverage.to_json(space))
    else:
        raise GenerateError(
            f"only {report.total} distinct layout(s) after {limit} items ({coverage.duplicates} duplicates, "
            f"{coverage.skipped} unsatisfiable): the knobs allow too few layouts for --count {count}"
        )
    return report


@contextlib.contextmanager
def _appending(path: Path) -> Iterator[Callable[[dict[str, Any]], None]]:
    """A function that appends one record to the index and flushes it; a failed write
    (a full disk) is one ``OutputError`` line naming the index."""
    with writing(path, "--out"):
        handle = path.open("a", encoding="utf-8")
    try:
        def append(record: dict[str, Any]) -> None:
            with writing(path, "--out"):
                handle.write(_line(record))
                handle.flush()

        yield append
    finally:
        with writing(path, "--out"):
            handle.close()


def _place(
    outcome: Any,
    seed: int,
    formats: tuple[OutputKind, ...],
    out: Path,
    seen: dict[str, str],
    coverage: Coverage,
    report: BatchReport,
) -> dict[str, Any]:
    """Write one outcome's files (if new) and return its index record."""
    if isinstance(outcome, Skipped):
        coverage.skipped += 1
        return {"record": "skipped", "index": outcome.index, "family": outcome.family.value, "reason": outcome.reason}
    rendered: _Rendered = outcome
    if rendered.canonical in seen:
        coverage.duplicates += 1
        return {
            "record": "duplicate",
            "index": rendered.index,
            "family": rendered.family,
            "canonical": rendered.canonical,
            "of": seen[rendered.canonical],
        }
    for name, text in rendered.files.items():
        write_atomically(out / name, text, "--out")
    seen[rendered.canonical] = layout_id(rendered.index)
    coverage.add(rendered.classes, rendered.family, rendered.method)
    report.written += 1
    report.total += 1
    return layout_record(rendered, seed, formats)


def _repair(space: Space, seed: int, out: Path, layouts: list[dict[str, Any]], formats: tuple[OutputKind, ...]) -> list[str]:
    """Regenerate files that index records name but that are gone."""
    missing = [r for r in layouts if any(not (out / p).exists() for p in r["paths"].values())]
    repaired: list[str] = []
    if not missing:
        return repaired
    for outcome in generate_items(space, seed, [r["index"] for r in missing]):
        if not isinstance(outcome, Generated):
            raise GenerateError(f"item {outcome.index} of the index can no longer be generated: {outcome.reason}")
        for name, text in render_files(outcome, formats, seed).items():
            if not (out / name).exists():
                write_atomically(out / name, text, "--out")
                repaired.append(name)
    return repaired


def write_item(space: Space, seed: int, index: int, out: Path, formats: tuple[OutputKind, ...]) -> tuple[Generated, list[Path]]:
    """Item ``index`` alone: the same files the batch writes for it (no index)."""
    outcome = generate_items(space, seed, [index])[0]
    if isinstance(outcome, Skipped):
        raise GenerateError(f"item {index}: {outcome.reason}")
    prepare_output_dir(out, "--out")
    paths = []
    for name, text in render_files(outcome, formats, seed).items():
        write_atomically(out / name, text, "--out")
        paths.append(out / name)
    return outcome, paths
