"""Child processes that die with numaopt, and SIGTERM taken like Ctrl-C.

numaopt starts worker processes (``generate --jobs``, ``fuzz --jobs``) and QEMU (``fuzz``,
``verify``, ``launch``). A parent that is killed with SIGKILL runs no cleanup, so each
child asks Linux to kill it when its parent goes: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``,
called through ctypes in the child (a worker's initializer, or ``preexec_fn`` between
fork and exec for QEMU). The setting survives ``exec`` of QEMU (it is cleared only for a
set-user-ID program, which QEMU is not).

Linux sends the signal when the *thread* that forked the child exits, not the process.
That is safe here because every QEMU is started, watched and reaped by one call
(``boot``, ``probe``, ``launch``) in one thread: the thread cannot end before its QEMU
has. Pool workers are started by the pool in the thread that made it.

The parent may die between the fork and the ``prctl``; the child then already has
another parent, so it compares ``getppid()`` with the parent it was started by and
kills itself if they differ.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = ["die_with_parent", "pdeathsig_preexec", "processes_with_env", "sigterm_as_interrupt"]

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@functools.cache
def _prctl() -> Any:
    """libc's prctl, looked up once in the parent (a forked child should only call it)."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


def die_with_parent(parent_pid: int, sig: int = signal.SIGKILL) -> None:
    """In a child of ``parent_pid``: be sent ``sig`` when the parent (thread) exits, and
    die at once if it already has. No-op off Linux."""
    prctl = _prctl()
    if prctl is None:
        return
    if prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGKILL)


def pdeathsig_preexec() -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess.Popen``: the program started dies with this process
    (with the calling thread: see the module's note)."""
    parent = os.getpid()
    _prctl()  # resolve libc's symbol here: between fork and exec only the call remains

    def preexec() -> None:
        die_with_parent(parent)

    return preexec


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C's KeyboardInterrupt so that the same cleanup runs."""


def _terminated(signum: int, frame: FrameType | None) -> None:
    # A second SIGTERM ends the process outright: an exception raised inside a callback
    # Python ignores errors of (an at-fork handler, __del__) is lost, and the stop with it.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    raise Terminated(signum)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within: SIGTERM raises ``Terminated`` (a KeyboardInterrupt) in the main thread, so a
    supervisor's stop unwinds like Ctrl-C: children are reaped, output is left consistent.
    Off the main thread (where Python cannot set handlers) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def processes_with_env(name: str, value: str) -> list[int]:
    """Live processes (zombies left out) whose environment holds ``name=value``, read from
    /proc. Every child inherits its parent's environment, so a variable set for one run
    finds all of its descendants, also after they were reparented (tests, benchmarks)."""
    wanted = f"{name}={value}".encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                state = handle.read().rsplit(b")", 1)[1].split()[0]
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read
        if state not in (b"Z", b"X") and wanted in environ:
            found.append(int(entry.name))
    return found
