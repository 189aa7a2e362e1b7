"""The host's HMAT (sysfs access0 and memory_side_cache) read and carried into a plan as
-numa hmat-lb and hmat-cache; solve's output for a host captured as a sysfs tree passes check."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from numaopt.hosts.shapes import block_host
from numaopt.hosts.sysfs import read_sysfs, write_sysfs_tree
from numaopt.layout import check_layout
from numaopt.model import (
    Group,
    HmatCache,
    HmatLb,
    HostTopology,
    MemorySideCache,
    NodeAccess,
    PlacementRequest,
    SearchSettings,
    SharedHostRequest,
    VmRequest,
    Workload,
)
from numaopt.qemu.qmp import compare, probe
from numaopt.render.qemu import qemu_command
from numaopt.rules import RuleSet
from numaopt.solver.host_hmat import qemu_caches
from numaopt.solver.place import place
from numaopt.solver.shared_host import place_vms
from numaopt.units import GIB, MIB

ROOT = Path(__file__).resolve().parents[2]
TWO_LM = ROOT / "tests" / "data" / "hmat" / "host-2lm-cxl.toml"
DRAM = MemorySideCache(1, 4 * GIB, 64, "direct", "write-back")


def host_with_access() -> HostTopology:
    host = block_host(2, 1, cpus_per_node=4)
    nodes = (
        dataclasses.replace(host.nodes[0], access=NodeAccess((0,), 80, 80, 20000, 20000)),
        dataclasses.replace(host.nodes[1], access=NodeAccess((1,), 90, 110, 18000, 9000)),
    )
    return dataclasses.replace(host, nodes=nodes)


def host_with_caches(node0: tuple[MemorySideCache, ...], access0: NodeAccess | None = None) -> HostTopology:
    """host_with_access with memory-side caches in front of host node 0 (and its access0 replaced)."""
    host = host_with_access()
    first = host.nodes[0]
    first = dataclasses.replace(first, caches=node0, access=access0 if access0 is not None else first.access)
    return dataclasses.replace(host, nodes=(first, host.nodes[1]))


def test_sysfs_access0_reads_back_as_written(tmp_path: Path) -> None:
    host = host_with_access()
    write_sysfs_tree(host, tmp_path / "caches")
    assert read_sysfs(tmp_path / "caches") == host
    host = host_with_caches((DRAM, MemorySideCache(2, 8 * GIB, 128, "complex", "write-through")))
    write_sysfs_tree(host, tmp_path)
    assert (tmp_path / "sys/devices/system/node/node1/access0/initiators/write_bandwidth").read_text() == "9000\n"
    assert (tmp_path / "sys/devices/system/node/node0/memory_side_cache/index2/indexing").read_text() == "1\n"
    assert (tmp_path / "sys/devices/system/node/node0/memory_side_cache/index2/write_policy").read_text() == "1\n"
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


def test_values_qemu_cannot_hold_are_rounded_so_the_plan_starts() -> None:
    # QEMU keeps a table as 16-bit entries times one base: 199999 MiB/s (odd, above 65534)
    # and 100000 ns beside 7 ns do not fit as they are. Real QEMU must take the result.
    host = host_with_access()
    nodes = (
        dataclasses.replace(host.nodes[0], access=NodeAccess((0,), 7, 7, 199999, 199999)),
        dataclasses.replace(host.nodes[1], access=NodeAccess((1,), 100000, 100000, 30000, 30000)),
    )
    layout = plan_on(dataclasses.replace(host, nodes=nodes)).layout
    values = {(lb.target, lb.data_type): lb.value for lb in layout.hmat_lb}
    on0, on1 = (next(node.node_id for node in layout.nodes if node.host_nodes == (k,)) for k in (0, 1))
    assert values[on0, "access-bandwidth"] == 200000 * MIB and values[on1, "access-bandwidth"] == 30000 * MIB
    assert values[on0, "access-latency"] == 10 and values[on1, "access-latency"] == 100000
    assert check_layout(layout, RuleSet.QEMU) == []
    unbound = dataclasses.replace(layout, nodes=tuple(dataclasses.replace(n, host_nodes=()) for n in layout.nodes))
    assert compare(unbound, probe(qemu_command(unbound))) == []  # this machine has one host node to bind to


def test_no_access_in_the_host_no_hmat_in_the_plan() -> None:
    layout = plan_on(block_host(2, 1, cpus_per_node=4)).layout
    assert not layout.hmat and layout.hmat_lb == ()


def test_a_plan_carries_the_host_nodes_caches_to_the_guest_node_placed_there() -> None:
    layout = plan_on(host_with_caches((DRAM,))).layout
    on0 = next(node.node_id for node in layout.nodes if node.host_nodes == (0,))
    assert layout.hmat_cache == (HmatCache(on0, 4 * GIB, 1, "direct", "write-back", 64),)
    assert check_layout(layout, RuleSet.QEMU) == []


def test_no_cache_without_both_a_latency_and_a_bandwidth() -> None:
    # QEMU takes a node's cache only after a latency and a bandwidth for it; a host that
    # reports no bandwidth for node 0 keeps its latency in the plan and drops the cache.
    layout = plan_on(host_with_caches((DRAM,), NodeAccess((0,), 80, 80, 0, 0))).layout
    on0 = next(node.node_id for node in layout.nodes if node.host_nodes == (0,))
    assert layout.hmat_cache == ()
    assert [lb for lb in layout.hmat_lb if lb.target == on0] == [HmatLb(on0, on0, "access-latency", 80)]
    assert check_layout(layout, RuleSet.QEMU) == []


def level(number: int, gib: int) -> MemorySideCache:
    return MemorySideCache(number, gib * GIB)


@pytest.mark.parametrize(
    ("caches", "carried"),
    [
        ((), []),
        ((level(1, 4), level(2, 8), level(3, 16)), [1, 2, 3]),
        ((level(3, 16), level(1, 4), level(2, 8)), [1, 2, 3]),  # in level order, as QEMU wants them
        ((level(1, 4), level(2, 8), level(3, 16), level(4, 32)), [1, 2, 3]),  # QEMU has 3 levels
        ((level(2, 8),), []),  # "Cache level=1 shall be defined first"
        ((level(1, 8), level(2, 8)), [1]),  # each level larger than the one below
        ((level(1, 8), level(2, 4), level(3, 16)), [1]),  # and level 3 would lack level 2
        ((level(1, 4), MemorySideCache(2, 8 * GIB, line=1 << 16)), [1]),  # line is 16 bits
    ],
)
def test_only_the_levels_qemu_takes_are_carried(caches: tuple[MemorySideCache, ...], carried: list[int]) -> None:
    assert [cache.level for cache in qemu_caches(caches)] == carried


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "numaopt", *args], capture_output=True, text=True, input=stdin, cwd=ROOT, timeout=120
    )


def test_solve_on_a_sysfs_host_with_caches_writes_what_check_passes() -> None:
    solved = run("solve", str(TWO_LM), "--format", "qemu", "--quiet")
    assert solved.returncode == 0, solved.stderr
    values = solved.stdout.split()
    numa = [values[i + 1] for i, value in enumerate(values) if value == "-numa"]
    assert "q35,hmat=on" in values
    caches = [value for value in numa if value.startswith("hmat-cache,")]
    assert caches == [
        "hmat-cache,node-id=0,size=32G,level=1,associativity=direct,policy=write-back,line=64",
        "hmat-cache,node-id=1,size=32G,level=1,associativity=direct,policy=write-back,line=64",
    ]
    assert "hmat-lb,initiator=0,target=2,hierarchy=memory,data-type=read-latency,latency=250" in numa
    assert numa.index(caches[0]) > max(i for i, value in enumerate(numa) if value.startswith("hmat-lb,"))
    checked = run("check", "-", stdin=solved.stdout)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.splitlines() == ["-: qemu: ok", "-: linux-acpi: ok", "-: libvirt: ok"]


@pytest.mark.qemu
def test_qemu_takes_the_carried_values() -> None:
    layout = plan_on(host_with_caches((DRAM, MemorySideCache(2, 8 * GIB, 128, "complex", "write-through")))).layout
    assert len(layout.hmat_cache) == 2
    unbound = dataclasses.replace(layout, nodes=tuple(dataclasses.replace(n, host_nodes=()) for n in layout.nodes))
    assert compare(unbound, probe(qemu_command(unbound))) == []


def test_the_captured_host_toml_solves_to_the_same_hmat_as_the_sysfs_tree(tmp_path: Path) -> None:
    captured = run("host", "capture", "sysfs:tests/data/hosts/xeon-2lm-cxl.sysfs")
    assert captured.returncode == 0, captured.stderr
    assert captured.stdout == (ROOT / "tests/data/hosts/xeon-2lm-cxl.toml").read_text()
    workload = TWO_LM.read_text().split("[workload]", 1)[1]
    problem = tmp_path / "typed.toml"
    problem.write_text(captured.stdout + "\n[workload]" + workload)
    from_toml = run("solve", str(problem), "--format", "qemu", "--quiet")
    from_sysfs = run("solve", str(TWO_LM), "--format", "qemu", "--quiet")
    assert from_toml.returncode == 0, from_toml.stderr
    assert from_toml.stdout == from_sysfs.stdout and "hmat-cache,node-id=1" in from_toml.stdout


def test_each_vm_of_a_shared_host_gets_the_hmat_of_the_nodes_it_is_placed_on() -> None:
    vms = tuple(VmRequest(name, Workload((Group("g", 4, GIB),))) for name in ("x", "y"))
    shared = place_vms(SharedHostRequest(host_with_access(), vms, settings=SearchSettings(time_limit_s=10)))
    access = {0: (80, 20000), 1: (90, 18000)}  # host node -> its read latency, read bandwidth (MiB/s)
    for _, plan in shared.plans:
        layout = plan.layout
        [node] = layout.nodes  # four vCPUs fit one host node of four CPUs
        latency, bandwidth = access[node.host_nodes[0]]
        values = {lb.data_type: lb.value for lb in layout.hmat_lb}
        assert layout.hmat and values[next(k for k in values if k.endswith("-latency"))] == latency
        assert values[next(k for k in values if k.endswith("-bandwidth"))] == bandwidth * MIB
        assert check_layout(layout, RuleSet.QEMU) == []
