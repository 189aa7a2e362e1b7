"""``numaopt check``: lint a layout (a problem file, a JSON plan, a libvirt domain or QEMU arguments) against QEMU and the guests."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from numaopt.cli.errors import naming
from numaopt.cli.findings import finding_line, qemu_refuses
from numaopt.layout import check_layout
from numaopt.model import GuestLayout
from numaopt.problem import load_problem
from numaopt.render.several import split_vms
from numaopt.rules import Finding, RuleSet, Severity


def _read_for_check(path: Path) -> list[tuple[str, GuestLayout, list[Finding]]]:
    """(label, layout, QEMU's findings on it, in QEMU's order, and any other rule set's
    the input alone shows) per guest in a problem file
    (.toml), a numaopt JSON plan, a libvirt domain or a file of QEMU arguments ("-" reads
    stdin). Several VMs (a [[vm]] problem, a several-VM JSON plan, or the ``# vm NAME``
    sections `solve` prints for one) are each a guest of their own."""
    if path.suffix == ".toml":
        return _guests_of_problem(path)
    from numaopt.inputs import read_stream, read_text

    text = read_stream(sys.stdin.buffer, "<stdin>") if str(path) == "-" else read_text(path)
    source = "<stdin>" if str(path) == "-" else str(path)
    if text.lstrip().startswith("{"):
        return _guests_of_plan(text, source, str(path))
    sections = split_vms(text)
    if sections is None:
        return [_guest_of_text(text, source, str(path))]
    return [_guest_of_text(section, f"{source} (vm {name})", f"{path} (vm {name})") for name, section in sections]


def _guest_of_text(text: str, source: str, label: str) -> tuple[str, GuestLayout, list[Finding]]:
    """One VM's libvirt domain or QEMU arguments."""
    from numaopt.qemu.libvirt_domain import looks_like_domain

    if looks_like_domain(text):
        return _guest_of_domain(text, source, label)
    return (label, *_read_args(text, source))


def _read_args(text: str, source: str) -> tuple[GuestLayout, list[Finding]]:
    """The layout, and every QEMU finding on it in QEMU's order (the reader's and the layout's)."""
    from numaopt.qemu.args import qemu_findings, read_qemu_args

    config = read_qemu_args(text, source=source)
    found = qemu_findings(config)
    if not config.acpi and config.layout.num_nodes > 1:
        found.append(
            Finding(
                RuleSet.LINUX_ACPI,
                Severity.ERROR,
                "acpi-off",
                "ACPI is off (-machine acpi=off, -no-acpi, or a libvirt domain without <features><acpi/>), so the x86 "
                "guest reads no SRAT or SLIT and sees one node",
                "leave ACPI on (in libvirt: <acpi/> in <features>)",
            )
        )
    return config.layout, found


def _guests_of_plan(text: str, source: str, label: str) -> list[tuple[str, GuestLayout, list[Finding]]]:
    """A JSON plan of `solve` (one VM's, or each VM's of a several-VM plan), judged by the
    QEMU command `numaopt launch` starts for it."""
    from numaopt.render.json import plan_from_json, vm_names_in
    from numaopt.render.qemu import one_line

    names = vm_names_in(text)
    vms = {None: (label, source)} if names is None else {name: (f"{label} (vm {name})", f"{source} (vm {name})") for name in names}
    return [(shown, *_read_args(one_line(plan_from_json(text, source, vm=vm)), where)) for vm, (shown, where) in vms.items()]


def _guest_of_domain(text: str, source: str, label: str) -> tuple[str, GuestLayout, list[Finding]]:
    """A libvirt domain, judged by the QEMU command libvirt would start for it."""
    import shlex

    from numaopt.qemu.libvirt_domain import read_domain
    from numaopt.render.qemu import qemu_command

    domain = read_domain(text, source)
    return (label, *_read_args(shlex.join(domain.qemu_argv(qemu_command(domain.layout))), source))


