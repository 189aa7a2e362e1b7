"""numaopt launch: the real QEMU (TCG) starts, and its vCPU threads run where the plan says."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from numaopt.model import Group, HostNode, HostTopology, PlacementRequest, Workload
from numaopt.render.json import plan_to_json
from numaopt.solver.place import place

pytestmark = pytest.mark.qemu


def allowed_cpus(pid: int, tid: int) -> str:
    for line in Path(f"/proc/{pid}/task/{tid}/status").read_text().splitlines():
        if line.startswith("Cpus_allowed_list:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError("no Cpus_allowed_list")


def test_launch_pins_each_vcpu_thread(tmp_path: Path) -> None:
    cpus = tuple(sorted(os.sched_getaffinity(0)))
    host = HostTopology((HostNode(0, cpus, 4 << 30, 2 << 30),), [[10]])
    vcpus = min(len(cpus), 4)
    plan = place(PlacementRequest(host, Workload((Group("vm", vcpus, 256 << 20, split=True),))))
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan_to_json(plan))
    process = subprocess.Popen(
        [sys.executable, "-m", "numaopt", "launch", str(plan_path), "--", "-S", "-display", "none", "-nodefaults", "-accel", "tcg"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        assert process.stderr is not None
        while len(lines) < vcpus:
            line = process.stderr.readline()
            assert line, f"numaopt launch ended early: {lines}"
            lines.append(line.strip())
        qemu = int(subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True, check=True).stdout.split()[0])
        planned = dict(plan.vcpu_to_host_cpu)
        for line in lines:
            # pinned vCPU 0 (thread 6951) to host CPU 0
            words = line.split()
            vcpu, thread, host_cpu = int(words[2]), int(words[4].rstrip(")")), int(words[-1])
            assert planned[vcpu] == host_cpu
            assert allowed_cpus(qemu, thread) == str(host_cpu)
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    deadline = time.time() + 5
    while time.time() < deadline and Path(f"/proc/{qemu}").exists():
        time.sleep(0.05)
    assert not Path(f"/proc/{qemu}").exists(), "QEMU was left running"


def test_launch_refuses_a_plan_for_cpus_this_machine_lacks(tmp_path: Path) -> None:
    host = HostTopology((HostNode(0, (4000, 4001), 4 << 30, 2 << 30),), [[10]])
    plan = place(PlacementRequest(host, Workload((Group("vm", 2, 256 << 20),))))
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan_to_json(plan).replace('"host_nodes": "0"', '"host_nodes": ""'))
    result = subprocess.run(
        [sys.executable, "-m", "numaopt", "launch", str(plan_path), "--", "-S", "-display", "none", "-nodefaults", "-accel", "tcg"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 4
    assert "host CPU 4000, which this machine does not offer" in result.stderr
    assert "Traceback" not in result.stderr
