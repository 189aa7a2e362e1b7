"""Where two guests of the same layout show different things (``numaopt fuzz --kernel A --kernel B``).

The oracles judge each guest against what its own kernel should show, so two kernels
that both behave as predicted compare equal on failures. What they *show* may still
differ, on purpose (x86 die ids: 6.1 numbers them per package, 6.7 and later
machine-wide): ``guest_differences`` lists those differences, one line per kind, so a
campaign reports them apart from failures.

Compared: the nodes (ids, CPUs, distance rows), each CPU's topology (package, die and
core ids, thread, package and cluster siblings) and each CPU's scheduler domain spans,
level by level. Not compared: domain names and flags (renamed between kernels without
a change of structure: DIE became PKG, SD_SHARE_PKG_RESOURCES became SD_SHARE_LLC),
MemTotal (each kernel keeps a different amount for itself) and kernel messages (the
oracles judge those).
"""

from __future__ import annotations

from collections.abc import Callable

from numaopt.guest.report import CpuView, GuestReport
from numaopt.units import format_cpulist

__all__ = ["guest_differences"]

# (kind, how one CPU shows it); the kind names the line and the campaign's count.
_CPU_FIELDS: tuple[tuple[str, Callable[[CpuView], object]], ...] = (
    ("package ids", lambda view: view.package),
    ("die ids", lambda view: view.die),
    ("core ids", lambda view: view.core),
    ("thread siblings", lambda view: format_cpulist(view.thread_siblings)),
    ("package CPUs", lambda view: format_cpulist(view.core_siblings)),
    ("cluster CPUs", lambda view: format_cpulist(view.cluster)),
)


def guest_differences(a: GuestReport | None, b: GuestReport | None) -> tuple[str, ...]:
    """One line per kind of difference between guest A's and guest B's complete reports
    ("die ids: CPUs 4-7 show 0 0 1 1 under A, 2 2 3 3 under B"); () when they show the same,
    or when either report is missing or cut (the oracles already fail those)."""
    if a is None or b is None or not a.complete or not b.complete:
        return ()
    found = _node_differences(a, b)
    cpus = sorted(set(a.cpus) & set(b.cpus))
    if set(a.cpus) != set(b.cpus):
        found.append(f"CPUs: {format_cpulist(sorted(a.cpus)) or 'none'} under A, {format_cpulist(sorted(b.cpus)) or 'none'} under B")
    for kind, value in _CPU_FIELDS:
        found += _field_difference(kind, {cpu: value(a.cpus[cpu]) for cpu in cpus}, {cpu: value(b.cpus[cpu]) for cpu in cpus})
    spans_a, spans_b = _spans(a), _spans(b)
    every = sorted(set(spans_a) | set(spans_b))
    found += _field_difference("scheduler domain spans", {cpu: spans_a.get(cpu, "none") for cpu in every},
                               {cpu: spans_b.get(cpu, "none") for cpu in every})
    return tuple(found)


def _node_differences(a: GuestReport, b: GuestReport) -> list[str]:
    if a.node_ids != b.node_ids:
        return [f"nodes: {format_cpulist(a.node_ids) or 'none'} under A, {format_cpulist(b.node_ids) or 'none'} under B"]
    found: list[str] = []
    cpus = [node for node in a.node_ids if a.nodes[node].cpus != b.nodes[node].cpus]
    if cpus:
        found.append("node CPUs: " + "; ".join(
            f"node {node} {format_cpulist(a.nodes[node].cpus) or 'none'} under A, {format_cpulist(b.nodes[node].cpus) or 'none'} under B"
            for node in cpus
        ))
    rows = [node for node in a.node_ids if a.nodes[node].distances != b.nodes[node].distances]
    if rows:
        found.append("distances: " + "; ".join(
            f"node {node} {' '.join(map(str, a.nodes[node].distances))} under A, {' '.join(map(str, b.nodes[node].distances))} under B"
            for node in rows
        ))
    return found


def _spans(report: GuestReport) -> dict[int, str]:
    """Per CPU, its domains' spans bottom up ("0-1 / 0-3"), where the log gave them."""
    return {
        cpu: " / ".join(format_cpulist(d.span) if d.span is not None else "?" for d in domains)
        for cpu, domains in report.domains.items()
    }


def _field_difference(kind: str, under_a: dict[int, object], under_b: dict[int, object]) -> list[str]:
    """One line for the CPUs where ``kind`` differs, their values in CPU order under each kernel
    (both maps have the same CPUs)."""
    differing = [cpu for cpu in sorted(under_a) if under_a[cpu] != under_b[cpu]]
    if not differing:
        return []
    shown_a = " ".join(str(under_a[cpu]) for cpu in differing)
    shown_b = " ".join(str(under_b[cpu]) for cpu in differing)
    return [f"{kind}: CPUs {format_cpulist(differing)} show {shown_a} under A, {shown_b} under B"]
