"""Messy input: every invalid corpus file gives its exact one-line message, and no input at
all (random text, mangled real files, random TOML tables, broken sysfs files) gives any
exception but ``InputError`` (``ProblemError`` for tables)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from numaopt.errors import InputError, ProblemError
from numaopt.hosts import (
    host_from_table,
    parse_distance_rule,
    parse_hwloc_xml,
    parse_lscpu,
    parse_numactl,
    parse_synthetic,
    read_sysfs,
    render_hwloc_xml,
    sniff_kind,
    write_sysfs_tree,
)
from numaopt.hosts.sources import parse_source

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"
INVALID = sorted(p for p in (HOSTS / "invalid").iterdir() if p.suffix != ".err")
PARSERS: dict[str, Callable[[str, str], object]] = {
    "numactl": parse_numactl,
    "lscpu": parse_lscpu,
    "hwloc": parse_hwloc_xml,
}
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_file_gives_its_exact_message(path: Path) -> None:
    expected = path.with_suffix(".err").read_text().strip()
    with pytest.raises(InputError) as info:
        PARSERS[path.name.split("-")[0]](path.read_text(), str(path))
    assert str(info.value) == f"{path}: {expected}"


def test_every_invalid_file_has_a_sidecar_and_a_known_kind() -> None:
    assert len(INVALID) >= 20
    for path in INVALID:
        assert path.with_suffix(".err").is_file(), path
        assert path.name.split("-")[0] in PARSERS, path


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_crlf_does_not_move_the_line(path: Path) -> None:
    expected = path.with_suffix(".err").read_text().strip()
    with pytest.raises(InputError) as info:
        PARSERS[path.name.split("-")[0]](path.read_text().replace("\n", "\r\n"), str(path))
    assert str(info.value) == f"{path}: {expected}"


def outcome(parse: Callable[[], object]) -> object:
    """The parse result, or its InputError, which must be one line; any other exception fails."""
    try:
        return parse()
    except InputError as exc:
        assert str(exc) and "\n" not in str(exc)
        return exc


CORPUS = {
    "numactl": [p.read_text() for p in sorted(HOSTS.glob("*.numactl"))],
    "lscpu": [p.read_text() for p in sorted(HOSTS.glob("*.lscpu*"))],
    "hwloc": [(HOSTS / "xeon-max-snc2-hbm.xml").read_text()],
}


@st.composite
def mangled(draw: st.DrawFn, kind: str) -> str:
    """A real file with a few edits: lines dropped, doubled or swapped, a cut, characters changed."""
    text = draw(st.sampled_from(CORPUS[kind]))
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["drop", "double", "swap", "cut", "char", "digits"]))
        if edit == "drop":
            del lines[i]
        elif edit == "double":
            lines.insert(i, lines[i])
        elif edit == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif edit == "cut":
            lines = [*lines[:i], lines[i][: draw(st.integers(0, len(lines[i])))]]
        elif edit == "char" and lines[i]:
            k = draw(st.integers(0, len(lines[i]) - 1))
            lines[i] = lines[i][:k] + draw(st.characters()) + lines[i][k + 1 :]
        elif edit == "digits":
            lines[i] = lines[i].replace("1", draw(st.sampled_from(["", "9", "99999", "-1", "x"])))
    return "".join(lines)


@FUZZ
@given(st.text())
def test_arbitrary_text_never_crashes_a_parser(text: str) -> None:
    for parse in PARSERS.values():
        outcome(lambda parse=parse: parse(text, "fuzz"))
    outcome(lambda: parse_synthetic(text))
    outcome(lambda: sniff_kind(text, "fuzz"))


@FUZZ
@given(mangled("numactl"))
def test_mangled_numactl(text: str) -> None:
    outcome(lambda: parse_numactl(text, "fuzz"))


@FUZZ
@given(mangled("lscpu"))
def test_mangled_lscpu(text: str) -> None:
    outcome(lambda: parse_lscpu(text, "fuzz"))


@FUZZ
@given(mangled("hwloc"))
def test_mangled_hwloc(text: str) -> None:
    outcome(lambda: parse_hwloc_xml(text, "fuzz"))


@FUZZ
@given(
    st.lists(
        st.sampled_from(["pack", "numa", "core", "pu", "l3", "die", "x", ":", "2", "0", "(memory=1GB)", " "]),
        max_size=12,
    )
)
def test_synthetic_pieces(pieces: list[str]) -> None:
    outcome(lambda: parse_synthetic("".join(pieces)))


@FUZZ
@given(st.one_of(st.text(max_size=30), st.dictionaries(st.text(max_size=14), st.integers(-5, 300), max_size=3)))
def test_distance_rules_raise_only_value_error(spec: Any) -> None:
    try:
        parse_distance_rule(spec)
    except ValueError as exc:
        assert "\n" not in str(exc)


TOML_VALUES = st.recursive(
    st.one_of(
        st.integers(-(2**63), 2**63 - 1),
        st.text(max_size=8),
        st.booleans(),
        st.floats(allow_nan=False),
        st.sampled_from(["0-3", "1GiB", "2MiB", ""]),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(["id", "cpus", "memory", "free", "hugepages", "size", "total", "cores", "x"]),
            children,
            max_size=4,
        ),
    ),
    max_leaves=20,
)


@FUZZ
@given(st.dictionaries(st.sampled_from(["nodes", "distances", "sockets", "other"]), TOML_VALUES, max_size=3))
def test_random_host_tables_raise_only_problem_errors(table: dict[str, Any]) -> None:
    try:
        host_from_table(table, "fuzz.toml")
    except ProblemError as exc:
        assert "\n" not in str(exc)


SMALL = parse_hwloc_xml(render_hwloc_xml(parse_synthetic("pack:2 numa:2 core:2 pu:2", parse_distance_rule("12,32"))))
SYSFS_FILES = [
    "node/node1/cpulist",
    "node/node1/distance",
    "node/node2/meminfo",
    "cpu/cpu3/topology/core_cpus_list",
    "cpu/cpu5/topology/physical_package_id",
]


@FUZZ
@given(st.sampled_from(SYSFS_FILES), st.text(max_size=40))
def test_broken_sysfs_files(relative: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        write_sysfs_tree(SMALL, Path(tmp))
        (Path(tmp) / "sys/devices/system" / relative).write_text(text, encoding="utf-8", errors="surrogatepass")
        outcome(lambda: read_sysfs(tmp))


@FUZZ
@given(st.text(max_size=40))
def test_source_arguments(argument: str) -> None:
    try:
        parse_source(argument)
    except InputError as exc:
        assert "\n" not in str(exc) or "\n" in argument  # the message quotes the argument
