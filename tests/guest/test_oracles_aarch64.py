"""The oracles on arm64 guests: consoles recorded from real TCG boots of virt layouts
(tests/data/guest-reports-aarch64, re-recorded by its record.py).

arm64 reads its CPU topology from QEMU's device-tree cpu-map: package = socket, core = the
core's index in its cluster, no die (-1), cluster CPUs = the cluster's, no sibling mask
clipped to the node; its scheduler levels below NUMA are SMT, CLS, MC and DIE.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from numaopt.guest.oracles import Oracle, expected_view, judge_report
from numaopt.guest.report import GuestReport, parse_report
from numaopt.model import CpuShape, GuestLayout
from numaopt.problem import load_problem

DATA = Path(__file__).resolve().parents[1] / "data" / "guest-reports-aarch64"


def recorded(name: str) -> tuple[GuestLayout, GuestReport]:
    layout = load_problem(DATA / f"{name}.toml").layout
    assert layout is not None
    return layout, parse_report((DATA / f"{name}.console").read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["clusters", "socket-split", "remote-10"])
def test_recorded_arm64_guests_behave_as_predicted(name: str) -> None:
    layout, report = recorded(name)
    assert report.kernel.endswith("-arm64")
    assert judge_report(layout, report) == []


def test_the_cpu_map_is_predicted_without_x86_die_numbering() -> None:
    layout, report = recorded("clusters")
    view = expected_view(layout)
    # CPU 6: socket 1, cluster 1, the first core of its cluster
    six = view.cpu_topology[6]
    assert (six.package, six.die, six.core, six.cluster, six.core_siblings) == (1, None, 0, (6, 7), (4, 5, 6, 7))
    assert report.cpus[6].die == -1  # arm64 has no die; x86's (die << bits) | core would be wrong here
    # The guest's domains: DIE (the node) under NUMA; its NUMA level spans both sockets.
    assert [d.name for d in report.domains[6]] == ["DIE", "NUMA"]


def test_a_socket_split_along_clusters_is_clipped_silently_but_its_package_is_whole() -> None:
    layout, report = recorded("socket-split")
    view = expected_view(layout)
    assert view.cpu_topology[2].core_siblings == (0, 1, 2, 3) == report.cpus[2].core_siblings
    assert report.cpus[2].cluster == (2, 3)
    assert [d.span for d in report.domains[2]] == [(2, 3), (0, 1, 2, 3)]


def test_a_guest_showing_other_clusters_and_cores_than_asked_fails_the_topology_oracle() -> None:
    layout, report = recorded("clusters")
    asked = dataclasses.replace(layout, shape=CpuShape(sockets=2, clusters=1, cores=4))  # the same 8 vCPUs, one cluster each
    failures = [f for f in judge_report(asked, report) if f.oracle is Oracle.TOPOLOGY]
    # one failure per CPU, coded by its first difference: CPUs 0-1 keep their core ids, 2-3 do not
    assert [f.code for f in failures[:4]] == ["cpu-cluster", "cpu-cluster", "cpu-core", "cpu-core"]
    assert failures[2].message == "CPU 2: core 0 (expected 2), cluster CPUs 2-3 (expected 0-3)"
    assert len(failures) == 8


def test_smt_on_virt_is_reported_as_the_guest_prints_it() -> None:
    # numaopt check has no rule for it yet: the campaign is what finds it.
    layout, report = recorded("smt")
    failures = judge_report(layout, report)
    assert [(f.oracle, f.code, f.message) for f in failures] == [
        (Oracle.MESSAGES, "message:topology-borken", "the guest kernel printed: BUG: arch topology borken")
    ]
    assert any("the SMT domain not a subset of the MC domain" in line for line in report.dmesg)


def test_a_cluster_level_wider_than_the_cluster_fails_the_sched_oracle() -> None:
    # Debian's arm64 6.1 has no CONFIG_SCHED_CLUSTER: its real guests show no CLS level. A
    # console whose node-wide level is named CLS shows what the oracle does with one.
    layout, _ = recorded("clusters")
    text = (DATA / "clusters.console").read_text(encoding="utf-8").replace("level=DIE", "level=CLS").replace("name:DIE", "name:CLS")
    failures = [f for f in judge_report(layout, parse_report(text)) if f.oracle is Oracle.SCHED]
    assert len(failures) == 8 and {f.code for f in failures} == {"cluster-span"}
    assert failures[0].message == "CPU 0 domain 0 (CLS): span 0-3 reaches beyond the CPU's cluster 0-1"
