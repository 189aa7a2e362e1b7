"""The problem file's JSON Schema (``numaopt schema``) against what the reader accepts.

The schema and the reader's key lists come from the models in numaopt/problem/schema.py,
and the reader checks every file it accepts against those models. Here: every file the
reader accepts validates against the JSON Schema (shipped problems, test data, the
docs' examples, a generated batch, and one-value mutations of all of them); the reader
refuses every mutant the models refuse with its own message, never the models' fallback;
the invalid files the schema can judge fail it at the key path the reader names.
"""

from __future__ import annotations

import copy
import json
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import tomli_w
from typer.testing import CliRunner

from numaopt.cli import app
from numaopt.errors import ProblemError
from numaopt.hosts import sources as host_sources
from numaopt.hosts import toml as host_toml
from numaopt.hosts.distance_rule import _KEYS as RULE_KEYS
from numaopt.problem import load_problem, parse_problem
from numaopt.problem import schema as models
from numaopt.problem.schema import check_shape, keys, problem_schema

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = problem_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
FALLBACK = "(numaopt's schema)"


def _accepted(paths: list[Path]) -> list[Path]:
    kept = []
    for path in paths:
        try:
            load_problem(path)
        except ProblemError:
            continue
        kept.append(path)
    return kept


SHIPPED = sorted((ROOT / "problems").glob("*.toml"))
TEST_DATA = _accepted(sorted(p for p in (ROOT / "tests" / "data").rglob("*.toml") if "invalid" not in p.parts))
INVALID = sorted((ROOT / "tests" / "data" / "invalid").glob("*.toml"))
# What a schema can say: keys, types, enums, bounds, required keys. Not: CPU lists and sizes
# as text, sums, cross-references, node counts.
SCHEMA_REFUSES = {
    "machine-unknown", "matrix-float", "memory-bare-number", "no-guest", "no-nodes", "node-not-table",
    "pair-unknown-key", "rules-unknown", "smp-unknown", "unknown-guest-key", "unknown-top", "vcpus-string", "vcpus-zero",
}  # fmt: skip


def _schema_errors(data: dict[str, Any]) -> list[str]:
    return [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in VALIDATOR.iter_errors(data)]


def test_the_schema_is_a_valid_json_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(SCHEMA)) == SCHEMA


def test_the_corpora_are_not_empty() -> None:
    assert len(SHIPPED) >= 10 and len(TEST_DATA) >= 3  # the guest reports' layouts at least


@pytest.mark.parametrize("path", SHIPPED + TEST_DATA, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_file_the_reader_accepts_fits_the_schema(path: Path) -> None:
    load_problem(path)
    assert _schema_errors(tomllib.loads(path.read_text())) == []


def test_the_docs_examples_fit_the_schema() -> None:
    text = (ROOT / "docs" / "problem-format.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert blocks
    for block in blocks:
        parse_problem(block)
        assert _schema_errors(tomllib.loads(block)) == []


def test_a_generated_batch_fits_the_schema(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["generate", "--count", "40", "--seed", "3", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = sorted(tmp_path.rglob("*.toml"))
    assert len(written) == 40
    for path in written:
        load_problem(path)
        assert _schema_errors(tomllib.loads(path.read_text())) == [], path


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_the_invalid_files_the_schema_can_judge_fail_it_where_the_reader_says(path: Path) -> None:
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError:
        pytest.skip("not TOML: no schema judges it")
    errors = sorted(VALIDATOR.iter_errors(data), key=lambda e: -len(e.absolute_path))
    assert bool(errors) == (path.stem in SCHEMA_REFUSES), _schema_errors(data)
    if errors:
        reader_path = path.with_suffix(".err").read_text().split(": ")[0]
        schema_path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in errors[0].absolute_path).lstrip(".")
        assert reader_path.startswith(schema_path), (reader_path, schema_path)


# -- One-value mutations: the reader decides first, the models never catch it out ------------

EDGES: list[Any] = [0, -1, 3, 2**31, "", "x", True, 1.5, [], {}]


def _leaves(doc: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield (*path, key)
        yield from _leaves(value, (*path, key))


def _mutants(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for path in _leaves(doc):
        for value in [*EDGES, None]:  # None: the key deleted
            mutant = copy.deepcopy(doc)
            parent = mutant
            for key in path[:-1]:
                parent = parent[key]
            if value is None:
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
            yield mutant
    for path in [(), *(p for p in _leaves(doc))]:
        mutant = copy.deepcopy(doc)
        target = mutant
        for key in path:
            target = target[key]
        if isinstance(target, dict):
            target["colour"] = "red"
            yield mutant


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_mutants_are_judged_by_the_reader_and_fit_the_schema_when_accepted(path: Path) -> None:
    accepted = refused = 0
    for mutant in _mutants(tomllib.loads(path.read_text())):
        text = tomli_w.dumps(mutant)
        try:
            parse_problem(text, "m.toml", path.parent)
        except ProblemError as exc:
            assert FALLBACK not in str(exc), f"the models refused what the reader took: {exc}\n{text}"
            refused += 1
            continue
        assert _schema_errors(mutant) == [], text
        accepted += 1
    assert accepted and refused


# -- One declaration -------------------------------------------------------------------------------


def test_the_host_tables_are_the_ones_numaopt_hosts_reads() -> None:
    assert keys(models.InlineHost) == (*host_toml.HOST_KEYS, "reserved_cpus")
    assert keys(models.HostNode) == host_toml.NODE_KEYS
    assert keys(models.HugePages) == host_toml.HUGEPAGE_KEYS
    assert keys(models.HostSocket) == host_toml.SOCKET_KEYS
    assert keys(models.ImportedHost) == (*host_sources.SOURCE_KEYS, "reserved_cpus")
    assert keys(models.DistanceRule) == RULE_KEYS


def test_what_the_models_refuse_is_one_line_naming_file_and_key() -> None:
    data = {"guest": {"vcpus": 0, "memory": "1GiB", "nodes": [{}]}}
    with pytest.raises(ProblemError) as info:
        check_shape(data, models.Explicit, "p.toml")
    assert str(info.value) == f"p.toml: guest.vcpus: input should be greater than or equal to 1, got 0 {FALLBACK}"
    data = {"host": {"synthetic": "pack:1", "nodes": []}, "workload": {"vcpus": 1, "memory": "1GiB"}}
    with pytest.raises(ProblemError) as info:
        check_shape(data, models.Search, "p.toml")
    assert str(info.value).startswith("p.toml: host.") and "\n" not in str(info.value)


def test_numaopt_schema_prints_it_and_writes_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0 and json.loads(result.stdout) == SCHEMA
    out = tmp_path / "problem.schema.json"
    result = CliRunner().invoke(app, ["schema", "--out", str(out)])
    assert result.exit_code == 0 and result.stdout == "" and json.loads(out.read_text()) == SCHEMA
