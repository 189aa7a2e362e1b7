"""Host findings: real-hardware quirks are warnings (never errors), plus scheduler facts."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np

from numaopt.hosts import host_findings, host_from_table, host_summary
from numaopt.model import HostNode, HostTopology
from numaopt.units import GIB

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"


def captured(name: str) -> HostTopology:
    return host_from_table(tomllib.loads((HOSTS / f"{name}.toml").read_text())["host"], name)


def host_with(matrix: list[list[int]], cpus: list[tuple[int, ...]] | None = None) -> HostTopology:
    cpus = cpus or [(i,) for i in range(len(matrix))]
    nodes = tuple(HostNode(i, c, GIB, GIB) for i, c in enumerate(cpus))
    return HostTopology(nodes, np.array(matrix))


def test_uniform_host_has_facts_and_one_warning() -> None:
    assert host_findings(captured("intel-4s-uniform")) == [
        "warning: node(s) 3 have 0 bytes of memory free",
        "info: distance values: 10, 20",
        "info: scheduler: 2 NUMA distance level(s) among CPU nodes, NUMA_DIRECT",
    ]


def test_cxl_memory_only_nodes() -> None:
    assert host_findings(captured("intel-cxl-2s")) == [
        "warning: node(s) 2-3 have memory but no CPUs (CXL or HBM): guest memory can be bound there, no vCPU can be pinned there",
        "info: distance values: 10, 14, 21, 24, 26",
        "info: scheduler: 2 NUMA distance level(s) among CPU nodes, NUMA_DIRECT",
    ]


def test_opteron_is_a_glueless_mesh() -> None:
    assert host_findings(captured("amd-opteron-4s")) == [
        "info: distance values: 10, 16, 22",
        "info: scheduler: 3 NUMA distance level(s) among CPU nodes, NUMA_GLUELESS_MESH",
    ]


def test_epyc_levels_beyond_reclaim_distance() -> None:
    assert host_findings(captured("amd-epyc-nps4-2s"))[-1] == (
        "info: some CPU nodes are further than 30 apart: those scheduler levels lose wake-affine and exec/fork balancing"
    )


def test_asymmetric_snc_slit_is_a_warning() -> None:
    found = host_findings(host_with([[10, 11, 21, 21], [12, 10, 21, 21], [21, 21, 10, 11], [21, 21, 11, 10]]))
    assert found[0] == (
        "warning: distance[0][1] = 11 but distance[1][0] = 12 (asymmetric): Linux keeps it, prints 'Node-distance "
        "not symmetric' with sched_verbose, and builds per-CPU scheduler domains of unequal depth"
    )


def test_triangle_violation_on_excess_only() -> None:
    found = host_findings(host_with([[10, 12, 25], [12, 10, 15], [25, 15, 10]]))
    assert found[0] == (
        "warning: triangle inequality fails on d - 10: distance[0][2] - 10 = 15 > (distance[0][1] - 10) + "
        "(distance[1][2] - 10) = 2 + 5 (Linux accepts it; real SNC hosts do this)"
    )
    assert not any("raw values" in line for line in found)


def test_memoryless_and_empty_nodes_and_emulated_distance() -> None:
    nodes = (HostNode(0, (0,), GIB, GIB), HostNode(1, (1,), 0, 0), HostNode(2, (), 0, 0))
    found = host_findings(HostTopology(nodes, np.array([[10, 10, 20], [10, 10, 20], [20, 20, 10]])))
    assert found[:3] == [
        "warning: distance 10 between two different nodes: only NUMA emulation (numa=fake) does this",
        "warning: node(s) 1 have CPUs but no memory: their CPUs allocate remotely",
        "warning: node(s) 2 have neither CPUs nor memory",
    ]


def test_summary_shows_numactl_view_topology_and_findings() -> None:
    text = host_summary(captured("intel-snc2-2s"))
    assert text.startswith("available: 4 nodes (0-3)\nnode 0 cpus: 0 1 2")
    assert "  3:  21  21  11  10 \nsockets: 2, cores: 40, threads per core: 2, CPUs: 80\n" in text
    assert "socket 1: 20 cores, CPUs 20-39,60-79, node(s) 2-3\n" in text
    assert text.endswith("info: scheduler: 3 NUMA distance level(s) among CPU nodes, NUMA_BACKPLANE\n")


def test_summary_of_hybrid_laptop_and_huge_pages() -> None:
    assert "threads per core: 1-2, CPUs: 16" in host_summary(captured("laptop-i7-1260p"))
    text = host_summary(captured("intel-4s-uniform-hugepages"))
    assert "node 3 huge pages: 4096 x 2MiB (1024 free), 200 x 1GiB (0 free)\n" in text


def test_summary_shows_the_hmat_after_the_huge_pages() -> None:
    text = host_summary(captured("xeon-2lm-cxl"))
    assert (
        "node 0 huge pages: 1024 x 2MiB (1024 free)\n"
        "node 0 access from node(s) 0: latency 170/190 ns, bandwidth 40000/15000 MiB/s (read/write, 0 = not reported)\n"
        "node 0 memory-side cache level 1: 32GiB, 64-byte lines, associativity direct, write policy write-back\n"
    ) in text
    assert "node 2 access from node(s) 0: latency 250/260 ns" in text and "node 2 memory-side" not in text


def test_summary_without_smt_says_so() -> None:
    text = host_summary(host_with([[10]]))
    assert "CPUs: 1; sockets, cores and SMT siblings: unknown (numactl alone: add lscpu -p output)" in text
