"""Findings as the command line prints them: each line says who complains.

A finding of the qemu rule set is QEMU's own verdict ("QEMU refuses: ..."); one of a
guest's rule set (linux-acpi, linux-dt) says that QEMU starts the guest and what the
guest kernel then does (or would do, where QEMU refuses); libvirt speaks for itself. A
line never claims that QEMU refuses what only a guest's rules judge, nor that QEMU
starts what it refuses.
"""

from __future__ import annotations

from numaopt.rules import Finding, RuleSet, Severity

QEMU_REFUSES_CODE = "qemu-refuses"  # a guest's or libvirt's line for a configuration QEMU refuses

_WHO = {
    (RuleSet.QEMU, Severity.ERROR): "QEMU refuses: ",
    (RuleSet.QEMU, Severity.WARNING): "QEMU starts it and warns: ",
    (RuleSet.LIBVIRT, Severity.ERROR): "libvirt refuses: ",
    (RuleSet.LIBVIRT, Severity.WARNING): "libvirt accepts it and warns: ",
    (RuleSet.LINUX_ACPI, Severity.ERROR): "QEMU starts it, but in the guest: ",
    (RuleSet.LINUX_ACPI, Severity.WARNING): "QEMU starts it; in the guest: ",
    (RuleSet.LINUX_DT, Severity.ERROR): "QEMU starts it, but in the guest: ",
    (RuleSet.LINUX_DT, Severity.WARNING): "QEMU starts it; in the guest: ",
}


def qemu_refuses(rule_set: RuleSet) -> Finding:
    """What a guest's (or libvirt's) rule set says of a configuration QEMU refuses."""
    return Finding(
        rule_set, Severity.ERROR, QEMU_REFUSES_CODE, "QEMU refuses this configuration (see the qemu lines), so the guest never runs"
    )


_GUESTS = (RuleSet.LINUX_ACPI, RuleSet.LINUX_DT)


def finding_line(finding: Finding, *, qemu_refused: bool = False) -> str:
    """``RULESET: SEVERITY: WHO message (fix: ...)``: the line ``check`` and ``solve`` print.
    ``qemu_refused``: QEMU refuses the configuration, so a guest's finding is what the
    guest would do if it ran."""
    if finding.code == QEMU_REFUSES_CODE or finding.severity is Severity.INFO:
        who = ""
    elif qemu_refused and finding.rule_set in _GUESTS:
        who = "were QEMU to start it, in the guest: "
    else:
        who = _WHO.get((finding.rule_set, finding.severity), "")
    text = f"{finding.rule_set}: {finding.severity}: {who}{finding.message}"
    return f"{text} (fix: {finding.fix})" if finding.fix else text
