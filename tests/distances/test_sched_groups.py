"""The prediction of broken NUMA scheduler domains (numaopt/distances/sched_groups.py).

The tables and their verdicts here were each booted in the Debian 6.1 guest under TCG with
sched_verbose (tests/guest/test_sched_groups_boot.py keeps two of them booting; docs/rules.md,
#scheduler, records the rest): the CPUs predicted are the CPUs under which the guest printed
'ERROR: groups don't span domain->span', no more and no fewer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from numaopt.distances.sched_groups import broken_domains, short_trees
from numaopt.layout import check_layout
from numaopt.model import CpuShape, GuestLayout, GuestNode, Machine
from numaopt.problem import load_problem
from numaopt.rules import RuleSet, Severity
from numaopt.units import MIB

# 4 SNC-like nodes: nodes 0-1 see nodes 2-3 at 28, nodes 2-3 see nodes 0-1 at 23.
SNC_ASYMMETRIC = [[10, 11, 28, 28], [11, 10, 28, 28], [23, 23, 10, 11], [23, 23, 11, 10]]
# Asymmetric too, but every node reaches every other at its last level: fine.
CROSSED = [[10, 11, 28, 23], [11, 10, 23, 28], [28, 23, 10, 11], [23, 28, 11, 10]]

# (table, vCPUs per node, the CPUs the booted guest printed the error under)
BOOTED = [
    (SNC_ASYMMETRIC, 2, [0, 1, 2, 3]),
    (CROSSED, 2, []),
    ([[10, 23, 40], [20, 10, 12], [21, 28, 10]], 2, [0, 1, 4, 5]),
    ([[10, 23, 31], [12, 10, 11], [23, 31, 10]], 2, [0, 1]),
    ([[10, 30, 28, 30], [21, 10, 20, 12], [20, 20, 10, 21], [21, 11, 31, 10]], 2, [0, 1]),
    ([[10, 11, 12, 21], [30, 10, 20, 23], [28, 28, 10, 31], [12, 12, 31, 10]], 2, [2, 3, 4, 5]),
    ([[10, 21, 21, 21], [30, 10, 21, 21], [40, 31, 10, 28], [11, 11, 23, 10]], 2, [2, 3, 4, 5]),
    (
        [[10, 28, 31, 31, 28], [23, 10, 21, 20, 21], [12, 23, 10, 40, 31], [28, 31, 23, 10, 12], [12, 40, 30, 20, 10]],
        1,
        [0],
    ),
    ([[10, 20, 30, 11], [12, 10, 40, 12], [28, 11, 10, 40], [21, 11, 12, 10]], 2, []),
    ([[10, 30, 28, 11], [31, 10, 28, 20], [12, 31, 10, 11], [21, 23, 20, 10]], 2, []),
]


def node_cpus(count: int, per: int) -> list[tuple[int, ...]]:
    return [tuple(range(i * per, (i + 1) * per)) for i in range(count)]


@pytest.mark.parametrize(("table", "per", "seen"), BOOTED)
def test_predicts_the_cpus_the_guest_names(table: list[list[int]], per: int, seen: list[int]) -> None:
    predicted = sorted(cpu for domain in broken_domains(table, node_cpus(len(table), per)) for cpu in domain.cpus)
    assert predicted == seen


def test_the_snc_table_domain_and_its_groups() -> None:
    [domain] = broken_domains(SNC_ASYMMETRIC, node_cpus(4, 2))
    assert (domain.cpus, domain.distance, domain.span, domain.covered) == (
        (0, 1, 2, 3),
        28,
        tuple(range(8)),
        (0, 1, 2, 3),
    )


def test_symmetric_and_single_node_tables_never_break() -> None:
    symmetric = [[10, 20, 30], [20, 10, 20], [30, 20, 10]]  # a line: node 1 stops a level lower
    assert broken_domains(symmetric, node_cpus(3, 2)) == []
    assert broken_domains([[10]], [(0, 1)]) == []


def test_cpu_less_nodes_do_not_count() -> None:
    # Node 3 has no vCPUs: sched_init_numa leaves its row and column out.
    table = [[*row, 40] for row in [[10, 11, 28], [11, 10, 28], [23, 23, 10]]] + [[40, 40, 40, 10]]
    cpus = [(0, 1), (2, 3), (4, 5), ()]
    assert [d.cpus for d in broken_domains(table, cpus)] == [(0, 1, 2, 3)]


def test_check_warns_for_guests_only() -> None:
    import numpy as np

    nodes = [GuestNode(node_id=i, cpus=cpus, memory_bytes=256 * MIB) for i, cpus in enumerate(node_cpus(4, 2))]
    layout = GuestLayout(
        vcpus=8,
        memory_bytes=1024 * MIB,
        nodes=nodes,
        shape=CpuShape(sockets=4, cores=2),
        distances=np.array(SNC_ASYMMETRIC),
    )
    for rules in (RuleSet.LINUX_ACPI, RuleSet.LINUX_DT):
        [found] = [f for f in check_layout(layout, rules) if f.code == "sched-groups-span"]
        assert found.severity is Severity.WARNING
        assert "'ERROR: groups don't span domain->span' for CPU(s) 0-3" in found.message
        assert "groups cover only 0-3" in found.message
    for rules in (RuleSet.QEMU, RuleSet.LIBVIRT):
        assert not [f for f in check_layout(layout, rules) if f.code == "sched-groups-span"]


# (table, vCPUs per node, {CPUs: their top domain's CPUs}) for every CPU whose booted guest
# (Debian 6.1, q35 under TCG; the 2-node ones also arm64 virt) had no domain spanning every
# CPU, as verify's sched oracle read it; () is 'CPU0 attaching NULL sched-domain.'. The
# 2-node tables at 21 / 13 instead print 'groups don't span' (BOOTED's kind of breakage).
BOOTED_SHORT = [
    *((table, per, {}) for table, per, _ in BOOTED[:2]),
    (BOOTED[2][0], 2, {(0, 1): (0, 1, 2, 3)}),
    (BOOTED[3][0], 2, {(4, 5): (0, 1, 4, 5)}),
    (BOOTED[4][0], 2, {(6, 7): (0, 1, 2, 3, 6, 7)}),
    (BOOTED[6][0], 2, {(4, 5): (4, 5, 6, 7)}),
    (BOOTED[7][0], 1, {(2,): (0, 1, 2, 4), (3,): (0, 2, 3, 4), (4,): (0, 2, 3, 4)}),
    (BOOTED[8][0], 2, {(4, 5): (0, 1, 2, 3, 4, 5)}),
    (BOOTED[9][0], 2, {(2, 3): (2, 3, 4, 5, 6, 7)}),
    ([[10, 221], [213, 10]], 1, {(0,): ()}),
    ([[10, 40], [13, 10]], 1, {(0,): ()}),
    ([[10, 221], [213, 10]], 2, {(0, 1): (0, 1)}),
    ([[10, 40], [13, 10]], 2, {(0, 1): (0, 1)}),
    ([[10, 21], [13, 10]], 1, {}),
    ([[10, 21], [13, 10]], 2, {}),
]


@pytest.mark.parametrize(("table", "per", "seen"), BOOTED_SHORT)
def test_predicts_the_cpus_left_without_a_domain_spanning_every_cpu(
    table: list[list[int]], per: int, seen: dict[tuple[int, ...], tuple[int, ...]]
) -> None:
    assert {tree.cpus: tree.top for tree in short_trees(table, node_cpus(len(table), per))} == seen


def two_node_layout(table: list[list[int]], per: int, machine: Machine) -> GuestLayout:
    import numpy as np

    nodes = [GuestNode(node_id=i, cpus=cpus, memory_bytes=128 * MIB) for i, cpus in enumerate(node_cpus(2, per))]
    return GuestLayout(vcpus=2 * per, memory_bytes=256 * MIB, nodes=nodes, shape=CpuShape(sockets=2, cores=per),
                       distances=np.array(table), machine=machine)


@pytest.mark.parametrize("machine", [Machine.Q35, Machine.VIRT])
def test_check_says_what_a_lone_cpu_without_domains_prints(machine: Machine) -> None:
    layout = two_node_layout([[10, 221], [213, 10]], 1, machine)
    rules = machine.default_rules
    [found] = [f for f in check_layout(layout, rules) if f.code.startswith("sched-") and f.code != "sched-levels"]
    assert (found.code, found.severity) == ("sched-null-domain", Severity.WARNING)
    assert "the guest prints 'CPU0 attaching NULL sched-domain.'" in found.message  # both guests' words
    wider = two_node_layout([[10, 221], [213, 10]], 2, machine)
    [found] = [f for f in check_layout(wider, rules) if f.code.startswith("sched-") and f.code != "sched-levels"]
    assert found.code == "sched-short-tree" and "CPU(s) 0-1 get no scheduler domain spanning every CPU" in found.message
    for quiet in (RuleSet.QEMU, RuleSet.LIBVIRT):
        assert not [f for f in check_layout(layout, quiet) if f.code in ("sched-null-domain", "sched-short-tree")]


DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.mark.parametrize("recorded", ["guest-reports/asymmetric-lone-cpu", "guest-reports-aarch64/asymmetric-lone-cpu"])
def test_the_recorded_guests_print_the_words_check_quotes(recorded: str) -> None:
    layout = load_problem(DATA / f"{recorded}.toml").layout
    assert layout is not None
    console = (DATA / f"{recorded}.console").read_text(encoding="utf-8")
    [found] = [f for f in check_layout(layout, layout.rules) if f.code == "sched-null-domain"]
    quoted = found.message.split("the guest prints '")[1].split("'")[0]
    assert quoted == "CPU0 attaching NULL sched-domain."
    assert any(line.endswith(f"] {quoted}") for line in console.splitlines())