def _guests_of_problem(path: Path) -> list[tuple[str, GuestLayout, list[Finding]]]:
    """An explicit layout as written; a search problem's plan (or plans, one per VM)."""
    loaded = load_problem(path)
    if loaded.layout is not None:
        return [(str(path), loaded.layout, check_layout(loaded.layout, RuleSet.QEMU))]
    from numaopt.clock import deadline_for
    from numaopt.solver import place, place_vms

    with naming(path):
        if loaded.shared is not None:
            shared = place_vms(loaded.shared, deadline=deadline_for(loaded.shared.settings.time_limit_s))
            return [(f"{path} (vm {name})", plan.layout, check_layout(plan.layout, RuleSet.QEMU)) for name, plan in shared.plans]
        assert loaded.placement is not None
        layout = place(loaded.placement, deadline=deadline_for(loaded.placement.settings.time_limit_s)).layout
        return [(str(path), layout, check_layout(layout, RuleSet.QEMU))]


def _report(label: str, layout: GuestLayout, qemu_found: list[Finding], chosen: tuple[RuleSet, ...] | None, show_info: bool) -> bool:
    """Print one guest's lines for each chosen rule set; True if any is an error."""
    if chosen is None:  # an x86 guest never reads a device tree, an arm64 `virt` guest does
        chosen = (RuleSet.QEMU, layout.machine.default_rules, RuleSet.LIBVIRT)
    failed = False
    # qemu_found: QEMU's findings, and what the input alone shows a target (a domain's ACPI)
    qemu_errors = {(f.code, f.message) for f in qemu_found if f.severity is Severity.ERROR and f.rule_set is RuleSet.QEMU}
    for rule_set in chosen:
        own = [f for f in qemu_found if f.rule_set is rule_set]
        if rule_set is RuleSet.QEMU:
            found = own
        else:
            # A guest (or libvirt) only sees what QEMU accepted: say so once instead of
            # repeating QEMU's refusals, then add what this target has to say on its own.
            found = own + [f for f in check_layout(layout, rule_set) if (f.code, f.message) not in qemu_errors]
            if qemu_errors:
                found.insert(0, qemu_refuses(rule_set))
        shown = [f for f in dict.fromkeys(found) if show_info or f.severity is not Severity.INFO]
        failed |= any(f.severity is Severity.ERROR for f in shown)
        if not any(f.severity is not Severity.INFO for f in shown):
            typer.echo(f"{label}: {rule_set.value}: ok")
        for finding in shown:
            typer.echo(f"{label}: {finding_line(finding, qemu_refused=bool(qemu_errors))}")
    return failed


def check_command(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE",
            help="A problem file (.toml), a plan of `solve --format json`, a libvirt domain (XML) or a file of QEMU "
            "arguments (- for stdin).",
        ),
    ],
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

    FILE is a problem file (.toml; a search problem is solved first and its plan checked, each VM's for a [[vm]] problem), a JSON plan of `solve --format json` (judged by the QEMU command `numaopt launch` runs for it; each VM of a several-VM plan), a libvirt domain (the guest's NUMA cells, CPU topology, memory backing and DIMMs, read as libvirt reads them) or QEMU arguments as people paste them (backslash continuations and the binary name are fine; several VMs in `# vm NAME` sections, as solve prints them, are checked one by one).

    Prints one line per finding as `FILE: RULESET: SEVERITY: WHO: message (fix: ...)`, or `FILE: RULESET: ok`. WHO says who complains: "QEMU refuses" (QEMU 7.2's own message), "QEMU starts it, but in the guest" (only the guest kernel's rules fail), "libvirt refuses". Exits 1 if any chosen rule set has an error.
    """
    try:
        chosen = None if rules.strip() == "auto" else RuleSet.parse_list(rules)
    except ValueError as exc:
        raise typer.BadParameter(f"{exc} (or auto)", param_hint="--rules") from None
    failed = False
    for label, layout, qemu_found in _read_for_check(file):
        failed |= _report(label, layout, qemu_found, chosen, show_info)
    if failed:
        raise typer.Exit(1)
