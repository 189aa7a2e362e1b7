"""``numaopt generate``: write seeded batches of varied, valid NUMA layouts.

A plain function that ``numaopt.cli`` registers with ``app.command("generate")``. Bad
knobs raise ``KnobError`` (an ``InputError``: one line, exit 1, nothing written); a
batch that cannot be completed raises ``GenerateError`` (exit 3); ``numaopt.cli.main``
prints them.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from numaopt.generate import (
    BatchReport,
    Family,
    KnobError,
    Knobs,
    Metric,
    OutputKind,
    SocketMode,
    Space,
    Symmetry,
    resolve,
)
from numaopt.generate.knobs import (
    parse_choices,
    parse_ints,
    parse_range,
    parse_size_range,
    parse_topology,
)
from numaopt.generate.writer import write_batch, write_item
from numaopt.inputs import MAX_COUNT, MAX_JOBS, MAX_SEED
from numaopt.model import Machine
from numaopt.rules import RuleSet
from numaopt.units import parse_size

FAMILY_HELP = ", ".join(f.value for f in Family)
MAX_SKEW = 245  # remote distances lie in 10..255


def _knobs(
    target: str,
    nodes: str,
    vcpus_per_node: str,
    threads: str,
    sockets: str,
    memory_per_node: str,
    memory_granule: str,
    memoryless: str,
    cpuless: str,
    families: str | None,
    distance_range: str,
    max_skew: int,
    levels: str | None,
    topology: str | None,
    diameter: str | None,
    metric: str,
    symmetry: str,
    machine: str,
) -> Knobs:
    try:
        rule_set = RuleSet(target)
    except ValueError:
        raise KnobError(f"--target {target}: expected linux-acpi or qemu") from None
    try:
        granule = parse_size(memory_granule)
    except ValueError as exc:
        raise KnobError(f"--memory-granule: {exc}") from None
    return Knobs(
        target=rule_set,
        nodes=parse_range(nodes, "--nodes"),
        vcpus_per_node=parse_range(vcpus_per_node, "--vcpus-per-node"),
        threads=parse_ints(threads, "--threads"),
        sockets=parse_choices(sockets, SocketMode, "--sockets"),
        memory_per_node=parse_size_range(memory_per_node, "--memory-per-node"),
        memory_granule=granule,
        memoryless=parse_range(memoryless, "--memoryless"),
        cpuless=parse_range(cpuless, "--cpuless"),
        families=None if families is None else parse_choices(families, Family, "--family"),
        distance_range=parse_range(distance_range, "--distance-range"),
        max_skew=max_skew,
        levels=None if levels is None else parse_range(levels, "--levels"),
        topology=None if topology is None else parse_topology(topology),
        diameter=None if diameter is None else parse_range(diameter, "--diameter"),
        metric=parse_choices(metric, Metric, "--metric")[0],
        symmetry=parse_choices(symmetry, Symmetry, "--symmetry")[0],
        machines=parse_choices(machine, Machine, "--machine"),
    )


def generate_command(
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
    target: Annotated[
        str, typer.Option("--target", help="linux-acpi: valid for QEMU and an x86 ACPI guest; qemu: QEMU accepts it (may include what Linux discards).")
    ] = "linux-acpi",
    nodes: Annotated[str, typer.Option("--nodes", help="Node count or range, 1..128.")] = "1-8",
    vcpus_per_node: Annotated[str, typer.Option("--vcpus-per-node", help="vCPUs of each CPU node (range).")] = "1-4",
    threads: Annotated[str, typer.Option("--threads", help="SMT threads per core to choose from, e.g. 1,2.")] = "1,2",
    sockets: Annotated[
        str, typer.Option("--sockets", help="whole (nodes hold whole sockets), split (sockets span nodes), split-core (qemu target).")
    ] = "whole,split",
    memory_per_node: Annotated[str, typer.Option("--memory-per-node", help="Memory of a node with memory, e.g. 128MiB-1GiB.")] = "128MiB-512MiB",
    memory_granule: Annotated[str, typer.Option("--memory-granule", help="Node sizes are multiples of this.")] = "128MiB",
    memoryless: Annotated[str, typer.Option("--memoryless", help="Memory-less (CPU-only) nodes per layout (range).")] = "0-1",
    cpuless: Annotated[str, typer.Option("--cpuless", help="CPU-less (memory-only) nodes per layout (range).")] = "0-1",
    family: Annotated[str | None, typer.Option("--family", help=f"Distance families (comma-separated): {FAMILY_HELP}. Default: all that fit.")] = None,
    distance_range: Annotated[str, typer.Option("--distance-range", help="Remote distances, e.g. 11-255 (10 only with --target qemu).")] = "11-255",
    max_skew: Annotated[
        int, typer.Option("--max-skew", help="Largest |d(i,j) - d(j,i)| of asymmetric matrices.", max=MAX_SKEW)
    ] = 8,
    levels: Annotated[str | None, typer.Option("--levels", help="Exactly this many scheduler levels among CPU nodes (CP-SAT).")] = None,
    topology: Annotated[str | None, typer.Option("--topology", help="Linux topology type: direct, mesh or backplane (CP-SAT).")] = None,
    diameter: Annotated[str | None, typer.Option("--diameter", help="Hop diameter among CPU nodes (CP-SAT; at most 12 CPU nodes).")] = None,
    metric: Annotated[str, typer.Option("--metric", help="any; yes: triangle inequality holds; no: it fails somewhere.")] = "any",
    symmetry: Annotated[str, typer.Option("--symmetry", help="any, symmetric or asymmetric.")] = "any",
    machine: Annotated[str, typer.Option("--machine", help="Machine types to choose from: q35, pc.")] = "q35",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No coverage summary.")] = False,
) -> None:
    """Write seeded, varied, valid NUMA layouts: a problem TOML and a QEMU argument file each.

    Every layout passes numaopt's checks for the target rule set (linux-acpi by default: QEMU accepts it and an x86 ACPI guest keeps all of it; qemu: QEMU accepts it, for negative testing). Layouts equal up to renumbering nodes are written once.

    Item K of a batch has its own child seed (numpy SeedSequence(seed, spawn_key=(K,))), so --index K rewrites item K alone, and the same seed and knobs give byte-identical files on any number of --jobs. DIR/index.jsonl lists every layout (id, child seed, family, classes, paths) and ends with the coverage summary, which is also printed: counts per node count, scheduler levels, topology type, symmetry, triangle inequality, diameter, memory-less and CPU-less nodes, SMT and split sockets, and what the batch did not exercise.

    Families sample with numpy (fast); --levels, --topology and --diameter, and the synth family, search with CP-SAT. Impossible knobs (3 levels with 2 nodes, more memory-less nodes than nodes, an empty range) are refused with one line before anything is written. See docs/generate.md.
    """
    knobs = _knobs(target, nodes, vcpus_per_node, threads, sockets, memory_per_node, memory_granule, memoryless, cpuless,
                   family, distance_range, max_skew, levels, topology, diameter, metric, symmetry, machine)
    formats = parse_choices(fmt, OutputKind, "--format")
    space = resolve(knobs)
    if index is not None:
        item, paths = write_item(space, seed, index, out, formats)
        for path in paths:
            typer.echo(f"wrote {path}")
        if not quiet:
            classes = ", ".join(f"{k} {v}" for k, v in item.classes.items())
            typer.echo(f"item {index}: family {item.family.value} ({item.method}); {classes}")
        return
    report = _run_with_progress(space, seed, out, count, formats, jobs)
    if not quiet:
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
