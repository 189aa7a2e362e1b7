"""numaopt generate: every layout valid for its target, round trips, determinism, resume,
dedup, coverage, families, and knobs refused up front."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from numaopt.cli import app as numaopt_app
from numaopt.cli.generate import generate_command
from numaopt.distances import RECLAIM_DISTANCE, TopologyType, distinct_levels, is_symmetric, topology_type, triangle_ok
from numaopt.generate import (
    Family,
    Generated,
    GenerateError,
    KnobError,
    Knobs,
    Metric,
    OutputKind,
    Range,
    Skipped,
    SocketMode,
    Symmetry,
    args_text,
    child_keys,
    generate_items,
    hop_diameter,
    resolve,
    toml_text,
    write_batch,
    write_item,
)
from numaopt.generate.classes import socket_class
from numaopt.generate.streams import Draws
from numaopt.layout import check_layout
from numaopt.model import Machine
from numaopt.problem import parse_problem
from numaopt.qemu.args import read_qemu_args
from numaopt.render.qemu import shell_text
from numaopt.rules import RuleSet, Severity

SAMPLED = tuple(f for f in Family if f not in (Family.SYNTH, Family.REMOTE_10))


def errors(layout, rules: RuleSet) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.message for f in check_layout(layout, rules) if f.severity is Severity.ERROR]


def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("generate")(generate_command)

    @app.command("version")
    def version() -> None:  # a second command keeps "generate" a subcommand
        pass

    return app


def run_generate(*args: str) -> object:
    return CliRunner().invoke(cli(), ["generate", *args])


def tree(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


# ---------------------------------------------------------------------------------------
# Child seeds


@given(seed=st.integers(0, 2**64 - 1), indices=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=6))
@settings(max_examples=60, deadline=None)
def test_child_keys_are_numpy_seedsequence_children(seed: int, indices: list[int]) -> None:
    expected = [np.random.SeedSequence(seed, spawn_key=(k,)).generate_state(2, np.uint64) for k in indices]
    assert np.array_equal(child_keys(seed, indices), np.array(expected))


def test_child_keys_match_spawn() -> None:
    children = np.random.SeedSequence(12345).spawn(5)
    assert np.array_equal(child_keys(12345, range(5)), [c.generate_state(2, np.uint64) for c in children])


def test_draws_of_an_item_do_not_depend_on_the_batch() -> None:
    draws = Draws(child_keys(3, range(50)))
    alone = Draws(child_keys(3, [17]))
    assert np.array_equal(draws.uniform(9, 20)[17], alone.uniform(9, 20)[0])
    assert np.array_equal(draws.take([17, 4]).integers(5, 11, 255, 7)[0], alone.integers(5, 11, 255, 7)[0])
    values = draws.integers(1, 3, 9, 1000)
    assert values.min() == 3 and values.max() == 9


# ---------------------------------------------------------------------------------------
# Every layout is valid and round-trips


knob_sets = st.builds(
    Knobs,
    target=st.sampled_from([RuleSet.LINUX_ACPI, RuleSet.QEMU]),
    nodes=st.sampled_from([Range(1, 4), Range(2, 8), Range(5, 12), Range(16, 16)]),
    vcpus_per_node=st.sampled_from([Range(1, 2), Range(1, 4), Range(2, 6)]),
    threads=st.sampled_from([(1,), (2,), (1, 2), (1, 2, 4)]),
    sockets=st.sampled_from([(SocketMode.WHOLE,), (SocketMode.SPLIT,), (SocketMode.WHOLE, SocketMode.SPLIT)]),
    memoryless=st.sampled_from([Range(0, 0), Range(0, 2)]),
    cpuless=st.sampled_from([Range(0, 0), Range(0, 2)]),
    families=st.sampled_from([SAMPLED, None]),
    distance_range=st.sampled_from([Range(11, 255), Range(12, 40), Range(20, 30)]),
    machines=st.sampled_from([(Machine.Q35,), (Machine.Q35, Machine.PC)]),
)


def _resolvable(knobs: Knobs) -> bool:
    try:
        resolve(knobs)
    except KnobError:
        return False
    return True


@given(knobs=knob_sets.filter(_resolvable), seed=st.integers(0, 2**32), start=st.integers(0, 10**6))
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_every_layout_passes_its_target_and_round_trips(knobs: Knobs, seed: int, start: int) -> None:
    space = resolve(knobs)
    for outcome in generate_items(space, seed, list(range(start, start + 6))):
        if isinstance(outcome, Skipped):
            assert outcome.family is Family.SYNTH
            continue
        layout = outcome.layout
        assert errors(layout, RuleSet.QEMU) == []
        if knobs.target is RuleSet.LINUX_ACPI:
            assert errors(layout, RuleSet.LINUX_ACPI) == []
        # The problem TOML loads back to the same layout.
        text = toml_text(outcome, "header")
        loaded = parse_problem(text).layout
        assert loaded == layout
        assert loaded.rules is knobs.target
        # The argument file is the renderer's shell text, and reads back to the same nodes.
        assert args_text(outcome) == shell_text(layout) == args_text(layout)
        config = read_qemu_args(args_text(outcome))
        assert [f for f in config.findings if f.severity is Severity.ERROR] == []
        back = config.layout
        assert (back.vcpus, back.memory_bytes, back.nodes, back.shape) == (layout.vcpus, layout.memory_bytes, layout.nodes, layout.shape)
        assert (back.distances is None) == (layout.distances is None)
        if layout.distances is not None:
            assert np.array_equal(back.distances, layout.distances)
        _check_classes(outcome)
        assert outcome.classes["nodes"] in knobs.nodes
        for node in layout.nodes:
            if node.cpus:
                assert len(node.cpus) in knobs.vcpus_per_node


def _check_classes(item: Generated) -> None:
    """The recorded classes are what numaopt's own functions say about the layout."""
    layout = item.layout
    matrix = layout.effective_distances
    mask = layout.cpu_nodes_mask
    classes = item.classes
    assert classes["levels"] == int(distinct_levels(matrix, mask)[0])
    assert classes["topology"] == topology_type(matrix, mask).value
    assert classes["symmetric"] == is_symmetric(matrix)
    metric_raw, metric_excess = bool(triangle_ok(matrix)[0]), bool(triangle_ok(matrix, excess=True)[0])
    assert classes["triangle"] == ("metric" if metric_excess else "excess" if metric_raw else "raw")
    assert classes["diameter"] == int(hop_diameter(matrix, mask)[0])
    assert classes["cpuless"] == sum(1 for n in layout.nodes if not n.cpus)
    assert classes["memoryless"] == sum(1 for n in layout.nodes if n.cpus and not n.memory_bytes)
    assert classes["threads"] == layout.shape.threads
    assert classes["sockets"] == socket_class([len(n.cpus) for n in layout.nodes], item.shape)
    warnings = {f.code for f in check_layout(layout, RuleSet.LINUX_ACPI)}
    assert ("socket-split" in warnings) == (classes["sockets"] == "llc-split")


