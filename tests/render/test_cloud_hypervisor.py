"""Cloud Hypervisor command lines: read back with the option grammar Cloud Hypervisor
documents (docs/cpu.md, docs/memory.md) and implements (option_parser: comma-separated
key=value, lists in [...], '@' tuples, K/M/G sizes), checked with the rules of its
config validation, and rebuilt into the guest it would make (SLIT filled the way its
ACPI code fills it) to compare with the plan.

The cloud-hypervisor binary is not packaged for Debian 12 and has no dry-run mode, so
no test here runs it.
"""

from __future__ import annotations

import dataclasses
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from numaopt.cli import app
from numaopt.errors import LayoutError
from numaopt.model import BackendKind, CpuShape, Machine, Plan
from numaopt.render.cloud_hypervisor import byte_size, cloud_hypervisor_command, cloud_hypervisor_text
from numaopt.render.target import Accel, VmOptions
from numaopt.units import GIB, KIB, MIB, parse_cpulist
from tests.support.golden import assert_golden
from tests.support.problems import PROBLEMS, plan_for

ROOT = Path(__file__).resolve().parents[2]
KEYS = {  # the keys each option's parser registers (vmm/src/config.rs)
    "--cpus": {"boot", "max", "topology", "kvm_hyperv", "max_phys_bits", "affinity", "features", "nested", "core_scheduling"},
    "--memory": {"size", "file", "mergeable", "hotplug_method", "hotplug_size", "hotplugged_size", "shared", "hugepages",
                 "hugepage_size", "prefault", "reserve", "thp"},
    "--memory-zone": {"id", "size", "file", "shared", "hugepages", "hugepage_size", "host_numa_node", "hotplug_size",
                      "hotplugged_size", "prefault", "reserve", "mergeable"},
    "--numa": {"guest_numa_id", "cpus", "distances", "device_id", "memory_zones", "pci_segments"},
}
REPEATED = {"--memory-zone", "--numa"}
SINGLE_VALUED = {"--kernel", "--initramfs", "--cmdline"}


def split_commas(text: str) -> list[str]:
    """Split at commas outside [...] and "..."; unbalanced brackets or quotes are an error."""
    parts, current, depth, quoted = [], "", 0, False
    for char in text.strip():
        if char == '"':
            quoted = not quoted
        elif not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            assert depth > 0, f"unbalanced ] in {text!r}"
            depth -= 1
        elif not quoted and char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += char
    assert depth == 0 and not quoted, f"unbalanced brackets or quotes in {text!r}"
    return [*parts, current]


