"""A plan never fails its own checks: every bundled example, solved into every format
`numaopt check` reads (QEMU command, shell lines, JSON plan, libvirt domain; one VM or
several), is checked with no error; the formats check does not read (Proxmox VE, Cloud
Hypervisor) are written or refused in one line. And check reads numaopt's JSON plans
and libvirt domains to the same guest as the plan."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from numaopt.qemu.libvirt_domain import read_domain
from numaopt.render.libvirt import domain_xml
from tests.support.cli import Outcome, run_cli
from tests.support.libvirt import libvirt_qemu_argv
from tests.support.problems import INFEASIBLE, PROBLEMS, SHARED, plan_for

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ["qemu", "shell", "json", "libvirt-domain"]
WRITTEN_ONLY = ["proxmox", "cloud-hypervisor"]
EXAMPLES = sorted(p for p in (ROOT / "problems").glob("*.toml") if p not in INFEASIBLE)
HMAT_TIER = ROOT / "tests" / "data" / "hmat" / "cxl-tier-hmat.toml"


def assert_checked_clean(outcome: Outcome, path: Path, guests: int) -> None:
    """check exited 0 and printed, for each guest, an ok or a warning for every rule set."""
    assert outcome.code == 0, outcome
    lines = outcome.stdout.splitlines()
    assert lines and all(line.startswith(str(path)) for line in lines), lines
    assert not any(": error: " in line for line in lines), lines
    assert sum(line.endswith(": qemu: ok") for line in lines) == guests, lines


def solved(problem: Path, fmt: str, out: Path) -> Outcome:
    return run_cli("solve", str(problem), "--format", fmt, "--quiet", "--out", str(out))


@pytest.mark.parametrize("problem", EXAMPLES, ids=lambda p: p.stem)
def test_every_format_check_reads_passes_check(problem: Path, tmp_path: Path) -> None:
    several = problem in SHARED
    for fmt in CHECKED:
        out = tmp_path / fmt
        outcome = solved(problem, fmt, out)
        assert outcome.code == 0, outcome
        files = sorted(out.iterdir()) if several else [out]
        assert files
        for file in files:
            vms = len(json.loads(file.read_text())["vms"]) if file.name == "plans.json" else 1
            assert_checked_clean(run_cli("check", str(file)), file, vms)
        printed = run_cli("solve", str(problem), "--format", fmt, "--quiet")  # on stdout: several VMs in one text
        assert printed.code == 0, printed
        stdout = tmp_path / f"{fmt}.stdout"
        stdout.write_text(printed.stdout)
        assert_checked_clean(run_cli("check", str(stdout)), stdout, len(files) - (fmt == "json") if several else 1)


@pytest.mark.parametrize("problem", EXAMPLES, ids=lambda p: p.stem)
def test_formats_check_cannot_read_are_written_or_refused_in_one_line(problem: Path, tmp_path: Path) -> None:
    for fmt in WRITTEN_ONLY:
        out = tmp_path / fmt
        outcome = solved(problem, fmt, out)
        if outcome.code == 0:
            assert out.exists() and (out.is_file() or any(out.iterdir()))
        else:  # e.g. every Proxmox VE numaN needs CPUs and memory: no CPU-less nodes
            errors = [line for line in outcome.stderr.splitlines() if not line.startswith("numaopt: warning: ")]
            assert outcome.code == 1 and len(errors) == 1 and f"--format {fmt}: " in errors[0], outcome
            assert not out.exists()


def test_several_vms_json_on_stdout_is_checked_vm_by_vm(tmp_path: Path) -> None:
    shared = ROOT / "problems" / "shared-host.toml"
    plans = run_cli("solve", str(shared), "--format", "json", "--quiet")
    assert plans.code == 0
    file = tmp_path / "plans.json"
    file.write_text(plans.stdout)
    outcome = run_cli("check", str(file))
    assert_checked_clean(outcome, file, 3)
    assert [line.split(": ")[0] for line in outcome.stdout.splitlines() if line.endswith(": qemu: ok")] == [
        f"{file} (vm {name})" for name in ("db", "web", "batch")
    ]


@pytest.mark.parametrize("problem", [*PROBLEMS, HMAT_TIER], ids=lambda p: p.stem)
def test_a_domain_reads_back_to_the_plans_guest(problem: Path) -> None:
    layout = plan_for(problem).layout
    read = read_domain(domain_xml(plan_for(problem)), str(problem)).layout
    if layout.hmat and not layout.hmat_lb and not layout.hmat_cache:
        # libvirt writes hmat=on only for caches or interconnects: an initiator alone is
        # lost (check warns about it on the plan), so the domain's guest has no HMAT.
        assert not read.hmat and all(node.initiator is None for node in read.nodes)
        return
    if layout.distances is not None and np.array_equal(layout.distances, dataclasses.replace(layout, distances=None).effective_distances):
        # Only 10 and 20: libvirt writes QEMU no -numa dist, and the guest assumes them anyway.
        layout = dataclasses.replace(layout, distances=None)
    assert read == layout


def test_check_of_a_domain_says_what_the_guest_is_told(tmp_path: Path) -> None:
    # A domain with a distance of 10 between two cells: Linux drops such a SLIT.
    xml = domain_xml(plan_for(ROOT / "problems" / "seed-4node.toml")).replace("<sibling id=\"1\" value=\"15\" />", "<sibling id=\"1\" value=\"10\" />")
    assert 'value="10" />' in xml
    file = tmp_path / "domain.xml"
    file.write_text(xml)
    outcome = run_cli("check", str(file))
    assert outcome.code == 1
    assert any(line.startswith(f"{file}: linux-acpi: error: ") for line in outcome.stdout.splitlines()), outcome.stdout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<domain><vcpu>4</vcpu>", "line 1: not well-formed XML (no element found): expected a libvirt domain"),
        ("<domain><name>x</name></domain>", "line 1: no <vcpu> element"),
        (
            "<domain>\n<vcpu>2</vcpu>\n<os><type arch='s390x' machine='s390-ccw-virtio'>hvm</type></os></domain>",
            "line 3: <type arch='s390x' machine='s390-ccw-virtio'>: numaopt checks q35 and pc on x86_64, virt on aarch64",
        ),
        (
            "<domain><vcpu>2</vcpu><cpu><numa>\n<cell id='0' cpus='0-1' memory='1' unit='parsecs'/></numa></cpu></domain>",
            "line 2: <cell>: unknown unit 'parsecs'",
        ),
        (
            "<domain><vcpu>2</vcpu><cpu><numa><cell id='0' cpus='0-1' memory='1'/><cell id='0' cpus='0-1' memory='1'/></numa></cpu></domain>",
            "Duplicate NUMA cell info for cell id '0'",
        ),
        (
            "<domain><vcpu>2</vcpu><cpu><numa><cell id='0' cpus='0-1' memory='1'/><cell id='2' memory='1'/></numa></cpu></domain>",
            "non-contiguous ranges or ranges not starting from 0 are not allowed",
        ),
        ('<!DOCTYPE d [<!ENTITY a "aaaa">]><domain><vcpu>&a;</vcpu></domain>', "XML entity declarations are not allowed"),
        ("<domain><vcpu>" + "9" * 5000 + "</vcpu></domain>", "<vcpu>: expected a whole number, got '9999"),
        ('{"numaopt_plan": 1}', "malformed numaopt plan"),
        ('{"something": "else"}', "not a numaopt plan"),
    ],
)
def test_unreadable_domain_or_plan_is_one_line_naming_the_file(text: str, message: str, tmp_path: Path) -> None:
    file = tmp_path / "guest.in"
    file.write_text(text)
    outcome = run_cli("check", str(file))
    assert outcome.code == 1 and outcome.stdout == ""
    assert outcome.stderr.count("\n") == 1 and str(file) in outcome.stderr and message in outcome.stderr, outcome.stderr


def domain(cells: str, interconnects: str = "", features: str = "<features><acpi/></features>", cpu: str = "<cpu>") -> str:
    return (
        f"<domain type='qemu'><vcpu>4</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os>{features}"
        f"{cpu}<numa>{cells}<interconnects>{interconnects}</interconnects></numa></cpu></domain>"
    )


TIERED = (
    "<cell id='0' cpus='0-1' memory='262144'/><cell id='1' cpus='2-3' memory='262144'/><cell id='2' memory='262144'/>"
)


@pytest.mark.parametrize(
    ("links", "initiator"),
    [
        # the lowest latency to the CPU-less cell wins, not the first link that targets it
        ("<latency initiator='0' target='2' type='access' value='200'/><latency initiator='1' target='2' type='access' value='100'/>", 1),
        ("<latency initiator='1' target='2' type='access' value='100'/><latency initiator='0' target='2' type='access' value='100'/>", 1),
        # without latencies, the highest bandwidth
        (
            "<bandwidth initiator='0' target='2' type='access' value='1048576' unit='KiB'/>"
            "<bandwidth initiator='1' target='2' type='access' value='2097152' unit='KiB'/>",
            1,
        ),
    ],
)
def test_a_cpu_less_cells_initiator_is_the_one_libvirt_picks(links: str, initiator: int) -> None:
    read = read_domain(domain(TIERED, links), "d.xml").layout
    assert read.nodes[2].initiator == initiator


@pytest.mark.qemu
def test_libvirts_own_qemu_driver_picks_the_same_initiator() -> None:
    links = "<latency initiator='0' target='2' type='access' value='200'/><latency initiator='1' target='2' type='access' value='100'/>"
    argv = libvirt_qemu_argv(domain(TIERED, links).replace("<domain type='qemu'>", "<domain type='qemu'><name>t</name><memory unit='KiB'>786432</memory>"))
    assert "node,nodeid=2,initiator=1,memdev=ram-node2" in argv


def test_cells_may_come_in_any_order_or_without_ids() -> None:
    shuffled = "<cell id='1' cpus='2-3' memory='131072'/><cell id='0' cpus='0-1' memory='262144'/>"
    unnumbered = "<cell cpus='0-1' memory='262144'/><cell cpus='2-3' memory='131072'/>"
    for cells in (shuffled, unnumbered):
        nodes = read_domain(domain(cells), "d.xml").layout.nodes
        assert [(n.cpus, n.memory_bytes) for n in nodes] == [((0, 1), 256 << 20), ((2, 3), 128 << 20)]


def test_an_x86_domain_without_acpi_shows_the_guest_no_numa(tmp_path: Path) -> None:
    file = tmp_path / "d.xml"
    file.write_text(domain("<cell id='0' cpus='0-1' memory='262144'/><cell id='1' cpus='2-3' memory='262144'/>", features=""))
    outcome = run_cli("check", str(file))
    assert outcome.code == 1
    assert f"{file}: linux-acpi: error: QEMU starts it, but in the guest: ACPI is off" in outcome.stdout
    assert f"{file}: qemu: ok" in outcome.stdout  # QEMU starts it


def test_an_smt_domain_in_maximum_mode_under_tcg_is_told_the_guest_sees_no_threads(tmp_path: Path) -> None:
    file = tmp_path / "d.xml"
    cells = "<cell id='0' cpus='0-1' memory='262144'/><cell id='1' cpus='2-3' memory='262144'/>"
    smt = "<cpu mode='maximum' check='none'><topology sockets='2' dies='1' cores='1' threads='2'/>"
    file.write_text(domain(cells, cpu=smt))
    outcome = run_cli("check", str(file))
    assert "smt" in outcome.stdout and "doesn't support hyperthreading" in outcome.stdout, outcome.stdout
    file.write_text(domain(cells, cpu=smt.replace("mode='maximum'", "mode='custom'") + "<model vendor_id='GenuineIntel'>qemu64</model>"))
    assert "hyperthreading" not in run_cli("check", str(file)).stdout


@pytest.mark.parametrize("switch", ["-no-acpi", "-machine acpi=off"])
def test_pasted_arguments_with_acpi_off_show_the_guest_no_numa(switch: str, tmp_path: Path) -> None:
    file = tmp_path / "vm.args"
    file.write_text((ROOT / "tests" / "golden" / "seed-4node.sh").read_text().rstrip() + f" {switch}\n")
    outcome = run_cli("check", str(file))
    assert outcome.code == 1 and f"{file}: qemu: ok" in outcome.stdout
    assert "linux-acpi: error: QEMU starts it, but in the guest: ACPI is off" in outcome.stdout
