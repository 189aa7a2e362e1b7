"""Start QEMU for a plan and pin its vCPU threads: QEMU cannot pin vCPUs itself.

QEMU starts with the plan's arguments (memory already bound by the backends'
``host-nodes``/``policy=bind``), the vCPU thread ids are read over QMP
(``query-cpus-fast``), and each thread gets the host CPU the plan chose with
``os.sched_setaffinity``. QEMU then runs in the foreground; its exit code is returned.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from collections.abc import Callable
from types import FrameType
from typing import Any

from qemu.qmp import QMPClient

from numaopt.errors import QemuError
from numaopt.model import Plan
from numaopt.processes import pdeathsig_preexec
from numaopt.qemu.qmp import _connect, _reap, _socket_dir, debian_package
from numaopt.render.qemu import qemu_command


def _pin(thread_ids: dict[int, int], plan: Plan) -> list[tuple[int, int, int]]:
    """Pin each vCPU thread; returns (vCPU, thread id, host CPU)."""
    done = []
    available = os.sched_getaffinity(0)
    for vcpu, host_cpu in plan.vcpu_to_host_cpu:
        if vcpu not in thread_ids:
            raise QemuError(f"QEMU reported no thread for vCPU {vcpu}")
        if host_cpu not in available:
            raise QemuError(
                f"vCPU {vcpu} is planned on host CPU {host_cpu}, which this machine does not offer "
                f"(allowed CPUs: {sorted(available)}): was the plan made for another host?"
            )
        os.sched_setaffinity(thread_ids[vcpu], {host_cpu})
        done.append((vcpu, thread_ids[vcpu], host_cpu))
    return done


async def _thread_ids(process: subprocess.Popen[bytes], socket_path: str, timeout_s: float) -> dict[int, int] | None:
    async with asyncio.timeout(timeout_s):
        client: QMPClient | None = await _connect(process, socket_path)
        if client is None:
            return None
        try:
            cpus: list[dict[str, Any]] = await client.execute("query-cpus-fast")  # type: ignore[assignment]
        finally:
            await client.disconnect()
    return {int(cpu["cpu-index"]): int(cpu["thread-id"]) for cpu in cpus}


def launch(
    plan: Plan,
    extra_args: list[str],
    on_pinned: Callable[[list[tuple[int, int, int]]], None] = lambda pinned: None,
    timeout_s: float = 30.0,
) -> int:
    """Run QEMU for ``plan`` with ``extra_args``, pin its vCPUs, wait for it; its exit code."""
    argv = qemu_command(plan)
    binary = argv[0]
    if shutil.which(binary) is None:
        package = debian_package(binary)
        raise QemuError(f"{binary} not found: install the Debian package {package} (apt-get install {package})")
    directory = _socket_dir()
    socket_path = os.path.join(directory, "qmp.sock")
    full = [*argv, *extra_args, "-chardev", f"socket,id=numaopt-launch,path={socket_path},server=on,wait=off", "-mon", "chardev=numaopt-launch,mode=control"]
    # QEMU runs in its own session; our signals are forwarded so that Ctrl-C or a TERM
    # stops the VM and nothing is left behind.
    # PDEATHSIG: the VM goes with numaopt even when numaopt is killed with SIGKILL.
    process = subprocess.Popen(full, stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=pdeathsig_preexec())

    def forward(signum: int, _frame: FrameType | None) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if plan.vcpu_to_host_cpu:
            try:
                ids = asyncio.run(_thread_ids(process, socket_path, timeout_s))
            except TimeoutError:
                raise QemuError(f"{binary} did not answer QMP within {timeout_s:g} s") from None
            if ids is None:
                raise QemuError(f"{binary} exited with status {process.returncode} before its vCPUs could be pinned")
            on_pinned(_pin(ids, plan))
        return process.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _reap(process, 5.0)
        shutil.rmtree(directory, ignore_errors=True)
