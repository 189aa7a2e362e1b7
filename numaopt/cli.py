"""The numaopt command line: the only module that prints or exits.

Exit codes: 0 ok, 1 bad input or a layout the target refuses, 2 usage, 3 no plan
(infeasible / nothing in time), 4 QEMU or the guest check failed.
"""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from numaopt.api import render_plan
from numaopt.cli_errors import error_text, naming, warn
from numaopt.cli_generate import generate_command
from numaopt.cli_guest import fuzz_command, guest_build_command, verify_command
from numaopt.cli_host import host_app
from numaopt.cli_plot import plot_command
from numaopt.cli_usage import PlainUsage
from numaopt.errors import InputError, LayoutError, NumaoptError
from numaopt.files import check_output_file, stdout_failed, write_atomically
from numaopt.layout import check_layout
from numaopt.model import GuestLayout, Plan
from numaopt.problem import load_problem
from numaopt.processes import sigterm_as_interrupt
from numaopt.render.target import Accel, VmOptions
from numaopt.render.text import plan_summary
from numaopt.rules import Finding, RuleSet, Severity

app = typer.Typer(
    help="Search, check and render QEMU guest NUMA layouts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts mention [guest], [host] literally: no rich markup
)


def _version(value: bool) -> None:
    if value:
        from numaopt import __version__

        typer.echo(f"numaopt {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool, typer.Option("--version", help="Print numaopt's version and exit.", callback=_version, is_eager=True)
    ] = False,
) -> None:
    """Search, check and render QEMU guest NUMA layouts."""




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


