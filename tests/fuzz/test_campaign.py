"""Campaigns with real boots: reproducers and shrinking (2 processes, at most one per core),
a campaign killed midway and resumed through the command line, and the same work on a
Dask LocalCluster (as many workers)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from numaopt.fuzz.executor import RunSettings, run_campaign
from numaopt.fuzz.items import WorkItem
from numaopt.fuzz.journal import read_journal
from numaopt.model import CpuShape, GuestLayout, GuestNode
from numaopt.problem import load_problem
from numaopt.rules import RuleSet
from numaopt.units import MIB

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
# Guests booted at once: two, but never more than the cores we may use.
BOOT_SLOTS = max(1, min(2, len(os.sched_getaffinity(0))))
APP = """
import sys, typer
from numaopt.cli.guest import fuzz_command
from numaopt.errors import NumaoptError
app = typer.Typer()
app.command("fuzz")(fuzz_command)
app.command("other")(lambda: None)
try:
    app(sys.argv[1:])
except NumaoptError as exc:
    print(f"numaopt: error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)
"""
FUZZ = ["fuzz", "-n", "4", "--seed", "11", "--nodes", "1-2", "--vcpus-per-node", "1", "--threads", "1",
        "--memory-per-node", "128MiB", "--memoryless", "0", "--cpuless", "0", "--families", "flat,none", "--sockets", "whole"]


def item(k: int, path: Path) -> WorkItem:
    layout = load_problem(path).layout
    assert layout is not None
    return WorkItem(k, f"test/{k}", layout, layout.rules, path.stem)


def tiny(k: int) -> WorkItem:
    layout = GuestLayout(vcpus=2, memory_bytes=256 * MIB, nodes=(GuestNode(0, (0,), 128 * MIB), GuestNode(1, (1,), 128 * MIB)),
                         shape=CpuShape(sockets=2), distances=[[10, 10 + k + 1], [10 + k + 1, 10]])
    return WorkItem(k, f"test/{k}", layout, RuleSet.LINUX_ACPI, "tiny")


def test_failures_get_reproducers_and_are_shrunk(tmp_path: Path) -> None:
    items = [item(0, ROOT / "problems" / "asymmetric.toml"), item(1, ROOT / "tests" / "data" / "guest-reports" / "backplane-3level.toml")]
    seen = []
    summary = run_campaign(items, tmp_path, {"test": "shrink"}, RunSettings(shrink_checks=4), total=2, jobs=BOOT_SLOTS,
                           on_result=lambda result, _: seen.append(result.item_id))
    assert sorted(seen) == [0, 1]
    assert summary.verdicts == {"pass": 1, "fail": 1} and summary.ran == 2 and summary.per_minute > 0
    assert summary.by_oracle == {"messages": 1, "sched": 1}
    _, records, _ = read_journal(tmp_path / "journal.jsonl")
    failed = next(r for r in records if r["verdict"] == "fail")
    assert failed["reproducer"] == "failures/item-000000"
    repro = tmp_path / failed["reproducer"]
    assert sorted(p.name for p in repro.iterdir()) == ["failures.json", "failures.txt", "guest-report.txt", "kernel.json",
                                                      "problem.toml", "qemu-args.txt", "reason.txt", "shrunk"]
    # Which kernel and QEMU it ran: the image's sha256, the release the guest printed.
    provenance = json.loads((repro / "kernel.json").read_text())
    [kernel] = provenance["kernels"]
    assert kernel["sha256"] == hashlib.sha256(Path(kernel["path"]).read_bytes()).hexdigest()
    assert kernel["release"] and kernel["release"] in (repro / "guest-report.txt").read_text()
    assert provenance["qemu"].startswith("QEMU emulator version ")
    assert json.loads((repro / "failures.json").read_text()) == failed["failures"]
    assert (repro / "reason.txt").read_text() == "messages: the guest kernel printed: ERROR: groups don't span domain->span\n"
    assert load_problem(repro / "problem.toml").layout == items[0].layout
    assert "-kernel" in (repro / "qemu-args.txt").read_text() and "@numaopt-report" in (repro / "guest-report.txt").read_text()
    # Shrunk while the same oracle still fails: fewer vCPUs, the same kernel error.
    small = load_problem(repro / "shrunk" / "problem.toml").layout
    assert small is not None and small.vcpus < 4
    assert failed["shrink_steps"] and (repro / "shrunk" / "steps.txt").read_text().splitlines() == failed["shrink_steps"]
    assert (repro / "shrunk" / "reason.txt").read_text().startswith("messages: the guest kernel printed: ERROR: groups")
    assert not [p for p in (tmp_path / "failures").iterdir() if p.name.startswith(".")]


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


def _items_done(journal: Path) -> list[int]:
    return [r["item"] for r in read_journal(journal)[1]]


def test_a_killed_campaign_resumes_without_redoing_or_losing_work(tmp_path: Path) -> None:
    out = tmp_path / "campaign"
    journal = out / "journal.jsonl"
    command = [sys.executable, "-c", APP, *FUZZ, "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(_items_done(journal)) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        qemu = _children(process.pid)
        os.kill(process.pid, signal.SIGKILL)  # a hard kill: nothing runs on the way out
        process.wait()
        before = _items_done(journal)
        assert 2 <= len(before) < 4, "the campaign ended before it could be killed"
        for pid in qemu:  # the machine "crashed": its QEMU goes too
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    kept = journal.read_bytes()
    # Resume: the same command and --resume. A different seed is refused.
    refused = subprocess.run([*command[:-2], "--out", str(out), "--resume", "--seed", "12"], capture_output=True, text=True)
    assert refused.returncode == 1 and "different campaign (differs in seed)" in refused.stderr
    resumed = subprocess.run([*command, "--resume"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode in (0, 4), resumed.stderr
    assert resumed.stdout.startswith("4 of 4 layouts done:")
    done = _items_done(journal)
    assert sorted(done) == [0, 1, 2, 3] and len(done) == 4  # nothing redone, nothing lost
    assert done[: len(before)] == before
    complete = kept[: kept.rfind(b"\n") + 1]
    assert journal.read_bytes().startswith(complete)
    ran = int(resumed.stdout.split("this run: ")[1].split()[0])
    assert ran == 4 - len(before)
    header = json.loads(journal.read_text().splitlines()[0])
    assert header["seed"] == 11 and header["count"] == 4 and header["shard"] == "0/1"


def test_dask_local_cluster(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=BOOT_SLOTS, threads_per_worker=1, processes=True,
                                   dashboard_address=":0") as cluster:  # any free port: two runs at once must not clash on 8787
        summary = run_campaign([tiny(0), tiny(1), tiny(2)], tmp_path, {"test": "dask"}, RunSettings(shrink=False), total=3,
                               dask_address=cluster.scheduler_address)
    assert summary.verdicts == {"pass": 3} and summary.ran == 3
    assert sorted(_items_done(tmp_path / "journal.jsonl")) == [0, 1, 2]
