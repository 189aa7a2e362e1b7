"""Shrinking keeps a failing layout's HMAT and DIMMs while the failure needs them, and
drops each when it does not; every step it takes is a layout QEMU and the guest accept."""

from __future__ import annotations

from numaopt.fuzz.shrink import candidates, shrink
from numaopt.generate import Generated, Knobs, Range, generate_items, resolve
from numaopt.layout import check_layout
from numaopt.model import GuestLayout, Machine
from numaopt.rules import Severity

KNOBS = Knobs(nodes=Range(3, 4), cpuless=Range(1, 1), memoryless=Range(0, 0), hmat=1.0, dimms=1.0,
              machines=(Machine.Q35,))


def _layout() -> GuestLayout:
    item = next(o for o in generate_items(resolve(KNOBS), 3, list(range(8))) if isinstance(o, Generated))
    layout = item.layout
    assert layout.hmat and layout.dimms and layout.num_nodes >= 3
    return layout


def _clean(layout: GuestLayout) -> bool:
    return not [f for f in check_layout(layout, layout.rules) if f.severity is Severity.ERROR]


def test_same_node_candidates_keep_hmat_and_dimms_and_two_steps_drop_them() -> None:
    layout = _layout()
    steps = dict(candidates(layout))
    assert not steps["no HMAT"].hmat and steps["no HMAT"].dimms == layout.dimms
    assert all(node.initiator is None for node in steps["no HMAT"].nodes)
    assert not steps["no DIMMs or slots"].dimms and steps["no DIMMs or slots"].hmat_lb == layout.hmat_lb
    for step, candidate in steps.items():
        if candidate.num_nodes == layout.num_nodes and step not in ("no HMAT", "no DIMMs or slots"):
            assert candidate.hmat_lb == layout.hmat_lb and candidate.dimms == layout.dimms, step


def test_shrinking_keeps_what_the_failure_needs() -> None:
    layout = _layout()
    kept_dimms = shrink(layout, lambda candidate: bool(candidate.dimms))
    assert kept_dimms.layout.dimms and not kept_dimms.layout.hmat and _clean(kept_dimms.layout)
    assert "no HMAT" in kept_dimms.steps
    kept_hmat = shrink(layout, lambda candidate: candidate.hmat and bool(candidate.hmat_lb))
    assert kept_hmat.layout.hmat and not kept_hmat.layout.dimms and _clean(kept_hmat.layout)
    assert "no DIMMs or slots" in kept_hmat.steps
