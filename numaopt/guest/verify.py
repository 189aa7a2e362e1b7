"""Verify one layout in the real QEMU: level 1 (paused QEMU, QMP readback) and level 2 (boot).

Level 1 is ``numaopt.qemu.qmp``'s ``probe`` + ``compare``: what QEMU built equals the
layout. Level 2 boots the guest kit and compares what the guest sees with what was
asked, mapping QEMU node ids to the guest's (first-seen numbering, empty nodes unseen):
node count, CPUs, memory (present RAM exact up to firmware holes; MemTotal within what
the kernel reserves), the full distance matrix, the CPU topology; then the kernel's
messages of interest, the scheduler domains, and what ``check`` predicted the guest would
print (fuzz's oracle (f)). Every mismatch is one line.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from numaopt.guest.boot import BootResult, boot
from numaopt.guest.kit import GuestKit
from numaopt.guest.oracles import (
    ExpectedView,
    dimm_failures,
    expected_view,
    hang_failure,
    hmat_failures,
    message_problems,
    sched_problems,
    topology_problems,
)
from numaopt.guest.predictions import prediction_failures
from numaopt.model import Dimm, GuestLayout, Machine
from numaopt.qemu.qmp import HotDimm, QemuReadback, compare, probe
from numaopt.render.qemu import dimm_id, qemu_command
from numaopt.units import MIB

__all__ = ["BootVerification", "QemuVerification", "verify_boot", "verify_qemu"]


@dataclass(frozen=True, slots=True)
class QemuVerification:
    readback: QemuReadback
    mismatches: list[str]
    hotplug: str = ""  # what the hot-plug test did, for the level-1 line ("" when the layout has no room)


HOTPLUG_TEST_BYTES = 128 * MIB  # one x86_64 memory section: the smallest DIMM Linux onlines


def hotplug_test(layout: GuestLayout) -> HotDimm | None:
    """The DIMM level 1 hot-plugs: 128 MiB into the last node with memory, when a slot and
    room under maxmem are left; its id is the next one the renderer would give."""
    used = layout.memory_bytes + sum(dimm.size_bytes for dimm in layout.dimms)
    if layout.maxmem_bytes is None or layout.slots <= len(layout.dimms) or layout.maxmem_bytes - used < HOTPLUG_TEST_BYTES:
        return None
    if layout.machine is Machine.VIRT:
        return None  # virt plugs DIMMs only with firmware and ACPI (acpi-ged), which level 1 does not boot
    node = next((node.node_id for node in reversed(layout.nodes) if node.memory_bytes), layout.nodes[-1].node_id)
    return HotDimm(dimm_id(len(layout.dimms)), node, HOTPLUG_TEST_BYTES)


@dataclass(frozen=True, slots=True, eq=False)
class BootVerification:
    result: BootResult
    view: ExpectedView  # what was asked, in guest node ids
    mismatches: list[str]


def verify_qemu(layout: GuestLayout, timeout_s: float = 20.0) -> QemuVerification:
    """Level 1: start QEMU paused and compare its QMP readback with ``layout``.

    Raises ``QemuRefused`` (exit code 4) when QEMU refuses the configuration.
    """
    plug = hotplug_test(layout)
    readback = probe(qemu_command(layout), timeout_s=timeout_s, plug=() if plug is None else (plug,))
    if plug is None:
        return QemuVerification(readback, compare(layout, readback))
    grown = dataclasses.replace(layout, dimms=(*layout.dimms, Dimm(plug.node, plug.size_bytes)))
    seen = next((d for d in readback.memory_devices if d.device_id == plug.device_id), None)
    told = f"node {seen.node}, slot {seen.slot}, hotplugged={str(seen.hotplugged).lower()}" if seen else "not listed"
    return QemuVerification(
        readback,
        compare(grown, readback),
        f"; hot-plugged {plug.device_id} (128 MiB) into node {plug.node} over QMP: query-memory-devices says {told}",
    )


def boot_mismatches(layout: GuestLayout, result: BootResult) -> tuple[ExpectedView, list[str]]:
    """The level-2 mismatches of one finished boot (pure: no QEMU here)."""
    kernel = result.report.kernel if result.report is not None else ""  # x86 die ids depend on it
    asked = expected_view(layout, linux=False, accel=result.accel, kernel=kernel)
    if result.timed_out:
        return asked, [f"the guest hung: {hang_failure(result).message}"]
    report = result.report
    if report is None or not report.complete:
        why = "; ".join(report.problems) if report is not None else "no report on the console"
        return asked, [f"the guest stopped before a complete report: {why}"]
    linux = expected_view(layout, linux=True, accel=result.accel, kernel=kernel)
    lines = topology_problems(asked, report)
    lines += [f.message for f in hmat_failures(layout, report) + dimm_failures(layout, report)]
    if linux.slit_discarded and any(m.code == "slit-invalid" for m in report.messages()):
        lines.append(
            "the guest discarded the distance table ('ACPI: SLIT table looks invalid. Not used.'): "
            "Linux needs 10 on the diagonal and 11..255 elsewhere"
        )
    lines += [
        f"the guest ignores a sibling on another node: {m.text}" for m in report.messages() if m.code == "not-same-node"
    ]
    lines += [f.message for f in message_problems(linux, report.messages()) if f.code.startswith("message:")]
    lines += [f"scheduler domains: {f.message}" for f in sched_problems(linux, report)]
    # What check predicted about this guest, held against what it showed (fuzz's oracle (f)).
    lines += [f"check's prediction: {f.message}" for f in prediction_failures(layout, report, result.argv, result.accel)]
    return asked, lines


def verify_boot(
    layout: GuestLayout,
    kit: GuestKit,
    *,
    timeout_s: float | None = None,
    accel: str | None = None,
    serial_file: Path | None = None,
) -> BootVerification:
    """Level 2: boot ``layout`` and compare what the guest sees with what was asked."""
    result = boot(layout, kit, timeout_s=timeout_s, accel=accel, serial_file=serial_file)
    view, lines = boot_mismatches(layout, result)
    return BootVerification(result, view, lines)
