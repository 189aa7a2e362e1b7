"""--hmat and --dimms: generated HMAT and hot-pluggable memory are valid, check-clean and
accepted by the real QEMU 7.2; with the default shares nothing changes."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from numaopt.cli import app
from numaopt.generate import Generated, KnobError, Knobs, Range, generate_items, resolve
from numaopt.guest.verify import verify_qemu
from numaopt.layout import check_layout
from numaopt.model import GuestLayout, Machine
from numaopt.rules import Severity
from numaopt.units import MIB

ALL_IN = Knobs(nodes=Range(1, 5), cpuless=Range(0, 2), hmat=1.0, dimms=1.0, machines=(Machine.Q35, Machine.PC))


def _layouts(knobs: Knobs, count: int, seed: int = 7) -> list[Generated]:
    return [o for o in generate_items(resolve(knobs), seed, list(range(count))) if isinstance(o, Generated)]


def _hmat_consistent(layout: GuestLayout) -> None:
    """Latency grows and bandwidth shrinks with the distance from the same initiator."""
    distances = layout.effective_distances
    by_initiator: dict[int, list[tuple[int, int, int]]] = {}
    lat = {(lb.initiator, lb.target): lb.value for lb in layout.hmat_lb if lb.is_latency}
    for lb in layout.hmat_lb:
        if not lb.is_latency:
            assert lb.value % MIB == 0 and lb.value > 0
            d = int(distances[lb.initiator, lb.target])
            by_initiator.setdefault(lb.initiator, []).append((d, lat[lb.initiator, lb.target], lb.value))
    for rows in by_initiator.values():
        rows.sort()
        for (_, l1, b1), (_, l2, b2) in itertools.pairwise(rows):
            assert l1 <= l2 and b1 >= b2, rows


def test_default_shares_draw_nothing() -> None:
    items = _layouts(Knobs(nodes=Range(1, 6), cpuless=Range(0, 2), machines=(Machine.Q35, Machine.PC)), 60)
    assert items and all(item.memory_extras is None for item in items)
    assert all("hmat" not in item.classes and "dimms" not in item.classes for item in items)
    assert "hmat" not in Knobs().to_json() and "dimms" not in Knobs().to_json()


def test_full_shares_are_valid_and_check_clean() -> None:
    items = _layouts(ALL_IN, 80)
    assert len(items) >= 70
    tiers = small = 0
    for item in items:
        layout = item.layout
        assert layout.hmat and item.classes["hmat"] is True
        # DIMMs for every layout the guest kit's kernel boots with them: 256 MiB of boot memory or more.
        assert bool(layout.dimms) == (layout.memory_bytes >= 256 * MIB), (item.index, layout.memory_bytes)
        assert layout.slots >= len(layout.dimms)
        small += not layout.dimms
        errors = [f for f in check_layout(layout, item.rules) if f.severity is Severity.ERROR]
        assert errors == [], (item.index, errors)
        for node in layout.nodes:
            if not node.cpus:
                tiers += 1
                assert node.initiator is not None and layout.nodes[node.initiator].cpus
        ids = {node.node_id for node in layout.nodes if node.memory_bytes}
        assert {d.node for d in layout.dimms} <= ids
        if layout.dimms:
            assert layout.maxmem_bytes is not None
            assert layout.maxmem_bytes >= layout.memory_bytes + sum(d.size_bytes for d in layout.dimms)
        # every memory node has values from its own initiator (what the guest's access0 shows)
        pairs = {(lb.initiator, lb.target) for lb in layout.hmat_lb}
        for node in layout.nodes:
            if node.memory_bytes:
                assert (node.initiator if node.initiator is not None else node.node_id, node.node_id) in pairs
        _hmat_consistent(layout)
    assert tiers > 5 and 0 < small < len(items)


def test_item_alone_equals_item_in_batch() -> None:
    space = resolve(ALL_IN)
    batch = generate_items(space, 11, list(range(24)))
    for k in (0, 5, 23):
        alone = generate_items(space, 11, [k])[0]
        assert isinstance(alone, Generated) and isinstance(batch[k], Generated)
        assert alone.layout == batch[k].layout and alone.canonical == batch[k].canonical  # type: ignore[union-attr]


def test_shares_are_shares() -> None:
    items = _layouts(dataclasses.replace(ALL_IN, hmat=0.3, dimms=0.5), 200)
    hmat = np.mean([item.layout.hmat for item in items])
    dimms = np.mean([bool(item.layout.dimms) for item in items])
    assert 0.2 < hmat < 0.4 and 0.4 < dimms < 0.6


def test_virt_layouts_get_neither() -> None:
    knobs = dataclasses.replace(ALL_IN, machines=(Machine.Q35, Machine.VIRT))
    items = _layouts(knobs, 60)
    virt = [item for item in items if item.machine is Machine.VIRT]
    assert virt and all(item.memory_extras is None for item in virt)
    assert all(item.memory_extras is not None for item in items if item.machine is Machine.Q35)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--hmat", "1.5"], "--hmat 1.5: a share of layouts, between 0 and 1"),
        (["--dimms", "lots"], "--dimms lots: expected a share"),
        (["--hmat", "0.3", "--machine", "virt", "--target", "linux-dt"], "HMAT and DIMMs need an ACPI machine"),
    ],
)
def test_bad_shares_are_one_line(args: list[str], words: str, tmp_path: Path) -> None:
    for command in ("generate", "fuzz"):  # the knobs are shared
        result = CliRunner().invoke(app, [command, "--count", "1", "--out", str(tmp_path), *args])
        message = str(result.exception)
        assert isinstance(result.exception, KnobError) and words in message and "\n" not in message, message


def test_knob_error_in_api() -> None:
    with pytest.raises(KnobError):
        resolve(dataclasses.replace(ALL_IN, dimms=-0.1))


@pytest.mark.qemu
def test_real_qemu_accepts_a_handful() -> None:
    """Level 1 (paused QEMU, QMP readback, one DIMM hot-plugged where room is left)."""
    items = _layouts(dataclasses.replace(ALL_IN, nodes=Range(2, 4), vcpus_per_node=Range(1, 2)), 5, seed=21)
    for item in items:
        verified = verify_qemu(item.layout)
        assert verified.mismatches == [], (item.index, verified.mismatches)
    assert len(items) == 5


def test_coverage_counts_hmat_and_dimms_only_when_asked(tmp_path: Path) -> None:
    def coverage(*knobs: str) -> tuple[str, dict[str, object]]:
        out = tmp_path / f"batch{len(list(tmp_path.iterdir()))}"
        result = CliRunner().invoke(app, ["generate", "-n", "30", "--seed", "4", "--out", str(out), "--jobs", "1", *knobs])
        assert result.exit_code == 0, result.output
        record = json.loads((out / "index.jsonl").read_text().splitlines()[-1])
        return result.output, record

    output, record = coverage("--hmat", "0.5", "--dimms", "0.5", "--machine", "q35")
    counts = record["counts"]
    assert counts["hmat"].keys() == {"yes", "no"} and sum(counts["hmat"].values()) == 30
    assert counts["dimms"].keys() == {"0", "1+"} and sum(counts["dimms"].values()) == 30
    assert "  hmat " in output and "  dimms " in output
    _, record = coverage("--hmat", "1", "--machine", "q35")
    assert record["counts"]["hmat"] == {"yes": 30} and record["counts"]["dimms"] == {"0": 30}
    assert "hmat" not in record["missing"] and "dimms" not in record["missing"]
    output, record = coverage("--machine", "q35")
    assert "hmat" not in record["counts"] and "dimms" not in record["counts"] and "  hmat " not in output
