"""The HMAT keys of an explicit [guest]: read, written back, and their mistakes in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from numaopt.errors import ProblemError
from numaopt.layout import check_layout, memory_tier_initiators
from numaopt.model import HmatCache, HmatLb
from numaopt.problem import load_problem, parse_problem
from numaopt.render.toml import problem_toml
from numaopt.rules import RuleSet
from tests.support.problems import plan_for

ROOT = Path(__file__).resolve().parents[2]
TIER = ROOT / "tests" / "data" / "hmat" / "cxl-tier-hmat.toml"
HEAD = """
[guest]
vcpus = 4
memory = "2GiB"
nodes = [
  { cpus = "0-1", memory = "512MiB" },
  { cpus = "2-3", memory = "512MiB" },
  { cpus = "", memory = "1GiB"INITIATOR },
]
"""


def problem(initiator: str = ", initiator = 1", tail: str = "") -> str:
    return HEAD.replace("INITIATOR", initiator) + tail


def test_the_tier_file_reads_into_initiators_latencies_and_a_cache() -> None:
    layout = load_problem(TIER).layout
    assert layout is not None and layout.hmat
    assert [node.initiator for node in layout.nodes] == [None, None, 1]
    assert HmatLb(1, 2, "access-latency", 120) in layout.hmat_lb
    assert HmatLb(1, 2, "access-bandwidth", 5 << 30) in layout.hmat_lb
    assert len(layout.hmat_lb) == 8
    assert layout.hmat_cache == (HmatCache(2, 16 << 20, 1, "direct", "write-back", 64),)


def test_an_initiator_alone_turns_hmat_on_and_false_turns_it_off_for_check_to_refuse() -> None:
    on = parse_problem(problem()).layout
    assert on is not None and on.hmat and not on.hmat_lb
    text = problem().replace('memory = "2GiB"', 'memory = "2GiB"\nhmat = false')
    off = parse_problem(text).layout
    assert off is not None and not off.hmat
    [finding] = [f for f in check_layout(off, RuleSet.QEMU) if f.code == "hmat-disabled"]
    assert finding.message.startswith("ACPI Heterogeneous Memory Attribute Table (HMAT) is disabled")


def test_the_problem_file_written_reads_back_to_the_same_layout() -> None:
    layout = load_problem(TIER).layout
    assert layout is not None
    again = parse_problem(problem_toml(layout)).layout
    assert again == layout


@pytest.mark.parametrize(
    ("tail", "where", "says"),
    [
        ("hmat_lb = [ { initiator = 0, target = 2 } ]\n", "guest.hmat_lb[0]", "give a latency or a bandwidth"),
        ("hmat_lb = [ { initiator = 0, target = 2, latency = -1 } ]\n", "guest.hmat_lb[0].latency", "0.."),
        ("hmat_lb = [ { initiator = 0, target = 2, hierarchy = \"l4\", latency = 5 } ]\n", "guest.hmat_lb[0].hierarchy", "valid: memory"),
        ("hmat_lb = [ { initiator = 0, target = 2, bandwidth = \"fast\" } ]\n", "guest.hmat_lb[0].bandwidth", "fast"),
        ("hmat_lb = [ { initiator = 0, target = 2, latency = 5, speed = 1 } ]\n", "guest.hmat_lb[0]", "unknown key 'speed'"),
        ("hmat_cache = [ { node = 2, size = \"1MiB\", level = 4 } ]\n", "guest.hmat_cache[0].level", "1..3"),
        ("hmat_cache = [ { node = 2, size = \"1MiB\", level = 1, policy = \"lazy\" } ]\n", "guest.hmat_cache[0].policy", "valid: none, write-back"),
        ("hmat_lb = [ 5 ]\n", "guest.hmat_lb[0]", "expected a table"),
    ],
)
def test_a_bad_hmat_value_is_one_line_naming_its_key(tail: str, where: str, says: str) -> None:
    text = problem().replace("\n]\n", "\n]\n" + tail, 1)
    with pytest.raises(ProblemError) as error:
        parse_problem(text, "x.toml")
    line = str(error.value)
    assert "\n" not in line and line.startswith(f"x.toml: {where}") and says in line, line


def test_a_bad_initiator_is_named_at_its_node() -> None:
    with pytest.raises(ProblemError, match=r"guest\.nodes\[2\]\.initiator"):
        parse_problem(problem(", initiator = 500"), "x.toml")


def test_a_search_problems_memory_tier_gets_the_nearest_vcpu_node_as_initiator() -> None:
    layout = plan_for(ROOT / "problems" / "cxl-tiering.toml").layout
    assert layout.hmat and [node.initiator for node in layout.nodes] == [None, 0]
    assert check_layout(layout, RuleSet.QEMU) == []


def test_the_nearest_node_decides_and_a_given_initiator_stays() -> None:
    text = problem("").replace("]\n", "]\ndistances = [ [10, 21, 24], [21, 10, 14], [24, 14, 10] ]\n", 1)
    layout = parse_problem(text).layout
    assert layout is not None and not layout.hmat
    tiered = memory_tier_initiators(layout)
    assert tiered.hmat and tiered.nodes[2].initiator == 1  # 14 from node 1, 24 from node 0
    given = parse_problem(problem(", initiator = 0")).layout
    assert given is not None and memory_tier_initiators(given) == given
