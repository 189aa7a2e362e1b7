"""The pure parts of numaopt.qemu.qmp: x-query-numa text, QEMU's stderr, compare.

The texts were recorded from the real QEMU 7.2 (Debian) with the layouts named.
"""

from __future__ import annotations

import pytest

from numaopt.errors import QemuError
from numaopt.model import CpuShape, GuestLayout, GuestNode
from numaopt.qemu.qmp import (
    QemuReadback,
    QemuRefused,
    _refusal,
    compare,
    debian_package,
    parse_numa_text,
    parse_qemu_stderr,
)
from numaopt.units import GIB, MIB

# problems/cxl-memory-node.toml: nodes 2 and 3 have memory but no CPUs.
CXL_TEXT = (
    "4 nodes\nnode 0 cpus: 0 1 2 3\nnode 0 size: 1024 MB\nnode 0 plugged: 0 MB\n"
    "node 1 cpus: 4 5 6 7\nnode 1 size: 1024 MB\nnode 1 plugged: 0 MB\n"
    "node 2 cpus:\nnode 2 size: 1024 MB\nnode 2 plugged: 0 MB\n"
    "node 3 cpus:\nnode 3 size: 1024 MB\nnode 3 plugged: 0 MB\n"
)
# problems/memoryless-node.toml: node 2 has CPUs but no memory.
MEMORYLESS_TEXT = (
    "3 nodes\nnode 0 cpus: 0 1\nnode 0 size: 512 MB\nnode 0 plugged: 0 MB\n"
    "node 1 cpus: 2 3\nnode 1 size: 512 MB\nnode 1 plugged: 0 MB\n"
    "node 2 cpus: 4 5\nnode 2 size: 0 MB\nnode 2 plugged: 0 MB\n"
)
NO_NUMA_TEXT = "0 nodes\n"  # no -numa options at all


def test_cpuless_nodes() -> None:
    parsed = parse_numa_text(CXL_TEXT)
    assert parsed.num_nodes == 4
    assert parsed.node_cpus == {0: (0, 1, 2, 3), 1: (4, 5, 6, 7), 2: (), 3: ()}
    assert parsed.node_sizes_mib == {0: 1024, 1: 1024, 2: 1024, 3: 1024}
    assert parsed.node_plugged_mib == {n: 0 for n in range(4)}


def test_memoryless_node() -> None:
    parsed = parse_numa_text(MEMORYLESS_TEXT)
    assert parsed.node_sizes_mib == {0: 512, 1: 512, 2: 0}
    assert parsed.node_cpus[2] == (4, 5)


