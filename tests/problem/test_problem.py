"""Problem files: every shipped example loads; every invalid file gives its exact one-line error."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from numaopt.errors import ProblemError
from numaopt.problem import load_problem, parse_problem
from numaopt.units import GIB, MIB

ROOT = Path(__file__).resolve().parents[2]
INVALID = sorted((ROOT / "tests" / "data" / "invalid").glob("*.toml"))
PROBLEMS = sorted((ROOT / "problems").glob("*.toml"))


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_file_gives_its_exact_message(path: Path) -> None:
    expected = path.with_suffix(".err").read_text().strip()
    with pytest.raises(ProblemError) as info:
        load_problem(path)
    assert str(info.value) == f"{path}: {expected}"
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("path", [p for p in PROBLEMS if load_problem(p).layout is not None], ids=lambda p: p.stem)
def test_every_explicit_example_loads(path: Path) -> None:
    layout = load_problem(path).layout
    assert layout is not None
    assert sum(node.memory_bytes for node in layout.nodes) == layout.memory_bytes
    assert sorted(cpu for node in layout.nodes for cpu in node.cpus) == list(range(layout.vcpus))
    assert layout.shape.num_cpus == layout.vcpus


def test_docs_examples_parse() -> None:
    text = (ROOT / "docs" / "problem-format.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert len(blocks) >= 2
    for block in blocks:
        assert parse_problem(block).layout.num_nodes == 4


def test_seed_layout_is_the_articles() -> None:
    layout = load_problem(ROOT / "problems" / "seed-4node.toml").layout
    assert [node.cpus for node in layout.nodes] == [tuple(range(4 * i, 4 * i + 4)) for i in range(4)]
    assert [node.memory_bytes for node in layout.nodes] == [512 * MIB] * 4
    expected = np.array([[10, 15, 20, 20], [15, 10, 20, 20], [20, 20, 10, 15], [20, 20, 15, 10]])
    assert layout.distances is not None and np.array_equal(layout.distances, expected)
    assert (layout.shape.sockets, layout.shape.cores, layout.shape.threads) == (4, 4, 1)


def _guest(body: str) -> str:
    return f'[guest]\nvcpus = 16\nmemory = "2GiB"\n{body}\n'


def test_missing_memory_is_split_in_128mib_granules() -> None:
    layout = parse_problem(_guest('nodes = [ { memory = "1GiB" }, {}, {} ]')).layout
    assert [n.memory_bytes for n in layout.nodes] == [GIB, 512 * MIB, 512 * MIB]
    odd = parse_problem(_guest("nodes = [ {}, {}, {} ]")).layout
    assert [n.memory_bytes for n in odd.nodes] == [768 * MIB, 640 * MIB, 640 * MIB]


def test_missing_cpus_are_dealt_in_whole_sockets() -> None:
    layout = parse_problem(_guest("smp = { sockets = 4, cores = 2, threads = 2 }\nnodes = [ {}, {} ]")).layout
    assert [n.cpus for n in layout.nodes] == [tuple(range(8)), tuple(range(8, 16))]
    rest = parse_problem(_guest('nodes = [ { cpus = "0-7" }, {}, {} ]')).layout
    assert [n.cpus for n in rest.nodes] == [tuple(range(8)), (8, 9, 10, 11), (12, 13, 14, 15)]


def test_unequal_nodes_get_sockets_that_never_straddle() -> None:
    layout = load_problem(ROOT / "problems" / "unequal-nodes.toml").layout
    assert (layout.shape.sockets, layout.shape.cores) == (8, 2)


def test_partial_smp_is_completed() -> None:
    layout = parse_problem(_guest("smp = { sockets = 2 }\nnodes = [ {}, {} ]")).layout
    assert (layout.shape.sockets, layout.shape.cores, layout.shape.threads) == (2, 8, 1)


def test_pairs_one_direction_is_symmetric_both_is_asymmetric() -> None:
    text = _guest(
        "nodes = [ {}, {}, {} ]\n"
        "distances = [ { a = 0, b = 1, value = 15 }, { a = 1, b = 2, value = 30 }, { a = 2, b = 1, value = 40 } ]\n"
        "default_distance = 25"
    )
    d = parse_problem(text).layout.distances
    assert d is not None
    assert d.tolist() == [[10, 15, 25], [15, 10, 30], [25, 40, 10]]


def test_no_distances_means_no_matrix() -> None:
    layout = parse_problem(_guest("nodes = [ {}, {} ]")).layout
    assert layout.distances is None
    assert layout.effective_distances.tolist() == [[10, 20], [20, 10]]


def test_cpu_less_and_memory_less_nodes() -> None:
    layout = load_problem(ROOT / "problems" / "cxl-memory-node.toml").layout
    assert [bool(n.cpus) for n in layout.nodes] == [True, True, False, False]
    memless = load_problem(ROOT / "problems" / "memoryless-node.toml").layout
    assert memless.nodes[2].memory_bytes == 0 and memless.nodes[2].cpus == (4, 5)


SEARCH_HOST = '[host]\ndistances = [[10, 21], [21, 10]]\nnodes = [ { id = 0, cpus = "0-3", memory = "8GiB" }, { id = 1, cpus = "4-7", memory = "8GiB" } ]\n'


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            '[workload]\ngroups = [ { name = "a", vcpus = 2, memory = "1GiB" } ]\ntraffic = [ { between = ["a", "b"], weight = 1 } ]\n',
            "workload.traffic[0].between: unknown group 'b' (groups: a)",
        ),
        (
            '[workload]\ngroups = [ { name = "a", vcpus = 2, memory = "1GiB" } ]\ntraffic = [ { between = ["a"], weight = -1 } ]\n',
            "workload.traffic[0].weight: expected a whole-number weight (0..1000000000), got -1",
        ),
        (
            '[workload]\ngroups = [ { name = "a", vcpus = 3, memory = "1GiB" } ]\nthreads_per_core = 2\n',
            "workload.groups[0].vcpus: 3 vCPUs: expected a multiple of threads_per_core (2), 0 for memory only",
        ),
        (
            '[workload]\ngroups = [ { name = "a", vcpus = 2, memory = "1GiB", nodes = "5" } ]\n',
            "workload.groups[0].nodes: host node 5 does not exist (host nodes: 0-1)",
        ),
        (
            '[workload]\ngroups = [ { name = "a", vcpus = 2, memory = "1GiB" } ]\n[objective]\nkind = "fastest"\n',
            "objective.kind: unknown objective 'fastest' (valid: locality, spread, compact)",
        ),
    ],
)
def test_search_problem_errors_name_the_key(body: str, message: str) -> None:
    with pytest.raises(ProblemError) as info:
        parse_problem(SEARCH_HOST + body, "p.toml")
    assert str(info.value) == f"p.toml: {message}"


def test_reserved_cpus_must_be_host_cpus() -> None:
    text = SEARCH_HOST.replace("[host]\n", '[host]\nreserved_cpus = "0,9"\n') + '[workload]\ngroups = [ { name = "a", vcpus = 2, memory = "1GiB" } ]\n'
    with pytest.raises(ProblemError) as info:
        parse_problem(text, "p.toml")
    assert str(info.value) == "p.toml: host.reserved_cpus: CPUs 9 are not host CPUs (host CPUs: 0-7)"


def test_a_cpu_list_is_a_string_or_an_array() -> None:
    # parse_cpulist iterates what it is given: an inline table {} used to read as no CPUs.
    with pytest.raises(ProblemError) as info:
        parse_problem(_guest("nodes = [ { cpus = {} } ]"), "p.toml")
    assert str(info.value) == (
        'p.toml: guest.nodes[0].cpus: expected a CPU list such as "0-3,8-11" ("" for none) or a list of integers, got {}'
    )
    with pytest.raises(ProblemError) as info:
        parse_problem(SEARCH_HOST + '[workload]\ngroups = [ { name = "a", vcpus = 2, memory = "1GiB", nodes = {} } ]\n', "p.toml")
    assert str(info.value).startswith("p.toml: workload.groups[0].nodes: expected a CPU list")
