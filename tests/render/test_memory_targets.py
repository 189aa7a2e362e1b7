"""Targets that cannot say what a layout's memory asks (DIMMs per node, HMAT values) refuse
it in one line instead of dropping it; libvirt and QEMU say it (test_libvirt.py, tests/qemu)."""

from __future__ import annotations

from pathlib import Path

import pytest

from numaopt.errors import LayoutError
from numaopt.render.cloud_hypervisor import cloud_hypervisor_command
from numaopt.render.proxmox import proxmox_config
from numaopt.render.target import Accel, VmOptions
from tests.support.problems import plan_for

ROOT = Path(__file__).resolve().parents[2]
CASES = {
    "hotplug/two-nodes-dimms.toml": "DIMMs per node (maxmem, slots, dimms)",
    "hmat/cxl-tier-hmat.toml": "HMAT latencies and caches",
}


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(("target", "render"), [("proxmox", proxmox_config), ("cloud-hypervisor", cloud_hypervisor_command)])
def test_proxmox_and_cloud_hypervisor_refuse_what_they_cannot_hold(name: str, target: str, render: object) -> None:
    plan = plan_for(ROOT / "tests" / "data" / name)
    with pytest.raises(LayoutError) as info:
        render(plan, VmOptions(accel=Accel.KVM))  # type: ignore[operator]
    message = str(info.value)
    assert message.startswith(f"--format {target}: {CASES[name]}") and "\n" not in message
