"""Slow or hung: when a boot counts as a hang.

A guest under TCG on a busy machine can be many times slower than on an idle one, so a
fixed deadline calls slow guests hung. A boot is judged by its progress instead:

* **progress** is a new console line: the kernel's (it boots with ``loglevel=6``, so its
  notices come out while it starts) or the init's (every step of the report begins
  with an ``@stage`` line). Once the kernel reports a lockup or a stall, only the init's
  lines count: a stuck kernel repeats its lockup report (with a call trace) forever;
* **the clock** that measures silence is the guest's own time: wall time minus the time
  QEMU's threads waited for a host CPU (``/proc/PID/task/*/schedstat``) and minus the
  time the hypervisor stole from this machine (``/proc/stat``). A guest that waits for a
  CPU is slow, not hung; a guest that sleeps or spins with nothing to show is hung;
* **hang** (``no-progress``): ``quiet_s`` seconds on that clock without progress;
* **hard cap** (``hard-cap``): a wall-clock limit however much comes out, for a guest
  that prints forever or is starved without end.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from numaopt.model import GuestLayout

__all__ = [
    "HARD_CAP_FACTOR",
    "HARD_CAP_MIN_S",
    "BootLimits",
    "HostWait",
    "Progress",
    "ProgressSummary",
    "boot_limits",
    "default_quiet_s",
]

# The hard cap: this many quiet limits, and never less than this (a healthy 64-vCPU TCG
# boot takes about 20 s on an idle 2-core machine; the cap is for guests that never end).
HARD_CAP_FACTOR = 10.0
HARD_CAP_MIN_S = 600.0
# The kernel's own hang reports (kernel/watchdog.c, kernel/rcu/tree_stall.h, kernel/hung_task.c).
_KERNEL_HANG = re.compile(r"soft lockup|hard LOCKUP|detected stalls|self-detected stall|blocked for more than \d+ seconds")
_STAGE = re.compile(rb"^@stage (\S+)")


def default_quiet_s(layout: GuestLayout, accel: str) -> float:
    """Seconds of the guest's time without a console line before a boot is hung.

    Idle 2-core machine, TCG: the longest silence is under 1 s for 16 vCPUs and under
    5 s for 64 (the kernel bringing up CPUs, the init reading sysfs); the limit is far
    above that because it costs only a real hang's time.
    """
    if accel == "kvm":
        return 20.0 + 0.25 * layout.vcpus
    return 30.0 + 1.0 * layout.vcpus


@dataclass(frozen=True, slots=True)
class BootLimits:
    """``quiet_s``: the guest's seconds without progress that make a hang; ``hard_cap_s``: wall seconds at most."""

    quiet_s: float
    hard_cap_s: float

    def __post_init__(self) -> None:
        if not (self.quiet_s > 0 and self.hard_cap_s > 0):
            raise ValueError(f"boot limits must be positive, got quiet {self.quiet_s!r} s, cap {self.hard_cap_s!r} s")


def boot_limits(layout: GuestLayout, accel: str, quiet_s: float | None = None, hard_cap_s: float | None = None) -> BootLimits:
    """The limits of one boot: the given ones, else the defaults (the cap follows the quiet limit)."""
    quiet = quiet_s if quiet_s is not None else default_quiet_s(layout, accel)
    cap = hard_cap_s if hard_cap_s is not None else max(HARD_CAP_MIN_S, HARD_CAP_FACTOR * quiet)
    return BootLimits(quiet, cap)


@dataclass(frozen=True, slots=True)
class ProgressSummary:
    """How a boot progressed: the verdict ("" ended by itself, "no-progress", "hard-cap") and why."""

    limits: BootLimits = BootLimits(1.0, 1.0)
    verdict: str = ""
    quiet_for_s: float = 0.0  # the guest's seconds since its last progress, at the end
    last_progress_s: float = 0.0  # wall seconds into the boot of the last progress
    waited_s: float = 0.0  # wall seconds not counted: QEMU waited for a host CPU (or time was stolen)
    lines: int = 0  # console lines that counted as progress
    stage: str = ""  # the last "@stage" the guest's init announced
    kernel_hang: bool = False  # the kernel reported a lockup or stall


