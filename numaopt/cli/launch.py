"""``numaopt launch``: start QEMU for a plan and pin its vCPU threads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from numaopt.errors import InputError


def launch_command(
    plan_file: Annotated[Path, typer.Argument(metavar="PLAN", help="A plan written by `numaopt solve --format json`.")],
    qemu_args: Annotated[list[str] | None, typer.Argument(metavar="-- QEMU_ARGS", help="Extra QEMU arguments, after --.")] = None,
    vm: Annotated[
        str | None, typer.Option("--vm", help="Which VM of a several-VM plan (solve of a problem with [[vm]] tables).")
    ] = None,
) -> None:
    """Start QEMU for a plan and pin each vCPU thread to its host CPU.

    QEMU cannot pin vCPU threads itself: numaopt starts it with the plan's arguments plus yours (after --), reads the vCPU thread ids over QMP (query-cpus-fast), applies the plan's pinning with sched_setaffinity, prints one line per vCPU, and waits. Ctrl-C or TERM stops QEMU. Exits with QEMU's exit code.

    Example: numaopt solve problems/epyc-db.toml -f json -o plan.json && numaopt launch plan.json -- -kernel vmlinuz -nographic
    """
    from numaopt.inputs import read_text
    from numaopt.qemu.launch import launch as run
    from numaopt.render.json import plan_from_json, vm_names_in

    text = read_text(plan_file)
    names = vm_names_in(text)
    if names is not None and vm is None:
        raise InputError(f"this plan holds several VMs ({', '.join(names)}): choose one with --vm NAME", source=str(plan_file))
    plan = plan_from_json(text, source=str(plan_file), vm=vm)

    def report(pinned: list[tuple[int, int, int]]) -> None:
        for vcpu, thread, host_cpu in pinned:
            typer.echo(f"pinned vCPU {vcpu} (thread {thread}) to host CPU {host_cpu}", err=True)

    raise typer.Exit(run(plan, list(qemu_args or []), on_pinned=report))


# Sub-commands defined in their own modules, listed after the core ones in --help.