def test_files_pass_numaopt_check(tmp_path: Path) -> None:
    space = resolve(Knobs(nodes=Range(1, 6)))
    write_batch(space, 11, tmp_path, 12, (OutputKind.TOML, OutputKind.ARGS, OutputKind.JSON), jobs=1)
    runner = CliRunner()
    files = sorted(tmp_path.glob("layout-*.toml")) + sorted(tmp_path.glob("layout-*.args"))
    assert len(files) == 24
    for path in files:
        result = runner.invoke(numaopt_app, ["check", str(path), "--rules", "qemu,linux-acpi"])
        assert result.exit_code == 0, result.output
        assert f"{path}: qemu: " in result.output
    for path in sorted(tmp_path.glob("layout-*.toml"))[:4]:
        result = runner.invoke(numaopt_app, ["solve", str(path), "--format", "shell", "--quiet"])
        assert result.exit_code == 0, result.output
        assert result.output == (tmp_path / path.name.replace(".toml", ".args")).read_text()
    plan = json.loads((tmp_path / "layout-000000.json").read_text())
    assert plan["status"] == "EXPLICIT"


def test_qemu_target_includes_what_linux_discards() -> None:
    space = resolve(Knobs(target=RuleSet.QEMU, nodes=Range(2, 6), threads=(2,), sockets=(SocketMode.SPLIT_CORE,),
                          families=(Family.REMOTE_10, Family.EDGE), distance_range=Range(10, 255)))
    outcomes = [o for o in generate_items(space, 5, list(range(60))) if isinstance(o, Generated)]
    linux_codes = set()
    for item in outcomes:
        assert errors(item.layout, RuleSet.QEMU) == []
        linux_codes |= {f.code for f in check_layout(item.layout, RuleSet.LINUX_ACPI) if f.severity is Severity.ERROR}
        assert parse_problem(toml_text(item)).layout.rules is RuleSet.QEMU
    assert {"remote-equals-local", "core-split"} <= linux_codes
    assert any(item.classes["sockets"] == "core-split" for item in outcomes)
    assert any(10 in item.classes["edge_values"] for item in outcomes)


