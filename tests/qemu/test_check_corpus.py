"""``check --rules qemu`` against the real QEMU 7.2 on NUMA command lines others wrote.

The corpus (tests/data/qemu-corpus/) holds command lines from libvirt's test suite
(tests/qemuxmlconfdata, tests/qemuxml2argvdata) and QEMU's own tests (tests/qtest/numa-test.c,
bios-tables-test.c), reduced to what runs on one host; manifest.json keeps each line's
repository, path and commit, how it was reduced, and what QEMU 7.2 did with it: accepts, or
refuses with which message.

A line *agrees* when numaopt reports an error exactly when QEMU refuses and, where QEMU
refuses, numaopt's first error carries QEMU's message. Lines that do not agree yet are listed
in ``KNOWN_DISAGREEMENTS`` with the reason; the test fails when one of them starts to agree,
so the list (and the figures in docs/rules.md, #check-vs-qemu-corpus) only shrink.

Agreement now: numaopt agrees with QEMU on 161 of 161 lines and names QEMU's message for 60 of
its 60 refusals (before this corpus existed: 99 of 148 and 14 of 51). Nine lines are public
lines changed so that two of QEMU's checks fail at once: they hold the order of QEMU's checks. A line whose manifest
entry has ``qemu_warning`` also holds QEMU's warning against check's (``-cpu`` with threads). ``test_docs_state_the_agreement``
keeps these figures and docs/rules.md's in step with the corpus.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from numaopt.errors import QemuArgsError
from numaopt.qemu.args import qemu_findings, read_qemu_args, split_command
from numaopt.qemu.qmp import QemuRefused, probe
from numaopt.rules import Severity

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "tests" / "data" / "qemu-corpus"
MANIFEST: dict[str, dict[str, Any]] = json.loads((CORPUS / "manifest.json").read_text())["lines"]
NAMES = sorted(MANIFEST)

# Line -> why numaopt does not agree with QEMU on it yet.
KNOWN_DISAGREEMENTS: dict[str, str] = {}


def numaopt_errors(name: str) -> list[str]:
    """What ``numaopt check --rules qemu`` reports as errors for one corpus line, in order."""
    text = (CORPUS / name).read_text()
    try:
        config = read_qemu_args(text, source=name)
    except QemuArgsError as exc:
        return [str(exc)]
    found = qemu_findings(config)
    return [f.message for f in found if f.severity is Severity.ERROR]


def agrees(name: str) -> bool:
    entry = MANIFEST[name]
    errors = numaopt_errors(name)
    if entry["qemu"] == "accepts":
        return not errors
    return bool(errors) and entry["message"] in errors[0]


def test_manifest_lists_every_corpus_file() -> None:
    assert sorted(p.name for p in CORPUS.glob("*.args")) == NAMES
    assert len(NAMES) >= 40
    for entry in MANIFEST.values():
        assert entry["repo"] in ("libvirt/libvirt", "qemu/qemu")
        assert len(entry["commit"]) == 40 and entry["path"]
        assert entry["qemu"] in ("accepts", "refuses")
        assert (entry["qemu"] == "refuses") == bool(entry.get("message"))
    assert set(KNOWN_DISAGREEMENTS) <= set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_check_agrees_with_qemu(name: str) -> None:
    entry = MANIFEST[name]
    if name in KNOWN_DISAGREEMENTS:
        assert not agrees(name), f"{name} agrees with QEMU now: remove it from KNOWN_DISAGREEMENTS"
        return
    errors = numaopt_errors(name)
    if entry["qemu"] == "accepts":
        assert errors == []
    else:
        assert errors, f"QEMU refuses: {entry['message']}"
        assert entry["message"] in errors[0]


def agreement() -> tuple[int, int, int, int]:
    """(lines agreeing, lines, refusals named with QEMU's message, refusals)."""
    refusals = [n for n in NAMES if MANIFEST[n]["qemu"] == "refuses"]
    return (
        sum(agrees(n) for n in NAMES),
        len(NAMES),
        sum(agrees(n) for n in refusals),
        len(refusals),
    )


def test_docs_state_the_agreement() -> None:
    agreeing, total, named, refusals = agreement()
    assert agreeing == total - len(KNOWN_DISAGREEMENTS)
    assert f"agrees with QEMU on {agreeing} of {total} lines" in " ".join((__doc__ or "").split())
    assert f"QEMU's message for {named} of its {refusals} refusals" in " ".join((__doc__ or "").split())
    docs = (ROOT / "docs" / "rules.md").read_text()
    assert f"agrees with QEMU on {agreeing} of {total} lines" in docs
    assert f"QEMU's own message for {named} of its {refusals} refusals" in docs


WARNED = sorted(name for name in NAMES if "qemu_warning" in MANIFEST[name])


@pytest.mark.parametrize("name", WARNED)
def test_check_warns_as_qemu_does(name: str) -> None:
    config = read_qemu_args((CORPUS / name).read_text(), source=name)
    warnings = [f.message for f in config.findings if f.severity is Severity.WARNING]
    assert any(message.startswith(MANIFEST[name]["qemu_warning"]) for message in warnings)


@pytest.mark.qemu
@pytest.mark.parametrize("name", NAMES)
def test_recorded_verdict_is_qemus(name: str) -> None:
    """The manifest's verdict is what the real QEMU 7.2 does with the line (started with -S)."""
    entry = MANIFEST[name]
    argv = split_command((CORPUS / name).read_text())
    if entry["qemu"] == "accepts":
        readback = probe(argv, timeout_s=60)
        if "qemu_warning" in entry:
            assert entry["qemu_warning"] in readback.warnings
        return
    with pytest.raises(QemuRefused) as refused:
        probe(argv, timeout_s=60)
    assert refused.value.qemu_message == entry["message"]


# Around the 1 TiB boundary of TCG's 40 address bits: RAM split below/above 4 GiB, maxmem,
# 1 GiB per slot, the 64-bit PCI hole, and the AMD relocation (qemu64) or none (Skylake).
_ADDRESS_SPACE_LINES = [
    f"qemu-system-x86_64 -machine {machine} -cpu {cpu} -m {ram},slots={slots},maxmem={maxmem}"
    for machine, ram, maxmem, slots, cpu in [
        ("pc", "214M", "1000G", 0, "qemu64"),
        ("pc", "214M", "1010G", 0, "qemu64"),
        ("pc", "214M", "1010G", 4, "Skylake-Client"),
        ("pc", "4G", "1000G", 4, "qemu64"),
        ("pc", "8G", "1020G", 0, "Skylake-Client"),
        ("q35", "214M", "900G", 4, "qemu64"),
        ("q35", "214M", "1000G", 0, "Skylake-Client"),
        ("q35", "3G", "980G", 0, "qemu64"),
        ("q35", "4G", "980G", 0, "Skylake-Client"),
        ("pc-q35-7.1", "8G", "2T", 4, "qemu64"),
    ]
]


# pc_memory_pre_plug: ACPI off, nvdimm without -M nvdimm=on, no slots; keyval and JSON -device.
_MEMORY_DEVICE_LINES = [
    "qemu-system-x86_64 -object memory-backend-ram,id=d,size=1G " + rest
    for rest in [
        "-machine pc,acpi=off -m 1G,slots=2,maxmem=4G -device pc-dimm,memdev=d",
        "-machine q35 -no-acpi -m 1G,slots=2,maxmem=4G -device pc-dimm,memdev=d",
        "-machine pc -m 1G,slots=2,maxmem=4G -device nvdimm,memdev=d",
        "-machine pc,nvdimm=on -m 1G,slots=2,maxmem=4G -device nvdimm,memdev=d",
        "-machine pc -m 1G -device pc-dimm,memdev=d",
        "-machine pc -m 1G,maxmem=4G -device pc-dimm,memdev=d",
        """-machine q35 -m 1G,slots=1,maxmem=4G -device '{"driver":"pc-dimm","memdev":"d"}'""",
        "-machine pc,acpi=off -m 1G,slots=2,maxmem=4G -device virtio-balloon-pci",
    ]
]


# Device memory on existing nodes (pc_dimm_realize, virtio_mem_device_realize) and memdev=,
# with the node QEMU adds by itself when memory hotplug is on and no -numa is given.
_N = "-m 1G,slots=2,maxmem=4G -object memory-backend-ram,id=d,size=1G "
_N1 = _N + "-object memory-backend-ram,id=n0,size=1G -numa node,memdev=n0 "
_DEVICE_NODE_LINES = [
    "qemu-system-x86_64 -machine pc " + _N1 + "-device pc-dimm,memdev=d,node=1",
    "qemu-system-x86_64 -machine pc " + _N1 + "-device pc-dimm,memdev=d,node=0",
    "qemu-system-x86_64 -machine pc " + _N1 + "-device virtio-mem-pci,memdev=d,node=3,requested-size=0",
    "qemu-system-x86_64 -machine pc " + _N1 + "-device virtio-mem-pci,memdev=d,node=0,requested-size=0",
    "qemu-system-x86_64 -machine pc " + _N1 + "-device pc-dimm,memdev=nope",
    "qemu-system-x86_64 -machine pc " + _N + "-device pc-dimm,memdev=d,node=1",
    "qemu-system-x86_64 -machine pc " + _N + "-device pc-dimm,memdev=d,node=0",
    "qemu-system-x86_64 -machine pc,acpi=off -m 1G,slots=2,maxmem=4G -device pc-dimm,memdev=nope",
    "qemu-system-x86_64 -machine q35 -m 1G,maxmem=4G -object memory-backend-ram,id=d,size=1G "
    "-device virtio-mem-pci,memdev=d,node=1,requested-size=0",
    "qemu-system-x86_64 -machine q35 " + _N + "-object memory-backend-ram,id=n0,size=512M "
    "-object memory-backend-ram,id=n1,size=512M -numa node,memdev=n0 -numa node,memdev=n1 "
    """-device '{"driver":"pc-dimm","memdev":"d","node":2}'""",
]

# numa_validate_initiator and machine_set_cpu_numa_node with -machine hmat=on, the default
# mapping included.
_INITIATOR_LINES = [
    "qemu-system-x86_64 -machine pc,hmat=on -smp 2,sockets=2 -m 128M -object memory-backend-ram,size=64M,id=m0 "
    "-object memory-backend-ram,size=64M,id=m1 " + rest
    for rest in [
        "-numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1,initiator=3",
        "-numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1,initiator=1",
        "-numa node,nodeid=0,memdev=m0,cpus=0,initiator=1 -numa node,nodeid=1,memdev=m1,cpus=1,initiator=1",
        "-numa node,nodeid=0,memdev=m0,initiator=0 -numa node,nodeid=1,memdev=m1 "
        "-numa cpu,node-id=0,socket-id=0 -numa cpu,node-id=0,socket-id=1",
        "-numa node,nodeid=0,memdev=m0,initiator=1 -numa node,nodeid=1,memdev=m1 "
        "-numa cpu,node-id=0,socket-id=0 -numa cpu,node-id=1,socket-id=1",
        "-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1,initiator=0",
        "-numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1,initiator=0",
    ]
]


# Two of QEMU's checks failing at once, from different phases (docs/rules.md,
# #check-vs-qemu-corpus): QEMU's first message is the earlier phase's.
_TWO = "-object memory-backend-ram,id=d,size=1G -object memory-backend-ram,id=e,size=1G "
_BAD_SMP = "-smp 4,sockets=3,cores=1,threads=1,maxcpus=4 "
_M0 = "-object memory-backend-ram,size=64M,id=m0 "
_ORDER_LINES = [
    "qemu-system-x86_64 -machine pc -m 1G,slots=2 " + _BAD_SMP,
    "qemu-system-x86_64 -machine pc -m 1G " + _BAD_SMP + _M0 + "-numa node,memdev=m0 -numa node,memdev=m0",
    "qemu-system-x86_64 -machine pc -m 1G,slots=2,maxmem=2000G " + _BAD_SMP,
    "qemu-system-x86_64 -machine pc -m 1G,slots=2,maxmem=2000G -object memory-backend-ram,id=d,size=1025M -device pc-dimm,memdev=d",
    "qemu-system-x86_64 -machine pc -m 1G,slots=2,maxmem=2G " + _TWO + "-device pc-dimm,memdev=d -device pc-dimm,memdev=e,node=4",
    "qemu-system-x86_64 -machine pc -m 1G,slots=2,maxmem=4G " + _TWO + "-device pc-dimm,memdev=d,slot=1 -device pc-dimm,memdev=e,slot=1",
    "qemu-system-x86_64 -machine pc -m 1G " + _TWO + "-device virtio-mem-pci,memdev=d,node=4,requested-size=0",
    "qemu-system-x86_64 -machine pc -smp 2 -m 256M " + _M0 + "-numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m0",
    "qemu-system-x86_64 -machine pc -smp 2 -m 128M " + _M0 + "-object memory-backend-ram,size=64M,id=m1 "
    "-numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1 -numa dist,src=0,dst=0,val=5 -numa node,nodeid=2",
    "qemu-system-x86_64 -machine pc,hmat=on -smp 2,sockets=2 -m 256M " + _M0 + "-object memory-backend-ram,size=64M,id=m1 "
    "-numa node,nodeid=0,memdev=m0,cpus=0-1 -numa node,nodeid=1,memdev=m1,initiator=3",
    "qemu-system-aarch64 -machine virt -m 1G -smp 9 -object memory-backend-ram,id=m0,size=1G -numa node,memdev=m0,cpus=0-12",
]


# -cpu phys-bits= under TCG (the width, 32 to 52; host-phys-bits is KVM's alone) and memory
# devices' property names (`-device DRIVER,help`).
_D = "-m 1G,slots=2,maxmem=4G -object memory-backend-ram,id=d,size=1G "
_CPU_AND_PROPERTY_LINES = [
    "qemu-system-x86_64 -machine q35 -cpu qemu64,phys-bits=39 -m 1G,slots=2,maxmem=600G",
    "qemu-system-x86_64 -machine q35 -cpu qemu64,host-phys-bits=on -m 1G,slots=2,maxmem=2000G",
    "qemu-system-x86_64 -machine q35 -cpu qemu64,phys-bits=30 -m 1G",
    "qemu-system-x86_64 -machine q35 -cpu Skylake-Client,phys-bits=44 -m 1G,slots=4,maxmem=6000G",
    "qemu-system-x86_64 -machine q35 -cpu Skylake-Client,phys-bits=44 -m 1G,slots=4,maxmem=16000G",
    "qemu-system-x86_64 -machine pc " + _D + "-device pc-dimm,memdev=d,nosuchprop=1",
    "qemu-system-x86_64 -machine pc " + _D + """-device '{"driver":"nvdimm","memdev":"d","label-size":131072,"bogus":1}'""",
    "qemu-system-x86_64 -machine pc " + _D + "-device virtio-mem-pci,memdev=d,requested-size=0,id=vm0,bus=pci.0,addr=0x5",
    "qemu-system-x86_64 -machine pc " + _D + "-device virtio-mem-pci,memdev=d,requested-size=0,blocksize=2M",
    "qemu-system-aarch64 -machine virt " + _D + "-device pc-dimm,memdev=d,nodes=0",
]


@pytest.mark.qemu
@pytest.mark.parametrize(
    "text",
    _ADDRESS_SPACE_LINES + _MEMORY_DEVICE_LINES + _DEVICE_NODE_LINES + _INITIATOR_LINES + _ORDER_LINES
    + _CPU_AND_PROPERTY_LINES,
)
def test_rules_are_qemus(text: str) -> None:
    """Rules the corpus does not reach (yet), on numaopt's own lines, against the real QEMU."""
    config = read_qemu_args(text)
    found = qemu_findings(config)
    errors = [f.message for f in found if f.severity is Severity.ERROR]
    try:
        probe(split_command(text), timeout_s=60)
    except QemuRefused as refused:
        assert errors and errors[0] == refused.qemu_message
        return
    assert errors == []


def test_check_prints_qemus_first_message_first(capsys: pytest.CaptureFixture[str]) -> None:
    """The command, not only the reader: `check --rules qemu` on a line where the node memory
    and the nvdimm are both wrong prints QEMU's first message (the node memory) first."""
    from numaopt.cli import main

    name = "libvirt-memory-hotplug-nvdimm-off-numa-short.args"
    with pytest.raises(SystemExit) as stop:
        main(["check", "--rules", "qemu", str(CORPUS / name)])
    lines = capsys.readouterr().out.splitlines()
    assert stop.value.code == 1 and len(lines) == 2
    assert lines[0].endswith(f"QEMU refuses: {MANIFEST[name]['message']}")
    assert "nvdimm is not enabled: missing 'nvdimm' in '-M'" in lines[1]
