"""Two kernels that really differ, fetched by the guest kit into its cache like the first
(each suite through an apt state of its own), compared through the command line on one
layout of 2 sockets x 2 dies: every oracle passes under both, and the comparison reports
exactly what differs, the die ids of the second socket (6.1 numbers dies within a
package, 6.7 and later machine-wide).

The 6.12 booted is bookworm-security's (linux-image-6.12-cloud-amd64, 6.12.118 when
written), not bookworm-backports' (6.12.95): under this QEMU 7.2's TCG the backports build
panicked in 3 of 6 boots of this layout (in do_sync_core, kmem_cache_alloc), 6.12.118 in
none of 5, and a suite test must not flake. The backports kernel is still fetched here.

6.12.118 did panic once since, in a fresh-clone suite run on a quiet machine ('Kernel panic
- not syncing: Fatal exception in interrupt', 1 of about 7 boots): a fault of that kernel
under TCG, not of the comparison under test. So a run whose only trouble is kernel B's
panic is tried again, at most three times in all; any other failure fails at once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from numaopt.guest.kit import build_kit, kernel_arch, load_kit

pytestmark = pytest.mark.qemu

# Item 0 of seed 37 with these knobs is a q35 layout of 2 nodes, -smp sockets=2,dies=2,cores=2,threads=1.
DIES_2X2 = ["fuzz", "-n", "1", "--seed", "37", "--nodes", "2", "--vcpus-per-node", "4", "--threads", "1",
            "--memory-per-node", "128MiB", "--memoryless", "0", "--cpuless", "0", "--family", "flat",
            "--sockets", "whole", "--no-shrink"]


def numaopt(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "numaopt", *map(str, args)], capture_output=True, text=True, timeout=900)


def test_backports_kernel_is_fetched_into_its_own_apt_state() -> None:
    kit = build_kit(arch="x86_64", suite="bookworm-backports")
    assert kit.kernel_release is not None and kit.kernel_release.startswith("6.12.")
    assert kit.kernel_source.startswith("debian linux-image-6.12.") and "bpo12" in kit.kernel_source
    assert kernel_arch(kit.kernel) == "x86_64"
    state = kit.kernel.parents[2] / "apt-amd64-bookworm-backports"
    assert (state / "sources.list").read_text() == (
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bookworm-backports main\n"
    )
    assert list((state / "sources.list.d").iterdir()) == []  # none of the host's sources
    assert build_kit(arch="x86_64", suite="bookworm-backports").kernel == kit.kernel  # cached: the same image
    assert load_kit().kernel != kit.kernel  # the default kit keeps its own kernel


def test_61_and_612_differ_exactly_in_die_ids_and_pass_every_oracle(tmp_path: Path) -> None:
    old = load_kit().kernel
    new = build_kit(arch="x86_64", suite="bookworm-security", package="linux-image-6.12-cloud-amd64").kernel
    assert new.name.startswith("vmlinuz-6.12.")
    for attempt in range(3):
        out = tmp_path / f"attempt-{attempt}"
        done = numaopt(*DIES_2X2, "--out", out, "--kernel", old, "--kernel", new)
        if not (done.returncode != 0 and _only_kernel_b_panicked(done.stdout)):
            break
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("1 of 1 layouts done: 1 pass, 0 fail")
    assert f"kernel A {old} and kernel B {new}: the guests differ on 0 of 1 layouts\n" in done.stdout
    assert done.stdout.endswith("what the guests show differs on 1 of 1 layouts: die ids (1)\n")
    item = json.loads((out / "journal.jsonl").read_text().splitlines()[1])
    assert item["label"] == "flat" and item["failures"] == []
    assert item["differences"] == ["die ids: CPUs 4-7 show 0 0 1 1 under A, 2 2 3 3 under B"]


def _only_kernel_b_panicked(summary: str) -> bool:
    """The campaign failed because kernel B panicked while kernel A passed."""
    return "kernel A: pass; kernel B: messages: no-report" in summary and "Kernel panic - not syncing" in summary
