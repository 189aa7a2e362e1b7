"""Distance checks: batch results agree with plain transliterations of the rules, and
single-matrix findings name the first culprit."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from numaopt import distances as D
from numaopt.distances.reference import triangle_ok_numpy
from numaopt.rules import RuleSet, Severity

SEED = np.array([[10, 15, 20, 20], [15, 10, 20, 20], [20, 20, 10, 15], [20, 20, 15, 10]])
CHAIN = np.array([[10, 20, 30, 40], [20, 10, 20, 30], [30, 20, 10, 20], [40, 30, 20, 10]])
CXL = np.array([[10, 21, 14, 24], [21, 10, 24, 14], [14, 24, 10, 26], [24, 14, 26, 10]])


def linux_topology_type(d: np.ndarray, cpu: list[bool]) -> D.TopologyType:
    """kernel/sched/topology.c init_numa_topology_type, loop for loop."""
    nodes = [i for i in range(len(cpu)) if cpu[i]]
    values = {int(d[i, j]) for i in nodes for j in nodes}
    if len(values) <= 2:
        return D.TopologyType.DIRECT
    n = max(values)
    for a in nodes:
        for b in nodes:
            if d[a, b] < n:
                continue
            for c in nodes:
                if d[a, c] < n and d[b, c] < n:
                    return D.TopologyType.GLUELESS_MESH
            return D.TopologyType.BACKPLANE
    return D.TopologyType.DIRECT


def brute_triangle(d: np.ndarray, excess: bool) -> bool:
    w = d - 10 if excess else d.copy()
    np.fill_diagonal(w, 0)
    n = len(d)
    # The diagonal is 0: i == j or j == k holds trivially; i == k checks a round trip.
    return all(w[i, k] <= w[i, j] + w[j, k] for i, j, k in itertools.product(range(n), repeat=3))


matrices = st.integers(1, 7).flatmap(
    lambda n: st.tuples(
        st.lists(st.lists(st.integers(5, 60), min_size=n, max_size=n), min_size=n, max_size=n),
        st.lists(st.booleans(), min_size=n, max_size=n),
        st.booleans(),
    )
)


@settings(max_examples=300, deadline=None)
@given(matrices)
def test_batch_checks_agree_with_the_rules_written_out(case: tuple[list[list[int]], list[bool], bool]) -> None:
    rows, cpu, symmetric = case
    d = np.array(rows)
    if symmetric:
        d = np.triu(d) + np.triu(d, 1).T
    np.fill_diagonal(d, 10)
    if not any(cpu):
        cpu[0] = True
    checks = D.check_batch(d, cpu)
    assert bool(checks.metric[0]) == brute_triangle(d, excess=False)
    assert bool(checks.metric_excess[0]) == brute_triangle(d, excess=True)
    nodes = [i for i in range(len(cpu)) if cpu[i]]
    assert checks.levels[0] == len({int(d[i, j]) for i in nodes for j in nodes})
    assert D.topology_type(d, cpu) is linux_topology_type(d, cpu)
    assert checks.asymmetric_pairs[0] == sum(d[i, j] != d[j, i] for i in range(len(d)) for j in range(i + 1, len(d)))
    for rules in RuleSet:
        errors = [f for f in D.distance_findings(d, rules, cpu) if f.severity is Severity.ERROR]
        assert bool(checks.valid_for(rules)[0]) == (not errors), (rules, errors)


def test_batch_shapes_and_per_matrix_results() -> None:
    bad = SEED.copy()
    bad[0, 1] = 9
    batch = np.stack([SEED, CHAIN, bad])
    checks = D.check_batch(batch)
    assert checks.levels.tolist() == [3, 4, 4]
    assert checks.below_local.tolist() == [0, 0, 1]
    assert checks.asymmetric_pairs.tolist() == [0, 0, 1]
    assert checks.valid_for(RuleSet.QEMU).tolist() == [True, True, False]
    assert [D._TOPOLOGY_CODES[c] for c in checks.topology_type] == [
        D.TopologyType.BACKPLANE,
        D.TopologyType.GLUELESS_MESH,
        D.TopologyType.BACKPLANE,
    ]


def test_levels_count_only_cpu_nodes() -> None:
    # The CXL host's memory nodes add distances 14, 24 and 26 that the scheduler never sees.
    assert D.distinct_levels(CXL)[0] == 5
    assert D.distinct_levels(CXL, [True, True, False, False])[0] == 2
    assert D.topology_type(CXL, [True, True, False, False]) is D.TopologyType.DIRECT


def test_remote_ten_is_qemu_valid_but_guest_invalid() -> None:
    d = np.array([[10, 10], [10, 10]])
    assert D.distance_findings(d, RuleSet.QEMU) == []
    acpi = D.distance_findings(d, RuleSet.LINUX_ACPI)
    assert acpi[0].code == "remote-equals-local" and "SLIT table looks invalid" in acpi[0].message
    dt = D.distance_findings(d, RuleSet.LINUX_DT)
    assert "Invalid distance[node0 -> node1] = 10" in dt[0].message
    lv = D.distance_findings(d, RuleSet.LIBVIRT)
    assert lv[0].message == "'value 10' is invalid for 'sibling id 1' under NUMA 'cell id 0'"


def test_messages_name_the_first_culprit() -> None:
    asym = SEED.copy()
    asym[2, 0] = 30
    (warning,) = [f for f in D.distance_findings(asym, RuleSet.LINUX_ACPI) if f.code == "asymmetric"]
    assert warning.message.startswith("distance[0][2] = 20 but distance[2][0] = 30 (asymmetric)")
    qemu = D.distance_findings(np.array([[10, 9], [9, 20]]), RuleSet.QEMU)
    assert [f.message for f in qemu] == [
        "Local distance of node 1 should be 10.",
        "NUMA distance (9) is invalid, it shouldn't be less than 10.",
    ]
    big = D.distance_findings(np.array([[10, 256], [256, 10]]), RuleSet.QEMU)
    assert big[0].code == "distance-range" and "256" in big[0].message


def test_triangle_witness_on_raw_and_excess_forms() -> None:
    raw = np.array([[10, 12, 40], [12, 10, 12], [40, 12, 10]])
    (tri,) = [f for f in D.distance_findings(raw, RuleSet.LINUX_ACPI) if f.code.startswith("triangle")]
    assert tri.code == "triangle"
    assert "distance[0][2] = 40 > distance[0][1] + distance[1][2] = 12 + 12" in tri.message
    # 10/11/21 style: metric on raw values, not on d - 10.
    snc = np.array([[10, 11, 21], [11, 10, 11], [21, 11, 10]])
    assert D.triangle_ok(snc).tolist() == [True]
    assert D.triangle_ok(snc, excess=True).tolist() == [False]
    (tri,) = [f for f in D.distance_findings(snc, RuleSet.LINUX_ACPI) if f.code.startswith("triangle")]
    assert tri.code == "triangle-excess"


def test_shortcut_does_not_change_answers() -> None:
    rng = np.random.default_rng(7)
    batch = rng.integers(11, 60, size=(500, 6, 6))
    batch[:, np.arange(6), np.arange(6)] = 10
    work = batch.copy()
    work[:, np.arange(6), np.arange(6)] = 0
    assert np.array_equal(D.triangle_ok(batch), triangle_ok_numpy(work))


@pytest.mark.parametrize("bad", [np.zeros((2, 3)), np.zeros((2, 2, 3)), np.array([[10.5, 20], [20, 10]])])
def test_bad_shapes_and_types_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(ValueError):
        D.check_batch(bad)
