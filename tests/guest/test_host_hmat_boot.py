"""A real boot of a plan solved on a host read from sysfs with HMAT: the guest's own
access0 and memory_side_cache files say what the host's say (values carried by solve,
not typed into the problem)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from numaopt.guest.boot import BootResult, boot
from numaopt.guest.kit import GuestKit
from numaopt.guest.oracles import guest_node_ids, judge
from numaopt.guest.verify import boot_mismatches
from numaopt.hosts import read_sysfs
from numaopt.model import GuestLayout
from tests.support.problems import plan_for

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
PROBLEM = ROOT / "tests" / "data" / "hmat" / "host-2lm-cxl.toml"
HOST = ROOT / "tests" / "data" / "hosts" / "xeon-2lm-cxl.sysfs"


def layout() -> GuestLayout:
    """The solved layout without its memory binding: the host it was solved for is a fixture."""
    solved = plan_for(PROBLEM).layout
    return dataclasses.replace(solved, nodes=tuple(dataclasses.replace(n, host_nodes=()) for n in solved.nodes))


@pytest.fixture(scope="module")
def booted(kit: GuestKit) -> BootResult:
    return boot(layout(), kit)


def test_each_guest_node_shows_its_host_nodes_latency_bandwidth_and_cache(booted: BootResult) -> None:
    report = booted.report
    assert report is not None and report.complete
    host = {node.node_id: node for node in read_sysfs(HOST).nodes}
    solved = plan_for(PROBLEM).layout
    ids = guest_node_ids(solved)  # QEMU node -> the guest's number for it
    checked = 0
    for node in solved.nodes:
        source = host[node.host_nodes[0]]
        assert source.access is not None
        seen = report.nodes[ids[node.node_id]]
        performance = dict(seen.performance)
        for name in ("read_latency", "write_latency", "read_bandwidth", "write_bandwidth"):
            assert performance[name] == getattr(source.access, name), (node.node_id, name)
        caches = {level: dict(files) for level, files in seen.caches}
        assert caches == {
            cache.level: {
                "indexing": {"direct": "0", "complex": "1", "none": "2"}[cache.associativity],
                "line_size": str(cache.line),
                "size": str(cache.size_bytes),
                "write_policy": {"write-back": "0", "write-through": "1", "none": "2"}[cache.policy],
            }
            for cache in source.caches
        }
        checked += len(source.caches)
    assert checked == 2  # the two 2LM sockets' DRAM caches; the CXL node has none
    assert judge(layout(), booted) == []
    assert boot_mismatches(layout(), booted)[1] == []
