"""Time limits that count from the moment the command started, not from when the search did.

A user who writes ``time_limit = "5s"`` times the whole command: interpreter start-up,
imports, reading the problem and writing the plan included. ``deadline_for`` turns a
limit into a ``time.perf_counter()`` deadline that leaves room for the work after the search.
"""

from __future__ import annotations

import os
import time

AFTER_SEARCH_S = 0.15  # building, checking and writing the plan (measured: < 0.1 s at 64 nodes)


def overrun_allowed_s(time_limit_s: float) -> float:
    """How far past its limit a command may end and still keep its promise (docs/placement.md:
    wall clock <= limit + max(0.5 s, 10 %)). A step that must run after the deadline (a
    repair) takes at most half of it, so writing the plan still fits."""
    return max(0.5, 0.1 * time_limit_s)


def process_age_s() -> float:
    """Seconds since this process started (Linux /proc; 0 where that is not available)."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        with open("/proc/uptime", "rb") as uptime:
            now = float(uptime.read().split()[0])
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22 of stat: starttime in ticks
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, now - started)


def cpu_share() -> float:
    """The share of one CPU this process has had since it started: about 1 on an idle
    machine, 0.2 when others keep the CPUs busy (then the work after the search takes five
    times as long too). At least 0.05."""
    age = process_age_s()
    if age <= 0:
        return 1.0
    return min(1.0, max(0.05, time.process_time() / age))


def deadline_for(time_limit_s: float) -> float:
    """The ``perf_counter`` moment the search must stop for the command to keep its limit:
    the room left for the work after the search grows as this process's share of a CPU
    shrinks (measured on a loaded 2-core machine: 0.1 s of work took 0.5-1 s)."""
    return time.perf_counter() - process_age_s() + time_limit_s - AFTER_SEARCH_S / cpu_share()
