"""Host TOML (capture output, inline [host]) and problem-file references to host files."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from numaopt.errors import ProblemError, one_line_message
from numaopt.hosts import (
    host_from_problem,
    host_from_table,
    host_to_toml,
    load_host_sources,
    parse_synthetic,
    read_sysfs,
    render_hwloc_xml,
    write_sysfs_tree,
)
from numaopt.hosts.distance_rule import DistanceRule
from numaopt.model import HugePages, MemorySideCache, NodeAccess
from numaopt.units import GIB, KIB, MIB

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"
CAPTURED = sorted(HOSTS.glob("*.toml"))


def load(text: str, source: str = "p.toml") -> Any:
    return host_from_table(tomllib.loads(text)["host"], source)


@pytest.mark.parametrize("path", CAPTURED, ids=lambda p: p.stem)
def test_captured_toml_round_trips_exactly(path: Path) -> None:
    text = path.read_text()
    assert host_to_toml(load(text, str(path))) == text


def test_huge_pages_and_kib_sizes() -> None:
    host = load((HOSTS / "intel-4s-uniform-hugepages.toml").read_text())
    assert host.nodes[3].hugepages == (HugePages(2 * MIB, 4096, 1024), HugePages(GIB, 200, 0))
    assert host.nodes[0].memory_bytes == 263842840 * KIB


def test_matrix_is_written_one_row_per_line() -> None:
    text = (HOSTS / "intel-cxl-2s.toml").read_text()
    assert text.startswith("[host]\ndistances = [\n    [10, 21, 14, 24],\n    [21, 10, 24, 14],\n")


def test_hmat_of_a_sysfs_capture_reads_back_as_the_same_host() -> None:
    # xeon-2lm-cxl.toml is what host capture writes for the sysfs tree beside it (access0
    # and memory_side_cache included); the parametrized test above checks it byte for byte.
    host = load((HOSTS / "xeon-2lm-cxl.toml").read_text())
    assert host == read_sysfs(HOSTS / "xeon-2lm-cxl.sysfs")
    assert host.nodes[0].caches == (MemorySideCache(1, 32 * GIB, 64, "direct", "write-back"),)
    assert host.nodes[2].access == NodeAccess((0,), 250, 260, 20000, 15000)


def test_hmat_typed_inline_with_defaults() -> None:
    text = (
        '[host]\ndistances = [[10, 21], [21, 10]]\n[[host.nodes]]\nid = 0\ncpus = "0-1"\nmemory = "1GiB"\n'
        '[[host.nodes]]\nid = 1\ncpus = ""\nmemory = "4GiB"\naccess = { initiators = [0], read_latency = 120 }\n'
        'caches = [ { level = 2, size = "2GiB", policy = "none" }, { level = 1, size = "1GiB" } ]\n'
    )
    node = load(text).nodes[1]
    assert node.access == NodeAccess((0,), read_latency=120)
    assert node.caches == (MemorySideCache(1, GIB), MemorySideCache(2, 2 * GIB, 64, "direct", "none"))
    assert load(host_to_toml(load(text))) == load(text)


def test_inline_tables_and_cpu_lists_as_integers() -> None:
    host = load('[host]\nnodes = [ { id = 0, cpus = [0, 1, 2, 3], memory = "4GiB" } ]\n')
    assert host.nodes[0].cpus == (0, 1, 2, 3) and host.distances.tolist() == [[10]] and host.cores == ()


def test_also_known_keys_are_left_to_the_caller() -> None:
    table = {"nodes": [{"id": 0, "cpus": "0-1", "memory": "1GiB"}], "reserved_cpus": "0"}
    assert host_from_table(table, "p.toml", also_known=("reserved_cpus",)).num_cpus == 2
    with pytest.raises(ProblemError) as info:
        host_from_table(table, "p.toml")
    assert (
        str(info.value) == "p.toml: host.reserved_cpus: unknown key 'reserved_cpus' (known: nodes, distances, sockets)"
    )


HMAT_NODE = '[host]\n[[host.nodes]]\nid = 0\ncpus = "0-1"\nmemory = "1GiB"\n'
NODES = '[[host.nodes]]\nid = 0\ncpus = "0-1"\nmemory = "1GiB"\n[[host.nodes]]\nid = 1\ncpus = "2-3"\nmemory = "1GiB"\n'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[host]\nnode = 1\n", "host.node: unknown key 'node' (known: nodes, distances, sockets)"),
        (
            "[host]\ndistances = [[10]]\n",
            'host.nodes: missing required key (nodes = [ { id = 0, cpus = "0-3", memory = "64GiB" }, ... ])',
        ),
        ("[host]\nnodes = []\n", "host.nodes: give at least one node"),
        (
            "[host]\nnodes = [1]\n",
            'host.nodes[0]: expected a node table such as { id = 0, cpus = "0-3", memory = "64GiB" }, got 1',
        ),
        (
            '[host]\nnodes = [ { id = 0, cpus = "0", memory = "1GiB", mem = 1 } ]\n',
            "host.nodes[0].mem: unknown key 'mem' (known: id, cpus, memory, free, hugepages, access, caches)",
        ),
        (
            '[host]\nnodes = [ { id = -1, cpus = "0", memory = "1GiB" } ]\n',
            "host.nodes[0].id: expected a node id (0..1048576), got -1",
        ),
        (
            '[host]\nnodes = [ { id = 0, cpus = "0", memory = 64 } ]\n',
            "host.nodes[0].memory: a bare number is ambiguous: write 64MiB or 64GiB (a size such as 512MiB, 2GiB or 2G (units B, KiB, MiB, GiB, TiB; K/M/G/T mean the same))",
        ),
        (
            '[host]\nnodes = [ { id = 0, cpus = 3.5, memory = "1GiB" } ]\n',
            'host.nodes[0].cpus: expected a CPU list such as "0-3,8-11" ("" for none) or a list of integers, got 3.5',
        ),
        (
            '[host]\nnodes = [ { id = 0, cpus = "0", memory = "1GiB", free = "2GiB" } ]\n',
            "host.nodes[0].free: 2GiB free is more than the node's memory (1GiB)",
        ),
        (
            '[host]\nnodes = [ { id = 0, cpus = "0", memory = "1GiB", hugepages = [ { size = "2MiB", total = 4, free = 5 } ] } ]\n',
            "host.nodes[0].hugepages[0].free: expected a number of free pages (0..4), got 5",
        ),
        ("[host]\n" + NODES, "host.distances: missing required key (a 2x2 matrix, one row per node)"),
        (
            "[host]\ndistances = [[10, 20]]\n" + NODES,
            "host.distances: expected a 2x2 matrix (one row and column per node), got 1 rows of lengths [2]",
        ),
        ("[host]\ndistances = [[10, 20], [20, 10.5]]\n" + NODES, "host.distances[1][1]: expected an integer, got 10.5"),
        (
            "[host]\ndistances = [[10, 20], [9, 10]]\n" + NODES,
            "host.distances[1]: distance from node 1 to node 0 is 9: expected 10..255 (a SLIT byte)",
        ),
        (
            "[host]\ndistances = [[10, 20], [20, 10]]\n" + NODES.replace("id = 1", "id = 0"),
            "host.nodes[1].id: node ids must increase: 0 comes after 0",
        ),
        (
            "[host]\ndistances = [[10, 20], [20, 10]]\n" + NODES.replace('"2-3"', '"1-3"'),
            "host.nodes[1].cpus: CPU 1 is already in host.nodes[0].cpus",
        ),
        (
            "[host]\ndistances = [[10, 20], [20, 10]]\n" + NODES + '[[host.sockets]]\nid = 0\ncores = ["0,2", "1"]\n',
            "host.sockets: CPUs 3 are in no core: with sockets given, every CPU of the nodes needs one",
        ),
        (
            "[host]\ndistances = [[10, 20], [20, 10]]\n" + NODES + '[[host.sockets]]\nid = 0\ncores = ["0,2", "1,2"]\n',
            "host.sockets[0].cores[1]: CPU 2 is already in host.sockets[0].cores[0]",
        ),
        (
            "[host]\ndistances = [[10, 20], [20, 10]]\n" + NODES + '[[host.sockets]]\nid = 0\ncores = ["0,9"]\n',
            "host.sockets[0].cores[0]: CPU 9 is in no node of host.nodes",
        ),
        (
            "[host]\ndistances = [[10, 20], [20, 10]]\n" + NODES + '[[host.sockets]]\nid = 0\ncore = ["0"]\n',
            "host.sockets[0].core: unknown key 'core' (known: id, cores)",
        ),
        (
            HMAT_NODE + "access = 120\n",
            'host.nodes[0].access: expected a table such as { initiators = "0", read_latency = 120, '
            "read_bandwidth = 20000 }, got 120",
        ),
        (
            HMAT_NODE + "access = { read_latency = 120 }\n",
            'host.nodes[0].access.initiators: missing required key (a node list such as "0" or "0-1", or a list of node ids)',
        ),
        (
            HMAT_NODE + 'access = { initiators = "1" }\n',
            "host.nodes[0].access.initiators: node 1 is not in host.nodes (ids 0)",
        ),
        (
            HMAT_NODE + 'access = { initiators = "x" }\n',
            'host.nodes[0].access.initiators: expected a node list such as "0" or "0-1", or a list of node ids, got \'x\'',
        ),
        (
            HMAT_NODE + 'access = { initiators = "0", read_latency = -5 }\n',
            "host.nodes[0].access.read_latency: expected a latency in ns (0..4294967295), got -5",
        ),
        (
            HMAT_NODE + 'access = { initiators = "0", read_bandwidth = "20GiB" }\n',
            "host.nodes[0].access.read_bandwidth: expected a bandwidth in MiB/s (0..4294967295), got '20GiB'",
        ),
        (
            HMAT_NODE + 'access = { initiators = "0", latency = 5 }\n',
            "host.nodes[0].access.latency: unknown key 'latency' (known: initiators, read_latency, write_latency, "
            "read_bandwidth, write_bandwidth)",
        ),
        (
            HMAT_NODE + 'caches = { level = 1, size = "1GiB" }\n',
            'host.nodes[0].caches: expected a list of cache tables, each a table such as { level = 1, size = "32GiB", '
            "line = 64, associativity = \"direct\", policy = \"write-back\" }, got {'level': 1, 'size': '1GiB'}",
        ),
        (
            HMAT_NODE + 'caches = [ { size = "1GiB" } ]\n',
            "host.nodes[0].caches[0].level: missing required key (a cache level, 1..255)",
        ),
        (
            HMAT_NODE + 'caches = [ { level = 1, size = "1GiB" }, { level = 1, size = "2GiB" } ]\n',
            "host.nodes[0].caches[1].level: level 1 is given twice",
        ),
        (
            HMAT_NODE + 'caches = [ { level = 1, size = "1GiB", associativity = "4-way" } ]\n',
            "host.nodes[0].caches[0].associativity: unknown associativity '4-way' (valid: direct, complex, none)",
        ),
        (
            HMAT_NODE + 'caches = [ { level = 1, size = "1GiB", line = 65536 } ]\n',
            "host.nodes[0].caches[0].line: expected a line size in bytes (0..65535), got 65536",
        ),
    ],
)
def test_errors_name_file_and_key_path(text: str, message: str) -> None:
    with pytest.raises(ProblemError) as info:
        load(text)
    assert str(info.value) == f"p.toml: {message}"


def _copy_corpus(tmp_path: Path, name: str) -> Path:
    hosts = tmp_path / "hosts"
    hosts.mkdir()
    for suffix in (".numactl", ".lscpu"):
        shutil.copy(HOSTS / f"{name}{suffix}", hosts / f"{name}{suffix}")
    return tmp_path


def test_problem_references_numactl_and_lscpu_relative_to_the_problem(tmp_path: Path) -> None:
    base = _copy_corpus(tmp_path, "intel-snc2-2s")
    spec = {"numactl": "hosts/intel-snc2-2s.numactl", "lscpu": "hosts/intel-snc2-2s.lscpu"}
    host, warnings = load_host_sources(spec, base, "problems/p.toml")
    assert warnings == []
    assert host == load((HOSTS / "intel-snc2-2s.toml").read_text())


def test_problem_references_sysfs_hwloc_and_synthetic(tmp_path: Path) -> None:
    rule = DistanceRule(12, 32)
    host = parse_synthetic("pack:2 numa:2 core:2 pu:2", rule)
    write_sysfs_tree(host, tmp_path / "snap")
    (tmp_path / "x.xml").write_text(render_hwloc_xml(host))
    assert load_host_sources({"sysfs": "snap"}, tmp_path, "p.toml") == (read_sysfs(tmp_path / "snap"), [])
    assert load_host_sources({"hwloc": "x.xml"}, tmp_path, "p.toml") == (host, [])
    synthetic = {"synthetic": "pack:2 numa:2 core:2 pu:2", "distances": "12,32"}
    assert load_host_sources(synthetic, tmp_path, "p.toml") == (host, [])
    table = {"synthetic": "pack:2 numa:2 core:2 pu:2", "distances": {"same_package": 12, "other": 32}}
    assert host_from_problem(table, tmp_path, "p.toml") == (host, [])


def test_host_from_problem_takes_inline_tables_too(tmp_path: Path) -> None:
    text = (HOSTS / "laptop-i7-1260p.toml").read_text()
    table = tomllib.loads(text)["host"]
    assert host_from_problem(table, tmp_path, "p.toml") == (load(text), [])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"numactl": "hosts/missing.txt"}, "p.toml: host.numactl: {base}/hosts/missing.txt: no such file"),
        ({"numactl": 5}, "p.toml: host.numactl: expected a path, got 5"),
        (
            {"numa": "x"},
            "p.toml: host.numa: unknown key 'numa' (known: numactl, lscpu, sysfs, hwloc, synthetic, distances)",
        ),
        (
            {"lscpu": "hosts/intel-snc2-2s.lscpu"},
            "p.toml: host.lscpu: {base}/hosts/intel-snc2-2s.lscpu: lscpu has no memory sizes or distances: give numactl --hardware output with it",
        ),
        (
            {"sysfs": "snap", "hwloc": "x.xml"},
            "p.toml: host: cannot make one host from hwloc + sysfs: give numactl, numactl + lscpu, sysfs, hwloc, or synthetic (+ distances)",
        ),
        (
            {"numactl": "hosts/intel-snc2-2s.numactl", "distances": "12,32"},
            "p.toml: host.distances: a distance rule goes with synthetic or hwloc; the other sources carry their own distances",
        ),
        (
            {"synthetic": "pack:2 numa:2 pu:1", "distances": "12;32"},
            "p.toml: host.distances: '12;32' is not a distance rule such as '12,32' or 'same_package=12, other=32' (remote distances 11..255)",
        ),
        (
            {"synthetic": "pack:2 numa:2 pu:1"},
            "p.toml: host.synthetic: synthetic:'pack:2 numa:2 pu:1': 4 NUMA nodes but no distances: the synthetic grammar has none, give a distance rule such as '12,32' or 'same_package=12, other=32' (remote distances 11..255)",
        ),
        (
            {"numactl": "hosts/intel-snc2-2s.lscpu", "lscpu": "hosts/intel-snc2-2s.lscpu"},
            "p.toml: host.numactl: {base}/hosts/intel-snc2-2s.lscpu: line 1: expected 'available: N nodes (LIST)', the first line of numactl --hardware, got '# The following is the pars...t, which can be fed to other'",
        ),
    ],
)
def test_reference_errors_name_the_key(tmp_path: Path, spec: dict[str, Any], message: str) -> None:
    base = _copy_corpus(tmp_path, "intel-snc2-2s")
    with pytest.raises(ProblemError) as info:
        load_host_sources(spec, base, "p.toml")
    assert str(info.value) == one_line_message(message.format(base=base))  # a long tmp path is cut in the middle
