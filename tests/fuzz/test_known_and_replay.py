"""Campaigns with real boots that report only what is new, replayed reproducers, and two
kernels compared. Tiny guests (2 nodes of 1 vCPU, 128 MiB each, no shrinking): the
asymmetric family gives a known failure (no scheduler domains) in a few seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.qemu

CAMPAIGN = ["fuzz", "-n", "3", "--seed", "1", "--nodes", "2", "--vcpus-per-node", "1", "--threads", "1",
            "--memory-per-node", "128MiB", "--memoryless", "0", "--cpuless", "0", "--family", "asymmetric,flat",
            "--sockets", "whole", "--no-shrink"]


def numaopt(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "numaopt", *map(str, args)], capture_output=True, text=True, timeout=600)


def test_a_second_campaign_with_the_first_ones_signatures_has_nothing_new_and_its_reproducer_replays(tmp_path: Path) -> None:
    known = tmp_path / "known.json"
    first = numaopt(*CAMPAIGN, "--out", tmp_path / "first", "--write-expect", known)
    assert first.returncode == 4, first.stderr
    assert "unique failure reasons:\n" in first.stdout and "x sched: no-domains" in first.stdout
    signatures = [entry["signature"] for entry in json.loads(known.read_text())["signatures"]]
    assert signatures == ["sched: no-domains (layout: q35, asymmetric)"]  # the failing items are the asymmetric ones

    second = numaopt(*CAMPAIGN, "--out", tmp_path / "second", "--expect", known, "--plot", tmp_path / "campaign.svg")
    assert second.returncode == 0, second.stdout + second.stderr
    picture = (tmp_path / "campaign.svg").read_text()
    assert "3 layouts booted" in picture and "family asymmetric" in picture and "sched: no-domains" in picture
    assert f"failing items: 0 new, 2 known (in {known})" in second.stdout
    assert "known failure signatures:\n     2 x sched: no-domains" in second.stdout
    assert "new failure signatures" not in second.stdout

    # The reproducer boots again under the recorded kernel (checked by sha256) and fails as recorded.
    repro = tmp_path / "first" / "failures" / "item-000000"
    replayed = numaopt("fuzz", "replay", repro)
    assert replayed.returncode == 4, replayed.stderr
    release = json.loads((repro / "kernel.json").read_text())["kernels"][0]["release"]
    assert replayed.stdout.startswith(f"booted {release} (sha256 ")
    assert replayed.stdout.endswith("the guest fails: sched: no-domains (layout: q35, asymmetric): as recorded\n")

    # Another image under the recorded path is refused, in one line, before anything boots.
    provenance = json.loads((repro / "kernel.json").read_text())
    provenance["kernels"][0]["sha256"] = "0" * 64
    (repro / "kernel.json").write_text(json.dumps(provenance))
    refused = numaopt("replay", repro)
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and f"{repro / 'kernel.json'}: kernels[0]: " in refused.stderr
    assert "is not the image this reproducer ran (sha256 differs); pass --kernel" in refused.stderr


def test_the_same_kernel_twice_differs_nowhere(tmp_path: Path) -> None:
    # The failing item of the campaign above fails the same way under both: no difference, exit 0.
    from numaopt.guest.kit import load_kit

    kernel = load_kit().kernel
    compared = numaopt(*CAMPAIGN[:2], "1", *CAMPAIGN[3:], "--out", tmp_path, "--kernel", kernel, "--kernel", kernel)
    assert compared.returncode == 0, compared.stdout + compared.stderr
    assert compared.stdout.startswith("1 of 1 layouts done: 1 pass, 0 fail")
    assert compared.stdout.endswith(f"kernel A {kernel} and kernel B {kernel}: the guests differ on 0 of 1 layouts\n"
                                    "what the guests show differs on 0 of 1 layouts\n")
    header = json.loads((tmp_path / "journal.jsonl").read_text().splitlines()[0])
    assert header["kernel"] == header["compare_kernel"] == str(kernel)


def test_bad_kernel_and_expect_options_are_one_line(tmp_path: Path) -> None:
    kernel = tmp_path / "bzImage"
    kernel.write_bytes(b"x")
    three = numaopt(*CAMPAIGN, "--out", tmp_path / "c", "--kernel", kernel, "--kernel", kernel, "--kernel", kernel)
    assert three.returncode == 2 and "expected once, or twice to compare two kernels" in three.stderr
    missing = numaopt(*CAMPAIGN, "--out", tmp_path / "c", "--expect", tmp_path / "none.json")
    assert missing.returncode == 1 and str(tmp_path / "none.json") in missing.stderr
    assert not (tmp_path / "c").exists()  # refused before the campaign starts
    for replay in (["fuzz", "replay"], ["replay"]):  # `numaopt replay` is the older name, kept
        nothing = numaopt(*replay, tmp_path)
        assert nothing.returncode == 1 and "no problem.toml here" in nothing.stderr
    mixed = numaopt("fuzz", "--count", "3", "replay", tmp_path)  # a campaign's options are not replay's
    assert mixed.returncode == 2 and mixed.stderr.count("\n") == 1
    assert "--count is a campaign option: numaopt fuzz replay takes none of them" in mixed.stderr
    uncounted = numaopt("fuzz", "--out", tmp_path / "c")
    assert uncounted.returncode == 2 and "Missing option '--count' / '-n'" in uncounted.stderr


def test_a_layout_qemu_refuses_records_the_qemu_version_and_replays_as_one_line(tmp_path: Path) -> None:
    from numaopt.fuzz.executor import RunSettings, run_campaign
    from numaopt.fuzz.items import WorkItem
    from numaopt.model import CpuShape, GuestLayout, GuestNode
    from numaopt.rules import RuleSet
    from numaopt.units import MIB

    layout = GuestLayout(vcpus=2, memory_bytes=256 * MIB, nodes=(GuestNode(0, (0,), 128 * MIB), GuestNode(1, (1,), 128 * MIB)),
                         shape=CpuShape(sockets=2), distances=[[10, 9], [9, 10]])  # QEMU refuses a distance under 10
    summary = run_campaign([WorkItem(0, "t/0", layout, RuleSet.QEMU, "tiny")], tmp_path, {"test": "refused"},
                           RunSettings(shrink=False), total=1)
    assert summary.verdicts == {"error": 1} and summary.new_items == 1
    repro = tmp_path / "failures" / "item-000000"
    provenance = json.loads((repro / "kernel.json").read_text())
    assert provenance["kernels"] == [] and provenance["qemu"].startswith("QEMU emulator version ")
    replayed = numaopt("fuzz", "replay", repro)
    assert replayed.returncode == 4 and replayed.stderr.count("\n") == 1
    assert "QEMU refused the configuration: -numa dist,src=0,dst=1,val=9" in replayed.stderr
