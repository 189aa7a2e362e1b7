"""``numaopt solve``: a problem file in, a configuration out (explicit layouts checked, searches placed)."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Annotated

import typer

from numaopt.api import render_plan
from numaopt.cli.errors import naming, warn
from numaopt.cli.findings import finding_line
from numaopt.errors import LayoutError
from numaopt.files import check_output_file, write_atomically
from numaopt.layout import check_layout
from numaopt.model import GuestLayout, PlacementRequest, Plan
from numaopt.problem import load_problem
from numaopt.render.target import Accel, VmOptions
from numaopt.render.text import plan_summary
from numaopt.rules import Finding, RuleSet, Severity


class OutputFormat(enum.StrEnum):
    QEMU = "qemu"
    SHELL = "shell"
    JSON = "json"
    LIBVIRT = "libvirt"  # the same complete domain as libvirt-domain (kept for existing scripts)
    LIBVIRT_DOMAIN = "libvirt-domain"
    PROXMOX = "proxmox"
    CLOUD_HYPERVISOR = "cloud-hypervisor"


def _render(plan: Plan, fmt: OutputFormat, options: VmOptions) -> str:
    return render_plan(plan, fmt.value, options)


def adjusted_text(plan: Plan) -> str:
    """One line: which guest distances differ from the host's, and why."""
    pairs = [f"[{a}][{b}] {host} -> {shown}" for a, b, host, shown in plan.adjusted_distances]
    listed = ", ".join(pairs[:6]) + (f" and {len(pairs) - 6} more" if len(pairs) > 6 else "")
    return f"guest distances differ from the host's so the guest keeps the table: {listed}"


def refusals(layout: GuestLayout) -> list[Finding]:
    """Errors that stop a layout: QEMU's own, and those of the layout's target rule set."""
    found = check_layout(layout, RuleSet.QEMU)
    if layout.rules is not RuleSet.QEMU:
        found += check_layout(layout, layout.rules)
    return [f for f in found if f.severity is Severity.ERROR]


def solve_command(
    problem: Annotated[Path, typer.Argument(metavar="PROBLEM", help="Problem file (TOML); see docs/problem-format.md.")],
    fmt: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            "-f",
            help="qemu: one command line; shell: one option per line; json: the plan; libvirt-domain (or libvirt): "
            "a complete libvirt domain; proxmox: Proxmox VE VM config lines; cloud-hypervisor: its command line. "
            "See docs/output-formats.md.",
        ),
    ] = OutputFormat.QEMU,
    accel: Annotated[
        Accel,
        typer.Option(
            "--accel",
            help="libvirt-domain, proxmox, cloud-hypervisor: kvm passes the host CPU through; tcg names a model "
            "QEMU emulates (max on x86, cortex-a57 on aarch64).",
        ),
    ] = Accel.KVM,
    kernel: Annotated[
        str | None,
        typer.Option("--kernel", help="libvirt-domain, cloud-hypervisor: boot this kernel directly (a path on the VM host)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write here (atomically) instead of stdout.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No summary on stderr.")] = False,
    plot_file: Annotated[
        Path | None,
        typer.Option("--plot", help="Also draw the plan (search) or the guest's distances (explicit layout): .svg or .png."),
    ] = None,
    adjust_distances: Annotated[
        bool,
        typer.Option(
            "--adjust-distances",
            help="Search problems: where the host's distances cannot be shown to the guest as they are "
            "(e.g. 10 between two nodes, which Linux discards), show the nearest table it keeps and say what changed.",
        ),
    ] = False,
) -> None:
    """Turn a problem file into a QEMU configuration.

    An explicit layout ([guest]) is checked against QEMU and its target rule set (`rules` in the file; linux-acpi for q35/pc, linux-dt for virt); a layout that either refuses exits 1 with every reason, one per line.

    A search ([host] + [workload]) places the workload's groups on host nodes with CP-SAT, proves the plan optimal where it can within objective.time_limit, and adds vCPU pinning and memory binding; no plan exits 3 with the conflicting requirements.

    The summary (guest nodes, host placement, objective, bound, status, and the guest as `numactl --hardware` would show it) goes to stderr; the configuration goes to stdout, or to --out.
    """
    loaded = load_problem(problem)
    for warning in loaded.warnings:
        warn(warning, str(problem))
    if out is not None and loaded.shared is None:
        check_output_file(out, "--out")  # before a search that may take minutes
    if plot_file is not None:
        from numaopt.render.plot import check_picture

        check_picture(plot_file, "--plot")  # likewise
    options = VmOptions(accel=accel, kernel=kernel)
    if loaded.shared is not None:
        from numaopt.cli.shared_host import solve_shared

        with naming(problem):
            solve_shared(
                loaded.shared, fmt.value, out, quiet, adjust_distances,
                lambda plan, name: _render(plan, fmt, dataclasses.replace(options, name=name)), plot_file,
            )
        return
    if loaded.placement is not None:
        plan = _search(loaded.placement, problem, quiet, adjust_distances, plot_file)
    else:
        assert loaded.layout is not None
        plan = _explicit(loaded.layout, problem, plot_file)
    _write(plan, _render(plan, fmt, options), out, quiet)


def _search(request: PlacementRequest, problem: Path, quiet: bool, adjust_distances: bool, plot_file: Path | None) -> Plan:
    """A search problem's plan (with live progress on a terminal), drawn with --plot."""
    from numaopt.cli.progress import search_progress, wanted
    from numaopt.clock import deadline_for
    from numaopt.solver import place

    limit = request.settings.time_limit_s
    with search_progress(wanted(quiet), limit) as progress, naming(problem):
        plan = place(request, deadline=deadline_for(limit), adjust_distances=adjust_distances, progress=progress)
    if plan.adjusted_distances:
        warn(adjusted_text(plan), str(problem))
    if plot_file is not None:
        from numaopt.cli.plot import plot_plan_to

        plot_plan_to(request, plan, plot_file)
    return plan


def _explicit(layout: GuestLayout, problem: Path, plot_file: Path | None) -> Plan:
    """An explicit layout as a plan, or every reason QEMU or its rule set refuses it; --plot draws its distances."""
    errors = refusals(layout)
    if errors:
        refused = any(finding.rule_set is RuleSet.QEMU for finding in errors)
        lines = (f"{problem}: {finding_line(finding, qemu_refused=refused)}" for finding in errors)
        raise LayoutError("\n".join(lines))
    if plot_file is not None and layout.distances is not None:
        from numaopt.cli.plot import plot_guest_distances

        plot_guest_distances(layout.distances, plot_file, problem.name)
    return Plan(layout=layout)


def _write(plan: Plan, text: str, out: Path | None, quiet: bool) -> None:
    """The summary on stderr (unless --quiet), the configuration on stdout or in --out."""
    if not quiet:
        typer.echo(plan_summary(plan), err=True, nl=False)
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_atomically(out, text, "--out")
        if not quiet:
            typer.echo(f"wrote {out}", err=True)
