"""Boot a layout: QEMU with the kit's ``-kernel/-initrd/-append``, watched for progress.

The QEMU arguments are the renderer's (``qemu_command``) plus the boot ones, so what
boots is exactly what ``numaopt solve`` prints. The serial console goes to a pipe (read
here, nothing written to disk) or to a file the caller names. The guest's init resets
the machine when its report is out and ``-no-reboot`` turns the reset into QEMU's exit;
``panic=-1`` does the same for a panic, so only a hang waits for a limit. A hang is a
guest that shows no progress for a while of its own time, not one that is merely slow
on a busy machine (``numaopt.guest.progress``).

QEMU runs in a session of its own and is killed and reaped whatever happens (normal
exit, timeout, error, Ctrl-C): the helper is ``numaopt.qemu.qmp``'s.
"""

from __future__ import annotations

import contextlib
import functools
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from numaopt.errors import QemuError
from numaopt.guest.kit import GuestKit
from numaopt.guest.progress import BootLimits, HostWait, Progress, ProgressSummary, boot_limits, default_quiet_s
from numaopt.guest.report import GuestReport, parse_report
from numaopt.model import GuestLayout, Machine
from numaopt.processes import pdeathsig_preexec
from numaopt.qemu.qmp import _reap, _refusal, debian_package
from numaopt.render.qemu import qemu_command
from numaopt.render.target import TCG_X86_CPU

__all__ = [
    "BOOT_APPEND",
    "X86_CPU", "BootLimits", "BootResult", "boot", "boot_argv", "choose_accel", "default_timeout", "kvm_usable"]

_CONSOLE = {"x86_64": "ttyS0", "aarch64": "ttyAMA0"}
# What every boot needs: sched_verbose prints the domains with their spans and groups;
# loglevel=6 puts the kernel's notices on the console while it boots (a sign of progress
# every second or so), and the guest's init lowers it to 4 before its report, so only
# errors share the console with the report (the full log is in the report); panic=-1
# resets at once on a panic; the ring buffer holds a 64-vCPU sched_verbose log.
BOOT_APPEND = ("sched_verbose", "loglevel=6", "panic=-1", "log_buf_len=4M")
# Only to boot faster under TCG (about 2x for 16 vCPUs); none touches NUMA or the scheduler.
_FAST_APPEND = {
    "x86_64": ("lpj=10000000", "tsc=reliable", "no_timer_check", "mitigations=off", "cryptomgr.notests", "8250.nr_uarts=1"),
    "aarch64": ("mitigations=off", "cryptomgr.notests"),
}
_KVM_INTERNAL = "KVM internal error"
# The x86 CPU model for boots: under TCG an Intel-vendor "max" (render.target.TCG_X86_CPU),
# whose family (15) is not one of the Intel models whose LLC may span nodes silently
# (SNC), so a split socket warns. Under KVM the host's CPU is used: there an Intel host
# may split sockets silently.
X86_CPU = {"tcg": TCG_X86_CPU, "kvm": "host"}
# TCG runs every vCPU of a boot on one host thread. With one thread per vCPU (QEMU's
# default for x86 and arm64 guests) a vCPU that translates code while another vCPU
# patches it can keep a stale translation: Debian's 6.1 then loops for ever on an int3
# that is no longer in memory (every vCPU at sched_clock_idle_wakeup_event+0, in
# exc_int3 and kprobe_int3_handler, after the late-boot static-key flip), about one
# boot in 60 with three 6-vCPU guests on 2 cores. That is the emulator's fault, not
# the layout's, and it was judged a hang. One thread cannot race with itself, and on a
# small host it is faster too (a 16-vCPU boot 7 s instead of 11 s; arm64 9 s, not 12 s).
_ACCEL_ARG = {"tcg": "tcg,thread=single", "kvm": "kvm"}


