"""Slow or hung: the progress clock on made-up consoles and clocks (the real boots are in test_guest_boot)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from numaopt.guest.progress import HARD_CAP_MIN_S, BootLimits, HostWait, Progress, boot_limits, default_quiet_s
from numaopt.model import CpuShape, GuestLayout, GuestNode
from numaopt.units import MIB

LIMITS = BootLimits(quiet_s=10.0, hard_cap_s=100.0)


def layout(vcpus: int) -> GuestLayout:
    return GuestLayout(vcpus=vcpus, memory_bytes=256 * MIB, nodes=(GuestNode(0, tuple(range(vcpus)), 256 * MIB),),
                       shape=CpuShape(cores=vcpus))


def test_silence_of_the_quiet_limit_is_a_hang() -> None:
    progress = Progress(LIMITS, started=0.0)
    progress.feed(b"[    0.1] Linux version 6.1\r\n", 1.0)
    assert progress.tick(5.0, 0.0) == ""
    assert progress.tick(10.9, 0.0) == ""  # 9.9 s since the line
    assert progress.tick(11.0, 0.0) == "no-progress"
    assert progress.tick(11.5, 0.0) == "no-progress"  # a verdict is final
    summary = progress.summary()
    assert (summary.verdict, summary.lines, summary.last_progress_s) == ("no-progress", 1, 1.0)


def test_output_that_keeps_coming_moves_the_deadline() -> None:
    progress = Progress(LIMITS, started=0.0)
    for second in range(1, 60):
        progress.feed(f"@sys line {second}\n".encode(), second - 0.5)
        assert progress.tick(float(second), 0.0) == ""
    assert progress.summary().quiet_for_s == pytest.approx(0.5)


def test_time_spent_waiting_for_a_host_cpu_is_not_silence() -> None:
    progress = Progress(LIMITS, started=0.0)
    for second in range(1, 40):
        assert progress.tick(float(second), 0.8) == ""  # QEMU ran 0.2 s of every second
    assert progress.summary().quiet_for_s == pytest.approx(39 * 0.2)
    assert progress.summary().waited_s == pytest.approx(39 * 0.8)
    assert progress.tick(45.0, 3.0) == "no-progress"  # 7.8 + 3 s of the guest's own time


def test_only_whole_lines_count_and_blank_ones_do_not() -> None:
    progress = Progress(LIMITS, started=0.0)
    progress.feed(b"[    0.1] half a li", 1.0)
    progress.feed(b"\r\n\r\n   \r\n", 2.0)
    assert progress.summary().lines == 1 and progress.summary().last_progress_s == 2.0


def test_after_a_lockup_only_the_init_counts() -> None:
    progress = Progress(LIMITS, started=0.0)
    progress.feed(b"@stage read-sysfs\n", 1.0)
    progress.feed(b"[   30.1] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [grep:77]\r\n", 5.0)
    progress.feed(b"[   30.1] Call Trace:\r\n[   30.1]  <TASK>\r\n", 6.0)  # the trace repeats forever
    assert progress.tick(11.0, 0.0) == "no-progress"
    summary = progress.summary()
    assert (summary.stage, summary.kernel_hang, summary.last_progress_s) == ("read-sysfs", True, 1.0)
    progress = Progress(LIMITS, started=0.0)
    progress.feed(b"[   21.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:\n", 1.0)
    progress.feed(b"@sys /sys/devices/system/node/online:0-1\n", 9.0)  # the init goes on: slow, not hung
    assert progress.tick(12.0, 0.0) == "" and progress.summary().kernel_hang


def test_the_hard_cap_ends_a_boot_whatever_it_prints() -> None:
    progress = Progress(BootLimits(quiet_s=10.0, hard_cap_s=30.0), started=0.0)
    for second in range(1, 30):
        progress.feed(b"[    1.0] still printing\n", float(second))
        assert progress.tick(float(second), 0.0) == ""
    progress.feed(b"[    1.0] still printing\n", 30.0)
    assert progress.tick(30.0, 0.0) == "hard-cap"


def test_default_limits() -> None:
    assert default_quiet_s(layout(16), "tcg") == 46.0
    assert default_quiet_s(layout(16), "kvm") == 24.0
    assert boot_limits(layout(16), "tcg") == BootLimits(46.0, HARD_CAP_MIN_S)
    assert boot_limits(layout(64), "tcg", quiet_s=100.0) == BootLimits(100.0, 1000.0)
    assert boot_limits(layout(2), "tcg", 5.0, 20.0) == BootLimits(5.0, 20.0)
    with pytest.raises(ValueError, match="boot limits must be positive"):
        BootLimits(0.0, 10.0)


def _state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]


def test_host_wait_of_a_sleeping_process_and_of_one_gone() -> None:
    with subprocess.Popen([sys.executable, "-c", "import time; print(flush=True); time.sleep(60)"],
                          stdout=subprocess.PIPE) as process:
        try:
            assert process.stdout is not None and process.stdout.readline() == b"\n"
            while _state(process.pid) != "S":
                time.sleep(0.01)
            host = HostWait(process.pid)
            time.sleep(0.2)
            assert host.sample(0.2) == (0.0, 0.0)  # asleep: it neither ran nor waited
        finally:
            process.kill()
    assert HostWait(process.pid).sample(1.0) == (0.0, 0.0)  # reaped: /proc has nothing, nothing is discounted
