"""libvirt domains: valid against libvirt's own RelaxNG schema (virt-xml-validate), defined
by libvirt's test driver (virsh -c test:///default) and read back equal to the plan."""

from __future__ import annotations

import dataclasses
import itertools
import shlex
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from numaopt.cli import app
from numaopt.hosts.shapes import GIB, block_host
from numaopt.layout import check_layout
from numaopt.model import Group, PlacementRequest, Plan, SearchSettings, Traffic, Workload
from numaopt.qemu.args import read_qemu_args
from numaopt.qemu.qmp import QemuRefused, compare, probe
from numaopt.render.libvirt import domain_xml
from numaopt.render.target import Accel, VmOptions
from numaopt.rules import RuleSet, Severity
from numaopt.solver.place import place
from numaopt.units import KIB, format_cpulist, parse_cpulist
from tests.support.golden import assert_golden
from tests.support.libvirt import libvirt_qemu_argv
from tests.support.problems import PROBLEMS, plan_for

ROOT = Path(__file__).resolve().parents[2]
SEED_ARM = ROOT / "problems" / "seed-4node-aarch64.toml"


def validate(xml: str, tmp_path: Path) -> None:
    assert shutil.which("virt-xml-validate"), "virt-xml-validate missing: scripts/test.sh installs libvirt-clients"
    path = tmp_path / "domain.xml"
    path.write_text(xml)
    result = subprocess.run(["virt-xml-validate", str(path), "domain"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def define_and_read_back(files: list[Path]) -> dict[str, ET.Element]:
    """Define every file in one test-driver connection (its state lives as long as the
    connection) and return what ``virsh dumpxml`` gives back, by domain name."""
    names = [ET.parse(path).getroot().findtext("name", "") for path in files]
    commands = [f"define {path}" for path in files] + [f"dumpxml {name}" for name in names]
    result = subprocess.run(["virsh", "-c", "test:///default", "; ".join(commands)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    documents = ["<domain" + part for part in result.stdout.split("<domain")[1:]]
    read = [ET.fromstring(document[: document.index("</domain>") + len("</domain>")]) for document in documents]
    return {domain.findtext("name", ""): domain for domain in read}


def assert_same_as_plan(domain: ET.Element, plan: Plan) -> None:
    layout = plan.layout
    pins = {int(p.get("vcpu", -1)): int(p.get("cpuset", -1)) for p in domain.iter("vcpupin")}
    assert pins == dict(plan.vcpu_to_host_cpu)
    emulator = domain.find("cputune/emulatorpin")
    assert (emulator.get("cpuset") if emulator is not None else "") == format_cpulist(plan.emulator_cpus)
    memnodes = {int(m.get("cellid", -1)): parse_cpulist(m.get("nodeset", "")) for m in domain.iter("memnode")}
    assert memnodes == {k: node.host_nodes for k, node in enumerate(layout.nodes) if node.host_nodes and node.memory_bytes}
    cells = domain.findall("cpu/numa/cell")
    assert [int(c.get("id", -1)) for c in cells] == list(range(layout.num_nodes))
    assert [parse_cpulist(c.get("cpus", "")) for c in cells] == [node.cpus for node in layout.nodes]
    assert [int(c.get("memory", -1)) * KIB for c in cells] == [node.memory_bytes for node in layout.nodes]
    if layout.distances is not None:
        table = [[int(s.get("value", -1)) for s in c.iter("sibling")] for c in cells]
        assert table == layout.distances.tolist()
    topology = domain.find("cpu/topology")
    assert topology is not None
    shape = layout.shape
    assert (topology.get("sockets"), topology.get("cores"), topology.get("threads")) == (
        str(shape.sockets),
        str(shape.cores),
        str(shape.threads),
    )
    assert int(domain.findtext("vcpu", "0")) == layout.vcpus
    assert int(domain.findtext("memory", "0")) * KIB == layout.memory_bytes


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_every_example_validates_defines_and_reads_back(path: Path, tmp_path: Path) -> None:
    plan = plan_for(path)
    for accel in Accel:
        options = VmOptions(name=f"{path.stem}-{accel}", accel=accel, kernel="/boot/vmlinuz", initrd="/boot/initrd.img")
        xml = domain_xml(plan, options)
        validate(xml, tmp_path)
        (tmp_path / f"{accel}.xml").write_text(xml)
    read = define_and_read_back([tmp_path / f"{accel}.xml" for accel in Accel])
    for domain in read.values():
        assert_same_as_plan(domain, plan)


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_golden_domains(path: Path) -> None:
    assert_golden(f"{path.stem}.libvirt.xml", domain_xml(plan_for(path)))


def test_aarch64_gets_gicv3_a57_under_tcg_and_a_device_tree_boot() -> None:
    xml = domain_xml(plan_for(SEED_ARM), VmOptions(accel=Accel.TCG, kernel="/srv/Image"))
    assert_golden("seed-4node-aarch64.tcg-kernel.libvirt.xml", xml)
    domain = ET.fromstring(xml)
    assert domain.get("type") == "qemu"
    gic = domain.find("features/gic")
    assert gic is not None and gic.get("version") == "3"  # GICv2 stops at 8 vCPUs; this guest has 16
    assert domain.find("features/acpi") is None  # the arm64 guest reads the device tree
    cpu = domain.find("cpu")
    assert cpu is not None and cpu.get("mode") == "custom" and cpu.findtext("model") == "cortex-a57"
    os_type = domain.find("os/type")
    assert os_type is not None and (os_type.get("arch"), os_type.get("machine")) == ("aarch64", "virt")
    assert domain.findtext("os/kernel") == "/srv/Image" and domain.findtext("os/cmdline") == "console=ttyAMA0"
    kvm = ET.fromstring(domain_xml(plan_for(SEED_ARM)))
    assert kvm.get("type") == "kvm" and kvm.find("cpu").get("mode") == "host-passthrough"  # type: ignore[union-attr]


def test_x86_keeps_acpi_and_runs_max_under_tcg() -> None:
    domain = ET.fromstring(domain_xml(plan_for(ROOT / "problems" / "seed-4node.toml"), VmOptions(accel=Accel.TCG)))
    assert domain.find("features/acpi") is not None  # without it libvirt turns ACPI off: no SRAT, no NUMA
    assert domain.find("features/gic") is None
    assert domain.find("cpu").get("mode") == "maximum"  # type: ignore[union-attr]
    assert domain.find("os/kernel") is None  # no kernel given: the user's firmware and disks boot it


def test_x86_smt_under_tcg_asks_libvirt_for_an_intel_vendor_and_qemu_gives_no_smt_warning() -> None:
    # -cpu max is an AMD CPU under TCG: QEMU would warn "doesn't support hyperthreading"
    # and the guest would see no SMT threads (smt-amd-no-topoext).
    argv = libvirt_qemu_argv(domain_xml(plan_for(ROOT / "problems" / "smt-2socket.toml"), VmOptions(accel=Accel.TCG)))
    assert argv[argv.index("-cpu") + 1] == "qemu64,vendor=GenuineIntel"
    config = read_qemu_args(shlex.join(["qemu-system-x86_64", "-accel", "tcg", *argv[1:]]))
    assert "smt-amd-no-topoext" not in [f.code for f in config.findings]


def test_reserved_cpus_become_emulatorpin(tmp_path: Path) -> None:
    plan = plan_for(ROOT / "problems" / "epyc-db.toml")
    assert plan.emulator_cpus == (0, 128)
    (tmp_path / "epyc.xml").write_text(domain_xml(plan, VmOptions(name="epyc")))
    emulator = define_and_read_back([tmp_path / "epyc.xml"])["epyc"].find("cputune/emulatorpin")
    assert emulator is not None and emulator.get("cpuset") == "0,128"
    assert not set(plan.emulator_cpus) & {host for _, host in plan.vcpu_to_host_cpu}


def test_placement_plan_has_pinning_binding_and_distances(tmp_path: Path) -> None:
    host = block_host(2, 2, cpus_per_node=8, smt=True)
    workload = Workload((Group("db", 8, 8 * GIB), Group("web", 8, 4 * GIB)), threads_per_core=2, traffic=(Traffic("db", "web", 5),))
    plan = place(PlacementRequest(host, workload, reserved_cpus=(0, 16), settings=SearchSettings(time_limit_s=10)))
    xml = domain_xml(plan)
    validate(xml, tmp_path)
    (tmp_path / "placed.xml").write_text(xml)
    assert_same_as_plan(define_and_read_back([tmp_path / "placed.xml"])["numaopt-guest"], plan)


def test_huge_pages_shared_and_preallocated_backing() -> None:
    plan = plan_for(ROOT / "problems" / "hugepages.toml")
    backend = dataclasses.replace(plan.layout.backend, prealloc=True)
    domain = ET.fromstring(domain_xml(dataclasses.replace(plan, layout=dataclasses.replace(plan.layout, backend=backend))))
    page = domain.find("memoryBacking/hugepages/page")
    assert page is not None and int(page.get("size", 0)) * KIB == backend.page_size_bytes
    assert domain.find("memoryBacking/allocation").get("mode") == "immediate"  # type: ignore[union-attr]


def test_several_vms_define_together_with_disjoint_pins(tmp_path: Path) -> None:
    out = tmp_path / "domains"
    result = CliRunner().invoke(
        app, ["solve", str(ROOT / "problems" / "shared-host.toml"), "--format", "libvirt-domain", "--kernel", "/boot/vmlinuz", "-q", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["batch.xml", "db.xml", "web.xml"]
    read = define_and_read_back(files)
    assert sorted(read) == ["batch", "db", "web"]
    pinned = [int(p.get("cpuset", -1)) for domain in read.values() for p in domain.iter("vcpupin")]
    assert len(pinned) == len(set(pinned))  # no host CPU twice
    assert all(domain.findtext("os/kernel") == "/boot/vmlinuz" for domain in read.values())


# Explicit layouts (no binding to host nodes this machine lacks) small enough to start.
THROUGH_LIBVIRT = ["asymmetric", "cxl-memory-node", "seed-4node", "seed-4node-aarch64", "smt-2socket", "unequal-nodes"]


@pytest.mark.qemu
@pytest.mark.parametrize("stem", THROUGH_LIBVIRT)
def test_libvirts_qemu_driver_and_qemu_build_the_plans_guest(stem: str) -> None:
    plan = plan_for(ROOT / "problems" / f"{stem}.toml")
    argv = libvirt_qemu_argv(domain_xml(plan, VmOptions(name=stem, accel=Accel.TCG)))
    machine = argv[argv.index("-machine") + 1]
    if plan.layout.machine.arch == "aarch64":
        assert "gic-version=3" in machine and argv[argv.index("-cpu") + 1] == "cortex-a57" and "-no-acpi" in argv
    else:
        smt = plan.layout.shape.threads > 1  # max is AMD under TCG: no SMT in the guest
        assert "-no-acpi" not in argv and argv[argv.index("-cpu") + 1] == ("qemu64,vendor=GenuineIntel" if smt else "max")
    assert compare(plan.layout, probe(argv)) == []


@pytest.mark.qemu
def test_bound_memory_reaches_qemu_through_libvirt() -> None:
    # A search on a one-node host shaped like this machine's node 0, so the binding holds here.
    host = block_host(1, 1, cpus_per_node=4)
    plan = place(PlacementRequest(host, Workload((Group("app", 2, 256 << 20),)), reserved_cpus=(0,), settings=SearchSettings(time_limit_s=10)))
    argv = libvirt_qemu_argv(domain_xml(plan, VmOptions(accel=Accel.TCG)))
    backends = [value for flag, value in itertools.pairwise(argv) if flag == "-object"]
    assert backends and all('"host-nodes":[0]' in b and '"policy":"bind"' in b for b in backends)
    assert compare(plan.layout, probe(argv)) == []


@pytest.mark.qemu
def test_libvirt_9_gives_a_memory_less_cell_a_backend_qemu_refuses() -> None:
    # What libvirt 9.0 (Debian 12) does with <cell memory="0">: a 0-byte memory backend,
    # which QEMU 7.2 refuses. The domain is valid and defines; it does not start there.
    argv = libvirt_qemu_argv(domain_xml(plan_for(ROOT / "problems" / "memoryless-node.toml"), VmOptions(accel=Accel.TCG)))
    with pytest.raises(QemuRefused, match="doesn't take value '0'"):
        probe(argv)


HMAT_TIER = ROOT / "tests" / "data" / "hmat" / "cxl-tier-hmat.toml"


@pytest.mark.qemu
def test_libvirts_qemu_driver_builds_the_same_hmat_from_our_domain(tmp_path: Path) -> None:
    # <cache> and <interconnects>: libvirt writes hmat=on, the tier's initiator (from the
    # first interconnect to it) and every hmat-lb and hmat-cache, and QEMU builds it.
    plan = plan_for(HMAT_TIER)
    xml = domain_xml(plan, VmOptions(accel=Accel.TCG))
    validate(xml, tmp_path)
    argv = libvirt_qemu_argv(xml)
    assert "node,nodeid=2,initiator=1,memdev=ram-node2" in argv
    assert "hmat-cache,node-id=2,size=16384K,level=1,associativity=direct,policy=write-back,line=64" in argv
    assert sum(word.startswith("hmat-lb,") for word in argv) == len(plan.layout.hmat_lb)
    assert compare(plan.layout, probe(argv)) == []


def test_libvirt_refuses_a_pair_in_both_directions_and_check_says_so() -> None:
    layout = plan_for(HMAT_TIER).layout
    both = dataclasses.replace(layout, hmat_lb=(*layout.hmat_lb, dataclasses.replace(layout.hmat_lb[4], initiator=1, target=0)))
    findings = [f for f in check_layout(both, RuleSet.LIBVIRT) if f.severity is Severity.ERROR]
    assert [f.message.split(" (")[0] for f in findings] == ["XML error: Link already defined"]
    result = subprocess.run(
        ["virsh", "-c", "test:///default", "define /dev/stdin"], input=domain_xml(Plan(both)), capture_output=True, text=True
    )
    assert "Link already defined" in result.stderr


DIMMS = ROOT / "tests" / "data" / "hotplug" / "two-nodes-dimms.toml"


@pytest.mark.qemu
def test_libvirts_qemu_driver_builds_the_same_dimms_from_our_domain(tmp_path: Path) -> None:
    # <maxMemory slots> and <memory model='dimm'>: libvirt writes -m ...,slots=,maxmem= and a
    # pc-dimm (named dimm0, as numaopt names it) in the same node; QEMU builds it.
    plan = plan_for(DIMMS)
    xml = domain_xml(plan, VmOptions(accel=Accel.TCG))
    validate(xml, tmp_path)
    argv = libvirt_qemu_argv(xml)
    assert "size=1048576k,slots=4,maxmem=2097152k" in argv
    assert compare(plan.layout, probe(argv)) == []

