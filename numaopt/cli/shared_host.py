"""`numaopt solve` for several VMs on one host: one plan per VM, on stdout or in a folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from numaopt.files import prepare_output_dir, write_atomically
from numaopt.model import Plan, SharedHostRequest
from numaopt.render.several import join_vms
from numaopt.render.text import plan_summary

EXTENSIONS = {
    "qemu": "args",
    "shell": "sh",
    "json": "json",
    "libvirt": "xml",
    "libvirt-domain": "xml",
    "proxmox": "conf",
    "cloud-hypervisor": "sh",
}


def solve_shared(
    request: SharedHostRequest,
    fmt: str,
    out: Path | None,
    quiet: bool,
    adjust_distances: bool,
    render: Callable[[Plan, str], str],
    plot_file: Path | None = None,
) -> None:
    """Place every VM, print each one's summary, write each one's configuration
    (``render(plan, vm name)``: the name goes into formats that name the VM), and with
    ``plot_file`` draw where every VM landed on the host."""
    from numaopt.cli.progress import search_progress, wanted
    from numaopt.clock import deadline_for
    from numaopt.render.json import shared_plan_to_json
    from numaopt.solver import place_vms

    limit = request.settings.time_limit_s
    with search_progress(wanted(quiet), limit) as progress:
        shared = place_vms(request, deadline=deadline_for(limit), adjust_distances=adjust_distances, progress=progress)
    priorities = {vm.name: vm.priority for vm in request.vms}
    if plot_file is not None:
        from numaopt.render.plot import plot_shared

        plot_shared(request.host, shared.plans, plot_file)
    if not quiet:
        for name, plan in shared.plans:
            typer.echo(f"== VM {name} (priority {priorities[name]})", err=True)
            typer.echo(plan_summary(plan), err=True, nl=False)
        bound = "" if shared.best_bound is None else f", bound {shared.best_bound:g}"
        typer.echo(
            f"== {len(shared.plans)} VMs: status {shared.status.value}, priority-weighted objective {shared.objective:g}"
            f"{bound}, {shared.wall_time_s:.3f} s",
            err=True,
        )
    facts = {
        "status": shared.status.value,
        "objective": shared.objective,
        "best_bound": shared.best_bound,
        "wall_time_s": shared.wall_time_s,
        "priorities": priorities,
    }
    texts = {name: render(plan, name) for name, plan in shared.plans}
    if out is None:
        if fmt == "json":
            typer.echo(shared_plan_to_json(shared.plans, facts), nl=False)
        else:
            typer.echo(join_vms(texts), nl=False)
        return
    prepare_output_dir(out, "--out")  # several VMs: one file per VM in a folder
    for name, text in texts.items():
        write_atomically(out / f"{name}.{EXTENSIONS[fmt]}", text, "--out")
    if fmt == "json":
        write_atomically(out / "plans.json", shared_plan_to_json(shared.plans, facts), "--out")
    if not quiet:
        typer.echo(f"wrote {len(texts)} VM files to {out}", err=True)
