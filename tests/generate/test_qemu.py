"""Generated layouts against the real QEMU 7.2: started paused (-S), read back over QMP.

A varied sample of about 30 layouts (chosen greedily so that every class value the
batches show appears at least once: families, node counts up to 64, SMT, split sockets,
memory-less and CPU-less nodes, asymmetric and triangle-breaking matrices, the qemu
target's remote 10 and split cores) must be accepted, with the readback matching.
"""

from __future__ import annotations

from typing import Any

import pytest

from numaopt.generate import Family, Generated, Knobs, Range, SocketMode, generate_items, resolve
from numaopt.model import Machine
from numaopt.qemu.qmp import compare, probe
from numaopt.render.qemu import qemu_command
from numaopt.rules import RuleSet

pytestmark = pytest.mark.qemu

SAMPLE = 30
# QEMU 7.2 warns this whenever threads > 1 with its default x86 CPU model (qemu64, an AMD
# family without topoext): a rendering matter (no -cpu on x86), not a layout one.
KNOWN_WARNING = "This family of AMD CPU doesn't support hyperthreading"


def _class_values(item: Generated) -> set[tuple[str, Any]]:
    values = {(key, str(value)) for key, value in item.classes.items() if key != "edge_values"}
    values |= {("edge", str(v)) for v in item.classes["edge_values"]}
    return values | {("family", item.family.value), ("method", item.method), ("target", item.rules.value)}


def varied_sample() -> list[Generated]:
    pool: list[Generated] = []
    batches = [
        (Knobs(nodes=Range(1, 8), machines=(Machine.Q35, Machine.PC)), 160),
        (Knobs(nodes=Range(9, 16), memoryless=Range(0, 3), cpuless=Range(0, 3)), 24),
        (Knobs(nodes=Range(64, 64), vcpus_per_node=Range(1, 2), memory_per_node=Range(128 << 20, 128 << 20)), 2),
        (Knobs(target=RuleSet.QEMU, nodes=Range(2, 8), threads=(2,), distance_range=Range(10, 255),
               sockets=(SocketMode.SPLIT_CORE, SocketMode.SPLIT), families=(Family.REMOTE_10, Family.EDGE, Family.TRIANGLE)), 20),
    ]
    for knobs, count in batches:
        pool += [o for o in generate_items(resolve(knobs), 2024, list(range(count))) if isinstance(o, Generated)]
    chosen: list[Generated] = []
    seen: set[tuple[str, Any]] = set()
    while len(chosen) < SAMPLE and pool:
        best = max(pool, key=lambda item: len(_class_values(item) - seen))
        pool.remove(best)
        chosen.append(best)
        seen |= _class_values(best)
    return chosen


def test_a_varied_sample_is_built_exactly_by_the_real_qemu() -> None:
    sample = varied_sample()
    assert len(sample) == SAMPLE
    families = {item.family for item in sample}
    assert len(families) >= 10
    assert max(item.classes["nodes"] for item in sample) == 64
    assert any(item.rules is RuleSet.QEMU and item.classes["sockets"] == "core-split" for item in sample)
    failures = []
    for item in sample:
        layout = item.layout
        readback = probe(qemu_command(layout))
        differences = compare(layout, readback)
        warnings = [w for w in readback.warnings if not w.startswith(KNOWN_WARNING)]
        if differences or warnings:
            failures.append(f"item {item.index} ({item.family.value}): {differences} {warnings}")
    assert failures == []