@app.command(cls=PlainUsage)
def solve(
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
    if loaded.shared is not None:
        from numaopt.cli_shared import solve_shared

        if plot_file is not None:
            raise InputError("--plot draws one guest; a problem with several VMs is not drawn yet", where="--plot")
        with naming(problem):
            solve_shared(
                loaded.shared, fmt.value, out, quiet, adjust_distances,
                lambda plan, name: _render(plan, fmt, VmOptions(name=name, accel=accel, kernel=kernel)),
            )
        return
    if loaded.placement is not None:
        from numaopt.cli_progress import search_progress, wanted
        from numaopt.clock import deadline_for
        from numaopt.place import place

        limit = loaded.placement.settings.time_limit_s
        with search_progress(wanted(quiet), limit) as progress, naming(problem):
            plan = place(loaded.placement, deadline=deadline_for(limit), adjust_distances=adjust_distances, progress=progress)
        if plan.adjusted_distances:
            warn(adjusted_text(plan), str(problem))
        if plot_file is not None:
            from numaopt.cli_plot import plot_plan_to

            plot_plan_to(loaded.placement, plan, plot_file)
    else:
        assert loaded.layout is not None
        errors = refusals(loaded.layout)
        if errors:
            raise LayoutError("\n".join(f"{problem}: {finding}" for finding in errors))
        plan = Plan(layout=loaded.layout)
        if plot_file is not None and loaded.layout.distances is not None:
            from numaopt.cli_plot import plot_guest_distances

            plot_guest_distances(loaded.layout.distances, plot_file, problem.name)
    text = _render(plan, fmt, VmOptions(accel=accel, kernel=kernel))
    if not quiet:
        typer.echo(plan_summary(plan), err=True, nl=False)
    if out is None:
        typer.echo(text, nl=False)
    else:
        write_atomically(out, text, "--out")
        if not quiet:
            typer.echo(f"wrote {out}", err=True)


def _read_for_check(path: Path) -> tuple[GuestLayout, list[Finding]]:
    """A problem file (.toml) or a file of QEMU arguments ("-" reads stdin)."""
    if path.suffix == ".toml":
        loaded = load_problem(path)
        if loaded.shared is not None:
            raise InputError(
                "this problem places several VMs ([[vm]]); check reads one guest: solve it with --format json --out DIR "
                "and check each VM's arguments (DIR/NAME.args)",
                source=str(path),
            )
        if loaded.layout is None:
            # A search problem: check the layout of the plan the search finds.
            from numaopt.place import place

            assert loaded.placement is not None
            from numaopt.clock import deadline_for

            with naming(path):
                return place(loaded.placement, deadline=deadline_for(loaded.placement.settings.time_limit_s)).layout, []
        return loaded.layout, []
    from numaopt.inputs import read_stream, read_text
    from numaopt.qemu.args import read_qemu_args

    if str(path) == "-":
        config = read_qemu_args(read_stream(sys.stdin.buffer, "<stdin>"), source="<stdin>")
    else:
        config = read_qemu_args(read_text(path), source=str(path))
    return config.layout, list(config.findings)


@app.command(cls=PlainUsage)
def check(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A problem file (.toml) or a file of QEMU arguments (- for stdin).")],
    rules: Annotated[
        str,
        typer.Option(
            "--rules",
            "-r",
            help="Comma-separated rule sets: qemu, linux-acpi, linux-dt, libvirt, or all. Default (auto): qemu, the "
            "guest's own (linux-acpi for q35/pc, linux-dt for virt) and libvirt.",
        ),
    ] = "auto",
    show_info: Annotated[bool, typer.Option("--info", help="Also print facts (scheduler levels, topology type).")] = False,
) -> None:
    """Lint a layout: what QEMU refuses, and what each guest discards or warns about.

    FILE is a problem file (.toml; a search problem is solved first and its plan checked) or QEMU arguments as people paste them (backslash continuations and the binary name are fine).

    Prints one line per finding as `FILE: RULESET: SEVERITY: message (fix: ...)`, or `FILE: RULESET: ok`. Exits 1 if any chosen rule set has an error.
    """
    try:
        chosen = None if rules.strip() == "auto" else RuleSet.parse_list(rules)
    except ValueError as exc:
        raise typer.BadParameter(f"{exc} (or auto)", param_hint="--rules") from None
    layout, arg_findings = _read_for_check(file)
    if chosen is None:  # an x86 guest never reads a device tree, an arm64 `virt` guest does
        chosen = (RuleSet.QEMU, layout.machine.default_rules, RuleSet.LIBVIRT)
    failed = False
    qemu_found = arg_findings + check_layout(layout, RuleSet.QEMU)
    qemu_errors = {(f.code, f.message) for f in qemu_found if f.severity is Severity.ERROR}
    for rule_set in chosen:
        if rule_set is RuleSet.QEMU:
            found = qemu_found
        else:
            # A guest (or libvirt) only sees what QEMU accepted: say so once instead of
            # repeating QEMU's refusals, then add what this target has to say on its own.
            found = [f for f in check_layout(layout, rule_set) if (f.code, f.message) not in qemu_errors]
            if qemu_errors:
                found.insert(
                    0,
                    Finding(rule_set, Severity.ERROR, "qemu-refuses", "QEMU refuses this configuration (see the qemu lines), so the guest never runs"),
                )
        shown = [f for f in dict.fromkeys(found) if show_info or f.severity is not Severity.INFO]
        failed |= any(f.severity is Severity.ERROR for f in shown)
        if not any(f.severity is not Severity.INFO for f in shown):
            typer.echo(f"{file}: {rule_set.value}: ok")
        for finding in shown:
            typer.echo(f"{file}: {finding}")
    if failed:
        raise typer.Exit(1)


@app.command(cls=PlainUsage, context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def launch(
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
app.command("plot", cls=PlainUsage)(plot_command)
app.command("generate", cls=PlainUsage)(generate_command)
app.command("verify", cls=PlainUsage)(verify_command)
app.command("fuzz", cls=PlainUsage)(fuzz_command)
app.add_typer(host_app, name="host")
guest_app = typer.Typer(help="The guest kit (kernel + probe initramfs) for boot checks.", no_args_is_help=True)
guest_app.command("build", cls=PlainUsage)(guest_build_command)
app.add_typer(guest_app, name="guest")


def main(args: list[str] | None = None) -> None:
    """Entry point: every numaopt error becomes one line on stderr (one per finding for a
    refused layout) and its exit code. ``args`` defaults to the command line (tests pass them)."""
    try:
        with sigterm_as_interrupt():  # a supervisor's stop cleans up like Ctrl-C (exit 130)
            app(args=args, prog_name="numaopt")  # standalone: usage errors print themselves and exit 2
    except NumaoptError as exc:
        typer.echo(error_text(exc), err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("numaopt: interrupted", err=True)
        sys.exit(130)
    except OSError as exc:
        if not stdout_failed(exc):
            raise
        typer.echo(f"numaopt: error: stdout: cannot write: {exc.strerror}", err=True)
        sys.exit(1)
