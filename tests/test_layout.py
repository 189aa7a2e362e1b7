"""Layout defaults and checks beyond the distance values."""

from __future__ import annotations

from pathlib import Path

import pytest

from numaopt.layout import check_layout, choose_shape, guest_node_order, split_memory
from numaopt.model import BackendKind, CpuShape, GuestLayout, GuestNode, Machine, MemoryBackend
from numaopt.rules import RuleSet, Severity
from numaopt.units import GIB, MIB

DATA = Path(__file__).resolve().parent / "data"


def layout(nodes: list[tuple[str, int]], vcpus: int = 8, shape: CpuShape | None = None, **kw: object) -> GuestLayout:
    from numaopt.units import parse_cpulist

    built = tuple(GuestNode(i, parse_cpulist(cpus), mem) for i, (cpus, mem) in enumerate(nodes))
    return GuestLayout(
        vcpus=vcpus,
        memory_bytes=sum(mem for _, mem in nodes),
        nodes=built,
        shape=shape or CpuShape(sockets=vcpus),
        **kw,  # type: ignore[arg-type]
    )


def codes(lay: GuestLayout, rules: RuleSet, severity: Severity | None = None) -> list[str]:
    return [f.code for f in check_layout(lay, rules) if severity is None or f.severity is severity]


@pytest.mark.parametrize(
    ("sizes", "threads", "expected"),
    [
        ([4, 4, 4, 4], 1, (4, 4, 1)),
        ([6, 10], 1, (8, 2, 1)),  # the example: 2 cores per socket, 3 + 5 sockets
        ([7, 9], 1, (16, 1, 1)),
        ([8, 8], 2, (2, 4, 2)),
        ([16], 1, (1, 16, 1)),
    ],
)
def test_choose_shape_keeps_every_node_on_whole_sockets(sizes: list[int], threads: int, expected: tuple[int, int, int]) -> None:
    start, nodes = 0, []
    for size in sizes:
        nodes.append(range(start, start + size))
        start += size
    shape = choose_shape(start, nodes, threads)
    assert (shape.sockets, shape.cores, shape.threads) == expected
    owner = {cpu: i for i, cpus in enumerate(nodes) for cpu in cpus}
    per_socket = shape.cpus_per_socket
    for socket in range(shape.sockets):
        assert len({owner[c] for c in range(socket * per_socket, (socket + 1) * per_socket)}) == 1


def test_choose_shape_with_interleaved_nodes() -> None:
    shape = choose_shape(8, [(0, 1, 4, 5), (2, 3, 6, 7)])
    assert (shape.sockets, shape.cores) == (4, 2)


def test_split_memory_sums_exactly_and_uses_granules() -> None:
    assert split_memory(2 * GIB, 4) == [512 * MIB] * 4
    assert split_memory(GIB, 3) == [384 * MIB, 384 * MIB, 256 * MIB]
    odd = split_memory(100 * MIB + 4096, 3)
    assert sum(odd) == 100 * MIB + 4096 and all(size % 4096 == 0 for size in odd)


def test_seed_like_layout_is_clean() -> None:
    lay = layout([("0-3", 512 * MIB), ("4-7", 512 * MIB)], shape=CpuShape(sockets=2, cores=4))
    for rules in RuleSet:
        assert codes(lay, rules, Severity.ERROR) == []
        assert codes(lay, rules, Severity.WARNING) == []


def test_socket_split_is_a_warning_that_explains_the_guest_message() -> None:
    lay = layout([("0-3", 512 * MIB), ("4-7", 512 * MIB)], shape=CpuShape(sockets=1, cores=8))
    (finding,) = [f for f in check_layout(lay, RuleSet.LINUX_ACPI) if f.code == "socket-split"]
    assert finding.severity is Severity.WARNING
    assert "llc-sibling CPU #0 is not on the same node! [node: 1 != 0]" in finding.message
    assert codes(lay, RuleSet.QEMU) == []  # QEMU itself does not mind
    virt = layout([("0-3", 512 * MIB), ("4-7", 512 * MIB)], shape=CpuShape(sockets=1, cores=8), machine=Machine.VIRT)
    assert "socket-split" not in codes(virt, RuleSet.LINUX_DT)  # arm64 clips the coregroup to the node


