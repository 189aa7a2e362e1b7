"""Oracle (f) predictions: what ``numaopt check`` says the guest will do, against what it did.

``check`` words some findings as predictions about the guest ("QEMU starts it; in the
guest: ..."): broken scheduler domains (``sched-groups-span``), a socket or SMT core split
across nodes (``socket-split``, ``core-split``: the ``... is not on the same node``
warning), virt's missing cache description and split clusters (``virt-smt``,
``cluster-split``: ``BUG: arch topology borken``), and an AMD-vendor CPU model without
topoext given threads (``smt-amd-no-topoext``: the guest sees no SMT siblings). Each
comes with evidence the booted guest leaves in its report. This oracle holds numaopt's
own rules to account, both ways:

* a prediction the guest did not confirm (check said it would print it; it did not) is a
  ``prediction-unconfirmed`` failure;
* evidence no rule predicted (the guest printed it; check was silent) is a
  ``prediction-missing`` failure: a rule check lacks.

The rules come from ``check_layout`` with the layout's own guest rule set, plus the
command-line rule (``smt-amd-no-topoext``) from reading the QEMU arguments the guest was
booted with (the renderer's plus the boot's ``-cpu``). Evidence a rule may or may not
produce (a split socket warns under TCG, and under KVM only without an SNC-aware host
CPU) counts neither way when it cannot be told.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from numaopt.guest.boot import BootResult
from numaopt.guest.oracles import Failure, Oracle
from numaopt.guest.report import GuestReport
from numaopt.layout import check_layout
from numaopt.model import GuestLayout, Machine
from numaopt.qemu.args import read_qemu_args
from numaopt.render.qemu import qemu_command
from numaopt.rules import Finding

__all__ = ["EVIDENCE", "Evidence", "judge_predictions", "predicted_codes", "prediction_failures"]

Seen = Callable[[GuestLayout, GuestReport], bool | None]  # None: cannot be told from this report


def _printed(pattern: str) -> Seen:
    compiled = re.compile(pattern)

    def seen(_layout: GuestLayout, report: GuestReport) -> bool:
        return any(compiled.search(m.text) for m in report.messages())

    return seen


def _no_smt_siblings(layout: GuestLayout, report: GuestReport) -> bool | None:
    """Threads were asked and no CPU has a thread sibling (None when no threads were asked,
    and on virt, whose SMT evidence is the BUG line)."""
    if layout.shape.threads < 2 or not report.cpus or layout.machine is Machine.VIRT:
        return None
    return all(len(cpu.thread_siblings) <= 1 for cpu in report.cpus.values())


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the guest shows when one of ``rules`` holds (finding codes of ``check``)."""

    name: str
    shows: str  # the guest's words, for the failure message
    rules: tuple[str, ...]
    seen: Seen
    tcg_only: tuple[str, ...] = ()  # rules whose evidence is certain under TCG only


EVIDENCE: tuple[Evidence, ...] = (
    Evidence("groups-span", "ERROR: groups don't span domain->span", ("sched-groups-span",),
             _printed(r"groups don't span domain->span")),
    Evidence("llc-sibling", "sched: CPU #N's llc-sibling CPU #M is not on the same node!", ("socket-split",),
             _printed(r"llc-sibling CPU #\d+ is not on the same node"), tcg_only=("socket-split",)),
    Evidence("smt-sibling", "sched: CPU #N's smt-sibling CPU #M is not on the same node!", ("core-split",),
             _printed(r"smt-sibling CPU #\d+ is not on the same node")),
    Evidence("topology-borken", "BUG: arch topology borken", ("virt-smt", "cluster-split"),
             _printed(r"topology borken")),
    Evidence("no-smt", "no SMT siblings (every thread_siblings_list holds one CPU)", ("smt-amd-no-topoext",),
             _no_smt_siblings),
)


def _cpu_args(argv: Sequence[str]) -> list[str]:
    """The boot's ``-cpu`` and ``-accel`` (what the SMT rule depends on)."""
    out: list[str] = []
    for i, word in enumerate(argv[:-1]):
        if word in ("-cpu", "-accel"):
            out += [word, argv[i + 1]]
    return out


def command_findings(layout: GuestLayout, argv: Sequence[str]) -> list[Finding]:
    """The command-line rules' findings on the renderer's arguments plus the boot's -cpu."""
    return read_qemu_args(shlex.join([*qemu_command(layout), *_cpu_args(argv)])).findings


def predicted_codes(layout: GuestLayout, argv: Sequence[str]) -> set[str]:
    """The codes of every guest prediction check makes for ``layout`` booted with ``argv``."""
    found = check_layout(layout, layout.rules) + command_findings(layout, argv)
    return {finding.code for finding in found}


def prediction_failures(layout: GuestLayout, report: GuestReport, argv: Sequence[str], accel: str) -> list[Failure]:
    """Oracle (f) on a complete report: each prediction unconfirmed, each complaint unpredicted."""
    codes = predicted_codes(layout, argv)
    found: list[Failure] = []
    for evidence in EVIDENCE:
        seen = evidence.seen(layout, report)
        if seen is None:
            continue
        rules = [code for code in evidence.rules if code in codes]
        certain = [code for code in rules if accel == "tcg" or code not in evidence.tcg_only]
        if certain and not seen:
            found.append(Failure(
                Oracle.PREDICTIONS,
                "prediction-unconfirmed",
                f"check predicted {', '.join(certain)} (the guest shows '{evidence.shows}'); the guest did not show it",
            ))
        elif seen and not rules:
            found.append(Failure(
                Oracle.PREDICTIONS,
                "prediction-missing",
                f"the guest shows '{evidence.shows}' and check predicted none of {', '.join(evidence.rules)}",
            ))
    return found



def judge_predictions(layout: GuestLayout, result: BootResult) -> list[Failure]:
    """Oracle (f) on one boot: [] when it has no complete report (the other oracles say why)."""
    if result.timed_out or result.report is None or not result.report.complete:
        return []
    return prediction_failures(layout, result.report, result.argv, result.accel)