def test_no_numa() -> None:
    parsed = parse_numa_text(NO_NUMA_TEXT)
    assert (parsed.num_nodes, parsed.node_cpus, parsed.node_sizes_mib) == (0, {}, {})


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "expected 'N nodes' first"),
        ("node 0 cpus: 0\n", "expected 'N nodes' first"),
        ("1 nodes\nnode 0 cpus: 0\nnode 0 size: 12 GB\n", "unexpected size"),
        ("1 nodes\nnode 0 cpus: 0 x\nnode 0 size: 12 MB\n", "unexpected CPU list"),
        ("1 nodes\nnode 0 cpus: 0\nnode 0 size: 12 MB\nnode 0 distance: 10\n", "unexpected line"),
        ("2 nodes\nnode 0 cpus: 0\nnode 0 size: 12 MB\n", "says 2 nodes but has 'cpus' lines for nodes [0]"),
    ],
)
def test_malformed_text_is_loud(text: str, complaint: str) -> None:
    with pytest.raises(QemuError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        parse_numa_text(text)


# ---------------------------------------------------------------------------------------
# stderr


ARGV = ["/usr/bin/qemu-system-x86_64", "-m", "1G", "-numa", "node,mem=1G", "-numa", "dist,src=0,dst=1,val=9"]


def test_stderr_location_and_warning_are_split_off() -> None:
    stderr = (
        "qemu-system-x86_64: -numa node,mem=1G: warning: Parameter -numa node,mem is deprecated, use -numa node,memdev instead\n"
        "qemu-system-x86_64: -numa dist,src=0,dst=1,val=9: NUMA distance (9) is invalid, it shouldn't be less than 10.\n"
    )
    first, second = parse_qemu_stderr(stderr, ARGV)
    assert (first.option, first.warning) == ("-numa node,mem=1G", True)
    assert first.text.startswith("Parameter -numa node,mem is deprecated")
    assert (second.option, second.warning) == ("-numa dist,src=0,dst=1,val=9", False)
    refusal = _refusal(stderr, ARGV, 1)
    assert refusal.qemu_message == "NUMA distance (9) is invalid, it shouldn't be less than 10."
    assert refusal.returncode == 1


def test_stderr_hint_lines_belong_to_the_message() -> None:
    stderr = (
        "qemu-system-x86_64: -numa node,mem=1G: Parameter -numa node,mem is not supported by this machine type\n"
        "Use -numa node,memdev instead\n"
    )
    refusal = _refusal(stderr, ARGV, 1)
    assert refusal.qemu_message == "Parameter -numa node,mem is not supported by this machine type"
    assert refusal.hint == "Use -numa node,memdev instead"
    assert str(refusal) == (
        "QEMU refused the configuration: -numa node,mem=1G: Parameter -numa node,mem is not supported by this "
        "machine type (Use -numa node,memdev instead)"
    )


def test_stderr_without_location() -> None:
    stderr = "qemu-system-x86_64: total memory for NUMA nodes (0x0) should equal RAM size (0x40000000)\n"
    refusal = _refusal(stderr, ARGV, 1)
    assert isinstance(refusal, QemuRefused)
    assert refusal.option is None
    assert refusal.qemu_message == "total memory for NUMA nodes (0x0) should equal RAM size (0x40000000)"


def test_exit_without_error_message() -> None:
    refusal = _refusal("", ARGV, -11)
    assert refusal.qemu_message == "QEMU exited with status -11 before answering QMP"


def test_debian_packages() -> None:
    assert debian_package("qemu-system-x86_64") == "qemu-system-x86"
    assert debian_package("/usr/bin/qemu-system-aarch64") == "qemu-system-arm"
    assert debian_package("qemu-kvm") == "qemu-system"


# ---------------------------------------------------------------------------------------
# compare, on hand-made readbacks


LAYOUT = GuestLayout(
    vcpus=4,
    memory_bytes=GIB,
    nodes=(GuestNode(0, (0, 1), 512 * MIB), GuestNode(1, (2, 3), 512 * MIB)),
    shape=CpuShape(sockets=2, cores=2),
)


def _readback(**changes: object) -> QemuReadback:
    fields: dict[str, object] = {
        "cpu_nodes": {0: 0, 1: 0, 2: 1, 3: 1},
        "cpu_props": {c: {"socket-id": c // 2, "core-id": c % 2, "thread-id": 0} for c in range(4)},
        "node_sizes_bytes": {0: 512 * MIB, 1: 512 * MIB},
        "node_cpus": {0: (0, 1), 1: (2, 3)},
        "memdevs": [{"id": "mem-node0", "size": 512 * MIB}, {"id": "mem-node1", "size": 512 * MIB}],
        "qemu_version": "7.2.22",
        "ram_bytes": GIB,
    }
    fields.update(changes)
    return QemuReadback(**fields)  # type: ignore[arg-type]


def test_exact_match() -> None:
    assert compare(LAYOUT, _readback()) == []


def test_mismatches_one_line_each() -> None:
    readback = _readback(
        cpu_nodes={0: 0, 1: 1, 2: 1, 3: 1},
        node_cpus={0: (0,), 1: (1, 2, 3)},
        node_sizes_bytes={0: 768 * MIB, 1: 256 * MIB},
        cpu_props={**_readback().cpu_props, 3: {"socket-id": 0, "core-id": 1, "thread-id": 0}},
    )
    assert compare(LAYOUT, readback) == [
        "node 0: QEMU has 768 MiB, the layout says 512 MiB",
        "node 1: QEMU has 256 MiB, the layout says 512 MiB",
        "vCPU 1: QEMU put it in node 1, the layout says node 0",
        "vCPU 3: QEMU has socket-id 0 (the layout's -smp shape gives 1)",
    ]


def test_node_count_and_missing_vcpus() -> None:
    readback = _readback(
        cpu_nodes={0: 0, 1: 0},
        cpu_props={0: {"socket-id": 0, "core-id": 0}, 1: {"socket-id": 0, "core-id": 1}},
        node_sizes_bytes={0: GIB},
        node_cpus={0: (0, 1)},
    )
    lines = compare(LAYOUT, readback)
    assert lines[0] == "QEMU built 1 NUMA node(s), the layout has 2"
    assert "vCPU 2: QEMU has no such vCPU, the layout has 4" in lines
    assert "node 0: QEMU has 1024 MiB, the layout says 512 MiB" in lines


def test_sizes_below_a_mib_come_from_the_backend() -> None:
    # x-query-numa shows 512 MB for 512 MiB + 8 KiB; the backend knows the bytes.
    layout = GuestLayout(
        vcpus=4,
        memory_bytes=GIB + 8192,
        nodes=(GuestNode(0, (0, 1), 512 * MIB + 8192), GuestNode(1, (2, 3), 512 * MIB)),
        shape=CpuShape(sockets=2, cores=2),
    )
    good = _readback(
        ram_bytes=GIB + 8192,
        memdevs=[{"id": "mem-node0", "size": 512 * MIB + 8192}, {"id": "mem-node1", "size": 512 * MIB}],
    )
    assert compare(layout, good) == []
    bad = _readback(ram_bytes=GIB + 8192)
    assert compare(layout, bad) == [
        f"node 0: its backend mem-node0 has {512 * MIB} bytes, the layout says {512 * MIB + 8192} bytes"
    ]


def test_unassigned_vcpu_and_ram() -> None:
    layout = GuestLayout(
        vcpus=4,
        memory_bytes=GIB,
        nodes=(GuestNode(0, (0, 1), 512 * MIB), GuestNode(1, (2,), 512 * MIB)),
        shape=CpuShape(sockets=2, cores=2),
    )
    readback = _readback(cpu_nodes={0: 0, 1: 0, 2: 1, 3: 0}, node_cpus={0: (0, 1, 3), 1: (2,)}, ram_bytes=2 * GIB)
    assert compare(layout, readback) == [
        "QEMU has 2048 MiB of RAM, the layout says 1024 MiB",
        "vCPU 3: QEMU put it in node 0, the layout puts it in no node",
    ]
