"""``numaopt generate``: write seeded batches of varied, valid NUMA layouts.

A plain function that ``numaopt.cli`` registers with ``app.command("generate")``; its knob
options (--target ... --machine) come from ``numaopt.cli.knobs``, shared with fuzz. Bad
knobs raise ``KnobError`` (an ``InputError``: one line, exit 1, nothing written); a
batch that cannot be completed raises ``GenerateError`` (exit 3); ``numaopt.cli.main``
prints them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from numaopt.cli.knobs import with_knob_options
from numaopt.generate import BatchReport, Generated, Knobs, OutputKind, Space, resolve
from numaopt.generate.knobs import parse_choices
from numaopt.generate.writer import write_batch, write_item
from numaopt.inputs import MAX_COUNT, MAX_JOBS, MAX_SEED


@with_knob_options()
def generate_command(
    *,
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write into (created; a half-filled one is completed).")],
    count: Annotated[int, typer.Option("--count", "-n", help="Number of distinct layouts to write.", min=0, max=MAX_COUNT)] = 100,
    seed: Annotated[
        int, typer.Option("--seed", "-s", help="Batch seed: the same seed and knobs give the same bytes.", min=0, max=MAX_SEED)
    ] = 0,
    index: Annotated[
        int | None, typer.Option("--index", help="Regenerate item K alone (the files the batch writes for it; no index).", min=0, max=MAX_COUNT - 1)
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="What to write per layout: toml, args, json (comma-separated).")] = "toml,args",
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Worker processes (default: every core).", min=1, max=MAX_JOBS)] = None,
    knobs: Knobs,  # --target ... --machine (numaopt.cli.knobs)
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No coverage summary.")] = False,
    plot_file: Annotated[
        Path | None,
        typer.Option("--plot", help="Also draw the batch's coverage (with --index: that layout's distances): .svg or .png."),
    ] = None,
) -> None:
    """Write seeded, varied, valid NUMA layouts: a problem TOML and a QEMU argument file each.

    Every layout passes numaopt's checks for the target rule set (linux-acpi by default: QEMU accepts it and the guest keeps all of it, judged by linux-acpi on q35/pc and by linux-dt on --machine virt, the aarch64 board; qemu: QEMU accepts it, for negative testing). Layouts equal up to renumbering nodes are written once.

    Item K of a batch has its own child seed (numpy SeedSequence(seed, spawn_key=(K,))), so --index K rewrites item K alone, and the same seed and knobs give byte-identical files on any number of --jobs. DIR/index.jsonl lists every layout (id, child seed, family, classes, paths) and ends with the coverage summary, which is also printed: counts per node count, scheduler levels, topology type, symmetry, triangle inequality, diameter, memory-less and CPU-less nodes, SMT and split sockets, and what the batch did not exercise.

    Families sample with numpy (fast); --levels, --topology and --diameter, and the synth family, search with CP-SAT. Impossible knobs (3 levels with 2 nodes, more memory-less nodes than nodes, an empty range) are refused with one line before anything is written. See docs/generate.md.
    """
    formats = parse_choices(fmt, OutputKind, "--format")
    space = resolve(knobs)
    if plot_file is not None:
        from numaopt.render.plot import check_picture

        check_picture(plot_file, "--plot")  # before the batch, not after it
    if index is not None:
        item = _write_one(space, seed, index, out, formats, quiet)
        if plot_file is not None:
            _plot_item(item, index, plot_file)
    else:
        _write_all(space, seed, out, count, formats, jobs, quiet)
        if plot_file is not None:
            from numaopt.cli.plot import plot_folder_to

            plot_folder_to(out, plot_file)
            typer.echo(f"wrote {plot_file}", err=True)


def _plot_item(item: Generated, index: int, plot_file: Path) -> None:
    from numaopt.errors import InputError

    if item.distances is None:
        raise InputError(f"item {index} gives no distance table to draw (family {item.family.value})", where="--plot")
    from numaopt.cli.plot import plot_guest_distances

    plot_guest_distances(item.distances.tolist(), plot_file, f"item {index}")
    typer.echo(f"wrote {plot_file}", err=True)


def _write_one(space: Space, seed: int, index: int, out: Path, formats: tuple[OutputKind, ...], quiet: bool) -> Generated:
    """--index K: item K's files alone, and (unless --quiet) its family and classes."""
    item, paths = write_item(space, seed, index, out, formats)
    for path in paths:
        typer.echo(f"wrote {path}")
    if not quiet:
        classes = ", ".join(f"{k} {v}" for k, v in item.classes.items())
        typer.echo(f"item {index}: family {item.family.value} ({item.method}); {classes}")
    return item


def _write_all(
    space: Space, seed: int, out: Path, count: int, formats: tuple[OutputKind, ...], jobs: int | None, quiet: bool
) -> None:
    """The batch (completing a half-filled one), then (unless --quiet) what it holds."""
    report = _run_with_progress(space, seed, out, count, formats, jobs)
    if quiet:
        return
    typer.echo(f"{out}: wrote {report.written} layout(s), {report.total} in all"
               + (f" ({report.resumed_from} were already there)" if report.resumed_from else ""))
    for name in report.repaired:
        typer.echo(f"{out}: regenerated missing {name}")
    typer.echo(report.coverage.summary(space), nl=False)


def _on_terminal() -> bool:
    """A progress bar only when a person watches: stderr is a terminal."""
    return sys.stderr.isatty()


def _run_with_progress(
    space: Space, seed: int, out: Path, count: int, formats: tuple[OutputKind, ...], jobs: int | None
) -> BatchReport:
    if not _on_terminal():
        return write_batch(space, seed, out, count, formats, jobs=jobs)
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("generating"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as progress:
        task = progress.add_task("layouts", total=count)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return write_batch(space, seed, out, count, formats, jobs=jobs, on_progress=update)


__all__ = ["generate_command"]
