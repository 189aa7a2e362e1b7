"""The shrinker with synthetic oracles: it must find small layouts that still fail, keep
every candidate valid, stop on its budget, and return the original when nothing smaller fails."""

from __future__ import annotations

import numpy as np

from numaopt.fuzz.shrink import candidates, shrink, size_of
from numaopt.generate.render import toml_text
from numaopt.layout import check_layout
from numaopt.model import CpuShape, GuestLayout, GuestNode
from numaopt.problem import parse_problem
from numaopt.rules import RuleSet, Severity
from numaopt.units import MIB


def big_layout() -> GuestLayout:
    """5 nodes (one CPU-less), 2 threads per core, an asymmetric 4-level matrix."""
    counts = [4, 4, 2, 4, 0]
    nodes, start = [], 0
    for i, count in enumerate(counts):
        nodes.append(GuestNode(i, tuple(range(start, start + count)), 256 * MIB))
        start += count
    d = np.array(
        [
            [10, 20, 30, 40, 25],
            [21, 10, 20, 30, 25],
            [30, 20, 10, 20, 25],
            [40, 30, 20, 10, 25],
            [25, 25, 25, 25, 10],
        ]
    )
    return GuestLayout(vcpus=14, memory_bytes=5 * 256 * MIB, nodes=tuple(nodes), shape=CpuShape(sockets=7, cores=1, threads=2),
                       distances=d)


def qemu_errors(layout: GuestLayout) -> list[str]:
    return [f.message for f in check_layout(layout, RuleSet.QEMU) if f.severity is Severity.ERROR]


def test_every_candidate_is_smaller_valid_and_renders() -> None:
    layout = big_layout()
    seen = 0
    for _, candidate in candidates(layout):
        seen += 1
        assert qemu_errors(candidate) == []
        if size_of(candidate) < size_of(layout):
            # What the reproducer writes reads back to the same layout.
            again = parse_problem(toml_text(candidate)).layout
            assert again == candidate
    assert seen > 10


def test_shrinks_to_the_smallest_layout_that_still_fails() -> None:
    calls: list[GuestLayout] = []

    def asymmetric_pair(layout: GuestLayout) -> bool:
        calls.append(layout)
        assert qemu_errors(layout) == []
        d = layout.distances
        return d is not None and not np.array_equal(d, d.T)

    result = shrink(big_layout(), asymmetric_pair, max_checks=200)
    small = result.layout
    assert small.num_nodes == 2
    assert [len(n.cpus) for n in small.nodes] == [1, 1]
    assert small.shape.threads == 1
    d = small.distances
    assert d is not None and not np.array_equal(d, d.T)
    assert small.memory_bytes == 2 * 128 * MIB
    assert result.checks == len(calls) <= 200
    assert result.steps[0].startswith("drop node")
    assert "one thread per core" in result.steps


def test_budget_is_respected_and_progress_kept() -> None:
    result = shrink(big_layout(), lambda layout: layout.num_nodes >= 3, max_checks=3)
    assert result.checks == 3
    assert result.layout.num_nodes == 3 or size_of(result.layout) < size_of(big_layout())


def test_nothing_smaller_fails_returns_the_original() -> None:
    layout = big_layout()
    result = shrink(layout, lambda candidate: False, max_checks=50)
    assert result.layout is layout and result.steps == ()
    assert 0 < result.checks <= 50


def test_rule_errors_the_original_did_not_have_are_never_tried() -> None:
    # A linux-acpi layout must stay one: no candidate may bring a remote distance of 10.
    layout = big_layout()
    tried: list[GuestLayout] = []
    shrink(layout, lambda c: tried.append(c) or False, max_checks=100)
    for candidate in tried:
        assert [f for f in check_layout(candidate, RuleSet.LINUX_ACPI) if f.severity is Severity.ERROR] == []
