"""Process hygiene with real processes: numaopt killed with SIGKILL (no cleanup runs) or
stopped with SIGTERM leaves no worker, resource tracker or QEMU behind, and a resumed run
ends as an uninterrupted one. Every process a run starts inherits a marker in its
environment, so its descendants are found in /proc even after they were reparented."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from numaopt.fuzz.journal import read_journal
from numaopt.processes import processes_with_env

ROOT = Path(__file__).resolve().parent.parent
TAG = "NUMAOPT_TEST_RUN"
GENERATE = ["generate", "--count", "4000", "--seed", "17", "--jobs", "2", "--quiet"]
# Tiny guests (1-2 nodes of one vCPU) so that boots are short; 2 at once at most.
FUZZ = ["fuzz", "-n", "4", "--seed", "11", "--nodes", "1-2", "--vcpus-per-node", "1", "--threads", "1",
        "--memory-per-node", "128MiB", "--memoryless", "0", "--cpuless", "0", "--families", "flat,none",
        "--sockets", "whole", "--no-shrink", "--jobs", str(max(1, min(2, len(os.sched_getaffinity(0)))))]
SMALL = '[guest]\nvcpus = 2\nmemory = "256MiB"\nnodes = [ { cpus = "0" }, { cpus = "1" } ]\n'


class Run:
    """``python -m numaopt ARGS`` with a marker in its environment. Its output goes to files,
    not pipes: a child that outlived it would hold a pipe open and hang the reader."""

    def __init__(self, logs: Path, *args: str) -> None:
        self.tag = uuid.uuid4().hex
        logs.mkdir(parents=True, exist_ok=True)
        self.out, self.err = logs / f"{self.tag}.out", logs / f"{self.tag}.err"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen([sys.executable, "-m", "numaopt", *args], cwd=ROOT,
                                            env={**os.environ, TAG: self.tag}, stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def finish(self, limit_s: float = 900) -> tuple[int, str, str]:
        """Wait for it to end: (exit status, stdout, stderr)."""
        status = self.process.wait(timeout=limit_s)
        return status, self.out.read_text(), self.err.read_text()

    def family(self) -> list[int]:
        """numaopt and every process it started that is still alive."""
        return processes_with_env(TAG, self.tag)

    def qemus(self) -> list[int]:
        return [pid for pid in self.family() if _comm(pid).startswith("qemu-system")]

    def wait_for(self, ready: Callable[[], bool], what: str, limit_s: float = 300) -> None:
        deadline = time.monotonic() + limit_s
        while not ready():
            assert self.process.poll() is None, f"numaopt ended before {what}: {self.err.read_text()}"
            assert time.monotonic() < deadline, f"no {what} within {limit_s} s"
            time.sleep(0.05)

    def stop(self, sig: signal.Signals) -> tuple[int, str, str]:
        """Send ``sig``; (exit status, stdout, stderr)."""
        self.process.send_signal(sig)
        return self.finish(120)

    def survivors(self, grace_s: float = 5.0) -> list[str]:
        """What of the run is still alive ``grace_s`` after it ended (the kernel delivers the
        parent-death signals at once; the resource tracker exits on the EOF that follows)."""
        deadline = time.monotonic() + grace_s
        while self.family() and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [f"{pid} {_comm(pid)}" for pid in self.family()]
        for pid in self.family():  # do not leave them to the next test
            os.kill(pid, signal.SIGKILL)
        return left


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def _is_resource_tracker(pid: int) -> bool:
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def _tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _temporaries(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob(".*")]


def _index_lines(index: Path) -> int:
    try:
        return index.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("generate") / "batch"
    status, _, err = Run(out.parent / "logs", *GENERATE, "--out", str(out)).finish()
    assert status == 0, err
    return _tree(out)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_stopped_generate_leaves_no_process_and_resumes_byte_identical(
    tmp_path: Path, uninterrupted: dict[str, bytes], sig: signal.Signals
) -> None:
    out = tmp_path / "batch"
    run = Run(tmp_path / "logs", *GENERATE, "--out", str(out))
    # Stop it mid-batch: its two workers (and the resource tracker) running, layouts written.
    run.wait_for(lambda: _index_lines(out / "index.jsonl") > 200 and len(run.family()) >= 4, "workers and 200 layouts")
    status, _, err = run.stop(sig)
    assert status == (-signal.SIGKILL if sig is signal.SIGKILL else 130), err
    if sig is signal.SIGTERM:
        assert "Traceback" not in err
        # The resource tracker ends on the EOF its parent's exit sends, a moment later:
        # survivors() below gives it that moment; the workers must be gone already.
        workers = [pid for pid in run.family() if not _is_resource_tracker(pid)]
        assert not workers, "SIGTERM: numaopt exited before its workers were gone"
    assert run.survivors() == []
    assert b'"record": "coverage"' not in (out / "index.jsonl").read_bytes(), "the batch ended before it was stopped"
    status, _, err = Run(tmp_path / "logs", *GENERATE, "--out", str(out)).finish()
    assert status == 0, err
    assert _temporaries(out) == []
    assert _tree(out) == uninterrupted


@pytest.mark.qemu
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_stopped_fuzz_campaign_leaves_no_qemu_and_resumes_without_loss(tmp_path: Path, sig: signal.Signals) -> None:
    out = tmp_path / "campaign"
    run = Run(tmp_path / "logs", *FUZZ, "--out", str(out))
    run.wait_for(lambda: bool(run.qemus()), "QEMU running")
    status, summary, err = run.stop(sig)
    assert status == (-signal.SIGKILL if sig is signal.SIGKILL else 130), err
    if sig is signal.SIGTERM:
        assert "interrupted: continue with the same command and --resume" in summary and "Traceback" not in err
    assert run.survivors() == []
    before = [r["item"] for r in read_journal(out / "journal.jsonl")[1]]
    assert len(before) < 4, "the campaign ended before it was stopped"
    resumed = Run(tmp_path / "logs", *FUZZ, "--out", str(out), "--resume")
    status, _, err = resumed.finish()
    assert status in (0, 4), err
    items = [r["item"] for r in read_journal(out / "journal.jsonl")[1]]
    assert sorted(items) == [0, 1, 2, 3] and items[: len(before)] == before  # none lost, none twice
    assert _temporaries(out) == []
    assert resumed.survivors() == []


@pytest.mark.qemu
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_stopped_verify_takes_its_qemu_along(tmp_path: Path, sig: signal.Signals) -> None:
    problem = tmp_path / "small.toml"
    problem.write_text(SMALL)
    run = Run(tmp_path / "logs", "verify", str(problem), "--boot", "--console", str(tmp_path / "console.txt"))
    # The boot's QEMU (level 1's paused QEMU comes and goes first): the console file has begun.
    run.wait_for(lambda: bool(run.qemus()) and (tmp_path / "console.txt").exists(), "the guest booting")
    status, _, err = run.stop(sig)
    assert status == (-signal.SIGKILL if sig is signal.SIGKILL else 130), err
    assert run.survivors() == []


@pytest.mark.qemu
def test_a_killed_launch_takes_its_vm_along(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    solved = subprocess.run([sys.executable, "-m", "numaopt", "solve", str(ROOT / "problems" / "seed-4node.toml"), "-q",
                             "-f", "json", "-o", str(plan)], cwd=ROOT, capture_output=True, text=True)
    assert solved.returncode == 0, solved.stderr
    run = Run(tmp_path / "logs", "launch", str(plan), "--", "-S", "-display", "none", "-nodefaults", "-accel", "tcg")
    run.wait_for(lambda: bool(run.qemus()), "QEMU running")
    status, _, _ = run.stop(signal.SIGKILL)
    assert status == -signal.SIGKILL
    assert run.survivors() == []


def _dead_pid() -> int:
    dead = subprocess.Popen(["true"])
    dead.wait()
    return dead.pid


def test_resuming_removes_what_a_killed_run_was_writing(tmp_path: Path) -> None:
    from numaopt.fuzz.executor import RunSettings, run_campaign
    from numaopt.generate import Knobs, resolve, write_batch

    space = resolve(Knobs())
    batch = tmp_path / "batch"
    write_batch(space, 5, batch, 10, jobs=1)
    half_file = batch / f".layout-000003.toml.{_dead_pid()}-0123abcd.tmp"
    half_file.write_text("half a layout")
    write_batch(space, 5, batch, 12, jobs=1)  # resumed, with more layouts
    assert _temporaries(batch) == []

    campaign = tmp_path / "campaign"
    run_campaign([], campaign, {"test": "stale"}, RunSettings(), total=0)
    half_reproducer = campaign / "failures" / f".item-000001.{_dead_pid()}-89abcdef.tmp"
    (half_reproducer / "shrunk").mkdir(parents=True)
    run_campaign([], campaign, {"test": "stale"}, RunSettings(), total=0, resume=True)
    assert _temporaries(campaign) == []
