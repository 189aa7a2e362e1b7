"""A short campaign with HMAT and DIMMs through the command line, real boots: two q35
layouts with a memory-only tier (its initiator, latency/bandwidth from the distances,
memory-side caches) and a DIMM each; every oracle passes, (f) predictions included.
Then item 0 booted directly: the guest really shows what the HMAT and DIMM checks
compare, and a layout that asks for something else fails them."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from numaopt.cli.knobs import FUZZ_DEFAULTS, KNOB_OPTIONS, knobs_from_options
from numaopt.fuzz.items import generated_items
from numaopt.guest.boot import boot
from numaopt.guest.kit import GuestKit
from numaopt.guest.oracles import dimm_failures, hmat_failures, judge
from numaopt.guest.predictions import judge_predictions
from numaopt.model import Dimm, GuestLayout

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
JOBS = max(1, min(2, len(os.sched_getaffinity(0))))
KNOBS = {"nodes": "2-3", "vcpus_per_node": "1-2", "threads": "1", "memory_per_node": "128MiB-256MiB",
         "cpuless": "1", "memoryless": "0", "family": "flat,socket,none", "hmat": "1", "dimms": "1"}
SEED = 1


def _options() -> list[str]:
    return [part for name, value in KNOBS.items() for part in (f"--{name.replace('_', '-')}", value)]


def _layouts() -> list[GuestLayout]:
    knobs = knobs_from_options({o.name: KNOBS.get(o.name, FUZZ_DEFAULTS.get(o.name, o.default)) for o in KNOB_OPTIONS})
    layouts = [item.layout for item in generated_items(knobs, SEED, range(2))]
    assert all(layout is not None for layout in layouts)
    return [layout for layout in layouts if layout is not None]


def test_the_campaign_holds_hmat_tiers_caches_and_dimms() -> None:
    layouts = _layouts()
    assert all(layout.hmat and layout.dimms and layout.slots for layout in layouts)
    assert all(any(not node.cpus and node.initiator is not None for node in layout.nodes) for layout in layouts)
    assert any(layout.hmat_cache for layout in layouts)
    assert any(d.node == n.node_id for layout in layouts for d in layout.dimms for n in layout.nodes if not n.cpus)


def test_a_campaign_with_hmat_and_dimms_passes_every_oracle(tmp_path: Path) -> None:
    out = tmp_path / "campaign"
    done = subprocess.run(
        [sys.executable, "-m", "numaopt", "fuzz", "-n", "2", "--seed", str(SEED), "--jobs", str(JOBS), "--no-shrink",
         "--out", str(out), *_options()],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("2 of 2 layouts done: 2 pass, 0 fail, 0 error, 0 skipped"), done.stdout
    lines = [json.loads(line) for line in (out / "journal.jsonl").read_text().splitlines() if line.strip()]
    header = lines[0]
    assert header["knobs"]["hmat"] == 1.0 and header["knobs"]["dimms"] == 1.0
    assert {line["verdict"] for line in lines if line.get("type") == "item"} == {"pass"}


def test_the_guest_shows_what_the_hmat_and_dimm_oracles_compare(kit: GuestKit) -> None:
    layout = _layouts()[0]
    result = boot(layout, kit)
    assert result.report is not None and result.report.complete
    assert judge(layout, result) == [] and judge_predictions(layout, result) == []
    tier = next(node for node in layout.nodes if not node.cpus)
    assert result.report.nodes[tier.node_id].initiators == (tier.initiator,)
    assert result.report.grown_kb  # the init onlined the DIMMs
    slower = tuple(
        dataclasses.replace(lb, value=lb.value + 1) if lb.is_latency and lb.target == tier.node_id else lb
        for lb in layout.hmat_lb
    )
    wrong = hmat_failures(dataclasses.replace(layout, hmat_lb=slower), result.report)
    assert {f.code for f in wrong} == {"hmat-performance"}
    moved = tuple(Dimm(1 - dimm.node, dimm.size_bytes) for dimm in layout.dimms)
    assert {f.code for f in dimm_failures(dataclasses.replace(layout, dimms=moved), result.report)} == {"dimm-memory"}
