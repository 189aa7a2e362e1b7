"""hwloc synthetic strings and the distance rule that gives them distances."""

from __future__ import annotations

import pytest

from numaopt.errors import InputError
from numaopt.hosts import DistanceRule, parse_distance_rule, parse_synthetic
from numaopt.model import HostCore
from numaopt.units import GIB


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        ("12,32", DistanceRule(12, 32)),
        (" 12 , 32 ", DistanceRule(12, 32)),
        ("20", DistanceRule(20, 20)),
        ("same_package=12, other=32", DistanceRule(12, 32)),
        ("other=32,same_package=16", DistanceRule(16, 32)),
        ({"same_package": 11, "other": 21}, DistanceRule(11, 21)),
    ],
)
def test_rule_syntax(spec: str | dict[str, int], rule: DistanceRule) -> None:
    assert parse_distance_rule(spec) == rule


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "12,x",
            "'12,x' is not a distance rule such as '12,32' or 'same_package=12, other=32' (remote distances 11..255)",
        ),
        (
            "12,32,40",
            "'12,32,40' is not a distance rule such as '12,32' or 'same_package=12, other=32' (remote distances 11..255)",
        ),
        (
            "10,20",
            "same_package = 10: expected a distance rule such as '12,32' or 'same_package=12, other=32' (remote distances 11..255)",
        ),
        (
            "12,256",
            "other = 256: expected a distance rule such as '12,32' or 'same_package=12, other=32' (remote distances 11..255)",
        ),
        ("same=12, other=32", "unknown key 'same' (known: same_package, other)"),
        (
            "same_package=12",
            "missing 'other': expected a distance rule such as '12,32' or 'same_package=12, other=32' (remote distances 11..255)",
        ),
        (
            {"same_package": 12, "other": "32"},
            "expected integers, got 12 and '32': a distance rule such as '12,32' or 'same_package=12, other=32' (remote distances 11..255)",
        ),
    ],
)
def test_rule_errors(spec: str | dict[str, object], message: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_distance_rule(spec)
    assert str(info.value) == message


def test_rule_matrix_by_package() -> None:
    matrix = DistanceRule(12, 32).matrix([0, 0, 1, None])
    assert matrix.tolist() == [[10, 12, 32, 32], [12, 10, 32, 32], [32, 32, 10, 32], [32, 32, 32, 10]]


def test_two_socket_snc_host() -> None:
    host = parse_synthetic("pack:2 numa:2 core:4 pu:2", DistanceRule(12, 32))
    assert host.num_nodes == 4 and host.num_cpus == 32
    assert host.nodes[1].cpus == tuple(range(8, 16)) and host.nodes[1].memory_bytes == GIB
    assert host.cores[4] == HostCore(0, (8, 9)) and host.cores[8] == HostCore(1, (16, 17))
    assert host.distances.tolist() == [[10, 12, 32, 32], [12, 10, 32, 32], [32, 32, 10, 12], [32, 32, 12, 10]]


def test_memory_units_are_hwlocs() -> None:
    assert parse_synthetic("numa:1(memory=32GB) pu:1").nodes[0].memory_bytes == 32 * 10**9
    assert parse_synthetic("numa:1(memory=32GiB) pu:1").nodes[0].memory_bytes == 32 * GIB
    assert parse_synthetic("numa:1(memory=4096) pu:1").nodes[0].memory_bytes == 4096


def test_without_numa_level_the_machine_is_one_node() -> None:
    host = parse_synthetic("pack:2 core:2 pu:2")
    assert host.num_nodes == 1 and host.distances.tolist() == [[10]]
    assert len({core.socket for core in host.cores}) == 2


def test_nodes_above_packages_share_no_package() -> None:
    host = parse_synthetic("numa:2 pack:2 core:2 pu:1", DistanceRule(12, 32))
    assert host.distances.tolist() == [[10, 32], [32, 10]]
    assert [core.socket for core in host.cores] == [0, 0, 1, 1, 2, 2, 3, 3]


def test_without_core_level_smt_is_unknown() -> None:
    assert parse_synthetic("pack:2 pu:4").cores == ()


@pytest.mark.parametrize(
    ("description", "message"),
    [
        (
            "pack:2 numa:2 core:4 pu:2",
            "4 NUMA nodes but no distances: the synthetic grammar has none, give a distance rule such as '12,32' or 'same_package=12, other=32' (remote distances 11..255)",
        ),
        ("pack:2 core:4", "the last level must be pu, e.g. 'pack:2 numa:2 core:4 pu:2'"),
        ("", "the last level must be pu, e.g. 'pack:2 numa:2 core:4 pu:2'"),
        (
            "pack:2 chip:2 pu:1",
            "unknown level type 'chip' (known: pack (package, socket), numa (numanode, node), core, pu, die, group, l1..l5 (l3cache, l1d, ...))",
        ),
        ("pack:0 pu:1", "pack:0: a level needs at least one object"),
        ("pack:two pu:1", "expected a level such as pack:2 or numa:2(memory=64GiB), got 'pack:two'"),
        ("numa:2 numa:2 pu:1", "more than one numa level"),
        ("core:2 pack:2 pu:1", "levels must run pack > core > pu from the machine down"),
        ("core:2 numa:2 pu:1", "the numa level must be above the core level (a core belongs to one node)"),
        ("numa:2(size=1GB) pu:1", "unsupported attribute 'size=1GB': numaopt reads only numa:N(memory=SIZE)"),
        ("numa:2(memory=lots) pu:1", "expected a size such as 64GiB or 32GB in 'memory=lots'"),
        (
            "pack:2 [numa(memory=1GB)] pu:1",
            "memory children in brackets ('[numa(...)]') are not supported: write numa:N as a level",
        ),
        ("pack:1000 core:1000 pu:2", "2000000 PUs: at most 65536"),
    ],
)
def test_errors(description: str, message: str) -> None:
    with pytest.raises(InputError) as info:
        parse_synthetic(description)
    assert str(info.value) == f"synthetic:{description!r}: {message}"
