"""numactl --hardware: the corpus machines, both column layouts, messy pastes, render round trips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from numaopt.errors import InputError
from numaopt.hosts import merge_numactl_lscpu, parse_lscpu, parse_numactl, render_numactl
from numaopt.model import HostNode, HostTopology
from numaopt.units import MIB

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"
MACHINES = sorted(p.stem for p in HOSTS.glob("*.numactl"))

# nodes, CPUs, sockets, threads per core, distance values
EXPECTED = {
    "intel-snc2-2s": (4, 80, 2, 2, {10, 11, 21}),
    "amd-epyc-nps4-2s": (8, 256, 2, 2, {10, 12, 32}),
    "amd-opteron-4s": (8, 48, 4, 1, {10, 16, 22}),
    "intel-cxl-2s": (4, 128, 2, 2, {10, 14, 21, 24, 26}),
    "intel-4s-uniform": (4, 192, 4, 2, {10, 20}),
    "laptop-i7-1260p": (1, 16, 1, 2, {10}),
}
# Files written by numactl <= 2.0.16 (% 3d columns, CPUs one by one): render reproduces them byte for byte.
CLASSIC_LAYOUT = ("intel-snc2-2s", "amd-opteron-4s", "intel-4s-uniform", "laptop-i7-1260p")


def machine(name: str) -> HostTopology:
    numactl = HOSTS / f"{name}.numactl"
    host = parse_numactl(numactl.read_text(), str(numactl))
    merged, warnings = merge_numactl_lscpu(host, parse_lscpu((HOSTS / f"{name}.lscpu").read_text()))
    assert warnings == []
    return merged


def test_corpus_has_every_machine() -> None:
    assert sorted(EXPECTED) == MACHINES


@pytest.mark.parametrize("name", MACHINES)
def test_corpus_machine_facts(name: str) -> None:
    host = machine(name)
    num_nodes, num_cpus, sockets, threads, values = EXPECTED[name]
    assert host.num_nodes == num_nodes
    assert host.num_cpus == num_cpus
    assert len({core.socket for core in host.cores}) == sockets
    assert host.threads_per_core == threads
    assert set(np.unique(host.distances).tolist()) == values
    assert [node.node_id for node in host.nodes] == list(range(num_nodes))


@pytest.mark.parametrize("name", ["intel-snc2-2s", "amd-epyc-nps4-2s", "intel-cxl-2s", "intel-4s-uniform"])
def test_server_siblings_are_cpu_and_cpu_plus_half(name: str) -> None:
    host = machine(name)
    half = host.num_cpus // 2
    assert all(core.cpus == (core.cpus[0], core.cpus[0] + half) for core in host.cores)


def test_snc2_layout() -> None:
    host = machine("intel-snc2-2s")
    assert host.nodes[0].cpus == (*range(10), *range(40, 50))
    assert host.nodes[0].memory_bytes == 95027 * MIB and host.nodes[0].free_bytes == 90112 * MIB
    assert host.distances.tolist() == [[10, 11, 21, 21], [11, 10, 21, 21], [21, 21, 10, 11], [21, 21, 11, 10]]
    assert {core.socket for core in host.cores if core.cpus[0] in host.nodes[2].cpus} == {1}


def test_opteron_table_is_the_published_irregular_one() -> None:
    d = machine("amd-opteron-4s").distances
    assert np.array_equal(d, d.T)
    assert d[0].tolist() == [10, 16, 16, 22, 16, 22, 16, 22]
    assert d[2].tolist() == [16, 16, 10, 16, 16, 16, 16, 22]
    assert all(len(core.cpus) == 1 for core in machine("amd-opteron-4s").cores)


def test_cxl_nodes_have_memory_and_no_cpus() -> None:
    host = machine("intel-cxl-2s")
    assert [bool(node.cpus) for node in host.nodes] == [True, True, False, False]
    assert host.nodes[2].memory_bytes == 128 * 1024 * MIB
    assert host.distances.tolist() == [[10, 21, 14, 24], [21, 10, 24, 14], [14, 24, 10, 26], [24, 14, 26, 10]]


def test_laptop_is_hybrid_with_adjacent_siblings() -> None:
    host = machine("laptop-i7-1260p")
    assert [core.cpus for core in host.cores] == [(0, 1), (2, 3), (4, 5), (6, 7), *[(c,) for c in range(8, 16)]]
    assert host.distances.tolist() == [[10]]


def test_epyc_file_uses_the_wide_columns_of_numactl_2_0_18() -> None:
    text = (HOSTS / "amd-epyc-nps4-2s.numactl").read_text()
    assert "node     0    1" in text and "   0:   10   12" in text
    assert machine("amd-epyc-nps4-2s").distances[0].tolist() == [10, 12, 12, 12, 32, 32, 32, 32]


def test_cpu_compress_lists_with_counts() -> None:
    text = (HOSTS / "intel-cxl-2s.numactl").read_text()
    assert "node 0 cpus: 0-31 64-95 (64)" in text and "node 2 cpus: (0)" in text
    host = parse_numactl(text)
    assert host.nodes[0].cpus == (*range(32), *range(64, 96))
    assert host.nodes[2].cpus == ()


@pytest.mark.parametrize("name", CLASSIC_LAYOUT)
def test_render_reproduces_classic_files(name: str) -> None:
    text = (HOSTS / f"{name}.numactl").read_text()
    assert render_numactl(parse_numactl(text)) == text


@pytest.mark.parametrize("name", MACHINES)
def test_render_parses_back_to_the_same_model(name: str) -> None:
    host = parse_numactl((HOSTS / f"{name}.numactl").read_text())
    assert parse_numactl(render_numactl(host)) == host


def _messy(text: str) -> str:
    """What a terminal, an editor and a mail client do to a paste."""
    lines = ["$ numactl --hardware", *text.splitlines()]
    messy = [("\t" if i % 3 == 0 else "  ") + line.replace(" ", "   ") + "  " for i, line in enumerate(lines)]
    messy.insert(4, "")
    return "\ufeff" + "\r\n".join(messy) + "\r\n\r\n"


@pytest.mark.parametrize("name", MACHINES)
def test_messy_paste_gives_the_same_model(name: str) -> None:
    text = (HOSTS / f"{name}.numactl").read_text()
    assert parse_numactl(_messy(text)) == parse_numactl(text)


def test_unknown_free_memory_is_none() -> None:
    host = HostTopology(nodes=(HostNode(0, (0, 1), 2048 * MIB),), distances=np.array([[10]]))
    text = render_numactl(host)
    assert "node 0 free: <not available>" in text
    assert parse_numactl(text) == host


def test_sparse_node_ids() -> None:
    host = HostTopology(
        nodes=(HostNode(0, (0, 1), 1024 * MIB, 0), HostNode(2, (2, 3), 1024 * MIB, 512 * MIB)),
        distances=np.array([[10, 20], [20, 10]]),
    )
    text = render_numactl(host)
    assert text.startswith("available: 2 nodes (0,2)\n") and "node   0   2 \n" in text
    assert parse_numactl(text) == host


def test_no_distance_information_on_one_node_is_local_only() -> None:
    text = "available: 1 nodes (0)\nnode 0 cpus: 0 1\nnode 0 size: 1024 MB\nnode 0 free: 10 MB\nNo distance information available.\n"
    assert parse_numactl(text).distances.tolist() == [[10]]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "",
            "<numactl>: line 1: empty input: expected numactl --hardware output, starting 'available: N nodes (LIST)'",
        ),
        (
            "available: 2 nodes (0-1)\nnode 0 cpus: 0\nnode 0 size: 1 MB\nnode 1 cpus: 1\nnode 1 size: 1 MB\n"
            "No distance information available.\n",
            "<numactl>: line 6: numactl could not read the distances ('No distance information available.'): "
            "import sysfs or hwloc XML instead, which carry them",
        ),
        (
            "available: 1 nodes (0)\nnode 0 cpus: 0\nnode 0 size: <not available>\n",
            "<numactl>: line 3: node 0 size is <not available>: numaopt needs every node's memory size",
        ),
        (
            "available: 1 nodes (0)\nnode 0 cpus: 0 1 1\n",
            "<numactl>: line 2: a CPU is listed twice in one node",
        ),
        (
            "available: 1 nodes (0)\nnode 0 cpus: 0-3 (5)\n",
            "<numactl>: line 2: the CPU count (5) does not match the 4 CPUs listed",
        ),
        (
            "available: 1 nodes (0)\nnode 0 cpus: 0\nnode 0 size: 1 MB\nnode distances:\n",
            "<numactl>: line 5: input ends before the distance table header 'node 0'",
        ),
        (
            "available: 1 nodes (0)\nnode 0 cpus: 0\nnode 0 size: 1 MB\nnode distances:\nnode 0\n0: 300\n",
            "<numactl>: line 6: distance from node 0 to itself is 300: it must be 10",
        ),
        (
            "available: 2 nodes (0-1)\nnode 0 cpus: 0\nnode 0 size: 1 MB\nnode 1 cpus: 1\nnode 1 size: 1 MB\n"
            "node distances:\nnode 0 1\n0: 10 5\n1: 5 10\n",
            "<numactl>: line 8: distance from node 0 to node 1 is 5: expected 10..255 (a SLIT byte)",
        ),
    ],
)
def test_messages_name_the_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_numactl(text)
    assert str(info.value) == message