# ---------------------------------------------------------------------------------------
# Families


def _family(family: Family, count: int = 40, **knobs: object) -> list[Generated]:
    space = resolve(Knobs(families=(family,), **knobs))  # type: ignore[arg-type]
    items = [o for o in generate_items(space, 21, list(range(count))) if isinstance(o, Generated)]
    assert items and all(item.family is family for item in items)
    return items


def test_chain_has_diameter_at_least_three() -> None:
    for item in _family(Family.CHAIN, nodes=Range(4, 10), cpuless=Range(0, 0)):
        assert item.classes["diameter"] >= 3
        assert item.classes["triangle"] == "metric"


def test_graph_and_socket_families_are_metric_and_symmetric() -> None:
    for family in (Family.RING, Family.MESH, Family.SOCKET, Family.FLAT):
        for item in _family(family, nodes=Range(4, 12)):
            assert item.classes["triangle"] == "metric" and item.classes["symmetric"]
    assert {item.classes["topology"] for item in _family(Family.SOCKET, 80, nodes=Range(6, 12))} >= {"NUMA_DIRECT", "NUMA_BACKPLANE"}


def test_random_metric_is_metric_and_sometimes_asymmetric() -> None:
    items = _family(Family.RANDOM_METRIC, 60, nodes=Range(3, 10))
    assert all(item.classes["triangle"] == "metric" for item in items)
    assert {item.classes["symmetric"] for item in items} == {True, False}


def test_reclaim_straddles_30() -> None:
    for item in _family(Family.RECLAIM, nodes=Range(3, 8), cpuless=Range(0, 0)):
        values = set(item.distances[~np.eye(item.distances.shape[0], dtype=bool)].tolist())
        assert min(values) <= RECLAIM_DISTANCE < max(values)
    assert any(item.classes["reclaim"] == "both" for item in _family(Family.RECLAIM, nodes=Range(3, 8)))


def test_asymmetric_skew_is_bounded() -> None:
    for item in _family(Family.ASYMMETRIC, nodes=Range(2, 8), max_skew=3):
        d = item.distances
        assert not item.classes["symmetric"]
        assert np.abs(d - d.T).max() <= 3


def test_triangle_breaks_the_excess_form_and_sometimes_the_raw_one() -> None:
    items = _family(Family.TRIANGLE, 60, nodes=Range(3, 8))
    kinds = {item.classes["triangle"] for item in items}
    assert kinds == {"excess", "raw"}


def test_edge_values() -> None:
    items = _family(Family.EDGE, 60, nodes=Range(2, 8))
    seen = set()
    for item in items:
        values = set(item.distances[~np.eye(item.distances.shape[0], dtype=bool)].tolist())
        assert values <= {11, 254, 255}
        seen |= values
    assert seen == {11, 254, 255}


