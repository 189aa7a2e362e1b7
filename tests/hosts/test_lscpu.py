"""lscpu's three forms, and merging lscpu into numactl's view (which source wins, warnings)."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from numaopt.hosts import LscpuForm, merge_numactl_lscpu, parse_lscpu, parse_numactl, read_sysfs, render_lscpu
from numaopt.model import HostCore, HostNode, HostTopology
from numaopt.units import MIB

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"
MACHINES = sorted(p.stem for p in HOSTS.glob("*.numactl"))


def numactl(name: str) -> HostTopology:
    return parse_numactl((HOSTS / f"{name}.numactl").read_text())


def test_parsable_form() -> None:
    report = parse_lscpu((HOSTS / "intel-snc2-2s.lscpu").read_text())
    assert report.form is LscpuForm.PARSABLE
    assert report.cpus == tuple(range(80))
    assert report.sockets == 2 and report.threads_per_core == 2
    assert report.cores[0] == HostCore(0, (0, 40))
    assert dict(report.node_cpus)[3] == (*range(30, 40), *range(70, 80))


def test_extended_form_gives_the_same_cores_as_parsable() -> None:
    extended = parse_lscpu((HOSTS / "amd-epyc-nps4-2s.lscpu-e").read_text())
    parsable = parse_lscpu((HOSTS / "amd-epyc-nps4-2s.lscpu").read_text())
    assert extended.form is LscpuForm.EXTENDED
    assert (extended.cores, extended.node_cpus, extended.cpus) == (parsable.cores, parsable.node_cpus, parsable.cpus)


@pytest.mark.parametrize("name", ["intel-snc2-2s", "laptop-i7-1260p"])
def test_summary_form_gives_nodes_and_counts(name: str) -> None:
    summary = parse_lscpu((HOSTS / f"{name}.lscpu-summary").read_text())
    parsable = parse_lscpu((HOSTS / f"{name}.lscpu").read_text())
    assert summary.form is LscpuForm.SUMMARY
    assert summary.cores == ()
    assert summary.node_cpus == parsable.node_cpus
    assert summary.cpus == parsable.cpus
    assert summary.threads_per_core == 2


def test_summary_without_numa_lines_has_no_nodes() -> None:
    report = parse_lscpu("Architecture: x86_64\nCPU(s): 4\nSocket(s): -\n")
    assert report.cpus == (0, 1, 2, 3) and report.node_cpus == () and report.sockets is None


def test_offline_cpus_are_skipped() -> None:
    parsable = "# CPU,Core,Socket,Node,Online\n0,0,0,0,Y\n1,,,,N\n2,1,0,0,Y\n"
    assert parse_lscpu(parsable).cpus == (0, 2)
    extended = "CPU NODE SOCKET CORE ONLINE\n0 0 0 0 yes\n1 - - - no\n2 0 0 1 yes\n"
    assert parse_lscpu(extended).cpus == (0, 2)


@pytest.mark.parametrize("name", MACHINES)
def test_render_lscpu_reads_back(name: str) -> None:
    merged, _ = merge_numactl_lscpu(numactl(name), parse_lscpu((HOSTS / f"{name}.lscpu").read_text()))
    again, warnings = merge_numactl_lscpu(numactl(name), parse_lscpu(render_lscpu(merged)))
    assert again == merged and warnings == []


@pytest.mark.skipif(shutil.which("lscpu") is None, reason="lscpu (util-linux) is not installed")
def test_this_machines_lscpu_agrees_with_its_sysfs() -> None:
    live = read_sysfs()
    for args in (["lscpu", "-p"], ["lscpu", "-e"], ["lscpu"]):
        report = parse_lscpu(
            subprocess.run(args, capture_output=True, text=True, check=True, env={"LC_ALL": "C"}).stdout
        )
        assert report.cpus == tuple(sorted(live.cpu_to_node()))
        if report.form is not LscpuForm.SUMMARY:
            assert report.cores == live.cores


def _two_nodes() -> HostTopology:
    return HostTopology(
        nodes=(HostNode(0, (0, 1, 4, 5), 1024 * MIB, 512 * MIB), HostNode(1, (2, 3, 6, 7), 1024 * MIB, 512 * MIB)),
        distances=np.array([[10, 21], [21, 10]]),
    )


def test_numactl_wins_nodes_lscpu_gives_cores() -> None:
    lscpu = "# CPU,Core,Socket,Node\n0,0,0,0\n1,1,0,0\n2,2,1,1\n3,3,1,1\n4,0,0,0\n5,1,0,1\n6,2,1,1\n7,3,1,1\n"
    merged, warnings = merge_numactl_lscpu(_two_nodes(), parse_lscpu(lscpu))
    assert merged.nodes == _two_nodes().nodes
    assert merged.cores == (HostCore(0, (0, 4)), HostCore(0, (1, 5)), HostCore(1, (2, 6)), HostCore(1, (3, 7)))
    assert warnings == [
        "1 CPU(s) (5) are on other nodes in lscpu than in numactl (CPU 5: node 0 in numactl, node 1 in lscpu): "
        "numactl's nodes are kept"
    ]


def test_lscpu_missing_cpus_drops_smt() -> None:
    lscpu = "# CPU,Core,Socket,Node\n0,0,0,0\n1,1,0,0\n4,0,0,0\n5,1,0,0\n"
    merged, warnings = merge_numactl_lscpu(_two_nodes(), parse_lscpu(lscpu))
    assert merged.cores == ()
    assert warnings == [
        "numactl lists CPUs 2-3,6-7 that lscpu does not: SMT siblings and sockets are unknown for the whole host"
    ]


def test_lscpu_extra_cpus_are_left_out() -> None:
    lscpu = "".join(f"{cpu},{cpu % 4},{cpu % 4 // 2},{cpu % 4 // 2}\n" for cpu in range(10))
    merged, warnings = merge_numactl_lscpu(_two_nodes(), parse_lscpu("# CPU,Core,Socket,Node\n" + lscpu))
    assert sorted(c for core in merged.cores for c in core.cpus) == list(range(8))
    assert warnings[0] == "lscpu lists CPUs 8-9 that numactl does not: they are left out"


def test_split_core_is_a_warning_and_drops_the_core_map() -> None:
    lscpu = "# CPU,Core,Socket\n0,0,0\n2,0,0\n1,1,0\n4,1,0\n5,2,0\n3,3,1\n6,3,1\n7,4,1\n"
    merged, warnings = merge_numactl_lscpu(_two_nodes(), parse_lscpu(lscpu))
    assert merged.cores == ()  # a core on two nodes cannot be placed: siblings are unknown instead
    assert warnings == [
        "1 core(s) have SMT siblings on different numactl nodes (first: CPUs 0,2): are numactl and lscpu from "
        "the same machine? SMT siblings and sockets are unknown for the whole host"
    ]


def test_summary_adds_only_warnings() -> None:
    summary = (HOSTS / "intel-snc2-2s.lscpu-summary").read_text()
    merged, warnings = merge_numactl_lscpu(numactl("intel-snc2-2s"), parse_lscpu(summary))
    assert merged == numactl("intel-snc2-2s")
    assert warnings == [
        "the lscpu summary does not say which CPUs are SMT siblings (it counts 2 socket(s), 2 thread(s) per core): "
        "each CPU counts as its own core; give lscpu -p output for the siblings"
    ]


def test_merge_keeps_free_memory_and_distances_from_numactl() -> None:
    host = numactl("intel-cxl-2s")
    merged, _ = merge_numactl_lscpu(host, parse_lscpu((HOSTS / "intel-cxl-2s.lscpu").read_text()))
    assert [n.free_bytes for n in merged.nodes] == [n.free_bytes for n in host.nodes]
    assert np.array_equal(merged.distances, host.distances)
    assert dataclasses.replace(merged, cores=()) == host