def options(text: str, flag: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in split_commas(text):
        key, equals, value = item.partition("=")
        assert key in KEYS[flag], f"{flag}: unknown option {key!r}"
        assert equals, f"{flag}: {key} needs a value"
        found[key] = value.strip()
    return found


def integer_list(text: str) -> list[int]:
    values: list[int] = []
    for item in text.strip().strip("[]").split(","):
        bounds = item.split("-")
        assert len(bounds) <= 2 and all(b.isdigit() for b in bounds), f"not an integer list: {text!r}"
        low, high = int(bounds[0]), int(bounds[-1])
        assert len(bounds) == 1 or low < high, f"a range must grow: {item!r}"
        values += range(low, high + 1)
    return values


def tuple_list(text: str) -> list[tuple[int, str]]:
    assert text.startswith("[") and text.endswith("]"), f"a tuple list needs one pair of brackets: {text!r}"
    pairs = []
    for item in split_commas(text[1:-1]):
        key, at, value = item.strip().partition("@")
        assert at and key.isdigit() and "@" not in value, f"not a key@value tuple: {item!r}"
        pairs.append((int(key), value))
    return pairs


def byte_sized(text: str) -> int:
    shift = {"K": 10, "M": 20, "G": 30}.get(text[-1:], 0)
    number = text[:-1] if shift else text
    assert number.isdigit(), f"not a size: {text!r}"
    return int(number) << shift


def toggle(text: str) -> bool:
    assert text.lower() in ("on", "off", "true", "false"), f"not a toggle: {text!r}"
    return text.lower() in ("on", "true")


def split_argv(argv: list[str]) -> tuple[str | None, dict[str, list[str]]]:
    """The taskset CPU list (if any) and each flag's values, in order."""
    emulator = None
    if argv[0] == "taskset":
        assert argv[1] == "--cpu-list"
        emulator, argv = argv[2], argv[3:]
    assert argv[0] == "cloud-hypervisor"
    flags: dict[str, list[str]] = {}
    for flag, value in zip(argv[1::2], argv[2::2], strict=True):
        assert flag in KEYS or flag in SINGLE_VALUED, f"unknown flag {flag}"
        assert flag in REPEATED or flag not in flags, f"{flag} twice"
        flags.setdefault(flag, []).append(value)
    return emulator, flags


@dataclasses.dataclass
class Guest:
    """What Cloud Hypervisor would build, in the terms of a plan."""

    vcpus: int
    topology: tuple[int, ...]
    affinity: dict[int, list[int]]
    node_cpus: dict[int, list[int]]
    node_bytes: dict[int, int]
    node_host: dict[int, int | None]
    slit: list[list[int]]
    zones: dict[str, dict[str, str]]


def build_guest(argv: list[str], machine: Machine) -> Guest:
    """Parse and validate as Cloud Hypervisor does, then lay the guest out."""
    _, flags = split_argv(argv)
    cpus = options(flags["--cpus"][0], "--cpus")
    boot = int(cpus["boot"])
    topology = tuple(int(part) for part in cpus["topology"].split(":"))
    assert len(topology) == 4 and all(topology), "topology is four non-zero parts"
    assert int(np.prod(topology)) == int(cpus.get("max", boot)), "product of topology parts must match max vCPUs"
    assert machine is Machine.VIRT or topology[0] <= 2, "x86: at most 2 threads per core"
    assert machine is not Machine.VIRT or topology[2] == 1, "aarch64: one die per package"
    affinity = {vcpu: integer_list(hosts) for vcpu, hosts in tuple_list(cpus.get("affinity", "[]"))} if "affinity" in cpus else {}
    assert all(vcpu < boot for vcpu in affinity)
    assert options(flags["--memory"][0], "--memory") == {"size": "0"}, "zones go with --memory size=0"
    zones = {}
    for text in flags.get("--memory-zone", []):
        zone = options(text, "--memory-zone")
        assert zone["id"] not in zones, "zone ids are unique"
        for key in ("shared", "hugepages", "prefault"):
            if key in zone:
                toggle(zone[key])
        if "hugepage_size" in zone:
            assert toggle(zone.get("hugepages", "off")), "hugepage_size needs hugepages=on"
            size = byte_sized(zone["hugepage_size"])
            assert size & (size - 1) == 0, "huge page size is a power of two"
        zones[zone["id"]] = zone
    nodes = [options(text, "--numa") for text in flags["--numa"]]
    ids = [int(node["guest_numa_id"]) for node in nodes]
    assert len(set(ids)) == len(ids), "a NUMA node twice"
    used: set[str] = set()
    distances: dict[int, dict[int, int]] = {}
    node_cpus, node_bytes, node_host = {}, {}, {}
    for nid, node in zip(ids, nodes, strict=True):
        members = integer_list(node["cpus"]) if "cpus" in node else []
        names = [name for name in node.get("memory_zones", "").strip("[]").split(",") if name]
        assert members or names, "a node needs cpus or memory_zones"
        assert all(name in zones and name not in used for name in names), "zones exist and belong to one node"
        used |= set(names)
        node_cpus[nid] = members
        node_bytes[nid] = sum(byte_sized(zones[name]["size"]) for name in names)
        hosts = {int(zones[name]["host_numa_node"]) for name in names if "host_numa_node" in zones[name]}
        node_host[nid] = hosts.pop() if len(hosts) == 1 else None
        row = {dest: int(value) for dest, value in tuple_list(node["distances"])} if "distances" in node else {}
        assert all(dest in ids for dest in row) and all(value <= 255 for value in row.values())
        distances[nid] = row
    order = sorted(ids)
    # ACPI SLIT: 10 on the diagonal, the node's own entry, else the other direction, else 20.
    slit = [[10 if a == b else distances[a].get(b, distances[b].get(a, 20)) for b in order] for a in order]
    return Guest(boot, topology, affinity, node_cpus, node_bytes, node_host, slit, zones)


def _assert_same_as_plan(guest: Guest, plan: Plan) -> None:
    layout = plan.layout
    assert guest.vcpus == layout.vcpus
    assert guest.node_cpus == {k: list(node.cpus) for k, node in enumerate(layout.nodes)}
    assert guest.node_bytes == {k: node.memory_bytes for k, node in enumerate(layout.nodes)}
    assert guest.node_host == {k: (node.host_nodes[0] if node.host_nodes and node.memory_bytes else None)
                               for k, node in enumerate(layout.nodes)}
    assert guest.slit == layout.effective_distances.tolist()
    assert guest.affinity == {vcpu: [host] for vcpu, host in plan.vcpu_to_host_cpu}


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_command_line_parses_validates_and_builds_the_plans_guest(path: Path) -> None:
    plan = plan_for(path)
    text = cloud_hypervisor_text(plan)
    assert_golden(f"{path.stem}.cloud-hypervisor.sh", text)
    argv = cloud_hypervisor_command(plan)
    assert shlex.split(text.replace("\\\n", "")) == argv
    emulator, _ = split_argv(argv)
    assert (parse_cpulist(emulator) if emulator else ()) == plan.emulator_cpus
    _assert_same_as_plan(build_guest(argv, plan.layout.machine), plan)


def test_topology_asymmetry_and_backends() -> None:
    smt = plan_for(ROOT / "problems" / "smt-2socket.toml")
    assert build_guest(cloud_hypervisor_command(smt), Machine.Q35).topology == (2, 2, 1, 2)
    asymmetric = plan_for(ROOT / "problems" / "asymmetric.toml")
    assert build_guest(cloud_hypervisor_command(asymmetric), Machine.Q35).slit == [[10, 20], [30, 10]]
    hugepages = plan_for(ROOT / "problems" / "hugepages.toml")
    zones = build_guest(cloud_hypervisor_command(hugepages), Machine.Q35).zones
    assert all(z["hugepages"] == "on" and byte_sized(z["hugepage_size"]) == GIB and z["shared"] == "on" for z in zones.values())
    odd_path = dataclasses.replace(smt.layout.backend, kind=BackendKind.FILE, mem_path="/run/vm,mem", share=True)
    filed = dataclasses.replace(smt, layout=dataclasses.replace(smt.layout, backend=odd_path))
    zone = build_guest(cloud_hypervisor_command(filed), Machine.Q35).zones["mem0"]
    assert zone["file"] == '"/run/vm,mem"' and "hugepages" not in zone


def test_kernel_boot_options() -> None:
    argv = cloud_hypervisor_command(
        plan_for(ROOT / "problems" / "seed-4node.toml"), VmOptions(kernel="/srv/vmlinux", initrd="/srv/initrd")
    )
    _, flags = split_argv(argv)
    assert (flags["--kernel"], flags["--initramfs"], flags["--cmdline"]) == (["/srv/vmlinux"], ["/srv/initrd"], ["console=ttyS0"])


def test_what_cloud_hypervisor_cannot_run_is_refused_in_one_line() -> None:
    seed = plan_for(ROOT / "problems" / "seed-4node.toml")
    with pytest.raises(LayoutError, match="KVM or MSHV only"):
        cloud_hypervisor_command(seed, VmOptions(accel=Accel.TCG))
    four_threads = dataclasses.replace(seed.layout, shape=CpuShape(sockets=4, cores=1, threads=4))
    with pytest.raises(LayoutError, match="at most 2 on x86"):
        cloud_hypervisor_command(dataclasses.replace(seed, layout=four_threads))
    spread = dataclasses.replace(seed.layout, nodes=tuple(dataclasses.replace(n, host_nodes=(0, 1)) for n in seed.layout.nodes))
    with pytest.raises(LayoutError, match="a memory zone binds to one") as info:
        cloud_hypervisor_command(dataclasses.replace(seed, layout=spread))
    assert str(info.value).startswith("--format cloud-hypervisor: ") and "\n" not in str(info.value)


def test_sizes_are_exact() -> None:
    assert [byte_size(n) for n in (2 * GIB, 1536 * MIB, 3 * KIB, 1000, 0)] == ["2G", "1536M", "3K", "1000", "0"]
    assert all(byte_sized(byte_size(n)) == n for n in (GIB, 1536 * MIB, 513 * MIB, 4097))


def test_several_vms_give_one_command_each(tmp_path: Path) -> None:
    out = tmp_path / "ch"
    example = str(ROOT / "problems" / "shared-host.toml")
    result = CliRunner().invoke(app, ["solve", example, "-f", "cloud-hypervisor", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    files = sorted(out.iterdir())
    assert [f.name for f in files] == ["batch.sh", "db.sh", "web.sh"]
    guests = [build_guest(shlex.split(f.read_text().replace("\\\n", "")), Machine.Q35) for f in files]
    pinned = [host for guest in guests for hosts in guest.affinity.values() for host in hosts]
    assert pinned and len(pinned) == len(set(pinned))  # no host CPU in two VMs


def test_cli_refusal_is_one_line_and_exit_1() -> None:
    seed = str(ROOT / "problems" / "seed-4node.toml")
    result = subprocess.run(
        [sys.executable, "-m", "numaopt", "solve", seed, "-q", "-f", "cloud-hypervisor", "--accel", "tcg"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == "numaopt: error: --format cloud-hypervisor: Cloud Hypervisor runs guests under KVM or MSHV only; use --accel kvm\n"
    booted = subprocess.run(
        [sys.executable, "-m", "numaopt", "solve", seed, "-q", "-f", "cloud-hypervisor", "--kernel", "/srv/vmlinux"],
        capture_output=True,
        text=True,
    )
    assert booted.returncode == 0 and "--kernel /srv/vmlinux" in booted.stdout