def test_split_sockets_cover_package_and_llc_splits() -> None:
    space = resolve(Knobs(nodes=Range(2, 8), cpuless=Range(0, 0), sockets=(SocketMode.SPLIT,), vcpus_per_node=Range(2, 8)))
    kinds = {o.classes["sockets"] for o in generate_items(space, 2, list(range(80))) if isinstance(o, Generated)}
    assert {"package-split", "llc-split"} <= kinds


def test_large_layouts_stay_within_qemu_limits() -> None:
    space = resolve(Knobs(nodes=Range(64, 64), vcpus_per_node=Range(1, 3), threads=(1, 2), memory_per_node=Range(128 << 20, 128 << 20)))
    for item in generate_items(space, 4, list(range(4))):
        assert isinstance(item, Generated)
        assert errors(item.layout, RuleSet.QEMU) == [] and errors(item.layout, RuleSet.LINUX_ACPI) == []
        assert item.layout.vcpus <= 255


# ---------------------------------------------------------------------------------------
# CP-SAT-synthesised families through the generator


def test_levels_topology_and_diameter_are_honoured() -> None:
    space = resolve(Knobs(nodes=Range(4, 7), levels=Range(4, 4), topology=TopologyType.BACKPLANE))
    items = [o for o in generate_items(space, 8, list(range(6)))]
    assert all(isinstance(o, Generated) and o.method == "cp-sat" for o in items)
    for item in items:
        assert item.classes["levels"] == 4 and item.classes["topology"] == "NUMA_BACKPLANE"
    space = resolve(Knobs(nodes=Range(5, 6), diameter=Range(3, 3), metric=Metric.YES, cpuless=Range(0, 0)))
    for item in generate_items(space, 9, list(range(3))):
        assert isinstance(item, Generated)
        assert item.classes["diameter"] == 3 and item.classes["triangle"] == "metric"
    space = resolve(Knobs(nodes=Range(3, 5), levels=Range(6, 6), symmetry=Symmetry.ASYMMETRIC, metric=Metric.NO))
    for item in generate_items(space, 10, list(range(3))):
        assert isinstance(item, Generated)
        assert item.classes["levels"] == 6 and not item.classes["symmetric"] and item.classes["triangle"] != "metric"


def test_default_batches_mix_in_synthesis() -> None:
    space = resolve(Knobs())
    items = generate_items(space, 1, list(range(120)))
    methods = {o.method for o in items if isinstance(o, Generated)}
    assert methods == {"sampled", "cp-sat"}


# ---------------------------------------------------------------------------------------
# Determinism, item K alone, resume


def test_same_seed_same_bytes_and_item_k_alone(tmp_path: Path) -> None:
    space = resolve(Knobs(nodes=Range(1, 8)))
    first, second, single = tmp_path / "a", tmp_path / "b", tmp_path / "k"
    write_batch(space, 42, first, 40, jobs=1)
    write_batch(space, 42, second, 40, jobs=1, chunk=7)
    assert tree(first) == tree(second)
    records = [json.loads(line) for line in (first / "index.jsonl").read_text().splitlines()]
    layouts = [r for r in records if r["record"] == "layout"]
    assert len(layouts) == 40 and records[-1]["record"] == "coverage"
    for record in layouts[::7]:
        write_item(space, 42, record["index"], single, (OutputKind.TOML, OutputKind.ARGS))
        for name in record["paths"].values():
            assert (single / name).read_bytes() == (first / name).read_bytes()
    other = tmp_path / "c"
    write_batch(space, 43, other, 40, jobs=1)
    assert tree(other) != tree(first)


def test_two_processes_write_the_same_bytes(tmp_path: Path) -> None:
    space = resolve(Knobs(nodes=Range(2, 6), families=SAMPLED))
    write_batch(space, 5, tmp_path / "one", 500, jobs=1)
    write_batch(space, 5, tmp_path / "two", 500, jobs=2, chunk=64)
    assert tree(tmp_path / "one") == tree(tmp_path / "two")


