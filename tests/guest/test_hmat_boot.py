"""A real boot of a CXL-like tier with HMAT: the guest shows the CPU-less node at its
distance, linked to its initiator (access0/initiators), with the latency, bandwidth and
memory-side cache asked; the oracle names each difference when the layout says otherwise."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from numaopt.guest.boot import BootResult, boot
from numaopt.guest.kit import GuestKit
from numaopt.guest.oracles import hmat_failures, judge
from numaopt.guest.verify import boot_mismatches
from numaopt.model import GuestLayout, HmatCache, HmatLb
from tests.support.problems import plan_for

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
TIER = ROOT / "tests" / "data" / "hmat" / "cxl-tier-hmat.toml"


def tier() -> GuestLayout:
    return plan_for(TIER).layout


@pytest.fixture(scope="module")
def booted(kit: GuestKit) -> BootResult:
    return boot(tier(), kit)


def test_the_guest_sees_the_tier_cpu_less_at_its_distance_behind_its_initiator(booted: BootResult) -> None:
    report = booted.report
    assert report is not None and report.complete
    tier_node = report.nodes[2]
    assert tier_node.cpus == () and tier_node.distances == (24, 14, 10)
    assert tier_node.initiators == (1,)
    assert report.nodes[0].initiators == (0,) and report.nodes[1].initiators == (1,)
    assert dict(tier_node.performance) == {
        "read_latency": 120, "write_latency": 120, "read_bandwidth": 5120, "write_bandwidth": 5120,
    }  # fmt: skip
    assert dict(dict(tier_node.caches)[1]) == {"indexing": "0", "line_size": "64", "size": str(16 << 20), "write_policy": "0"}
    assert judge(tier(), booted) == []
    assert boot_mismatches(tier(), booted)[1] == []


def test_the_oracle_names_a_wrong_initiator_latency_and_cache(booted: BootResult) -> None:
    assert booted.report is not None
    layout = tier()
    nodes = list(layout.nodes)
    nodes[2] = dataclasses.replace(nodes[2], initiator=0)
    other = dataclasses.replace(
        layout,
        nodes=tuple(nodes),
        hmat_lb=(HmatLb(0, 2, "read-latency", 99),),
        hmat_cache=(HmatCache(2, 8 << 20, 1, "complex", "write-through", 64),),
    )
    found = {failure.code: failure.message for failure in hmat_failures(other, booted.report)}
    assert found["hmat-initiator"] == "guest node 2: access0 initiators are node1, asked node0"
    messages = [failure.message for failure in hmat_failures(other, booted.report)]
    assert "guest node 2: access0 read_latency is 120, asked 99" in messages
    assert "guest node 0: access0 read_latency is 10, asked 0" in messages  # no latency given for node 0 now
    assert found["hmat-cache"].startswith("guest node 2: memory_side_cache/index1 is {")
