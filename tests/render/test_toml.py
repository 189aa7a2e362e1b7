"""render/toml.py: tomli-w's text but matrices one row per line; every document reads back;
the problem file of a layout equals the generic writer's and reads back to the layout."""

from __future__ import annotations

import tomllib
from typing import Any

import numpy as np
import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from numaopt.generate import Family, Generated, Knobs, Range, generate_items, resolve
from numaopt.model import BackendKind, CpuShape, GuestLayout, GuestNode, Machine, MemoryBackend
from numaopt.problem import parse_problem
from numaopt.render.toml import PROBLEM_MATRICES, comment_lines, dumps, matrix_text, problem_dict, problem_toml
from numaopt.rules import RuleSet
from numaopt.units import MIB

# Keys and strings with what TOML must escape or quote: quotes, backslashes, control
# characters, newlines, dots and spaces in keys, non-ASCII.
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
scalars = st.one_of(st.integers(-(2**63), 2**63 - 1), st.booleans(), texts)
matrices = st.integers(1, 5).flatmap(
    lambda n: st.lists(st.lists(st.integers(-(2**63), 2**63 - 1), min_size=n, max_size=n), min_size=n, max_size=n)
)
# Comments take any character but a control one (tab aside); line breaks split the header.
headers = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="".join(
    c for c in map(chr, range(32)) if c not in "\t\n\r\x0b\x0c\x1c\x1d\x1e") + "\x7f"), max_size=12)
inline_tables = st.dictionaries(texts, scalars, max_size=3)
tables = st.dictionaries(texts, st.one_of(scalars, st.lists(scalars, max_size=3), st.lists(inline_tables, max_size=3)), max_size=4)


@settings(max_examples=200, deadline=None)
@given(before=tables, after=tables, matrix=matrices, header=headers)
def test_a_matrix_is_one_row_per_line_and_everything_reads_back(
    before: dict[str, Any], after: dict[str, Any], matrix: list[list[int]], header: str
) -> None:
    table = {**before, "distances": matrix, **{k: v for k, v in after.items() if k not in before and k != "distances"}}
    document = {"title": "x", "host": table}
    text = dumps(document, header=header, matrices=("host.distances",))
    assert tomllib.loads(text) == document
    rows = "".join(f"    [{', '.join(map(str, row))}],\n" for row in matrix)
    assert f"distances = [\n{rows}]\n" in text
    # Everything else is tomli-w's own text: put the matrix back the way tomli-w writes it.
    plain = tomli_w.dumps(document)
    assert text.removeprefix(comment_lines(header)) == plain.replace(
        tomli_w.dumps({"distances": matrix}), f"distances = [\n{rows}]\n", 1
    )
    assert document["host"]["distances"] == matrix  # the caller's document is left alone


def test_without_matrices_or_without_the_key_it_is_tomli_w() -> None:
    document = {"rules": "qemu", "guest": {"vcpus": 2, "nodes": [{"cpus": "0-1", "memory": 0}]}}
    assert dumps(document) == tomli_w.dumps(document)
    assert dumps(document, matrices=PROBLEM_MATRICES) == tomli_w.dumps(document)
    assert dumps({"rules": "qemu"}, matrices=PROBLEM_MATRICES) == 'rules = "qemu"\n'  # no [guest] made up


def test_header_lines_are_comments() -> None:
    assert comment_lines("numaopt generate: item 3\n\nsecond") == "# numaopt generate: item 3\n#\n# second\n"
    text = dumps({"a": 1}, header="one\n\ntwo")
    assert text == "# one\n#\n# two\na = 1\n" and tomllib.loads(text) == {"a": 1}


@pytest.mark.parametrize("header", ["bell\x07", "nul\x00", "escape \x1b[0m", "del\x7f"])
def test_a_header_toml_cannot_hold_is_refused(header: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        dumps({"a": 1}, header=header)


def test_matrix_text() -> None:
    assert matrix_text([[10, 21], [21, 10]]) == "[\n    [10, 21],\n    [21, 10],\n]"
    assert matrix_text([]) == "[]" == tomli_w.dumps({"k": []}).removeprefix("k = ").strip()


def _generated() -> list[Generated]:
    space = resolve(Knobs(nodes=Range(1, 10), families=tuple(f for f in Family if f not in (Family.SYNTH, Family.REMOTE_10))))
    return [o for o in generate_items(space, 3, list(range(150))) if isinstance(o, Generated)]


def test_problem_toml_is_the_generic_writer_and_reads_back() -> None:
    items = _generated()
    assert any(item.layout.distances is None for item in items) and any(item.layout.distances is not None for item in items)
    for item in items:
        layout = item.layout
        text = problem_toml(layout, f"item {item.index}")
        assert text == dumps(problem_dict(layout), header=f"item {item.index}", matrices=PROBLEM_MATRICES)
        assert parse_problem(text).layout == layout


def _layout(cpus: list[tuple[int, ...]], **changes: Any) -> GuestLayout:
    nodes = tuple(GuestNode(i, c, 256 * MIB if i else 0) for i, c in enumerate(cpus))
    vcpus = sum(len(c) for c in cpus)
    d = np.full((len(cpus), len(cpus)), 20)
    np.fill_diagonal(d, 10)
    fields: dict[str, Any] = {
        "vcpus": vcpus,
        "memory_bytes": 256 * MIB * (len(cpus) - 1),
        "nodes": nodes,
        "shape": CpuShape(sockets=vcpus),
        "distances": d,
        "machine": Machine.PC,
        "rules": RuleSet.QEMU,
    }
    return GuestLayout(**{**fields, **changes})


def test_scattered_vcpus_and_nodes_too_long_for_one_line_read_back() -> None:
    scattered = _layout([tuple(range(0, 8, 2)), tuple(range(1, 8, 2))])
    long_line = _layout([tuple(range(0, 80, 2)), tuple(range(1, 80, 2))])
    for layout in (scattered, long_line):
        text = problem_toml(layout)
        assert text == dumps(problem_dict(layout), matrices=PROBLEM_MATRICES)
        assert parse_problem(text).layout == layout
    assert "nodes = [\n" in problem_toml(scattered)
    assert "[[guest.nodes]]" in problem_toml(long_line)  # tomli-w's layout for a long node


def test_virt_clusters_are_written_as_clusters_and_read_back() -> None:
    layout = _layout([(0, 1), (2, 3)], shape=CpuShape(sockets=1, clusters=2, cores=2), machine=Machine.VIRT)
    text = problem_toml(layout)
    assert text == dumps(problem_dict(layout), matrices=PROBLEM_MATRICES)
    assert "clusters = 2" in text and "dies" not in text
    assert parse_problem(text).layout == layout


@pytest.mark.parametrize(
    "changes",
    [
        {"nodes": (GuestNode(0, (0,), 0), GuestNode(2, (1,), 256 * MIB))},
        {"nodes": (GuestNode(0, (0,), 0), GuestNode(1, (1,), 256 * MIB, host_nodes=(0,)))},
        {"shape": CpuShape(clusters=2)},  # clusters on an x86 machine: only virt has them
        {"backend": MemoryBackend(kind=BackendKind.FILE, mem_path="/dev/hugepages")},
    ],
    ids=["node-ids", "host-binding", "x86-clusters", "file-backend"],
)
def test_what_the_problem_form_cannot_say_is_refused(changes: dict[str, Any]) -> None:
    layout = _layout([(0,), (1,)], **changes)
    with pytest.raises(ValueError, match="problem"):
        problem_toml(layout)
    with pytest.raises(ValueError, match="problem"):
        problem_dict(layout)
