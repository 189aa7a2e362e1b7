"""What two guests of one layout show differently (fuzz --kernel A --kernel B), on the
2-socket x 2-die layout recorded under Debian's 6.1 and 6.12 cloud kernels."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from numaopt.fuzz.compare import guest_differences
from numaopt.guest.report import GuestReport, parse_report

DATA = Path(__file__).resolve().parents[1] / "data"


def _report(folder: str) -> GuestReport:
    return parse_report((DATA / folder / "dies-2x2.console").read_text(encoding="utf-8"))


def test_61_and_612_differ_only_in_the_second_sockets_die_ids() -> None:
    # Domain names (DIE/PKG) and flags differ too, renamed without a change of structure: not listed.
    old, new = _report("guest-reports"), _report("guest-reports-x86-6.12")
    assert [d.name for d in old.domains[0]] != [d.name for d in new.domains[0]]
    assert guest_differences(old, new) == ("die ids: CPUs 4-7 show 0 0 1 1 under A, 2 2 3 3 under B",)
    assert guest_differences(new, old) == ("die ids: CPUs 4-7 show 2 2 3 3 under A, 0 0 1 1 under B",)


def test_the_same_guest_or_a_cut_report_shows_no_difference() -> None:
    old = _report("guest-reports")
    assert guest_differences(old, old) == ()
    assert guest_differences(old, dataclasses.replace(old, complete=False)) == ()
    assert guest_differences(old, None) == ()


def test_nodes_cpus_and_spans_are_compared() -> None:
    old = _report("guest-reports")
    node0 = old.nodes[0]
    moved = dataclasses.replace(old, nodes={**old.nodes, 0: dataclasses.replace(node0, distances=(10, 31))},
                                domains={cpu: d for cpu, d in old.domains.items() if cpu != 3})
    assert guest_differences(old, moved) == (
        "distances: node 0 10 21 under A, 10 31 under B",
        "scheduler domain spans: CPUs 3 show 2-3 / 0-3 / 0-7 under A, none under B",
    )
