"""The -S check against the real QEMU 7.2: what numaopt renders is what QEMU builds, and
what numaopt's ``qemu`` rule set refuses, QEMU refuses with the same message.

No mocks: every test starts qemu-system-x86_64 / qemu-system-aarch64 paused.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qemu.qmp import QMPClient

from numaopt.errors import QemuError
from numaopt.layout import check_layout
from numaopt.model import CpuShape, GuestLayout, GuestNode, Machine
from numaopt.problem import load_problem, parse_problem
from numaopt.qemu import qmp
from numaopt.qemu.qmp import QemuReadback, QemuRefused, compare, probe
from numaopt.render.qemu import qemu_command
from numaopt.rules import RuleSet, Severity
from numaopt.units import GIB, MIB

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
from tests.support.problems import PROBLEMS, plan_for  # noqa: E402  (every feasible problem)


def layout_of(toml: str) -> GuestLayout:
    layout = parse_problem(textwrap.dedent(toml)).layout
    assert layout is not None
    return layout


def probe_layout(layout: GuestLayout) -> QemuReadback:
    """Render, probe, and require QEMU to have built exactly the layout."""
    readback = probe(qemu_command(layout))
    assert compare(layout, readback) == []
    return readback


def qemu_errors(layout: GuestLayout) -> list[str]:
    return [f.message for f in check_layout(layout, RuleSet.QEMU) if f.severity is Severity.ERROR]


@pytest.fixture
def spawned(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every QEMU process probe starts (the real Popen, only recorded)."""
    started: list[subprocess.Popen[bytes]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        process: subprocess.Popen[bytes] = real_popen(*args, **kwargs)
        started.append(process)
        return process

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    yield started


def argv_of(process: subprocess.Popen[bytes]) -> list[str]:
    return [str(arg) for arg in process.args]  # type: ignore[union-attr]


def assert_cleaned_up(started: list[subprocess.Popen[bytes]]) -> None:
    assert started, "probe started no process"
    for process in started:
        assert process.returncode is not None, "QEMU was left running or unreaped"
        chardev = next(arg for arg in argv_of(process) if arg.startswith("socket,id=numaopt-qmp"))
        socket_path = chardev.split("path=")[1].split(",")[0]
        assert not os.path.exists(os.path.dirname(socket_path)), "the private QMP directory was left behind"


# ---------------------------------------------------------------------------------------
# Problem files and the seed


def _problem_layout(path: Path, scratch: Path) -> GuestLayout:
    layout = plan_for(path).layout
    if not layout.nodes[0].host_nodes:
        return layout
    # A placement plan is for the problem's host, not this machine: the -S check is about
    # the guest's shape, so the binding to absent host nodes is dropped, node memory is
    # scaled down to 128 MiB each (a 24 GiB machine cannot map 160 GiB of guest RAM), and
    # huge-page files go to a scratch directory (CI has no hugetlbfs mount).
    backend = layout.backend
    if backend.mem_path:
        backend = dataclasses.replace(backend, mem_path=str(scratch), page_size_bytes=None)
    nodes = tuple(
        dataclasses.replace(n, host_nodes=(), memory_bytes=128 * MIB if n.memory_bytes else 0) for n in layout.nodes
    )
    return dataclasses.replace(layout, backend=backend, nodes=nodes, memory_bytes=sum(n.memory_bytes for n in nodes))


@pytest.mark.parametrize("path", PROBLEMS, ids=[p.name for p in PROBLEMS])
def test_problem_files_build_exactly(path: Path, tmp_path: Path) -> None:
    layout = _problem_layout(path, tmp_path)
    errors = qemu_errors(layout)
    if errors:
        with pytest.raises(QemuRefused) as refused:
            probe(qemu_command(layout))
        assert refused.value.qemu_message in errors
        return
    readback = probe_layout(layout)
    assert readback.num_nodes == layout.num_nodes
    assert sorted(readback.cpu_nodes) == list(range(layout.vcpus))


def test_problem_files_exist() -> None:
    assert any(p.name == "seed-4node.toml" for p in PROBLEMS)


def test_seed_problem_is_4_nodes_of_4_cpus_and_512_mib(spawned: list[subprocess.Popen[bytes]]) -> None:
    layout = load_problem(ROOT / "problems" / "seed-4node.toml").layout
    assert layout is not None
    readback = probe_layout(layout)
    assert readback.node_cpus == {0: (0, 1, 2, 3), 1: (4, 5, 6, 7), 2: (8, 9, 10, 11), 3: (12, 13, 14, 15)}
    assert readback.node_sizes_bytes == {n: 512 * MIB for n in range(4)}
    assert readback.cpu_nodes == {cpu: cpu // 4 for cpu in range(16)}
    assert readback.ram_bytes == 2 * GIB
    assert sorted((m["id"], m["size"]) for m in readback.memdevs) == [(f"mem-node{n}", 512 * MIB) for n in range(4)]
    # Sockets of 4 cores, one per node (numaopt's choose_shape), as QEMU reports them.
    assert readback.cpu_props[5] == {"socket-id": 1, "core-id": 1, "thread-id": 0}
    assert readback.machine.startswith("pc-q35-")
    assert readback.qemu_version.split(".")[0].isdigit()
    assert readback.warnings == ()
    assert readback.absent_cpu_slots == ()
    assert_cleaned_up(spawned)


# ---------------------------------------------------------------------------------------
# Edge layouts QEMU must build as given


def test_memoryless_node() -> None:
    layout = layout_of("""
        [guest]
        vcpus = 4
        memory = "1GiB"
        nodes = [ { cpus = "0-1", memory = "1GiB" }, { cpus = "2-3", memory = 0 } ]
    """)
    readback = probe_layout(layout)
    assert readback.node_sizes_bytes == {0: GIB, 1: 0}
    assert readback.node_cpus[1] == (2, 3)
    assert [m["id"] for m in readback.memdevs] == ["mem-node0"]


def test_cpuless_node() -> None:
    layout = layout_of("""
        [guest]
        vcpus = 4
        memory = "1GiB"
        nodes = [ { cpus = "0-3", memory = "512MiB" }, { cpus = "", memory = "512MiB" } ]
    """)
    readback = probe_layout(layout)
    assert readback.node_cpus == {0: (0, 1, 2, 3), 1: ()}
    assert readback.node_sizes_bytes == {0: 512 * MIB, 1: 512 * MIB}


def test_asymmetric_distances_and_255() -> None:
    layout = layout_of("""
        [guest]
        vcpus = 3
        memory = "768MiB"
        nodes = [ { cpus = "0" }, { cpus = "1" }, { cpus = "2" } ]
        distances = [ [10, 20, 255], [30, 10, 40], [255, 45, 10] ]
    """)
    assert qemu_errors(layout) == []
    readback = probe_layout(layout)
    assert readback.num_nodes == 3  # QEMU has no QMP view of distances: accepted is what it can say


@pytest.mark.parametrize("num_nodes", [8, 16])
def test_many_nodes(num_nodes: int) -> None:
    nodes = ", ".join(f'{{ cpus = "{2 * n}-{2 * n + 1}" }}' for n in range(num_nodes))
    layout = layout_of(f"""
        [guest]
        vcpus = {2 * num_nodes}
        memory = "{num_nodes * 128}MiB"
        nodes = [ {nodes} ]
        default_distance = 21
    """)
    readback = probe_layout(layout)
    assert readback.num_nodes == num_nodes
    assert readback.node_sizes_bytes == {n: 128 * MIB for n in range(num_nodes)}
    assert readback.cpu_nodes[2 * num_nodes - 1] == num_nodes - 1


def test_smt2_threads_are_siblings_in_one_node() -> None:
    layout = layout_of("""
        [guest]
        vcpus = 8
        memory = "1GiB"
        smp = { sockets = 2, cores = 2, threads = 2 }
        nodes = [ { cpus = "0-3" }, { cpus = "4-7" } ]
    """)
    readback = probe_layout(layout)
    assert [readback.cpu_props[c]["thread-id"] for c in range(8)] == [0, 1] * 4
    assert readback.cpu_props[6] == {"socket-id": 1, "core-id": 1, "thread-id": 0}


def test_unequal_node_sizes_not_whole_mib() -> None:
    # 512 MiB + 8 KiB: x-query-numa rounds node sizes down to whole MiB, so compare
    # takes the exact size from the node's backend (query-memdev).
    layout = layout_of("""
        [guest]
        vcpus = 4
        memory = "1835016KiB"
        nodes = [ { cpus = "0", memory = "524296KiB" }, { cpus = "1", memory = "256MiB" }, { cpus = "2-3", memory = "1GiB" } ]
    """)
    readback = probe_layout(layout)
    assert readback.node_sizes_bytes == {0: 512 * MIB, 1: 256 * MIB, 2: GIB}
    assert {m["id"]: m["size"] for m in readback.memdevs}["mem-node0"] == 512 * MIB + 8192


def test_dies_on_q35() -> None:
    layout = layout_of("""
        [guest]
        vcpus = 8
        memory = "1GiB"
        smp = { sockets = 2, dies = 2, cores = 2 }
        nodes = [ { cpus = "0-1" }, { cpus = "2-3" }, { cpus = "4-5" }, { cpus = "6-7" } ]
    """)
    assert layout.shape == CpuShape(sockets=2, dies=2, cores=2)
    readback = probe_layout(layout)
    assert readback.cpu_props[3] == {"socket-id": 0, "die-id": 1, "core-id": 1, "thread-id": 0}
    assert readback.cpu_nodes == {cpu: cpu // 2 for cpu in range(8)}


def test_pc_machine() -> None:
    layout = layout_of("""
        [guest]
        vcpus = 4
        memory = "1GiB"
        machine = "pc"
        nodes = [ { cpus = "0-1" }, { cpus = "2-3" } ]
        default_distance = 20
    """)
    readback = probe_layout(layout)
    assert readback.machine.startswith("pc-i440fx-")


def test_file_memory_backend(tmp_path: Path) -> None:
    layout = layout_of(f"""
        [guest]
        vcpus = 2
        memory = "256MiB"
        nodes = [ {{ cpus = "0" }}, {{ cpus = "1" }} ]
        memory_backend = {{ kind = "file", mem_path = "{tmp_path}" }}
    """)
    assert f"mem-path={tmp_path}" in " ".join(qemu_command(layout))
    readback = probe_layout(layout)
    assert sorted(m["size"] for m in readback.memdevs) == [128 * MIB, 128 * MIB]
    assert list(tmp_path.iterdir()) == []  # QEMU unlinks the files it creates in a directory


# ---------------------------------------------------------------------------------------
# aarch64 virt


def test_virt_sockets() -> None:
    layout = layout_of("""
        [guest]
        vcpus = 8
        memory = "1GiB"
        machine = "virt"
        nodes = [ { cpus = "0-3" }, { cpus = "4-7" } ]
        default_distance = 20
    """)
    readback = probe_layout(layout)
    assert readback.machine.startswith("virt-")
    # virt reports cluster-id even when -smp has no clusters (always 0 then).
    assert readback.cpu_props[5] == {"socket-id": 1, "cluster-id": 0, "core-id": 1, "thread-id": 0}


@pytest.mark.parametrize(
    ("nodes", "node_of_cpu2"),
    [('"0-3", "4-7"', 0), ('"0-1", "2-3", "4-5", "6-7"', 1)],
    ids=["node-per-socket", "node-per-cluster"],
)
def test_virt_clusters(nodes: str, node_of_cpu2: int) -> None:
    cpu_lists = ", ".join(f"{{ cpus = {c.strip()} }}" for c in nodes.split(", "))
    layout = layout_of(f"""
        [guest]
        vcpus = 8
        memory = "1GiB"
        machine = "virt"
        smp = {{ sockets = 2, clusters = 2, cores = 2 }}
        nodes = [ {cpu_lists} ]
    """)
    argv = qemu_command(layout)
    assert f"cpu,node-id={node_of_cpu2},socket-id=0,cluster-id=1,core-id=0,thread-id=0" in argv
    readback = probe_layout(layout)
    assert readback.cpu_props[6] == {"socket-id": 1, "cluster-id": 1, "core-id": 0, "thread-id": 0}


def test_virt_numa_cpu_without_cluster_id_matches_every_cluster() -> None:
    """Why the renderer must give cluster-id when clusters > 1: without it one -numa cpu
    takes the core in every cluster, and the next cluster's line collides."""
    layout = layout_of("""
        [guest]
        vcpus = 4
        memory = "512MiB"
        machine = "virt"
        smp = { sockets = 1, clusters = 2, cores = 2 }
        nodes = [ { cpus = "0-1" }, { cpus = "2-3" } ]
    """)
    argv = [a.replace(",cluster-id=0", "").replace(",cluster-id=1", "") for a in qemu_command(layout)]
    with pytest.raises(QemuRefused) as refused:
        probe(argv)
    assert refused.value.qemu_message == "CPU is already assigned to node-id: 0"
    assert refused.value.option == "-numa cpu,node-id=1,socket-id=0,core-id=0,thread-id=0"


def test_virt_smt2() -> None:
    layout = layout_of("""
        [guest]
        vcpus = 8
        memory = "1GiB"
        machine = "virt"
        smp = { sockets = 2, cores = 2, threads = 2 }
        nodes = [ { cpus = "0-3" }, { cpus = "4-7" } ]
    """)
    readback = probe_layout(layout)
    assert readback.cpu_props[7] == {"socket-id": 1, "cluster-id": 0, "core-id": 1, "thread-id": 1}


# ---------------------------------------------------------------------------------------
# Refusals: numaopt's qemu rule set and the real QEMU agree, word for word


def _layout(
    nodes: list[tuple[tuple[int, ...], int]],
    *,
    vcpus: int = 4,
    memory: int = GIB,
    shape: CpuShape | None = None,
    distances: list[list[int]] | None = None,
    machine: Machine = Machine.Q35,
) -> GuestLayout:
    return GuestLayout(
        vcpus=vcpus,
        memory_bytes=memory,
        nodes=tuple(GuestNode(node_id=i, cpus=cpus, memory_bytes=mem) for i, (cpus, mem) in enumerate(nodes)),
        shape=shape or CpuShape(sockets=vcpus),
        distances=None if distances is None else np.array(distances),
        machine=machine,
    )


def with_cpu_lists(layout: GuestLayout) -> list[str]:
    """The layout's QEMU arguments with ``-numa node,cpus=`` instead of ``-numa cpu``:
    the renderer maps CPUs by topology ids, which cannot name a CPU beyond maxcpus."""
    argv = qemu_command(layout)
    out: list[str] = []
    i = 0
    while i < len(argv):
        if argv[i] == "-numa" and argv[i + 1].startswith("cpu,"):
            i += 2
            continue
        if argv[i] == "-numa" and argv[i + 1].startswith("node,"):
            node = next(n for n in layout.nodes if argv[i + 1].startswith(f"node,nodeid={n.node_id}"))
            cpus = "".join(f",cpus={cpu}" for cpu in node.cpus)
            out += [argv[i], argv[i + 1] + cpus]
            i += 2
            continue
        out.append(argv[i])
        i += 1
    return out


def _refused(argv: list[str]) -> QemuRefused:
    with pytest.raises(QemuRefused) as refused:
        probe(argv)
    return refused.value


REFUSED = {
    "no-node-memory": (_layout([((0, 1), 0), ((2, 3), 0)]), "memory-total"),
    "memory-sum-differs": (_layout([((0, 1), 512 * MIB), ((2, 3), 512 * MIB)], memory=2 * GIB), "memory-total"),
    "distance-9": (
        _layout([((0, 1), 512 * MIB), ((2, 3), 512 * MIB)], distances=[[10, 9], [9, 10]]),
        "distance-below-10",
    ),
    "duplicate-cpu": (_layout([((0, 1, 2), 512 * MIB), ((2, 3), 512 * MIB)]), "cpu-assigned-twice"),
    "smp-product": (_layout([((0, 1), 512 * MIB), ((2, 3), 512 * MIB)], shape=CpuShape(sockets=2)), "smp-product"),
    "smp-product-virt": (
        _layout(
            [((0, 1), 512 * MIB), ((2, 3), 512 * MIB)], shape=CpuShape(sockets=1, clusters=2), machine=Machine.VIRT
        ),
        "smp-product",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_qemu_refuses_what_numaopt_refuses(case: str) -> None:
    layout, code = REFUSED[case]
    findings = [f for f in check_layout(layout, RuleSet.QEMU) if f.code == code]
    assert findings and findings[0].severity is Severity.ERROR
    refusal = _refused(qemu_command(layout))
    assert refusal.qemu_message == findings[0].message
    assert "\n" not in str(refusal)


def test_cpu_index_beyond_vcpus_is_refused_in_the_same_words() -> None:
    layout = _layout([((0, 1), 512 * MIB), ((2, 3, 4), 512 * MIB)])
    [finding] = [f for f in check_layout(layout, RuleSet.QEMU) if f.code == "cpu-index"]
    refusal = _refused(with_cpu_lists(layout))
    assert refusal.qemu_message == finding.message == "CPU index (4) should be smaller than maxcpus (4)"
    assert refusal.option == "-numa node,nodeid=1,memdev=mem-node1,cpus=2,cpus=3,cpus=4"


def test_duplicate_cpu_in_cpu_lists_is_refused_in_the_same_words() -> None:
    layout = REFUSED["duplicate-cpu"][0]
    [finding] = [f for f in check_layout(layout, RuleSet.QEMU) if f.code == "cpu-assigned-twice"]
    assert _refused(with_cpu_lists(layout)).qemu_message == finding.message


def test_local_distance_20_is_refused_in_the_same_words() -> None:
    layout = _layout([((0, 1), 512 * MIB), ((2, 3), 512 * MIB)], distances=[[20, 20], [20, 10]])
    [finding] = [f for f in check_layout(layout, RuleSet.QEMU) if f.code == "local-distance"]
    # The renderer writes no diagonal entries (QEMU fills in 10), so the bad one is added by hand.
    argv = [*qemu_command(layout), "-numa", "dist,src=0,dst=0,val=20"]
    refusal = _refused(argv)
    assert refusal.qemu_message == finding.message == "Local distance of node 0 should be 10."
    assert refusal.option == "-numa dist,src=0,dst=0,val=20"


def test_remote_distance_10_is_accepted_by_qemu_but_not_by_linux() -> None:
    layout = _layout([((0, 1), 512 * MIB), ((2, 3), 512 * MIB)], distances=[[10, 10], [10, 10]])
    assert qemu_errors(layout) == []
    probe_layout(layout)
    codes = [f.code for f in check_layout(layout, RuleSet.LINUX_ACPI) if f.severity is Severity.ERROR]
    assert codes == ["remote-equals-local"]


# ---------------------------------------------------------------------------------------
# The probe itself: no QEMU left behind, errors that say what to do


def test_refusal_leaves_nothing_behind(spawned: list[subprocess.Popen[bytes]]) -> None:
    layout, _ = REFUSED["distance-9"]
    refusal = _refused(qemu_command(layout))
    assert refusal.option == "-numa dist,src=0,dst=1,val=9"
    assert str(refusal) == (
        "QEMU refused the configuration: -numa dist,src=0,dst=1,val=9: "
        "NUMA distance (9) is invalid, it shouldn't be less than 10."
    )
    assert spawned[0].returncode == 1
    assert_cleaned_up(spawned)


def test_timeout_kills_qemu(spawned: list[subprocess.Popen[bytes]]) -> None:
    layout = _layout([((0, 1), 512 * MIB), ((2, 3), 512 * MIB)])
    with pytest.raises(QemuError, match="did not answer QMP within"):
        probe(qemu_command(layout), timeout_s=0.001)
    assert spawned[0].returncode == -9
    assert_cleaned_up(spawned)


def test_keyboard_interrupt_kills_qemu(spawned: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    async def interrupted(client: object) -> dict[str, object]:
        raise KeyboardInterrupt

    monkeypatch.setattr(qmp, "_queries", interrupted)
    layout = _layout([((0, 1), 512 * MIB), ((2, 3), 512 * MIB)])
    with pytest.raises(KeyboardInterrupt):
        probe(qemu_command(layout))
    assert_cleaned_up(spawned)


def test_missing_binary_names_the_debian_package() -> None:
    with pytest.raises(QemuError) as error:
        probe(["qemu-system-aarch64-missing", "-m", "1G"])
    assert "\n" not in str(error.value)
    with pytest.raises(QemuError, match="install the Debian package qemu-system-x86"):
        probe([str(Path("/nonexistent/qemu-system-x86_64"))])
    with pytest.raises(QemuError, match="install the Debian package qemu-system-arm"):
        probe(["/nonexistent/qemu-system-aarch64"])


def test_existing_accel_is_kept(spawned: list[subprocess.Popen[bytes]]) -> None:
    layout = _layout([((0, 1), 512 * MIB), ((2, 3), 512 * MIB)])
    probe_layout_argv = [*qemu_command(layout), "-accel", "tcg,thread=single"]
    readback = probe(probe_layout_argv)
    assert compare(layout, readback) == []
    assert argv_of(spawned[0]).count("-accel") == 1


def test_real_sigint_kills_qemu(spawned: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C mid-session: asyncio turns SIGINT into cancellation, probe still reaps QEMU."""
    real_queries = qmp._queries

    async def slow_queries(client: QMPClient) -> dict[str, object]:
        os.kill(os.getpid(), signal.SIGINT)
        await asyncio.sleep(10)
        return await real_queries(client)

    monkeypatch.setattr(qmp, "_queries", slow_queries)
    layout = _layout([((0, 1), 512 * MIB), ((2, 3), 512 * MIB)])
    with pytest.raises(KeyboardInterrupt):
        probe(qemu_command(layout))
    assert_cleaned_up(spawned)


def test_qmp_error_is_a_qemu_error(spawned: list[subprocess.Popen[bytes]], monkeypatch: pytest.MonkeyPatch) -> None:
    async def bad_query(client: QMPClient) -> dict[str, object]:
        await client.execute("no-such-command")
        return {}

    monkeypatch.setattr(qmp, "_queries", bad_query)
    layout = _layout([((0, 1), 512 * MIB), ((2, 3), 512 * MIB)])
    with pytest.raises(
        QemuError, match="QMP command no-such-command failed: The command no-such-command has not been found"
    ):
        probe(qemu_command(layout))
    assert_cleaned_up(spawned)


def test_possible_but_absent_cpus() -> None:
    """maxcpus > cpus (hand-written: numaopt renders maxcpus = vcpus): query-hotpluggable-cpus
    lists the empty slots with their node, query-cpus-fast only the present vCPUs."""
    argv = [
        "qemu-system-x86_64",
        *("-machine", "q35", "-m", "1G", "-smp", "2,sockets=4,cores=1,threads=1,maxcpus=4"),
        *("-object", "memory-backend-ram,id=m0,size=512M", "-object", "memory-backend-ram,id=m1,size=512M"),
        *("-numa", "node,nodeid=0,memdev=m0", "-numa", "node,nodeid=1,memdev=m1"),
        *(arg for s in range(4) for arg in ("-numa", f"cpu,node-id={s // 2},socket-id={s}")),
    ]
    readback = probe(argv)
    assert readback.cpu_nodes == {0: 0, 1: 0}
    assert readback.node_cpus == {0: (0, 1), 1: ()}
    assert sorted((s["socket-id"], s["node-id"]) for s in readback.absent_cpu_slots) == [(2, 1), (3, 1)]