def test_resume_completes_a_half_filled_directory(tmp_path: Path) -> None:
    space = resolve(Knobs(nodes=Range(1, 6)))
    full, broken = tmp_path / "full", tmp_path / "broken"
    write_batch(space, 3, full, 30, jobs=1)
    shutil.copytree(full, broken)
    index = broken / "index.jsonl"
    lines = index.read_text().splitlines(keepends=True)
    index.write_text("".join(lines[:15]) + lines[15][:40])  # a torn line, as after a crash
    for path in sorted(broken.glob("layout-*.toml"))[20:]:
        path.unlink()
    (broken / "layout-000002.args").unlink(missing_ok=True)
    report = write_batch(space, 3, broken, 30, jobs=1)
    assert report.resumed_from > 0 and report.written == 30 - report.resumed_from
    assert tree(broken) == tree(full)
    # Asking for more continues the same sequence; asking again changes nothing.
    more = tmp_path / "more"
    write_batch(space, 3, more, 45, jobs=1)
    write_batch(space, 3, full, 45, jobs=1)
    assert tree(full) == tree(more)
    before = tree(full)
    assert write_batch(space, 3, full, 45, jobs=1).written == 0
    assert tree(full) == before


def test_resume_refuses_another_batch(tmp_path: Path) -> None:
    space = resolve(Knobs(nodes=Range(1, 4)))
    write_batch(space, 3, tmp_path, 5, jobs=1)
    with pytest.raises(Exception, match="holds a batch made with other settings"):
        write_batch(space, 4, tmp_path, 5, jobs=1)
    with pytest.raises(Exception, match="more than --count"):
        write_batch(space, 3, tmp_path, 2, jobs=1)


# ---------------------------------------------------------------------------------------
# Dedup and coverage


def test_duplicates_are_written_once() -> None:
    space = resolve(Knobs(nodes=Range(1, 2), vcpus_per_node=Range(1, 2), threads=(1,), memoryless=Range(0, 0),
                          cpuless=Range(0, 0), memory_per_node=Range(128 << 20, 256 << 20), families=(Family.NONE, Family.FLAT),
                          distance_range=Range(20, 21), sockets=(SocketMode.WHOLE,)))
    items = [o for o in generate_items(space, 1, list(range(300))) if isinstance(o, Generated)]
    keys = {item.canonical for item in items}
    # Distinct layouts up to renumbering: one node (2 vCPU counts x 2 sizes x 1 shape per count) ...
    structures = set()
    for item in items:
        nodes = sorted(zip(item.cpus, item.memory, strict=True))
        value = None if item.distances is None else int(item.distances[0, 1]) if item.distances.shape[0] > 1 else 10
        structures.add((tuple(nodes), value, item.shape))
    assert len(keys) == len(structures)


def test_a_batch_that_cannot_be_filled_says_so(tmp_path: Path) -> None:
    space = resolve(Knobs(nodes=Range(1, 1), vcpus_per_node=Range(1, 1), threads=(1,), memoryless=Range(0, 0),
                          cpuless=Range(0, 0), memory_per_node=Range(128 << 20, 128 << 20), sockets=(SocketMode.WHOLE,)))
    with pytest.raises(GenerateError, match="only 1 distinct layout"):
        write_batch(space, 1, tmp_path, 2, jobs=1)


def test_coverage_summary_counts_and_gaps(tmp_path: Path) -> None:
    result = run_generate("--count", "60", "--seed", "9", "--out", str(tmp_path / "cov"), "--jobs", "1", "--nodes", "1-6")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert "60 layout(s);" in output and "  topology " in output and "not exercised:" in output
    coverage = json.loads((tmp_path / "cov" / "index.jsonl").read_text().splitlines()[-1])
    assert coverage["record"] == "coverage" and coverage["layouts"] == 60
    for dimension in ("nodes", "levels", "topology", "symmetric", "triangle", "memoryless", "cpuless", "threads", "sockets"):
        assert sum(coverage["counts"][dimension].values()) == 60
    assert set(coverage["counts"]["nodes"]) == {"1", "2", "3", "4", "5", "6"}


