"""Rule sets and findings: a layout is judged against a named target, never one global "valid".

Each rule set cites where its rules come from; the facts are collected, with exact
messages, in docs/rules.md (``#rule-sets`` says which set judges what).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class RuleSet(enum.StrEnum):
    """Targets a layout can be judged against."""

    QEMU = "qemu"  # what QEMU (hw/core/numa.c, machine.c, machine-smp.c) accepts
    LINUX_ACPI = "linux-acpi"  # what an x86 / arm64-ACPI guest keeps (drivers/acpi/numa/srat.c, sched/topology.c)
    LINUX_DT = "linux-dt"  # what a device-tree guest keeps (drivers/of/of_numa.c)
    LIBVIRT = "libvirt"  # what libvirt's domain XML accepts (conf/numa_conf.c)

    @classmethod
    def parse_list(cls, text: str) -> tuple[RuleSet, ...]:
        """"qemu,linux-acpi" -> (QEMU, LINUX_ACPI); "all" -> every rule set."""
        if text.strip() == "all":
            return tuple(cls)
        chosen: list[RuleSet] = []
        for name in text.split(","):
            try:
                chosen.append(cls(name.strip()))
            except ValueError:
                valid = ", ".join(r.value for r in cls)
                raise ValueError(f"unknown rule set {name.strip()!r}: expected all or a list of {valid}") from None
        return tuple(dict.fromkeys(chosen))


class Severity(enum.StrEnum):
    ERROR = "error"  # the target refuses or discards the layout
    WARNING = "warning"  # accepted, but the guest sees or does something else than asked
    INFO = "info"  # a fact worth knowing (levels, topology type)


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule's verdict on one layout, for one rule set."""

    rule_set: RuleSet
    severity: Severity
    code: str  # stable id, e.g. "slit-local-remote", for tests and filtering
    message: str
    fix: str | None = None

    def __str__(self) -> str:
        text = f"{self.rule_set}: {self.severity}: {self.message}"
        return f"{text} (fix: {self.fix})" if self.fix else text


def has_errors(findings: list[Finding]) -> bool:
    return any(f.severity is Severity.ERROR for f in findings)
