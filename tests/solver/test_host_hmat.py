"""The host's HMAT (sysfs access0) read and carried into a plan as -numa hmat-lb."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from numaopt.hosts.shapes import block_host
from numaopt.hosts.sysfs import read_sysfs, write_sysfs_tree
from numaopt.layout import check_layout
from numaopt.model import Group, HmatLb, HostTopology, NodeAccess, PlacementRequest, SearchSettings, Workload
from numaopt.qemu.qmp import compare, probe
from numaopt.render.qemu import qemu_command
from numaopt.rules import RuleSet
from numaopt.solver.place import place
from numaopt.units import MIB


def host_with_access() -> HostTopology:
    host = block_host(2, 1, cpus_per_node=4)
    nodes = (
        dataclasses.replace(host.nodes[0], access=NodeAccess((0,), 80, 80, 20000, 20000)),
        dataclasses.replace(host.nodes[1], access=NodeAccess((1,), 90, 110, 18000, 9000)),
    )
    return dataclasses.replace(host, nodes=nodes)


def test_sysfs_access0_reads_back_as_written(tmp_path: Path) -> None:
    host = host_with_access()
    write_sysfs_tree(host, tmp_path)
    assert (tmp_path / "sys/devices/system/node/node1/access0/initiators/write_bandwidth").read_text() == "9000\n"
    assert read_sysfs(tmp_path) == host
    bare = block_host(2, 1, cpus_per_node=4)
    write_sysfs_tree(bare, tmp_path / "bare")
    assert all(node.access is None for node in read_sysfs(tmp_path / "bare").nodes)


def plan_on(host: HostTopology):  # type: ignore[no-untyped-def]
    workload = Workload((Group("a", 2, 256 * MIB), Group("b", 2, 256 * MIB)))
    return place(PlacementRequest(host, workload, settings=SearchSettings(time_limit_s=10)))


def test_a_plan_carries_each_nodes_latency_and_bandwidth_from_its_initiator() -> None:
    plan = plan_on(host_with_access())
    layout = plan.layout
    assert layout.hmat
    by_host = {node.host_nodes[0]: node.node_id for node in layout.nodes}
    on0, on1 = by_host[0], by_host[1]
    assert set(layout.hmat_lb) == {
        HmatLb(on0, on0, "access-latency", 80),
        HmatLb(on0, on0, "access-bandwidth", 20000 * MIB),
        HmatLb(on1, on1, "read-latency", 90),
        HmatLb(on1, on1, "write-latency", 110),
        HmatLb(on1, on1, "read-bandwidth", 18000 * MIB),
        HmatLb(on1, on1, "write-bandwidth", 9000 * MIB),
    }
    assert check_layout(layout, RuleSet.QEMU) == []


def test_no_access_in_the_host_no_hmat_in_the_plan() -> None:
    layout = plan_on(block_host(2, 1, cpus_per_node=4)).layout
    assert not layout.hmat and layout.hmat_lb == ()


@pytest.mark.qemu
def test_qemu_takes_the_carried_values() -> None:
    layout = plan_on(host_with_access()).layout
    unbound = dataclasses.replace(layout, nodes=tuple(dataclasses.replace(n, host_nodes=()) for n in layout.nodes))
    assert compare(unbound, probe(qemu_command(unbound))) == []
