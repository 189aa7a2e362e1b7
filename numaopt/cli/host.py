"""``numaopt host``: show an imported host, or capture it as TOML for a problem file.

A Typer sub-app that ``numaopt.cli`` mounts as ``host``. Commands raise
``NumaoptError`` (an ``InputError`` for bad input) and leave printing the one-line
error and the exit code to ``numaopt.cli.main``.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from numaopt.cli.errors import warn
from numaopt.cli.usage import PlainUsage
from numaopt.errors import MAX_SOURCE_CHARS, one_line_message
from numaopt.files import write_atomically
from numaopt.hosts import (
    DistanceRule,
    HostSource,
    SourceKind,
    host_summary,
    host_to_toml,
    load_sources,
    parse_distance_rule,
    parse_source,
    sniff_kind,
)
from numaopt.hosts.distance_rule import RULE_HELP
from numaopt.inputs import read_stream
from numaopt.model import HostTopology

host_app = typer.Typer(
    help="Import a host (numactl, lscpu, sysfs, hwloc XML, hwloc synthetic): show it, or capture it as TOML.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SOURCES_HELP = (
    "numactl:PATH, lscpu:PATH, sysfs:DIR, hwloc:PATH, synthetic:STRING, or a path whose kind is sniffed "
    "(- reads stdin). Combine numactl with lscpu to add SMT siblings. See docs/hosts.md."
)
DISTANCES_HELP = f"For synthetic hosts (and hwloc XML without a latency matrix): {RULE_HELP}."


def _source(argument: str) -> HostSource:
    """A SOURCE argument; ``-`` (alone or after ``KIND:``) reads stdin."""
    kind, colon, rest = argument.partition(":")
    if argument == "-":
        text = read_stream(sys.stdin.buffer, "<stdin>")
        return HostSource(sniff_kind(text, "<stdin>"), "<stdin>", text)
    if colon and rest == "-" and kind in (SourceKind.NUMACTL, SourceKind.LSCPU, SourceKind.HWLOC):
        return HostSource(SourceKind(kind), "<stdin>", read_stream(sys.stdin.buffer, "<stdin>"))
    return parse_source(argument)


def _rule(text: str | None) -> DistanceRule | None:
    if text is None:
        return None
    try:
        return parse_distance_rule(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--distances") from None


def _load(arguments: list[str], distances: str | None) -> HostTopology:
    host, warnings = load_sources([_source(argument) for argument in arguments], _rule(distances))
    for warning in warnings:
        warn(warning, one_line_message(" + ".join(arguments), MAX_SOURCE_CHARS))  # numactl and lscpu disagree: name both
    return host


@host_app.command(cls=PlainUsage)
def show(
    sources: Annotated[
        list[str] | None,
        typer.Argument(metavar="SOURCE", help=f"{SOURCES_HELP} Default: this machine (sysfs:/).", show_default=False),
    ] = None,
    distances: Annotated[str | None, typer.Option("--distances", "-d", help=DISTANCES_HELP)] = None,
    plot_file: Annotated[
        Path | None, typer.Option("--plot", help="Also draw the distance matrix (sockets outlined): .svg or .png.")
    ] = None,
) -> None:
    """Print a host as numactl --hardware does, with sockets, cores, SMT and findings.

    After numactl's view come the sockets, cores and SMT siblings, huge pages, then the findings: warnings for real-hardware quirks (asymmetric SLIT, triangle violations on d - 10, memory-only nodes, nodes with no free memory) and facts (distance values, scheduler levels and topology type).

    Disagreements between sources are warnings on stderr. Exits 1 on bad input.
    """
    from numaopt.render.plot import check_picture, plot_host

    if plot_file is not None:
        check_picture(plot_file, "--plot")
    host = _load(sources or ["sysfs:/"], distances)
    typer.echo(host_summary(host), nl=False)
    if plot_file is not None:
        plot_host(host, plot_file, title=f"host {' + '.join(sources or ['sysfs:/'])}")
        typer.echo(f"wrote {plot_file}", err=True)


@host_app.command(cls=PlainUsage)
def capture(
    sources: Annotated[
        list[str] | None,
        typer.Argument(metavar="SOURCE", help=f"{SOURCES_HELP} Default: this machine (sysfs:/).", show_default=False),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here (atomically) instead of stdout.")] = None,
    distances: Annotated[str | None, typer.Option("--distances", "-d", help=DISTANCES_HELP)] = None,
) -> None:
    """Write a host as TOML, usable as the host table of a problem file.

    Without SOURCE, captures this machine from /sys. The format is in docs/hosts.md.
    """
    text = host_to_toml(_load(sources or ["sysfs:/"], distances))
    if out is None:
        typer.echo(text, nl=False)
        return
    write_atomically(out, text, "--out")
    typer.echo(f"wrote {out}", err=True)