def test_dies_of_one_core_warn_that_linux_6_1_shows_each_cpu_as_a_package() -> None:
    # Booted (docs/verify.md): a 4-socket x 2-die guest of one core per die; 6.1 showed every
    # CPU alone in its package, 6.12.118 the packages as asked.
    nodes = [("0-3", 512 * MIB), ("4-7", 512 * MIB)]
    lone = layout(nodes, shape=CpuShape(sockets=4, dies=2))
    (finding,) = [f for f in check_layout(lone, RuleSet.LINUX_ACPI) if f.code == "die-of-one-core"]
    assert finding.severity is Severity.WARNING and "x86_max_cores = 1" in finding.message
    assert "die-of-one-core" not in codes(lone, RuleSet.QEMU)
    assert "die-of-one-core" not in codes(layout(nodes, shape=CpuShape(sockets=2, dies=2, cores=2)), RuleSet.LINUX_ACPI)
    assert "die-of-one-core" not in codes(layout(nodes, shape=CpuShape(sockets=8)), RuleSet.LINUX_ACPI)


def test_smt_core_split_is_an_error_for_the_guest() -> None:
    lay = layout([("0-2", 512 * MIB), ("3-7", 512 * MIB)], shape=CpuShape(sockets=2, cores=2, threads=2))
    (finding,) = [f for f in check_layout(lay, RuleSet.LINUX_ACPI) if f.code == "core-split"]
    assert finding.severity is Severity.ERROR
    assert "smt-sibling CPU #2 is not on the same node" in finding.message
    assert "core-split" in codes(lay, RuleSet.LINUX_DT)


def test_cluster_split_on_virt() -> None:
    lay = layout([("0-2", 512 * MIB), ("3-7", 512 * MIB)], shape=CpuShape(sockets=1, clusters=2, cores=4), machine=Machine.VIRT)
    assert "cluster-split" in codes(lay, RuleSet.LINUX_DT, Severity.ERROR)


# The two lines every vCPU of a booted virt guest with threads > 1 printed (Debian arm64 6.1).
VIRT_SMT_LINES = ("BUG: arch topology borken", "the SMT domain not a subset of the MC domain")


def test_smt_on_virt_is_an_error_in_the_guests_own_words() -> None:
    console = (DATA / "guest-reports-aarch64" / "smt.console").read_text(encoding="utf-8")
    assert all(line in console for line in VIRT_SMT_LINES)  # what the recorded boot printed
    whole = layout([("0-3", 512 * MIB), ("4-7", 512 * MIB)], shape=CpuShape(sockets=2, cores=2, threads=2), machine=Machine.VIRT)
    one_node = layout([("0-7", GIB)], shape=CpuShape(sockets=1, cores=4, threads=2), machine=Machine.VIRT)
    for lay in (whole, one_node):  # not a split: every such guest prints it
        (finding,) = [f for f in check_layout(lay, RuleSet.LINUX_DT) if f.code == "virt-smt"]
        assert finding.severity is Severity.ERROR
        assert all(f"'{line}'" in finding.message for line in VIRT_SMT_LINES)
        assert "virt-smt" not in codes(lay, RuleSet.QEMU)  # QEMU builds it as asked


def test_smt_rule_leaves_one_thread_virt_and_x86_smt_alone() -> None:
    cores = layout([("0-3", 512 * MIB), ("4-7", 512 * MIB)], shape=CpuShape(sockets=2, cores=4), machine=Machine.VIRT)
    assert codes(cores, RuleSet.LINUX_DT, Severity.ERROR) == codes(cores, RuleSet.LINUX_DT, Severity.WARNING) == []
    x86 = layout([("0-3", 512 * MIB), ("4-7", 512 * MIB)], shape=CpuShape(sockets=2, cores=2, threads=2))
    assert "virt-smt" not in codes(x86, RuleSet.LINUX_DT) + codes(x86, RuleSet.LINUX_ACPI)


def test_qemu_messages_are_qemus() -> None:
    lay = layout([("0-3", 0), ("4-7", 0)])
    lay = GuestLayout(vcpus=8, memory_bytes=2 * GIB, nodes=lay.nodes, shape=CpuShape(sockets=2, cores=3))
    messages = [f.message for f in check_layout(lay, RuleSet.QEMU)]
    assert "total memory for NUMA nodes (0x0) should equal RAM size (0x80000000)" in messages
    assert (
        "Invalid CPU topology: product of the hierarchy must match maxcpus: "
        "sockets (2) * dies (1) * cores (3) * threads (1) != maxcpus (8)"
    ) in messages
    (memory,) = [f for f in check_layout(lay, RuleSet.QEMU) if f.code == "memory-total"]
    assert memory.fix is not None and "memdev" in memory.fix


