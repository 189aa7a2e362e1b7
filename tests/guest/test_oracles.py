"""The oracles on guest reports recorded from real boots (tests/data/guest-reports).

Each recording is judged against Linux's rules for its layout: all pass but the
asymmetric one, where the real 6.1 kernel builds a NUMA domain whose groups do not span
it (and says so). Edited copies of the recordings check that each oracle catches what
it is for: a wrong distance, a missing expected message, an unexpected one, a broken
domain tree, a hang.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from numaopt.guest.boot import BootResult
from numaopt.guest.oracles import (
    Oracle,
    expected_view,
    guest_node_ids,
    judge,
    judge_report,
    memory_present,
    predicted_numa_masks,
)
from numaopt.guest.progress import BootLimits, ProgressSummary
from numaopt.guest.report import parse_report
from numaopt.guest.verify import boot_mismatches
from numaopt.model import GuestLayout
from numaopt.problem import load_problem

DATA = Path(__file__).resolve().parents[1] / "data" / "guest-reports"
PASSING = ["backplane-3level", "cxl-memory-node", "dies-2", "memoryless-node", "mesh-ring", "remote-10",
           "renumbered", "seed-4node", "smt-2socket", "socket-split"]


def layout_of(name: str) -> GuestLayout:
    layout = load_problem(DATA / f"{name}.toml").layout
    assert layout is not None
    return layout


def console(name: str) -> str:
    return (DATA / f"{name}.console").read_text(encoding="utf-8")


def result_of(name: str, text: str | None = None, *, timed_out: bool = False) -> BootResult:
    text = console(name) if text is None else text
    report = parse_report(text) if "@numaopt-report" in text else None
    return BootResult(argv=["qemu-system-x86_64"], accel="tcg", timeout_s=60.0, wall_time_s=5.0, timed_out=timed_out,
                      returncode=None if timed_out else 0, console=text, stderr="", report=report)


def edited(name: str, old: str, new: str) -> str:
    """The recording with one report line changed, its byte count fixed as the guest would print it."""
    text = console(name)
    assert old in text, old
    text = text.replace(old, new, 1)
    lines = text.split("\n")
    end = next(i for i, line in enumerate(lines) if line.startswith("@end"))
    _, count, size = lines[end].split()
    lines[end] = f"@end {count} {int(size) + len(new) - len(old)}"
    return "\n".join(lines)


def removed(name: str, fragment: str) -> str:
    """The recording without the report line holding ``fragment`` (counts fixed)."""
    lines = console(name).split("\n")
    index = next(i for i, line in enumerate(lines) if fragment in line and line.startswith("@"))
    gone = lines.pop(index).rstrip("\r")
    end = next(i for i, line in enumerate(lines) if line.startswith("@end"))
    _, count, size = lines[end].split()
    lines[end] = f"@end {int(count) - 1} {int(size) - len(gone.encode())}"
    return "\n".join(lines)


@pytest.mark.parametrize("name", PASSING)
def test_recorded_guests_behave_as_linux_rules_predict(name: str) -> None:
    assert judge(layout_of(name), result_of(name)) == []


def test_asymmetric_table_breaks_the_guest_sched_domains() -> None:
    failures = judge(layout_of("asymmetric"), result_of("asymmetric"))
    assert [(f.oracle, f.code) for f in failures] == [
        (Oracle.MESSAGES, "message:error"),
        (Oracle.SCHED, "groups"),
        (Oracle.SCHED, "groups"),
    ]
    assert failures[0].message == "the guest kernel printed: ERROR: groups don't span domain->span"
    assert failures[1].message == "CPU 2 domain 1 (NUMA): groups cover 2-3, the span is 0-3"
    # The table itself is what was asked: 20 one way, 30 the other, and the expected warning came.
    view = expected_view(layout_of("asymmetric"))
    assert view.expected_messages.keys() == {"distance-not-symmetric"}
    assert parse_report(console("asymmetric")).distance_matrix().tolist() == [[10, 20], [30, 10]]


def test_node_mapping_first_seen_and_empty_nodes_unseen() -> None:
    layout = layout_of("renumbered")
    assert guest_node_ids(layout) == {2: 0, 0: 1, 3: 2}  # QEMU node 1 has neither CPUs nor memory
    view = expected_view(layout)
    assert view.qemu_ids == (2, 0, 3)
    assert view.cpus == ((0, 1), (2, 3), ())
    assert view.distances.tolist() == [[10, 22, 28], [22, 10, 17], [28, 17, 10]]
    guest = parse_report(console("renumbered"))
    assert guest.distance_matrix().tolist() == view.distances.tolist()


def test_remote_10_is_discarded_by_the_guest_and_expected() -> None:
    layout = layout_of("remote-10")
    view = expected_view(layout)
    assert view.slit_discarded
    assert view.expected_messages.keys() == {"slit-invalid"}
    assert view.distances.tolist() == [[10, 20, 20], [20, 10, 20], [20, 20, 10]]
    # Asked for what was given: verify reports the discarded table, one line per row.
    _, lines = boot_mismatches(layout, result_of("remote-10"))
    assert lines == [
        "guest node 0: distances 10 20 20, expected 10 10 30",
        "guest node 1: distances 20 10 20, expected 10 10 30",
        "guest node 2: distances 20 20 10, expected 30 30 10",
        "the guest discarded the distance table ('ACPI: SLIT table looks invalid. Not used.'): "
        "Linux needs 10 on the diagonal and 11..255 elsewhere",
    ]


def test_an_expected_message_that_does_not_come_fails() -> None:
    text = removed("remote-10", "SLIT table looks invalid")
    failures = judge(layout_of("remote-10"), result_of("remote-10", text))
    assert [(f.oracle, f.code) for f in failures] == [(Oracle.MESSAGES, "missing:slit-invalid")]
    text = removed("socket-split", "llc-sibling")
    failures = judge(layout_of("socket-split"), result_of("socket-split", text))
    assert ("missing:not-same-node") in [f.code for f in failures]


def test_an_unexpected_message_fails() -> None:
    # The seed layout splits no socket: the same llc warning would be a finding there.
    text = console("seed-4node").replace(
        "@end", "@dmesg [    3.0] watchdog: BUG: soft lockup - CPU#3 stuck for 23s! [swapper/3:0]\n@end", 1
    )
    lines = text.split("\n")
    end = next(i for i, line in enumerate(lines) if line.startswith("@end"))
    _, count, size = lines[end].split()
    added = "@dmesg [    3.0] watchdog: BUG: soft lockup - CPU#3 stuck for 23s! [swapper/3:0]"
    lines[end] = f"@end {int(count) + 1} {int(size) + len(added)}"
    failures = judge(layout_of("seed-4node"), result_of("seed-4node", "\n".join(lines)))
    assert [(f.oracle, f.code) for f in failures] == [(Oracle.MESSAGES, "message:soft-lockup")]


def test_a_wrong_distance_fails_topology_and_levels() -> None:
    text = edited("seed-4node", "node0/distance:10 15 20 20", "node0/distance:10 17 20 20")
    failures = judge(layout_of("seed-4node"), result_of("seed-4node", text))
    codes = [(f.oracle, f.code) for f in failures]
    assert (Oracle.TOPOLOGY, "distances") in codes
    assert (Oracle.SCHED, "levels") in codes
    assert failures[0].message == "guest node 0: distances 10 17 20 20, expected 10 15 20 20"


def test_a_wrong_cpu_list_and_thread_siblings_fail() -> None:
    text = edited("smt-2socket", "cpu5/topology/thread_siblings_list:4-5", "cpu5/topology/thread_siblings_list:5")
    failures = judge(layout_of("smt-2socket"), result_of("smt-2socket", text))
    assert [(f.code, f.message) for f in failures] == [("cpu-threads", "CPU 5: thread siblings 5 (expected 4-5)")]
    text = edited("memoryless-node", "node2/cpulist:4-5", "node2/cpulist:4")
    codes = [f.code for f in judge(layout_of("memoryless-node"), result_of("memoryless-node", text))]
    assert "node-cpus" in codes


def test_memory_is_compared_with_the_ranges_the_kernel_laid_out() -> None:
    present = memory_present(parse_report(console("smt-2socket")))
    assert present is not None
    assert present[0] == 3 * 1024**3 - (2 * 1024**3 - 0x7FFE0000) - 0x1000 - 0x61000  # the holes below 1 MiB and 2 GiB
    assert present[1] == 1024**3
    # A node's range that shrank by more than the firmware holes is a mismatch.
    text = edited("smt-2socket", "node   1: [mem 0x0000000140000000-0x000000017fffffff]",
                  "node   1: [mem 0x0000000140000000-0x000000016fffffff]")
    failures = judge(layout_of("smt-2socket"), result_of("smt-2socket", text))
    assert [(f.code, f.message) for f in failures] == [
        ("node-memory", "guest node 1: the guest has 768 MiB of memory, expected 1024 MiB"),
        ("memtotal", "guest node 1: MemTotal 1010788 kB is more than the 768 MiB present"),
    ]


def test_broken_domain_trees_fail_the_sched_oracle() -> None:
    # A parent that does not contain its child, and groups that do not cover the span.
    text = edited("seed-4node", " domain-1: span=0-7 level=NUMA", " domain-1: span=0-2,4-7 level=NUMA")
    failures = judge(layout_of("seed-4node"), result_of("seed-4node", text))
    messages = [f.message for f in failures if f.oracle is Oracle.SCHED]
    assert "CPU 0 domain 1 (NUMA): span 0-2,4-7 does not contain domain 0's 0-3" in messages
    assert "CPU 0 domain 1 (NUMA): groups cover 0-7, the span is 0-2,4-7" in messages
    assert "CPU 0: a NUMA domain spans 0-2,4-7, which no NUMA level predicts" in messages
    assert "CPU 0: no NUMA domain spans 0-7 although a NUMA level predicts it" in messages


def test_predicted_numa_masks_follow_each_nodes_own_row() -> None:
    view = expected_view(layout_of("mesh-ring"))
    masks = predicted_numa_masks(view)
    assert masks[0] == [(0,), (0, 1, 3), (0, 1, 2, 3)]
    assert masks[2] == [(2,), (1, 2, 3), (0, 1, 2, 3)]
    asymmetric = predicted_numa_masks(expected_view(layout_of("asymmetric")))
    assert asymmetric[0] == [(0, 1), (0, 1, 2, 3)]  # node 0 reaches node 1 at 20
    assert asymmetric[2] == [(2, 3), (2, 3), (0, 1, 2, 3)]  # node 1 reaches node 0 only at 30


def test_topology_types_as_linux_predicts() -> None:
    assert expected_view(layout_of("backplane-3level")).topology_type.value == "NUMA_BACKPLANE"
    assert expected_view(layout_of("mesh-ring")).topology_type.value == "NUMA_GLUELESS_MESH"
    assert expected_view(layout_of("cxl-memory-node")).levels == 2  # CPU-less nodes do not count


def test_a_hang_and_a_crash() -> None:
    layout = layout_of("seed-4node")
    partial = console("seed-4node")[:2000]
    failures = judge(layout, result_of("seed-4node", partial, timed_out=True))
    assert [(f.oracle, f.code) for f in failures] == [(Oracle.HANG, "no-progress")]
    assert failures[0].message.startswith("no progress for 60 s of the guest's time (the init's report had not begun; last console line: ")
    starved = replace(result_of("seed-4node", partial, timed_out=True),
                      progress=ProgressSummary(BootLimits(60.0, 600.0), "no-progress", 60.0, 12.5, 41.2, 30, "read-sysfs"))
    assert judge(layout, starved)[0].message.startswith(
        "no progress for 60 s of the guest's time, not counting 41 s of waiting for a host CPU "
        "(the init's last stage: read-sysfs; last console line: "
    )
    capped = replace(starved, progress=ProgressSummary(BootLimits(60.0, 600.0), "hard-cap", 0.5, 599.5, 0.0, 9000, "",
                                                       kernel_hang=True))
    assert next((f.oracle, f.code) for f in judge(layout, capped)) == (Oracle.HANG, "hard-cap")
    assert judge(layout, capped)[0].message.startswith(
        "still running at the hard cap of 600 s, its last progress 600 s into the boot "
        "(the kernel reported a lockup or stall; the init's report had not begun; last console line: "
    )
    _, lines = boot_mismatches(layout, starved)
    assert lines == [f"the guest hung: {judge(layout, starved)[0].message}"]
    crash = "[    1.9] Kernel panic - not syncing: Attempted to kill init!\n"
    failures = judge(layout, result_of("seed-4node", crash))
    assert [(f.oracle, f.code) for f in failures] == [(Oracle.MESSAGES, "no-report"), (Oracle.MESSAGES, "message:panic")]


def test_judge_report_equals_judge_on_a_complete_boot() -> None:
    layout = layout_of("asymmetric")
    report = parse_report(console("asymmetric"))
    assert judge_report(layout, report) == judge(layout, result_of("asymmetric"))


def test_expected_view_as_asked_keeps_split_cores_and_given_distances() -> None:
    layout = layout_of("remote-10")
    asked = expected_view(layout, linux=False)
    assert not asked.slit_discarded and asked.expected_messages == {}
    assert np.array_equal(asked.distances, layout.distances)
