"""The guest report reader, on consoles recorded from real boots (tests/data/guest-reports).

Each ``NAME.console`` is the serial output of booting ``NAME.toml`` with the guest kit
(Debian's 6.1 cloud kernel under TCG); ``record.py`` there re-records them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from numaopt.guest.report import GuestReport, ReportError, kernel_messages, numactl_text, parse_report
from tests.support.article import ARTICLE_TABLE

DATA = Path(__file__).resolve().parents[1] / "data" / "guest-reports"
NAMES = sorted(p.stem for p in DATA.glob("*.console"))



def console(name: str) -> str:
    return (DATA / f"{name}.console").read_text(encoding="utf-8")


def report(name: str) -> GuestReport:
    return parse_report(console(name))


@pytest.mark.parametrize("name", NAMES)
def test_every_recording_is_a_complete_report(name: str) -> None:
    parsed = report(name)
    assert parsed.complete, parsed.problems
    assert parsed.kernel.startswith("6.1.")
    assert "sched_verbose" in parsed.cmdline
    assert parsed.nodes and parsed.cpus and parsed.domains
    assert parsed.node_ids == list(parsed.node_sets["online"])


def test_seed_layout_shows_the_article_table() -> None:
    text = numactl_text(report("seed-4node"))
    assert text.startswith("available: 4 nodes (0-3)\nnode 0 cpus: 0 1 2 3\n")
    assert text.endswith(ARTICLE_TABLE)


def test_cpus_and_domains_of_the_smt_layout() -> None:
    parsed = report("smt-2socket")
    cpu5 = parsed.cpus[5]
    assert (cpu5.package, cpu5.die, cpu5.core, cpu5.thread_siblings, cpu5.core_siblings) == (1, 0, 0, (4, 5), (4, 5, 6, 7))
    tree = parsed.domains[5]
    assert [d.name for d in tree] == ["SMT", "MC", "NUMA"]
    assert [d.span for d in tree] == [(4, 5), (4, 5, 6, 7), tuple(range(8))]
    assert [g.span for g in tree[1].groups or ()] == [(4, 5), (6, 7)]
    assert "SD_SHARE_CPUCAPACITY" in tree[0].flags and "SD_NUMA" in tree[2].flags


def test_memoryless_and_cpuless_nodes() -> None:
    memoryless = report("memoryless-node")
    assert memoryless.nodes[2].cpus == (4, 5) and memoryless.nodes[2].memtotal_kb == 0
    assert memoryless.node_sets["has_memory"] == (0, 1)
    cxl = report("cxl-memory-node")
    assert cxl.nodes[2].cpus == () and cxl.nodes[2].memtotal_kb is not None and cxl.nodes[2].memtotal_kb > 900 * 1024
    assert cxl.node_sets["has_cpu"] == (0, 1)


def test_kernel_messages_of_interest() -> None:
    assert [m.code for m in report("remote-10").messages()] == ["slit-invalid"]
    assert report("remote-10").messages()[0].text == "ACPI: SLIT table looks invalid. Not used."
    split = [m.code for m in report("socket-split").messages()]
    assert split == ["not-same-node", "warning"]
    asymmetric = [m.code for m in report("asymmetric").messages()]
    assert asymmetric[0] == "distance-not-symmetric" and "error" in asymmetric
    assert report("seed-4node").messages() == []


def test_messages_classified_most_specific_first() -> None:
    lines = [
        "[    0.000000] Command line: console=ttyS0 panic=-1",
        "[    1.000000] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [swapper/1:0]",
        "[    1.100000] BUG: arch topology borken",
        "[    1.200000] Kernel panic - not syncing: Fatal exception",
        "[    1.300000] WARNING: CPU: 0 PID: 1 at kernel/sched/topology.c:2345 build_sched_domains+0x1/0x2",
        "[    1.400000] NUMA: Warning: invalid distance parameter, from=0 to=1 distance=10",
        "[    1.500000] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
        "[    1.600000] Failed to find a NUMA topology type, defaulting to DIRECT",
        "[    1.700000] No NUMA configuration found",
    ]
    codes = [m.code for m in kernel_messages(lines + lines)]  # duplicates (dmesg and console) count once
    assert codes == [
        "soft-lockup",
        "topology-borken",
        "panic",
        "warning",
        "invalid-distance",
        "rcu-stall",
        "no-topology-type",
        "numa-disabled",
    ]


def test_a_report_cut_short_is_incomplete() -> None:
    text = console("backplane-3level")
    cut = text[: text.index("@dmesg") + 500]
    parsed = parse_report(cut)
    assert not parsed.complete
    assert parsed.problems == (parsed.problems[0],) and "cut short" in parsed.problems[0]


def test_a_kernel_line_inside_a_report_line_is_detected() -> None:
    text = console("backplane-3level")
    garbled = text.replace("@sys /sys/devices/system/node/node1/distance:16 10 32 32",
                           "@sys /sys/devices/system/node/node1/dist[   9.1] random: crng init done\nance:16 10 32 32", 1)
    assert garbled != text
    parsed = parse_report(garbled)
    assert not parsed.complete
    assert any("a kernel message cut a line" in p for p in parsed.problems)


def test_no_report_at_all() -> None:
    with pytest.raises(ReportError, match="no numaopt report"):
        parse_report("[    0.1] Linux version 6.1\n[    2.0] Kernel panic - not syncing: VFS\n")
    with pytest.raises(ReportError, match="format 9"):
        parse_report("@numaopt-report 9\n@end 0\n")


def test_console_lines_outside_the_report_are_kept() -> None:
    text = "[    1.0] BUG: soft lockup - CPU#0 stuck\n" + console("backplane-3level")
    parsed = parse_report(text)
    assert parsed.complete
    assert [m.code for m in parsed.messages()] == ["soft-lockup"]


def test_long_groups_lines_split_by_printk_are_joined() -> None:
    text = console("backplane-3level").replace(
        "groups: 0:{ span=0-1 cap=2048 }, 2:{ span=2-3 cap=2048 }",
        "groups: 0:{ span=0-1 cap=2048 },\n@dmesg [    2.7]  2:{ span=2-3 cap=2048 }",
        1,
    )
    # The edit adds a report line, so fix the count as the guest would have printed it.
    lines = text.split("\n")
    end = next(i for i, line in enumerate(lines) if line.startswith("@end"))
    _, count, size = lines[end].split()
    added = len("@dmesg [    2.7]  2:{ span=2-3 cap=2048 }") - len(" 2:{ span=2-3 cap=2048 }")
    lines[end] = f"@end {int(count) + 1} {int(size) + added}"
    parsed = parse_report("\n".join(lines))
    assert parsed.complete
    spans = [[g.span for g in d.groups or ()] for d in parsed.domains[0]]
    assert spans[-1] == [(0, 1), (2, 3)]
