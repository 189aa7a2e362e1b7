"""-cpu and -smp threads: QEMU 7.2 warns "This family of AMD CPU doesn't support
hyperthreading" for an AMD-vendor CPU without topoext, and check says so in QEMU's words.

The cases are the ones measured with the real QEMU (docs/rules.md, #qemu-smt): under TCG
the vendor decides (topoext never reaches the guest); under KVM a named model takes the
host's vendor, so check can only speak for an AMD host. The qemu-marked test holds check's
verdict against QEMU's own stderr under TCG.
"""

from __future__ import annotations

import pytest

from numaopt.qemu.args import read_qemu_args, split_command
from numaopt.qemu.qmp import probe
from numaopt.rules import Severity

_SMP = "qemu-system-x86_64 -machine q35 -m 512M -smp 4,sockets=2,threads=2 "
# (extra arguments, does QEMU warn): under TCG, measured one by one with QEMU 7.2.
TCG_CASES = [
    ("", True),  # no -cpu: qemu64
    ("-cpu max", True),
    ("-cpu qemu64", True),
    ("-cpu EPYC", True),
    ("-cpu EPYC-Rome-v2", True),
    ("-cpu max,+topoext", True),  # TCG filters topoext out
    ("-cpu EPYC,topoext=on", True),
    ("-cpu Opteron_G5", True),
    ("-cpu phenom", True),
    ("-cpu Skylake-Server", False),
    ("-cpu Dhyana", False),  # HygonGenuine
    ("-cpu max,vendor=GenuineIntel", False),
    ("-cpu qemu64,vendor=GenuineIntel", False),
    ("-cpu Skylake-Server,vendor=AuthenticAMD", True),
    ("-cpu qemu64 -cpu Skylake-Server", False),  # the last -cpu wins
    ("-cpu Skylake-Server -cpu qemu64", True),
]
# Under KVM (measured on an AMD host with KVM): topoext decides; an Intel host never warns.
KVM_CASES = [
    ("-accel kvm -cpu qemu64", True),
    ("-accel kvm -cpu Skylake-Server", True),  # takes the AMD host's vendor
    ("-accel kvm -cpu EPYC", False),
    ("-enable-kvm -cpu Dhyana", False),
    ("-accel kvm -cpu EPYC,-topoext", True),
    ("-accel kvm -cpu EPYC,topoext=off", True),
    ("-accel kvm -cpu qemu64,+topoext", False),
    ("-accel kvm -cpu qemu64,topoext=on", False),
    ("-accel kvm -cpu EPYC,vendor=GenuineIntel", False),
    ("-machine q35,accel=kvm -cpu Skylake-Server,vendor=GenuineIntel", False),
    ("-accel kvm -cpu host", False),  # the host's CPU: topoext when the host has it
]


def smt_findings(text: str) -> list[str]:
    config = read_qemu_args(text)
    return [f.message for f in config.findings if f.code == "smt-amd-no-topoext"]


@pytest.mark.parametrize(("extra", "warns"), TCG_CASES + KVM_CASES)
def test_check_warns_as_qemu_does(extra: str, warns: bool) -> None:
    found = smt_findings(_SMP + extra)
    assert bool(found) == warns
    if warns:
        assert found[0].startswith(
            "This family of AMD CPU doesn't support hyperthreading(2) "
            "Please configure -smp options properly or try enabling topoext feature."
        )
        assert "thread_siblings_list of vCPU 0 is '0'" in found[0]


def test_one_thread_per_core_never_warns() -> None:
    assert smt_findings("qemu-system-x86_64 -machine q35 -m 512M -smp 4,sockets=2 -cpu qemu64") == []
    assert smt_findings("qemu-system-x86_64 -machine q35 -m 512M -smp 4,threads=1,cores=4") == []


def test_it_is_a_warning_with_the_thread_count() -> None:
    config = read_qemu_args("qemu-system-x86_64 -machine pc -m 512M -smp 8,sockets=2,threads=4 -cpu EPYC")
    found = [f for f in config.findings if f.code == "smt-amd-no-topoext"]
    assert [f.severity for f in found] == [Severity.WARNING]
    assert "hyperthreading(4)" in found[0].message
    assert found[0].fix is not None and "vendor=GenuineIntel" in found[0].fix


@pytest.mark.qemu
@pytest.mark.parametrize(("extra", "warns"), TCG_CASES)
def test_qemu_warns_when_check_does(extra: str, warns: bool) -> None:
    """The real QEMU 7.2, paused under TCG: its stderr has the warning exactly when check does."""
    readback = probe([*split_command(_SMP + extra), "-accel", "tcg"], timeout_s=60)
    qemu_warns = any("doesn't support hyperthreading(2)" in line for line in readback.warnings)
    assert qemu_warns == warns
    assert bool(smt_findings(_SMP + extra)) == qemu_warns
