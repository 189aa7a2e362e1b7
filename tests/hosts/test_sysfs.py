"""sysfs: snapshots laid out from a model read back as the model; this machine's own /sys."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from numaopt.errors import InputError
from numaopt.hosts import merge_numactl_lscpu, parse_lscpu, parse_numactl, read_sysfs, write_sysfs_tree
from numaopt.model import HostCore, HostNode, HostTopology, HugePages, MemorySideCache, NodeAccess
from numaopt.units import GIB, KIB, MIB

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"
MACHINES = sorted(p.stem for p in HOSTS.glob("*.numactl"))


def machine(name: str) -> HostTopology:
    host = parse_numactl((HOSTS / f"{name}.numactl").read_text())
    return merge_numactl_lscpu(host, parse_lscpu((HOSTS / f"{name}.lscpu").read_text()))[0]


def small_host() -> HostTopology:
    return HostTopology(
        nodes=(
            HostNode(
                0, (0, 1, 4, 5), 3000 * MIB + 4 * KIB, 1000 * KIB, (HugePages(2 * MIB, 64, 60), HugePages(GIB, 1, 1))
            ),
            HostNode(3, (2, 3, 6, 7), 2 * GIB, 0),
            HostNode(
                5,
                (),
                16 * GIB,
                16 * GIB,
                access=NodeAccess((0,), 200, 220, 8000, 6000),
                caches=(
                    MemorySideCache(1, 2 * GIB, 64, "complex", "write-through"),
                    MemorySideCache(2, 4 * GIB, 128, "none", "none"),
                ),
            ),
        ),
        distances=np.array([[10, 21, 14], [21, 10, 24], [14, 24, 10]]),
        cores=(HostCore(0, (0, 4)), HostCore(0, (1, 5)), HostCore(1, (2, 6)), HostCore(1, (3, 7))),
    )


@pytest.mark.parametrize("name", MACHINES)
def test_snapshot_of_each_corpus_machine_reads_back(name: str, tmp_path: Path) -> None:
    host = machine(name)
    write_sysfs_tree(host, tmp_path)
    assert read_sysfs(tmp_path) == host


def test_sparse_ids_huge_pages_and_kib_sizes(tmp_path: Path) -> None:
    write_sysfs_tree(small_host(), tmp_path)
    assert read_sysfs(tmp_path) == small_host()


def test_an_hmat_snapshot_with_memory_side_caches() -> None:
    # Two sockets in 2LM (DRAM a direct-mapped cache in front of each socket's far memory)
    # and a CXL node behind node 0; the tree has what the kernel adds and numaopt ignores
    # (symlinked initiators, uevent files, 6.13's address_mode).
    host = read_sysfs(HOSTS / "xeon-2lm-cxl.sysfs")
    dram = MemorySideCache(1, 32 * GIB, 64, "direct", "write-back")
    assert [node.caches for node in host.nodes] == [(dram,), (dram,), ()]
    assert [node.access for node in host.nodes] == [
        NodeAccess((0,), 170, 190, 40000, 15000),
        NodeAccess((1,), 170, 190, 40000, 15000),
        NodeAccess((0,), 250, 260, 20000, 15000),
    ]
    assert (HOSTS / "xeon-2lm-cxl.sysfs/sys/devices/system/node/node2/access0/initiators/node0").is_symlink()


def test_a_copy_of_sys_itself_works(tmp_path: Path) -> None:
    write_sysfs_tree(small_host(), tmp_path)
    assert read_sysfs(tmp_path / "sys") == small_host()


def test_huge_page_sizes_without_pages_are_left_out(tmp_path: Path) -> None:
    write_sysfs_tree(small_host(), tmp_path)
    empty = tmp_path / "sys/devices/system/node/node3/hugepages/hugepages-2048kB"
    empty.mkdir(parents=True)
    (empty / "nr_hugepages").write_text("0\n")
    (empty / "free_hugepages").write_text("0\n")
    assert read_sysfs(tmp_path).nodes[1].hugepages == ()


def test_tar_padding_is_ignored(tmp_path: Path) -> None:
    """tar archives sysfs files at their stated 4096 bytes, padding them with NULs."""
    write_sysfs_tree(small_host(), tmp_path)
    for path in (tmp_path / "sys").rglob("*"):
        if path.is_file():
            path.write_bytes(path.read_bytes().ljust(4096, b"\0"))
    assert read_sysfs(tmp_path) == small_host()


def test_snapshot_without_cpu_directory_has_no_smt(tmp_path: Path) -> None:
    write_sysfs_tree(small_host(), tmp_path)
    shutil.rmtree(tmp_path / "sys/devices/system/cpu")
    host = read_sysfs(tmp_path)
    assert host.cores == () and host.nodes == small_host().nodes


def test_older_kernels_without_core_cpus_list(tmp_path: Path) -> None:
    write_sysfs_tree(small_host(), tmp_path)
    for path in (tmp_path / "sys/devices/system/cpu").glob("cpu*/topology/core_cpus_list"):
        path.unlink()
    assert read_sysfs(tmp_path) == small_host()


@pytest.mark.skipif(not Path("/sys/devices/system/node/node0").is_dir(), reason="no NUMA sysfs on this machine")
def test_this_machine() -> None:
    host = read_sysfs()
    assert host.num_nodes >= 1
    assert host.num_cpus == os.cpu_count()  # the online CPUs, every one in a node
    assert host.cores and sorted(c for core in host.cores for c in core.cpus) == sorted(host.cpu_to_node())
    assert all(node.memory_bytes > 0 and node.free_bytes is not None for node in host.nodes if node.cpus)
    assert np.all(np.diag(host.distances) == 10)


def _break(tmp_path: Path, relative: str, text: str) -> str:
    write_sysfs_tree(small_host(), tmp_path)
    path = tmp_path / "sys/devices/system" / relative
    path.write_text(text)
    with pytest.raises(InputError) as info:
        read_sysfs(tmp_path)
    return str(info.value).replace(f"{tmp_path}/", "")


@pytest.mark.parametrize(
    ("relative", "text", "message"),
    [
        (
            "node/node3/distance",
            "21 10\n",
            "sys/devices/system/node/node3/distance: expected 3 distances (one per node: 0 3 5), got '21 10'",
        ),
        (
            "node/node5/distance",
            "14 24 11\n",
            "sys/devices/system/node/node5/distance: distance from node 5 to itself is 11: it must be 10",
        ),
        (
            "node/node0/cpulist",
            "0-1,x\n",
            "sys/devices/system/node/node0/cpulist: 'x' in '0-1,x' is not a CPU or range: "
            'expected a CPU list such as "0-3,8-11" ("" for none)',
        ),
        (
            "node/node0/meminfo",
            "Node 0 MemFree: 5 kB\n",
            "sys/devices/system/node/node0/meminfo: no 'Node 0 MemTotal: N kB' line",
        ),
        (
            "node/node3/meminfo",
            "Node 3 MemTotal: 5 kB\nNode 3 MemFree: 6 kB\n",
            "sys/devices/system/node/node3/meminfo: MemFree (6 kB) is more than MemTotal (5 kB)",
        ),
        (
            "node/node0/hugepages/hugepages-2048kB/free_hugepages",
            "lots\n",
            "sys/devices/system/node/node0/hugepages/hugepages-2048kB/free_hugepages: expected a number of pages, got 'lots'",
        ),
        ("node/node3/cpulist", "1-3,6-7\n", "sys/devices/system/node/node3/cpulist: CPU 1 is also in node0"),
        (
            "node/node5/memory_side_cache/index2/indexing",
            "3\n",
            "sys/devices/system/node/node5/memory_side_cache/index2/indexing: expected 0 (direct), 1 (complex), "
            "2 (none), got 3",
        ),
        (
            "node/node5/memory_side_cache/index1/size",
            "2G\n",
            "sys/devices/system/node/node5/memory_side_cache/index1/size: expected a number, got '2G'",
        ),
        (
            "cpu/cpu0/topology/core_cpus_list",
            "4\n",
            "sys/devices/system/cpu/cpu0/topology/core_cpus_list: CPU 0 is not among its own siblings (4)",
        ),
    ],
)
def test_errors_name_the_file(tmp_path: Path, relative: str, text: str, message: str) -> None:
    assert _break(tmp_path, relative, text) == message


def test_missing_file_and_missing_tree(tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        read_sysfs(tmp_path)
    assert str(info.value) == (
        f"{tmp_path}: no sys/devices/system/node directory: expected a sysfs snapshot root "
        "(or / for this machine; a kernel without CONFIG_NUMA has no node directory)"
    )
    write_sysfs_tree(small_host(), tmp_path)
    (tmp_path / "sys/devices/system/node/node3/meminfo").unlink()
    with pytest.raises(InputError) as info:
        read_sysfs(tmp_path)
    assert str(info.value) == f"{tmp_path}/sys/devices/system/node/node3/meminfo: no such file"