@functools.cache
def kvm_usable(arch: str = "x86_64") -> bool:
    """Whether KVM can run a guest of ``arch`` here.

    Needs the host to be ``arch``, ``/dev/kvm`` readable and writable and, on x86, the
    CPU's vmx or svm flag: a /dev/kvm without them (an emulated KVM) starts QEMU but
    stops the guest with "KVM internal error". ``NUMAOPT_ACCEL=tcg|kvm`` overrides.
    """
    forced = os.environ.get("NUMAOPT_ACCEL", "").strip().lower()
    if forced in ("tcg", "kvm"):
        return forced == "kvm"
    if os.uname().machine != arch or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    if arch != "x86_64":
        return True
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"vmx", "svm"})
    except OSError:
        return False
    return False


def choose_accel(arch: str, accel: str | None = None) -> str:
    """``accel`` if given, else kvm when ``kvm_usable(arch)``, else tcg."""
    if accel is not None:
        if accel not in ("kvm", "tcg"):
            raise ValueError(f"accel must be kvm or tcg, got {accel!r}")
        return accel
    return "kvm" if kvm_usable(arch) else "tcg"


def default_timeout(layout: GuestLayout, accel: str) -> float:
    """The default quiet limit: the guest's seconds without a console line before it counts as hung."""
    return default_quiet_s(layout, accel)


def _arch(layout: GuestLayout) -> str:
    return layout.machine.arch


def boot_argv(
    layout: GuestLayout,
    kit: GuestKit,
    accel: str,
    serial: str = "stdio",
    extra_append: Sequence[str] = (),
) -> list[str]:
    """The full QEMU command line that boots ``layout`` with ``kit`` (``serial``: stdio or file:PATH)."""
    arch = _arch(layout)
    if kit.arch != arch:
        raise ValueError(f"the kit is for {kit.arch}, the layout's machine {layout.machine.value} needs {arch}")
    append = [f"console={_CONSOLE[arch]}", *BOOT_APPEND, *_FAST_APPEND[arch], *extra_append]
    argv = qemu_command(layout)
    if layout.machine is Machine.VIRT:
        if accel == "kvm":
            argv = [("host" if arg == "max" and argv[i - 1] == "-cpu" else arg) for i, arg in enumerate(argv)]
        cpu: list[str] = []
    else:
        cpu = ["-cpu", X86_CPU[accel]]
    return [
        *argv,
        *cpu,
        "-accel",
        _ACCEL_ARG.get(accel, accel),
        "-display",
        "none",
        "-nodefaults",
        "-no-reboot",
        "-serial",
        serial,
        "-kernel",
        str(kit.kernel),
        "-initrd",
        str(kit.initrd),
        "-append",
        " ".join(append),
    ]


@dataclass(frozen=True, slots=True)
class BootResult:
    """One boot: what QEMU was given, what came out, and the parsed report (None: no report).

    ``timeout_s`` is the quiet limit; ``timed_out`` says the boot was stopped, for no
    progress or at the hard cap (``progress.verdict``).
    """

    argv: list[str]
    accel: str
    timeout_s: float
    wall_time_s: float
    timed_out: bool
    returncode: int | None
    console: str
    stderr: str
    report: GuestReport | None = None
    notes: tuple[str, ...] = field(default=())
    progress: ProgressSummary = field(default=ProgressSummary())

    @property
    def complete(self) -> bool:
        return self.report is not None and self.report.complete


