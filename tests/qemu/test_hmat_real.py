"""HMAT and memory-tier initiators against the real QEMU 7.2: every refusal ``check`` predicts
is QEMU's own message, word for word; what QEMU accepts it builds (level 1 reads hmat back
over QMP); the arguments read back to the same layout; libvirt's QEMU driver builds the
same guest from our domain (tests/render/test_libvirt.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from numaopt.layout import check_layout
from numaopt.model import GuestLayout, HmatCache, HmatLb
from numaopt.problem import load_problem
from numaopt.qemu.args import read_qemu_args
from numaopt.qemu.qmp import QemuRefused, compare, probe
from numaopt.render.qemu import qemu_command, shell_text
from numaopt.rules import RuleSet, Severity

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
TIER = ROOT / "tests" / "data" / "hmat" / "cxl-tier-hmat.toml"


def tier() -> GuestLayout:
    layout = load_problem(TIER).layout
    assert layout is not None
    return layout


def _node(layout: GuestLayout, index: int, **changes: object) -> GuestLayout:
    nodes = list(layout.nodes)
    nodes[index] = dataclasses.replace(nodes[index], **changes)  # type: ignore[arg-type]
    return dataclasses.replace(layout, nodes=tuple(nodes))


def _lb(*entries: HmatLb) -> GuestLayout:
    return dataclasses.replace(tier(), hmat_lb=entries, hmat_cache=())


LAT, BW = "access-latency", "access-bandwidth"
REFUSED = {
    "hmat-off": dataclasses.replace(tier(), hmat=False),
    "initiator-without-cpus": _node(tier(), 2, initiator=2),
    "initiator-missing": _node(tier(), 2, initiator=7),
    "cpu-node-other-initiator": _node(tier(), 0, initiator=1),
    "lb-initiator-without-cpus": _lb(HmatLb(2, 2, LAT, 5)),
    "lb-target-beyond": _lb(HmatLb(0, 9, LAT, 5)),
    "lb-unaligned-bandwidth": _lb(HmatLb(0, 2, BW, (5 << 20) + 1)),
    "lb-twice": _lb(HmatLb(0, 2, LAT, 5), HmatLb(0, 2, LAT, 6)),
    # One table's values are 16-bit entries over one base: 1 ns then 65535 ns do not fit;
    # 1 MiB/s then 64 GiB/s do not either (17 bits above the lowest set bit).
    "lb-latency-range": _lb(HmatLb(0, 2, LAT, 1), HmatLb(1, 2, LAT, 65535)),
    "lb-bandwidth-range": _lb(HmatLb(0, 2, BW, 1 << 20), HmatLb(1, 2, BW, 1 << 36)),
    "cache-without-bandwidth": dataclasses.replace(tier(), hmat_lb=(HmatLb(1, 2, LAT, 5),)),
    "cache-level-2-first": dataclasses.replace(tier(), hmat_cache=(HmatCache(2, 1 << 20, 2),)),
    "cache-not-larger": dataclasses.replace(tier(), hmat_cache=(HmatCache(2, 2 << 20, 1), HmatCache(2, 1 << 20, 2))),
    "cache-twice": dataclasses.replace(tier(), hmat_cache=(HmatCache(2, 1 << 20, 1), HmatCache(2, 2 << 20, 1))),
}


@pytest.mark.parametrize("name", REFUSED)
def test_check_says_what_qemu_says(name: str) -> None:
    layout = REFUSED[name]
    errors = [f for f in check_layout(layout, RuleSet.QEMU) if f.severity is Severity.ERROR]
    with pytest.raises(QemuRefused) as refused:
        probe(qemu_command(layout))
    assert [f.message for f in errors] == [refused.value.qemu_message]
    # The argument reader hears the same from the rendered command line.
    read = read_qemu_args(shell_text(layout))
    assert refused.value.qemu_message in [f.message for f in read.findings if f.severity is Severity.ERROR]


def test_a_tier_with_hmat_starts_reads_back_and_level_1_sees_hmat_on() -> None:
    layout = tier()
    assert check_layout(layout, RuleSet.QEMU) == []
    readback = probe(qemu_command(layout))
    assert readback.hmat is True and compare(layout, readback) == []
    assert compare(dataclasses.replace(layout, hmat=False), readback) == ["QEMU has hmat=on, the layout asks off"]
    assert read_qemu_args(shell_text(layout)).layout == layout


def test_no_latency_pair_is_required_and_a_tier_without_initiator_starts() -> None:
    # QEMU 7.2 asks for no hmat-lb at all, and lets a memory-only node go without initiator.
    layout = _node(dataclasses.replace(tier(), hmat_lb=(), hmat_cache=()), 2, initiator=None)
    assert check_layout(layout, RuleSet.QEMU) == []
    assert compare(layout, probe(qemu_command(layout))) == []
