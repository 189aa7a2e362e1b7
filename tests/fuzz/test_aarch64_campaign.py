"""A short mixed campaign through the command line with real boots: two aarch64 `virt` guests
(arm64 kernel under TCG, judged by linux-dt and the arm64 oracles) and one q35 guest, two at a
time. The layouts are small on purpose: an arm64 TCG boot takes 15-35 s on a loaded 2-core
machine (see benchmarks/RESULTS.md for the rate)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from numaopt.cli.knobs import KNOB_OPTIONS, knobs_from_options
from numaopt.fuzz.items import generated_items
from numaopt.fuzz.shrink import candidates
from numaopt.model import CpuShape, GuestLayout, GuestNode, Machine
from numaopt.rules import RuleSet
from numaopt.units import MIB

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
JOBS = max(1, min(2, len(os.sched_getaffinity(0))))
KNOBS = {"machine": "q35,virt", "nodes": "2-3", "vcpus_per_node": "1-2", "threads": "1", "memory_per_node": "128MiB",
         "memoryless": "0-1", "cpuless": "0-1", "symmetry": "symmetric", "family": "flat,socket,none,random-metric"}
SEED = 179


def _options() -> list[str]:
    return [part for name, value in KNOBS.items() for part in (f"--{name.replace('_', '-')}", value)]


def test_the_campaign_holds_what_it_claims() -> None:
    """Without booting: seed 179 gives two virt layouts (clusters, sockets split along them, a
    CPU-less node) and one q35 layout, each judged by its own guest's rules."""
    knobs = knobs_from_options({option.name: KNOBS.get(option.name, option.default) for option in KNOB_OPTIONS})
    items = list(generated_items(knobs, SEED, range(3)))
    virt = [i.layout for i in items if i.layout is not None and i.layout.machine is Machine.VIRT]
    assert len(virt) == 2 and all(layout.rules is RuleSet.LINUX_DT for layout in virt)
    assert [i.rules for i in items if i.layout is not None and i.layout.machine is Machine.Q35] == [RuleSet.LINUX_ACPI]
    assert any(layout.shape.clusters == 2 and layout.shape.cores == 2 for layout in virt)
    assert all(layout.shape.sockets == 1 and len([n for n in layout.nodes if n.cpus]) == 2 for layout in virt)
    assert any(not node.cpus for layout in virt for node in layout.nodes)


def test_a_failing_virt_layout_shrinks_with_its_clusters() -> None:
    """A failure may need the clusters: the shrinker keeps them while the socket size divides."""
    layout = GuestLayout(vcpus=8, memory_bytes=256 * MIB, nodes=(GuestNode(0, (0, 1, 2, 3), 128 * MIB),
                         GuestNode(1, (4, 5, 6, 7), 128 * MIB)), shape=CpuShape(sockets=2, clusters=2, cores=2),
                         distances=[[10, 20], [20, 10]], machine=Machine.VIRT, rules=RuleSet.LINUX_DT)
    steps = dict(candidates(layout))
    assert steps["halve every node's vCPUs"].shape == CpuShape(sockets=1, clusters=2, cores=2)
    assert steps["drop node 1"].shape == CpuShape(sockets=1, clusters=2, cores=2)
    # one core less on a node would split a cluster: that candidate gives the clusters up
    assert steps["one core less on node 0"].shape.clusters == 1


def test_a_mixed_aarch64_and_x86_campaign_passes_every_oracle(tmp_path: Path) -> None:
    out = tmp_path / "campaign"
    done = subprocess.run(
        [sys.executable, "-m", "numaopt", "fuzz", "-n", "3", "--seed", str(SEED), "--jobs", str(JOBS), "--no-shrink",
         "--out", str(out), *_options()],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("3 of 3 layouts done: 3 pass, 0 fail, 0 error, 0 skipped")
    lines = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines() if line.strip()]
    header, items = lines[0], [line for line in lines if line.get("type") == "item"]
    assert header["knobs"]["machines"] == ["q35", "virt"]
    assert sorted(item["item"] for item in items) == [0, 1, 2]
    assert {item["verdict"] for item in items} == {"pass"} and {item["accel"] for item in items} == {"tcg"}
    assert not (out / "failures").exists() or not any((out / "failures").iterdir())