def test_ram_size_is_rounded_up_to_8k_like_qemu() -> None:
    nodes = (GuestNode(0, (0,), 8192),)
    lay = GuestLayout(vcpus=1, memory_bytes=4096, nodes=nodes, shape=CpuShape())
    assert codes(lay, RuleSet.QEMU, Severity.ERROR) == []


def test_ids_cpus_and_node_counts() -> None:
    nodes = (GuestNode(0, (0, 1), 512 * MIB), GuestNode(2, (1, 9), 512 * MIB))
    lay = GuestLayout(vcpus=4, memory_bytes=GIB, nodes=nodes, shape=CpuShape(sockets=4))
    messages = [f.message for f in check_layout(lay, RuleSet.QEMU)]
    assert "numa: Node ID missing: 1" in messages
    assert "CPU is already assigned to node-id: 0" in messages
    assert "CPU index (9) should be smaller than maxcpus (4)" in messages
    assert any(m.startswith("CPU(s) not present in any NUMA nodes: CPU 2-3") for m in messages)
    many = GuestLayout(
        vcpus=1, memory_bytes=129 * MIB, nodes=tuple(GuestNode(i, (0,) if i == 0 else (), MIB) for i in range(129)), shape=CpuShape()
    )
    assert "Max number of NUMA nodes reached: 128" in [f.message for f in check_layout(many, RuleSet.QEMU)]


def test_guest_rule_sets_carry_qemus_refusals() -> None:
    lay = layout([("0-3", 0), ("4-7", 0)])
    lay = GuestLayout(vcpus=8, memory_bytes=GIB, nodes=lay.nodes, shape=CpuShape(sockets=8))
    for rules in (RuleSet.LINUX_ACPI, RuleSet.LINUX_DT, RuleSet.LIBVIRT):
        assert "memory-total" in codes(lay, rules, Severity.ERROR)


def test_guest_renumbers_nodes_in_first_seen_order() -> None:
    lay = layout([("4-7", 512 * MIB), ("0-3", 512 * MIB), ("", 512 * MIB), ("", 0)])
    assert guest_node_order(lay) == [1, 0, 2]
    found = {f.code: f for f in check_layout(lay, RuleSet.LINUX_ACPI)}
    assert "node 1 will be guest node 0" in found["node-renumbered"].message
    assert found["empty-node"].severity is Severity.WARNING


def test_huge_page_multiples() -> None:
    backend = MemoryBackend(kind=BackendKind.FILE, mem_path="/dev/hugepages", page_size_bytes=GIB)
    lay = layout([("0-3", 512 * MIB), ("4-7", 1536 * MIB)], backend=backend)
    bad = [f.message for f in check_layout(lay, RuleSet.QEMU) if f.code == "page-multiple"]
    assert bad == ["node 0: 512MiB is not a multiple of the page size 1GiB", "node 1: 1536MiB is not a multiple of the page size 1GiB"]


def test_dies_and_clusters_per_machine() -> None:
    x86 = layout([("0-7", GIB)], shape=CpuShape(sockets=1, clusters=2, cores=4))
    assert "clusters not supported by this machine's CPU topology" in [f.message for f in check_layout(x86, RuleSet.QEMU)]
    virt = layout([("0-7", GIB)], shape=CpuShape(sockets=1, dies=2, cores=4), machine=Machine.VIRT)
    assert "dies not supported by this machine's CPU topology" in [f.message for f in check_layout(virt, RuleSet.QEMU)]


def test_apic_ids_beyond_254_are_flagged() -> None:
    # 80 sockets of 3 cores: 3 cores take 2 bits, so the last APIC ID is 79 << 2 | 2 = 318.
    wide = GuestLayout(vcpus=240, memory_bytes=GIB, nodes=(GuestNode(0, tuple(range(240)), GIB),), shape=CpuShape(sockets=80, cores=3))
    (finding,) = [f for f in check_layout(wide, RuleSet.QEMU) if f.code == "x2apic"]
    assert "APIC ID is 318" in finding.message
    packed = GuestLayout(vcpus=240, memory_bytes=GIB, nodes=(GuestNode(0, tuple(range(240)), GIB),), shape=CpuShape(sockets=60, cores=4))
    assert "x2apic" not in codes(packed, RuleSet.QEMU)