class HostWait:
    """How much of an interval QEMU could not run: its threads' runqueue waits and stolen time.

    Each of QEMU's threads reports the nanoseconds it ran and waited in a runqueue
    (``/proc/PID/task/TID/schedstat``). The kernel adds a wait only when it ends, so a
    thread that is runnable now (state R) counts as having waited for the part of the
    interval it did not run; the larger of the two estimates is taken (counting a wait
    twice only makes a slow guest look slower, never hung). Over an interval of ``d``
    seconds the sums give ``r`` and ``w``; threads wait side by side, so ``w`` can exceed
    ``d``: the share of runnable time spent waiting, ``w / (r + w)``, scales ``d``, and
    ``w`` itself bounds it (a mostly idle guest with a few short waits is not starved).
    Without /proc (or for a process already gone) nothing is discounted.
    """

    def __init__(self, pid: int) -> None:
        self._tasks = Path(f"/proc/{pid}/task")
        self._per_task: dict[str, tuple[int, int]] = {}
        self._steal = _steal_sample()
        self.sample(0.0)

    def sample(self, interval_s: float) -> tuple[float, float]:
        """(ran, waited) seconds summed over the threads in the last ``interval_s`` seconds."""
        ran = waited = 0.0
        try:
            names = os.listdir(self._tasks)
        except OSError:
            return 0.0, 0.0
        for name in names:
            with contextlib.suppress(OSError, ValueError, IndexError):
                fields = (self._tasks / name / "schedstat").read_text().split()
                runnable = (self._tasks / name / "stat").read_text().rpartition(")")[2].split()[0] == "R"
                now = (int(fields[0]), int(fields[1]))
                before = self._per_task.get(name, now)
                thread_ran = max(0, now[0] - before[0]) / 1e9
                ended_waits = max(0, now[1] - before[1]) / 1e9
                ran += thread_ran
                waited += max(ended_waits, interval_s - thread_ran if runnable else 0.0)
                self._per_task[name] = now
        return ran, waited

    def waited(self, interval_s: float) -> float:
        """Seconds of ``interval_s`` (since the last call) in which QEMU could not run."""
        ran, waited = self.sample(interval_s)
        starved = min(interval_s * waited / (ran + waited), waited) if ran + waited > 0 else 0.0
        steal = _steal_sample()
        stolen_share = _share(self._steal, steal)
        self._steal = steal
        return min(interval_s, starved + (interval_s - starved) * stolen_share)


def _steal_sample() -> tuple[int, int]:
    """(stolen, all) jiffies of every CPU of this machine (the "cpu" line of /proc/stat)."""
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    steal = values[7] if len(values) > 7 else 0
    return steal, sum(values[:8])


def _share(before: tuple[int, int], after: tuple[int, int]) -> float:
    total = after[1] - before[1]
    return min(1.0, max(0.0, (after[0] - before[0]) / total)) if total > 0 else 0.0


class Progress:
    """The progress of one boot: fed with console bytes and the host's waits, asked for a verdict."""

    def __init__(self, limits: BootLimits, started: float) -> None:
        self.limits = limits
        self._started = started
        self._ticked = started
        self._last = started
        self._quiet_for = 0.0
        self._waited = 0.0
        self._partial = b""
        self._lines = 0
        self._stage = ""
        self._kernel_hang = False
        self.verdict = ""  # set for good by the first tick that finds a hang

    @property
    def ticked(self) -> float:
        """When ``tick`` last ran (the start of the next interval)."""
        return self._ticked

    def feed(self, data: bytes, now: float) -> None:
        """Console bytes as they arrive; each complete line may count as progress."""
        *complete, self._partial = (self._partial + data).split(b"\n")
        for raw in complete:
            line = raw.strip()
            if not line:
                continue
            if line.startswith(b"@"):
                if match := _STAGE.match(line):
                    self._stage = match.group(1).decode(errors="replace")
            elif self._kernel_hang or _KERNEL_HANG.search(line.decode(errors="replace")):
                self._kernel_hang = True
                continue
            self._lines += 1
            self._quiet_for = 0.0
            self._last = now

    def tick(self, now: float, waited_s: float) -> str:
        """Advance the guest's clock to ``now`` (``waited_s`` of it QEMU could not run); the verdict so far."""
        interval = max(0.0, now - self._ticked)
        waited = min(interval, max(0.0, waited_s))
        if interval > 0:
            # Only the part of the interval after the last line is silence; QEMU's waits
            # are taken as spread evenly over the interval.
            silent = now - max(self._ticked, self._last)
            self._quiet_for += max(0.0, silent) * (1.0 - waited / interval)
        self._ticked = now
        self._waited += waited
        if not self.verdict and self._quiet_for >= self.limits.quiet_s:
            self.verdict = "no-progress"
        elif not self.verdict and now - self._started >= self.limits.hard_cap_s:
            self.verdict = "hard-cap"
        return self.verdict

    def summary(self) -> ProgressSummary:
        return ProgressSummary(
            limits=self.limits,
            verdict=self.verdict,
            quiet_for_s=self._quiet_for,
            last_progress_s=self._last - self._started,
            waited_s=self._waited,
            lines=self._lines,
            stage=self._stage,
            kernel_hang=self._kernel_hang,
        )
