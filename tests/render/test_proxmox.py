"""Proxmox VE config lines: the syntax qemu-server documents, its rules for numaN, and the
QEMU command line qemu-server would make of them, run by the real QEMU.

The grammar and rules below restate qemu-server (PVE/QemuServer.pm: the config line
syntax and option formats; PVE/QemuServer/Memory.pm: numa0..numa7, each with cpus and
memory in MiB, hostnodes needing a policy, huge pages needing one host node, the node
memory adding up to ``memory``, and the ``-numa node`` options it writes).
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from numaopt.cli import app
from numaopt.errors import LayoutError
from numaopt.model import Plan
from numaopt.qemu.qmp import probe
from numaopt.render.proxmox import proxmox_config
from numaopt.render.target import Accel, VmOptions
from numaopt.units import MIB, parse_cpulist
from tests.support.golden import assert_golden
from tests.support.problems import PROBLEMS, plan_for

ROOT = Path(__file__).resolve().parents[2]
# Examples Proxmox VE cannot hold (CPU-less or memory-less guest nodes), with the reason.
REFUSED = {
    "cxl-memory-node": "guest node 2 has no vCPUs",
    "cxl-tiering": "guest node 1 has no vCPUs",
    "memoryless-node": "guest node 2 has no memory",
}
ACCEPTED = [p for p in PROBLEMS if p.stem not in REFUSED]
# Accepted examples whose largest guest node (a RAM backend QEMU maps at start) fits a
# small machine: the larger ones (48 GiB nodes) would be refused by overcommit, not QEMU.
PROBED = {"asymmetric", "opteron-ring", "seed-4node", "seed-4node-aarch64", "smt-2socket", "unequal-nodes"}

LINE = re.compile(r"([a-z][a-z_\-]*\d*):\s*(.+?)\s*")  # qemu-server's "key: value" config line
ID_LIST = re.compile(r"\d+(?:-\d+)?(?:;\d+(?:-\d+)?)*")  # numaN cpus / hostnodes: "id[-id];..."
CPUSET = re.compile(r"\d+(?:-\d+)?(?:,\d+(?:-\d+)?)*")  # pve-cpuset (affinity)
DNS_NAME = re.compile(r"[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*")
MACHINE = re.compile(r"pc|q35|virt")
SCALARS = {
    "name": DNS_NAME,
    "arch": re.compile(r"x86_64|aarch64"),
    "machine": MACHINE,
    "cpu": re.compile(r"host|max|cortex-a57|kvm64|x86-64-v\d(-AES)?"),
    "sockets": re.compile(r"[1-9]\d*"),
    "cores": re.compile(r"[1-9]\d*"),
    "vcpus": re.compile(r"[1-9]\d*"),
    "memory": re.compile(r"(current=)?[1-9]\d*"),
    "numa": re.compile(r"[01]"),
    "hugepages": re.compile(r"any|2|1024"),
    "affinity": CPUSET,
    "args": re.compile(r".+"),
}
NUMA_KEYS = {"cpus", "hostnodes", "memory", "policy"}


@dataclasses.dataclass
class PveConfig:
    scalars: dict[str, str]
    numa: dict[int, dict[str, str]]


def parse_config(text: str) -> PveConfig:
    """Read config lines as qemu-server does, checking each value against its format."""
    scalars: dict[str, str] = {}
    numa: dict[int, dict[str, str]] = {}
    for line in text.splitlines():
        match = LINE.fullmatch(line)
        assert match, f"not a config line: {line!r}"
        key, value = match.groups()
        if numa_key := re.fullmatch(r"numa(\d+)", key):
            index = int(numa_key.group(1))
            assert index < 8, f"{key}: qemu-server has numa0..numa7"
            pairs = [item.split("=", 1) for item in value.split(",")]
            assert all(len(pair) == 2 and pair[0] in NUMA_KEYS for pair in pairs), f"{key}: {value}"
            properties = dict(pairs)
            assert len(properties) == len(pairs), f"{key}: a property twice"
            assert ID_LIST.fullmatch(properties.get("cpus", "")), f"{key}: cpus {properties.get('cpus')!r}"
            assert "hostnodes" not in properties or ID_LIST.fullmatch(properties["hostnodes"])
            assert re.fullmatch(r"\d+(\.\d+)?", properties.get("memory", "")), f"{key}: memory"
            assert properties.get("policy", "bind") in ("preferred", "bind", "interleave")
            numa[index] = properties
        else:
            assert key in SCALARS, f"unknown key {key}"
            assert SCALARS[key].fullmatch(value), f"{key}: {value!r}"
            assert key not in scalars, f"{key} twice"
            scalars[key] = value
    return PveConfig(scalars, numa)


def _ranges(id_list: str) -> list[str]:
    return id_list.split(";")


def qemu_server_argv(config: PveConfig) -> list[str]:
    """The NUMA part of the command line qemu-server makes of a config (Memory.pm's
    ``config``; RAM backends and no host binding, since this machine has neither huge
    pages nor the host's nodes), checking the rules it dies on."""
    values = config.scalars
    assert values["numa"] == "1", "numaN lines need numa: 1"
    sockets, cores = int(values.get("sockets", 1)), int(values.get("cores", 1))
    vcpus = int(values.get("vcpus", sockets * cores))
    assert vcpus <= sockets * cores
    memory = int(values["memory"].removeprefix("current="))
    binary = "qemu-system-aarch64" if values.get("arch") == "aarch64" else "qemu-system-x86_64"
    argv = [binary, "-machine", values.get("machine", "pc"), "-cpu", values["cpu"]]
    argv += ["-smp", f"{vcpus},sockets={sockets},cores={cores},maxcpus={sockets * cores}", "-m", str(memory)]
    assert sorted(config.numa) == list(range(len(config.numa))), "numaN indices are node ids: no gaps"
    total = 0
    for index, node in sorted(config.numa.items()):
        assert "memory" in node and float(node["memory"]) > 0, f"numa{index}: missing memory"
        assert "cpus" in node, f"numa{index}: missing cpus"
        if "hostnodes" in node:
            assert "policy" in node, f"numa{index}: hostnodes without a policy"
        elif "hugepages" in values:
            raise AssertionError(f"numa{index}: huge pages need hostnodes")
        if "hugepages" in values:
            assert len(parse_cpulist(node["hostnodes"].replace(";", ","))) == 1, "huge pages: one host node"
        size = int(node["memory"])
        total += size
        argv += ["-object", f"memory-backend-ram,id=ram-node{index},size={size}M"]
        cpus = ",cpus=".join(_ranges(node["cpus"]))
        argv += ["-numa", f"node,nodeid={index},cpus={cpus},memdev=ram-node{index}"]
    assert total == memory, "total memory for NUMA nodes must equal the VM's memory"
    return argv + shlex.split(values.get("args", ""))


def _check_against_plan(config: PveConfig, plan: Plan) -> None:
    layout = plan.layout
    assert [parse_cpulist(config.numa[k]["cpus"].replace(";", ",")) for k in range(layout.num_nodes)] == [
        node.cpus for node in layout.nodes
    ]
    assert [int(config.numa[k]["memory"]) * MIB for k in range(layout.num_nodes)] == [n.memory_bytes for n in layout.nodes]
    for k, node in enumerate(layout.nodes):
        hostnodes = config.numa[k].get("hostnodes")
        assert (parse_cpulist(hostnodes.replace(";", ",")) if hostnodes else ()) == node.host_nodes
    affinity = config.scalars.get("affinity")
    assert (parse_cpulist(affinity) if affinity else ()) == tuple(sorted({h for _, h in plan.vcpu_to_host_cpu}))
    assert int(config.scalars["sockets"]) * int(config.scalars["cores"]) == layout.vcpus


@pytest.mark.parametrize("path", ACCEPTED, ids=lambda p: p.stem)
def test_config_parses_follows_the_rules_and_matches_the_plan(path: Path) -> None:
    plan = plan_for(path)
    text = proxmox_config(plan)
    assert_golden(f"{path.stem}.proxmox.conf", text)
    config = parse_config(text)
    qemu_server_argv(config)
    _check_against_plan(config, plan)


@pytest.mark.qemu
@pytest.mark.parametrize("path", [p for p in ACCEPTED if p.stem in PROBED], ids=lambda p: p.stem)
def test_qemu_builds_the_plans_nodes_from_qemu_servers_command_line(path: Path) -> None:
    plan = plan_for(path)
    config = parse_config(proxmox_config(plan, VmOptions(accel=Accel.TCG)))  # this machine runs TCG
    readback = probe(qemu_server_argv(config))
    layout = plan.layout
    assert readback.node_cpus == {k: node.cpus for k, node in enumerate(layout.nodes)}
    assert readback.node_sizes_bytes == {k: node.memory_bytes for k, node in enumerate(layout.nodes)}


@pytest.mark.parametrize("stem", sorted(REFUSED))
def test_nodes_proxmox_cannot_hold_are_refused_in_one_line(stem: str) -> None:
    with pytest.raises(LayoutError) as info:
        proxmox_config(plan_for(ROOT / "problems" / f"{stem}.toml"))
    message = str(info.value)
    assert message.startswith("--format proxmox: ") and REFUSED[stem] in message and "\n" not in message


def test_smt_is_counted_as_cores_and_aarch64_gets_gicv3() -> None:
    smt = parse_config(proxmox_config(plan_for(ROOT / "problems" / "smt-2socket.toml")))
    assert (smt.scalars["sockets"], smt.scalars["cores"]) == ("2", "4")  # 2 cores x 2 threads per socket
    arm = parse_config(proxmox_config(plan_for(ROOT / "problems" / "seed-4node-aarch64.toml"), VmOptions(accel=Accel.TCG)))
    assert (arm.scalars["arch"], arm.scalars["machine"], arm.scalars["cpu"]) == ("aarch64", "virt", "cortex-a57")
    assert arm.scalars["args"].startswith("-machine gic-version=3 ")


def test_names_and_huge_pages_proxmox_refuses() -> None:
    plan = plan_for(ROOT / "problems" / "seed-4node.toml")
    with pytest.raises(LayoutError, match="not a DNS name"):
        proxmox_config(plan, VmOptions(name="db_primary"))
    hugepages = plan_for(ROOT / "problems" / "hugepages.toml")
    assert parse_config(proxmox_config(hugepages)).scalars["hugepages"] == "1024"
    odd = dataclasses.replace(hugepages.layout.backend, page_size_bytes=64 * 1024)
    with pytest.raises(LayoutError, match="2 MiB or 1024 MiB"):
        proxmox_config(dataclasses.replace(hugepages, layout=dataclasses.replace(hugepages.layout, backend=odd)))
    unbound = dataclasses.replace(
        hugepages.layout, nodes=tuple(dataclasses.replace(n, host_nodes=()) for n in hugepages.layout.nodes)
    )
    with pytest.raises(LayoutError, match="one host node"):
        proxmox_config(dataclasses.replace(hugepages, layout=unbound))


def test_several_vms_give_one_config_each_on_disjoint_cpus(tmp_path: Path) -> None:
    out = tmp_path / "pve"
    result = CliRunner().invoke(app, ["solve", str(ROOT / "problems" / "shared-host.toml"), "-f", "proxmox", "-q", "-o", str(out)])
    assert result.exit_code == 0, result.output
    configs = {path.name: parse_config(path.read_text()) for path in sorted(out.iterdir())}
    assert sorted(configs) == ["batch.conf", "db.conf", "web.conf"]
    assert [c.scalars["name"] for c in configs.values()] == ["batch", "db", "web"]
    affinities = [parse_cpulist(c.scalars["affinity"]) for c in configs.values()]
    assert sum(len(a) for a in affinities) == len(set().union(*affinities))  # no host CPU in two VMs
    for config in configs.values():
        qemu_server_argv(config)
