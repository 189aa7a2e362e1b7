"""`numaopt plot`: a picture of a host, a problem, a generated batch or a fuzz campaign."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from numaopt.errors import InputError
from numaopt.model import HostTopology, PlacementRequest, Plan

SOURCE_HELP = (
    "What to draw: a problem file (.toml; a search draws its host, an explicit layout its guest distances), "
    "a host source (numactl / lscpu / sysfs / hwloc file, or synthetic:STRING), a `numaopt generate` folder "
    "(coverage) or a `numaopt fuzz` folder (the campaign)."
)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    records = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            record = json.loads(line)
        except ValueError:
            raise InputError(f"line {number} is not JSON", source=str(path)) from None
        if isinstance(record, dict):
            records.append(record)
    return records


def plot_command(
    source: Annotated[str, typer.Argument(metavar="SOURCE", help=SOURCE_HELP, show_default=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="The picture: .svg or .png.")],
    distances: Annotated[
        str | None, typer.Option("--distances", "-d", help="For a synthetic host: the distance rule, e.g. 12,32.")
    ] = None,
) -> None:
    """Draw a picture (SVG or PNG, from the name given to --out).

    A host: its distance matrix as a heat map, node ids on both axes, each socket's block outlined. A generated batch: layouts per value of every class dimension. A fuzz campaign: each item's verdict per oracle in order, and the failure classes. Needs matplotlib: pip install 'numaopt[plot]'.
    """
    from numaopt.render import plot

    plot.picture_format(out)
    path = Path(source)
    if path.is_dir():
        if (path / "index.jsonl").is_file():
            plot.plot_coverage(_jsonl(path / "index.jsonl"), out)
        elif (path / "journal.jsonl").is_file():
            plot.plot_campaign(_jsonl(path / "journal.jsonl"), out)
        else:
            raise InputError("a folder to draw holds index.jsonl (numaopt generate) or journal.jsonl (numaopt fuzz)", source=source)
    elif path.suffix == ".toml":
        from numaopt.problem import load_problem

        problem = load_problem(path)
        if problem.layout is not None:
            if problem.layout.distances is None:
                raise InputError("this layout gives no distances to draw", source=source)
            plot_guest_distances(problem.layout.distances, out, path.name)
        else:
            host = problem.placement.host if problem.placement is not None else problem.shared.host if problem.shared else None
            assert host is not None
            plot.plot_host(host, out, title=f"host of {path.name}")
    else:
        from numaopt.cli.host import _load

        plot.plot_host(_load([source], distances), out)
    typer.echo(f"wrote {out}", err=True)


def plot_folder_to(folder: Path, out: Path) -> None:
    """`generate --plot` / `fuzz --plot`: the batch's coverage or the campaign, from its folder."""
    from numaopt.render import plot

    if (folder / "index.jsonl").is_file():
        plot.plot_coverage(_jsonl(folder / "index.jsonl"), out)
    else:
        plot.plot_campaign(_jsonl(folder / "journal.jsonl"), out)


def _as_host(distances: Any) -> HostTopology:
    """A guest's distance matrix drawn the way a host's is (nodes 0..n-1, no CPUs)."""
    from numaopt.model import HostNode

    return HostTopology(tuple(HostNode(k) for k in range(len(distances))), distances)


def plot_plan_to(request: PlacementRequest, plan: Plan, out: Path) -> None:
    """`solve --plot`: where the plan landed on the host, with the workload's traffic."""
    from numaopt.render import plot

    traffic = tuple((t.a, t.b, t.weight) for t in request.workload.priced_traffic if t.a != t.b)
    plot.plot_plan(request.host, plan, out, traffic)


def plot_guest_distances(distances: Any, out: Path, name: str) -> None:
    from numaopt.render import plot

    plot.plot_host(_as_host(distances), out, title=f"guest distances of {name}")
