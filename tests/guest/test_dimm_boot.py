"""Level 2 for hot-pluggable memory: a real boot with a 256 MiB DIMM in node 1; the init
onlines it and the node grows by exactly that; the oracle says so when it should not."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from numaopt.guest.boot import BootResult, boot
from numaopt.guest.kit import GuestKit
from numaopt.guest.oracles import dimm_failures, judge
from numaopt.guest.verify import boot_mismatches
from numaopt.model import Dimm, GuestLayout
from tests.support.problems import plan_for

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
DIMMS = ROOT / "tests" / "data" / "hotplug" / "two-nodes-dimms.toml"


def layout() -> GuestLayout:
    return plan_for(DIMMS).layout


@pytest.fixture(scope="module")
def booted(kit: GuestKit) -> BootResult:
    return boot(layout(), kit)


def test_the_dimms_node_grows_by_the_dimm_once_onlined(booted: BootResult) -> None:
    report = booted.report
    assert report is not None and report.complete
    before, after = report.nodes[1].memtotal_kb, report.grown_kb[1]
    assert before is not None and (after - before) * 1024 == 256 << 20
    assert report.grown_kb[0] == report.nodes[0].memtotal_kb
    assert judge(layout(), booted) == [] and boot_mismatches(layout(), booted)[1] == []


def test_the_oracle_names_a_node_that_grew_otherwise(booted: BootResult) -> None:
    assert booted.report is not None
    moved = dataclasses.replace(layout(), dimms=(Dimm(0, 256 << 20),))
    assert [f.message for f in dimm_failures(moved, booted.report)] == [
        "guest node 0: onlining its DIMMs added 0 MiB, expected 256 MiB",
        "guest node 1: onlining its DIMMs added 256 MiB, expected 0 MiB",
    ]