# ---------------------------------------------------------------------------------------
# The command line


def test_index_k_writes_item_k(tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    assert run_generate("--count", "10", "--seed", "2", "--out", str(batch), "--jobs", "1").exit_code == 0  # type: ignore[attr-defined]
    record = [json.loads(line) for line in (batch / "index.jsonl").read_text().splitlines()][5]
    result = run_generate("--seed", "2", "--index", str(record["index"]), "--out", str(tmp_path / "one"))
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    for name in record["paths"].values():
        assert (tmp_path / "one" / name).read_bytes() == (batch / name).read_bytes()
    assert not (tmp_path / "one" / "index.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--levels", "3", "--nodes", "2"], "--levels 3: 2 CPU node(s) show at most 2 level(s)"),
        (["--memoryless", "5", "--nodes", "1-4"], "--memoryless 5: at least 5 memory-less node(s) but at most 4 node(s)"),
        (["--nodes", "6-2"], "--nodes 6-2: the range is empty"),
        (["--distance-range", "40-30"], "--distance-range 40-30: the range is empty"),
        (["--memory-per-node", "1GiB-512MiB"], "--memory-per-node 1GiB-512MiB: the range is empty"),
        (["--distance-range", "10-40"], "remote distances start at 11"),
        (["--topology", "direct", "--levels", "4"], "Linux calls a table DIRECT only with 2 levels or fewer"),
        (["--family", "chain", "--nodes", "2-3"], "--family chain needs at least 4 nodes"),
        (["--family", "remote-10"], "--family remote-10 is for --target qemu only"),
        (["--sockets", "split-core"], "use --target qemu"),
        (["--cpuless", "4", "--nodes", "4"], "--cpuless 4: at least 4 CPU-less node(s)"),
        (["--threads", "4", "--vcpus-per-node", "1-3"], "exceed"),
        (["--nodes", "0-3"], "node counts must be between 1 and 128"),
        (["--family", "bogus"], "--family: unknown value 'bogus'"),
        (["--levels", "3", "--family", "flat"], "searched with CP-SAT"),
    ],
)
def test_impossible_knobs_are_refused_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "never"
    result = run_generate("--count", "5", "--out", str(out), *args)
    assert result.exit_code == 1  # type: ignore[attr-defined]
    error = result.exception  # type: ignore[attr-defined]
    assert isinstance(error, KnobError)
    assert message in str(error) and "\n" not in str(error)
    assert not out.exists()