def boot(
    layout: GuestLayout,
    kit: GuestKit,
    *,
    timeout_s: float | None = None,
    accel: str | None = None,
    serial_file: Path | None = None,
    extra_append: Sequence[str] = (),
    hard_cap_s: float | None = None,
) -> BootResult:
    """Boot ``layout`` and collect the console; never leaves QEMU running.

    ``timeout_s`` is the quiet limit (default ``default_timeout``): the guest's seconds
    without a console line after which it is hung; ``hard_cap_s`` bounds the whole boot
    in wall seconds (default ``progress.boot_limits``). Raises ``QemuRefused`` when QEMU
    rejects the configuration before the guest starts, and ``QemuError`` when the binary
    is missing or KVM cannot run the guest. A guest that hangs is no error: the result
    has ``timed_out`` set (the hang oracle judges it).
    """
    chosen = choose_accel(_arch(layout), accel)
    limits = boot_limits(layout, chosen, timeout_s, hard_cap_s)
    serial = "stdio" if serial_file is None else f"file:{serial_file}"
    argv = boot_argv(layout, kit, chosen, serial, extra_append)
    binary = argv[0]
    if shutil.which(binary) is None:
        package = debian_package(binary)
        raise QemuError(f"{binary} not found: install the Debian package {package} (apt-get install {package})")
    started = time.monotonic()
    try:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # Ctrl-C reaches only us; we kill QEMU's whole group
            preexec_fn=pdeathsig_preexec(),  # and QEMU dies with us even on SIGKILL
        )
    except OSError as exc:
        package = debian_package(binary)
        raise QemuError(f"cannot run {binary}: {exc.strerror} (install the Debian package {package})") from None
    progress = Progress(limits, started)
    try:
        out, err = _watch(process, progress, serial_file)
    finally:
        _reap(process, 0)
    wall = time.monotonic() - started
    summary = progress.summary()
    timed_out = bool(summary.verdict)
    stderr = err.decode(errors="replace")
    if serial_file is not None:
        try:
            console = serial_file.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            console = ""
    else:
        console = out.decode(errors="replace")
    if _KVM_INTERNAL in stderr:
        raise QemuError(
            f"KVM could not run the guest ({_KVM_INTERNAL}): this /dev/kvm does not work; use --accel tcg "
            "or NUMAOPT_ACCEL=tcg"
        )
    if not timed_out and process.returncode not in (0, None) and not console.strip():
        raise _refusal(stderr, argv, process.returncode)
    report = parse_report(console) if "@numaopt-report" in console else None
    return BootResult(
        argv=argv,
        accel=chosen,
        timeout_s=limits.quiet_s,
        wall_time_s=wall,
        timed_out=timed_out,
        returncode=process.returncode,
        console=console,
        stderr=stderr,
        report=report,
        progress=summary,
    )


# How often the boot looks at QEMU's threads and the clock when the console is silent.
_TICK_S = 0.25


def _watch(process: subprocess.Popen[bytes], progress: Progress, serial_file: Path | None) -> tuple[bytes, bytes]:
    """Read QEMU's output until it exits, feeding the console to ``progress``; kill QEMU on a verdict."""
    assert process.stdout is not None and process.stderr is not None
    chunks: dict[str, list[bytes]] = {"out": [], "err": []}
    host = HostWait(process.pid)
    console = _ConsoleFile(serial_file)
    with process.stdout, process.stderr, selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, "out")
        selector.register(process.stderr, selectors.EVENT_READ, "err")
        while selector.get_map():
            for key, _ in selector.select(timeout=_TICK_S):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fileobj)
                    continue
                chunks[key.data].append(data)
                if key.data == "out" and serial_file is None:
                    progress.feed(data, time.monotonic())
            progress.feed(console.read_new(), time.monotonic())
            now = time.monotonic()
            # At most one look at QEMU's threads per tick: the console can come in
            # thousands of small reads, and the guest needs the CPU more than we do.
            due = not progress.verdict and now - progress.ticked >= _TICK_S
            if due and progress.tick(now, host.waited(now - progress.ticked)):
                _kill(process)  # the pipes close with QEMU; the loop drains them
        console.close()
    return b"".join(chunks["out"]), b"".join(chunks["err"])


class _ConsoleFile:
    """The new bytes of a console QEMU writes to a file (``-serial file:``), as they come."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._handle: BinaryIO | None = None

    def read_new(self) -> bytes:
        if self._path is None:
            return b""
        if self._handle is None:
            try:
                self._handle = open(self._path, "rb")  # noqa: SIM115 - kept open across reads, closed by close()
            except OSError:
                return b""  # QEMU has not created it yet
        return self._handle.read()

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()


def _kill(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