def test_command_help_explains_the_command() -> None:
    result = CliRunner().invoke(cli(), ["generate", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "byte-identical" in text and "--index" in text and "CP-SAT" in text


def test_no_progress_bar_in_a_pipe(tmp_path: Path) -> None:
    result = run_generate("--count", "5", "--out", str(tmp_path / "p"), "--quiet")
    assert result.exit_code == 0 and result.output == ""  # type: ignore[attr-defined]


# ---------------------------------------------------------------------------------------
# Hop diameter, against its definition written out


def _hop_diameter_by_definition(d: np.ndarray, mask: np.ndarray) -> int:
    e = d - 10
    cpu = [i for i in range(len(d)) if mask[i]]

    def link(i: int, j: int) -> bool:
        return not any(e[i, k] + e[k, j] <= e[i, j] and e[i, k] < e[i, j] and e[k, j] < e[i, j] for k in cpu if k not in (i, j))

    longest = 0
    for source in cpu:
        hops = {source: 0}
        frontier = [source]
        while frontier:
            reached = []
            for u in frontier:
                for v in cpu:
                    if v not in hops and link(u, v):
                        hops[v] = hops[u] + 1
                        reached.append(v)
            frontier = reached
        longest = max(longest, *hops.values())
    return longest


@given(n=st.integers(1, 7), seed=st.integers(0, 2**32 - 1), low=st.sampled_from([10, 11]), symmetric=st.booleans())
@settings(max_examples=150, deadline=None)
def test_hop_diameter_matches_its_definition(n: int, seed: int, low: int, symmetric: bool) -> None:
    rng = np.random.default_rng(seed)
    d = rng.integers(low, 40, size=(n, n))
    if symmetric:
        d = np.minimum(d, d.T)
    np.fill_diagonal(d, 10)
    mask = rng.random(n) < 0.8
    assert int(hop_diameter(d, mask)[0]) == _hop_diameter_by_definition(d, mask)


def test_hop_diameter_examples() -> None:
    chain = np.array([[10, 20, 30, 40], [20, 10, 20, 30], [30, 20, 10, 20], [40, 30, 20, 10]])
    opteron = np.array([[10, 16, 22], [16, 10, 16], [22, 16, 10]])
    flat = np.full((5, 5), 20)
    np.fill_diagonal(flat, 10)
    assert hop_diameter(np.stack([chain]))[0] == 3
    assert hop_diameter(opteron)[0] == 2
    assert hop_diameter(flat)[0] == 1
    assert hop_diameter(chain, [True, True, False, False])[0] == 1


def test_unsatisfiable_synthesis_stops_early(tmp_path: Path) -> None:
    # Three symmetric CPU nodes cannot show 4 levels as a BACKPLANE: every item is infeasible.
    space = resolve(Knobs(nodes=Range(3, 3), cpuless=Range(0, 0), levels=Range(4, 4), topology=TopologyType.BACKPLANE,
                          symmetry=Symmetry.SYMMETRIC))
    with pytest.raises(GenerateError, match="CP-SAT found no matrix for the first 16 items"):
        write_batch(space, 1, tmp_path / "none", 5, jobs=1)
    with pytest.raises(GenerateError, match="item 3: CP-SAT found no matrix"):
        write_item(space, 1, 3, tmp_path / "one", (OutputKind.TOML,))


def test_progress_bar_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numaopt.cli.generate

    updates: list[int] = []
    real = numaopt.cli.generate.write_batch

    def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        progress = kwargs["on_progress"]
        kwargs["on_progress"] = lambda done, total: (updates.append(done), progress(done, total))
        return real(*args, **kwargs)

    monkeypatch.setattr(numaopt.cli.generate, "_on_terminal", lambda: True)
    monkeypatch.setattr(numaopt.cli.generate, "write_batch", watched)
    result = run_generate("--count", "20", "--out", str(tmp_path / "tty"), "--jobs", "1")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    assert len(list((tmp_path / "tty").glob("layout-*.toml"))) == 20
    assert updates[-1] == 20 and updates == sorted(updates)


GOLDEN_TOML = """\
# golden
rules = "linux-acpi"

[guest]
vcpus = 6
memory = "512MiB"
machine = "q35"
distances = [
    [10, 115, 228],
    [115, 10, 228],
    [228, 228, 10],
]
nodes = [
    { cpus = "0-3", memory = "128MiB" },
    { cpus = "4-5", memory = 0 },
    { cpus = "", memory = "384MiB" },
]

[guest.smp]
sockets = 1
dies = 3
cores = 1
threads = 2
"""


def test_golden_item() -> None:
    """Seeds stay reproducible across versions and machines: item 5 of seed 7, byte for byte.

    A socket split along die boundaries, a memory-less CPU node and a CPU-less memory node.
    """
    space = resolve(Knobs(nodes=Range(3, 3), families=(Family.SOCKET,), threads=(2,), memoryless=Range(1, 1), cpuless=Range(1, 1)))
    item = generate_items(space, 7, [5])[0]
    assert isinstance(item, Generated)
    assert toml_text(item, "golden") == GOLDEN_TOML
    assert args_text(item).splitlines()[4] == "    -smp 6,sockets=1,dies=3,cores=1,threads=2,maxcpus=6 \\"
    assert item.classes["sockets"] == "package-split" and item.classes["memoryless"] == item.classes["cpuless"] == 1
    assert item.canonical == "54aac5b44b56f249a5807db59db100c8"
