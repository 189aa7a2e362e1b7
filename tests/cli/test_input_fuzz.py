"""Hostile input through the command line: problem files, host files and QEMU argument files
built from the schema (valid, one value pushed to an edge, garbage bytes), run in-process
through ``numaopt check``, ``numaopt solve`` and ``numaopt host show``.

Whatever the input: exit code 0..4, no traceback (an exception escaping ``main`` fails the
test), every stderr line at most 420 characters and naming the input file. The normal
suite runs a few hundred examples, derandomized; ``--hypothesis-profile=long`` (see
conftest.py) runs many more with fresh randomness.

The nastiest inputs found while building the input boundary are kept below as plain
parametrized cases with their exact one-line messages.
"""

from __future__ import annotations

import math
import random
import shlex
import tempfile
import tomllib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from numaopt.hosts import DistanceRule, host_to_toml, parse_synthetic, render_lscpu, render_numactl
from numaopt.model import HostTopology
from numaopt.problem import GUEST_KEYS, NODE_KEYS
from numaopt.problem.search import GROUP_KEYS, OBJECTIVE_KEYS, TRAFFIC_KEYS, WORKLOAD_KEYS
from numaopt.render.qemu import qemu_command, shell_text
from tests.support.cli import Outcome, run_cli

EXIT_CODES = {0, 1, 2, 3, 4}
MAX_LINE = 420
LONG = settings.default.max_examples >= settings.get_profile("long").max_examples


def budget(normal: int) -> settings:
    """``normal`` examples, derandomized, in the suite; the long profile's count otherwise."""
    return settings(
        max_examples=settings.default.max_examples if LONG else normal,
        derandomize=not LONG,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


# ---------------------------------------------------------------------------------------
# Running the CLI in-process and judging what it printed


def assert_well_behaved(outcome: Outcome, *files: Path) -> None:
    """Exit 0..4; every stderr line short and, unless it is usage text, naming an input file."""
    assert outcome.code in EXIT_CODES, outcome
    assert "Traceback" not in outcome.stderr
    names = [str(path) for path in files]
    for line in outcome.stderr.splitlines():
        assert len(line) <= MAX_LINE, line
        if outcome.code != 2 and line.strip():
            assert any(name in line for name in names), (line, names)


def judge(outcome: Outcome, *files: Path) -> None:
    """``assert_well_behaved`` inside a property, counting exit codes for --hypothesis-show-statistics."""
    event(f"exit {outcome.code}")
    assert_well_behaved(outcome, *files)


@contextmanager
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="fz") as name:
        yield Path(name)


# ---------------------------------------------------------------------------------------
# Values at the edges, and where to put them

HUGE_TEXT = ["x" * 100_000, "\n" * 5_000, "a\u202eb" * 1_000, "é" * 30_000]
EDGE_VALUES: list[Any] = [
    0, -1, 1, 7, 255, 256, 4096, 4097, 65535, 65536, 2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**62, 2**63 - 1,
    -(2**63), 10**30, math.nan, math.inf, -math.inf, 1e300, 0.5, -0.0, True, False,
    "", " ", "0", "-1", "1e999", "nan", "inf", "auto", "0-4294967295", "0-3,2", "4-1", "99999999999999999999TiB",
    "1.00000000000000000001GiB", "18446744073709551616B", "1GB", "2G", "512MiB", "0B", "1s", "-5s", "1e9h", "99999999999h",
    "a\nb", "\x00", "\x1b[31mred", "\ufeff", "\u202e", "q35", "virt", "file", "pack:2 pu:2",
    [], {}, [[[]]], [0, 1, 2**63 - 1], {"max": 2**63 - 1}, {"max": 0}, [{"a": 1}],
]
edge_values = st.one_of(
    st.sampled_from(EDGE_VALUES),
    st.sampled_from(HUGE_TEXT),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=12),
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=4),
)
SCHEMA_KEYS = sorted({*GUEST_KEYS, *NODE_KEYS, *WORKLOAD_KEYS, *GROUP_KEYS, *TRAFFIC_KEYS, *OBJECTIVE_KEYS, "max"})


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path in a parsed TOML document (dict keys and list indexes)."""
    if isinstance(doc, dict):
        items: Any = doc.items()
    elif isinstance(doc, list):
        items = enumerate(doc)
    else:
        return
    for key, value in items:
        yield (*prefix, key)
        yield from _paths(value, (*prefix, key))


def _set(doc: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        doc = doc[key]
    if value is _DELETE:
        del doc[path[-1]]
    else:
        doc[path[-1]] = value


_DELETE = object()


@st.composite
def mutated(draw: st.DrawFn, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with one value pushed to an edge, a key deleted, or an unknown key added."""
    paths = list(_paths(doc))
    action = draw(st.sampled_from(["edge", "edge", "edge", "delete", "unknown"]))
    path = draw(st.sampled_from(paths))
    if action == "delete":
        _set(doc, path, _DELETE)
    elif action == "unknown":
        parent: Any = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict):
            parent[draw(st.sampled_from([*SCHEMA_KEYS, "x\ny", "k" * 5000, "\x00"]))] = draw(edge_values)
    else:
        _set(doc, path, draw(edge_values))
    return doc


def toml_text(doc: dict[str, Any]) -> bytes:
    try:
        return tomli_w.dumps(doc).encode()
    except (TypeError, ValueError):  # a value TOML cannot hold (tomli-w refuses it): write the raw repr
        return repr(doc).encode()


@st.composite
def byte_damage(draw: st.DrawFn, data: bytes) -> bytes:
    """``data`` unchanged, or with bytes inserted, cut short, a BOM, CRLF, or a line repeated."""
    kind = draw(st.sampled_from(["none"] * 6 + ["insert", "truncate", "bom", "crlf", "repeat", "digits"]))
    if kind == "insert" and data:
        at = draw(st.integers(0, len(data)))
        return data[:at] + draw(st.binary(min_size=1, max_size=8)) + data[at:]
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data)))]
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    if kind == "repeat" and data:
        lines = data.split(b"\n")
        index = draw(st.integers(0, len(lines) - 1))
        return b"\n".join([*lines[: index + 1], *lines[index:]])
    if kind == "digits":
        return data.replace(b"1", b"9" * draw(st.sampled_from([20, 400, 5000])), 1)
    return data


# ---------------------------------------------------------------------------------------
# Documents from the schema


@st.composite
def explicit_docs(draw: st.DrawFn) -> dict[str, Any]:
    nodes = draw(st.integers(1, 4))
    per = draw(st.integers(1, 3))
    machine = draw(st.sampled_from(["q35", "pc", "virt"]))
    guest: dict[str, Any] = {
        "vcpus": nodes * per,
        "memory": f"{nodes * 256}MiB",
        "machine": machine,
        "nodes": [{"cpus": f"{i * per}-{i * per + per - 1}", "memory": "256MiB"} for i in range(nodes)],
    }
    if nodes > 1:
        guest["default_distance"] = draw(st.sampled_from([20, 21, 32]))
        guest["distances"] = [{"a": 0, "b": 1, "value": draw(st.sampled_from([12, 15, 20]))}]
    if draw(st.booleans()):
        guest["smp"] = {"sockets": nodes, "cores": per, "threads": 1}
    if draw(st.booleans()):
        guest["memory_backend"] = {"kind": "ram", "share": False, "prealloc": False}
    return {"rules": draw(st.sampled_from(["qemu", "linux-acpi", "linux-dt", "libvirt"])), "guest": guest}


@st.composite
def hosts(draw: st.DrawFn) -> HostTopology:
    packages = draw(st.integers(1, 2))
    nodes = draw(st.integers(1, 2))
    cores = draw(st.integers(1, 3))
    threads = draw(st.integers(1, 2))
    spec = f"pack:{packages} numa:{nodes}(memory=4GiB) core:{cores} pu:{threads}"
    return parse_synthetic(spec, DistanceRule(draw(st.sampled_from([11, 12, 16])), draw(st.sampled_from([20, 32]))))


@st.composite
def workload(draw: st.DrawFn, host: HostTopology) -> dict[str, Any]:
    threads = host.threads_per_core
    groups = []
    for index in range(draw(st.integers(1, 3))):
        groups.append(
            {
                "name": f"g{index}",
                "vcpus": threads * draw(st.integers(0 if index else 1, 2)),
                "memory": draw(st.sampled_from(["512MiB", "1GiB"])),
                "split": False,
            }
        )
    names = [g["name"] for g in groups]
    traffic = [{"between": [names[0], names[-1]], "weight": draw(st.integers(0, 100))}]
    return {"threads_per_core": threads, "groups": groups, "traffic": traffic}


OBJECTIVE = {"kind": "locality", "time_limit": "0.5s", "seed": 0, "workers": 1}


@st.composite
def search_docs(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A search problem and the host files it names (inline hosts name none)."""
    host = draw(hosts())
    files: dict[str, bytes] = {}
    source = draw(st.sampled_from(["inline", "numactl", "numactl+lscpu"]))
    if source == "inline":
        host_table: dict[str, Any] = dict(tomllib.loads(host_to_toml(host))["host"])
    else:
        files["host.numactl"] = render_numactl(host).encode()
        host_table = {"numactl": "host.numactl"}
        if source == "numactl+lscpu" and host.cores:
            other = draw(st.one_of(st.just(host), hosts()))  # another host's lscpu: the sources disagree
            files["host.lscpu"] = render_lscpu(other).encode()
            host_table["lscpu"] = "host.lscpu"
    doc = {"host": host_table, "workload": draw(workload(host)), "objective": dict(OBJECTIVE)}
    return doc, files


# ---------------------------------------------------------------------------------------
# Properties


def _write(directory: Path, name: str, data: bytes) -> Path:
    path = directory / name
    path.write_bytes(data)
    return path


@budget(120)
@given(doc=explicit_docs(), data=st.data())
def test_explicit_problems(doc: dict[str, Any], data: st.DataObject) -> None:
    if data.draw(st.integers(0, 4)):
        doc = data.draw(mutated(doc))
    with workdir() as directory:
        problem = _write(directory, "problem.toml", data.draw(byte_damage(toml_text(doc))))
        judge(run_cli("check", str(problem)), problem)


@budget(60)
@given(drawn=search_docs(), data=st.data())
def test_search_problems(drawn: tuple[dict[str, Any], dict[str, bytes]], data: st.DataObject) -> None:
    doc, files = drawn
    if data.draw(st.integers(0, 3)):
        doc = data.draw(mutated(doc))
    with workdir() as directory:
        written = [_write(directory, name, data.draw(byte_damage(text))) for name, text in files.items()]
        problem = _write(directory, "problem.toml", data.draw(byte_damage(toml_text(doc))))
        outcome = run_cli("solve", str(problem), "--quiet", "--format", "json")
        judge(outcome, problem, *written)


def _damage_lines(text: str, rng: random.Random, junk: Any) -> str:
    """One line of host text changed: a number pushed to an edge, junk inserted, or deleted."""
    lines = text.splitlines()
    index = rng.randrange(len(lines))
    tokens = lines[index].split(" ")
    numbers = [i for i, token in enumerate(tokens) if any(c.isdigit() for c in token)]
    choice = rng.random()
    if numbers and choice < 0.6:
        tokens[rng.choice(numbers)] = str(junk)
        lines[index] = " ".join(tokens)
    elif choice < 0.8:
        lines[index] = lines[index] + str(junk)
    else:
        del lines[index]
    return "\n".join(lines) + "\n"


@budget(100)
@given(host=hosts(), other=hosts(), rng=st.randoms(use_true_random=False), junk=edge_values, data=st.data())
def test_host_files(host: HostTopology, other: HostTopology, rng: random.Random, junk: Any, data: st.DataObject) -> None:
    numactl = render_numactl(host)
    lscpu = render_lscpu(data.draw(st.sampled_from([host, other]))) if host.cores and other.cores else None
    if rng.random() < 0.4:
        numactl = _damage_lines(numactl, rng, junk)
    if lscpu is not None and rng.random() < 0.3:
        lscpu = _damage_lines(lscpu, rng, junk)
    with workdir() as directory:
        files = [_write(directory, "host.numactl", data.draw(byte_damage(numactl.encode())))]
        args = [f"numactl:{files[0]}"]
        if lscpu is not None:
            files.append(_write(directory, "host.lscpu", data.draw(byte_damage(lscpu.encode()))))
            args.append(f"lscpu:{files[1]}")
        sniffed = data.draw(st.booleans())  # a bare path: its kind is sniffed from the text
        outcome = run_cli("host", "show", *(str(path) for path in files) if sniffed else args)
        judge(outcome, *files)


def _mutate_argv(argv: list[str], rng: random.Random, junk: Any) -> list[str]:
    argv = list(argv)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(1, len(argv))
        choice = rng.random()
        if choice < 0.4 and "=" in argv[i]:
            parts = argv[i].split(",")
            k = rng.randrange(len(parts))
            key = parts[k].partition("=")[0]
            parts[k] = f"{key}={junk}"
            argv[i] = ",".join(parts)
        elif choice < 0.6:
            argv.insert(i, rng.choice(["-numa", "-m", "-smp", "-object", "-machine", "node", str(junk)]))
        elif choice < 0.8:
            argv[i : i + 1] = [argv[i], argv[i]]
        else:
            del argv[i]
    return argv


@budget(120)
@given(doc=explicit_docs(), rng=st.randoms(use_true_random=False), junk=edge_values, data=st.data())
def test_qemu_argument_files(doc: dict[str, Any], rng: random.Random, junk: Any, data: st.DataObject) -> None:
    from numaopt.problem import parse_problem

    layout = parse_problem(tomli_w.dumps(doc)).layout
    assert layout is not None
    style = data.draw(st.sampled_from(["shell", "line", "mutated", "mutated"]))
    if style == "shell":
        text = shell_text(layout)
    else:
        argv = qemu_command(layout)
        text = shlex.join(_mutate_argv(argv, rng, junk) if style == "mutated" else argv)
    with workdir() as directory:
        args = _write(directory, "vm.args", data.draw(byte_damage(text.encode())))
        judge(run_cli("check", str(args)), args)
        stdin = run_cli("check", "-", stdin=args.read_bytes())
        judge(stdin, Path("<stdin>"))


COMMANDS: list[Callable[[Path], list[str]]] = [
    lambda path: ["check", str(path)],
    lambda path: ["solve", str(path), "--quiet"],
    lambda path: ["host", "show", str(path)],
    lambda path: ["host", "show", f"numactl:{path}"],
    lambda path: ["host", "show", f"lscpu:{path}"],
    lambda path: ["host", "show", f"hwloc:{path}"],
]


@budget(120)
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".toml", ".args", ".txt"]), command=st.sampled_from(COMMANDS))
def test_garbage_bytes(data: bytes, suffix: str, command: Callable[[Path], list[str]]) -> None:
    with workdir() as directory:
        path = _write(directory, f"junk{suffix}", data)
        judge(run_cli(*command(path)), path)


# ---------------------------------------------------------------------------------------
# The corpus: the nasty cases found on the way, with their exact messages

SEARCH_HEAD = '[host]\nnumactl = "host.numactl"\n'
NUMACTL = "available: 1 nodes (0)\nnode 0 cpus: 0 1 2 3\nnode 0 size: 4096 MB\nnode 0 free: 4000 MB\nnode distances:\nnode 0\n0: 10\n"
GROUPS = '[workload]\ngroups = [ { name = "a", vcpus = 2, memory = "1GiB" }, { name = "b", vcpus = 2, memory = "1GiB" } ]\n'
CORPUS = [
    ("seed-2^31", GROUPS + "[objective]\nseed = 2147483648\n", "objective.seed: expected a seed (0..2147483647), got 2147483648"),
    ("workers-2^31", GROUPS + "[objective]\nworkers = 2147483648\n", "objective.workers: expected a number of CP-SAT workers (1..256), got 2147483648"),
    (
        "weight-2^62",
        GROUPS + 'traffic = [ { between = ["a", "b"], weight = 4611686018427387904 } ]\n',
        "workload.traffic[0].weight: expected a whole-number weight (0..1000000000), got 4611686018427387904",
    ),
    (
        "weights-add-up",
        GROUPS + "traffic = [" + '{ between = ["a", "b"], weight = 1000000000 }, ' * 1001 + "]\n",
        "workload.traffic: the traffic weights add up to 1001000000000 (split groups count their heaviest flow "
        "once more, as self-traffic): at most 1000000000000; scale the weights down",
    ),
    (
        "guest-nodes-2^63",
        '[workload]\nvcpus = 2\nmemory = "1GiB"\nguest_nodes = 9223372036854775807\n',
        'workload.guest_nodes: expected "auto", a number 1..128, or { max = N }, got 9223372036854775807',
    ),
    ("vcpus-negative-no-groups", '[workload]\nvcpus = -4\nmemory = "1GiB"\n', "workload.vcpus: expected a number of vCPUs (1..4096), got -4"),
    ("vcpus-zero-no-groups", '[workload]\nvcpus = 0\nmemory = "1GiB"\n', "workload.vcpus: expected a number of vCPUs (1..4096), got 0"),
    (
        "threads-per-core-64",
        GROUPS.replace("[workload]\n", "[workload]\nthreads_per_core = 64\n"),
        "workload.threads_per_core: expected a number of threads per core (1..8), got 64",
    ),
    ("time-limit-nan", GROUPS + "[objective]\ntime_limit = nan\n", "objective.time_limit: a duration must be more than 0 and at most 24h, got nan"),
    ("time-limit-inf", GROUPS + "[objective]\ntime_limit = inf\n", "objective.time_limit: a duration must be more than 0 and at most 24h, got inf"),
    ("time-limit-zero", GROUPS + "[objective]\ntime_limit = 0\n", "objective.time_limit: a duration must be more than 0 and at most 24h, got 0"),
    (
        "memory-rounded-by-float",
        '[workload]\nvcpus = 2\nmemory = "1.0000000000000000000001TiB"\n',
        "workload.memory: '1.0000000000000000000001TiB' is not a whole number of bytes",
    ),
    (
        "memory-beyond-4PiB",
        '[workload]\nvcpus = 2\nmemory = "99999999999999999999TiB"\n',
        "workload.memory: '99999999999999999999TiB' is more than 4096TiB, the largest size numaopt takes",
    ),
    (
        "group-name-newline",
        GROUPS.replace('name = "a"', 'name = "a\\nb"'),
        "workload.groups[0].name: expected a group name of 1..64 printable characters, got 'a\\nb'",
    ),
    (
        "max-distance-huge",
        GROUPS + 'max_distance = [ { between = ["a", "b"], distance = 9223372036854775807 } ]\n',
        "workload.max_distance[0].distance: expected a distance such as 16 (10..255), got 9223372036854775807",
    ),
    (
        "reserved-cpu-huge",
        "reserved_cpus = [9223372036854775807]\n" + GROUPS,
        "host.reserved_cpus: CPU 9223372036854775807 is more than 65535, the largest CPU id numaopt takes",
    ),
]


@pytest.mark.parametrize(("name", "body", "message"), CORPUS, ids=[case[0] for case in CORPUS])
def test_corpus_search_problems(tmp_path: Path, name: str, body: str, message: str) -> None:
    (tmp_path / "host.numactl").write_text(NUMACTL)
    problem = tmp_path / "p.toml"
    problem.write_text(SEARCH_HEAD + body)
    outcome = run_cli("solve", str(problem), "--quiet")
    assert_well_behaved(outcome, problem)
    assert outcome.code == 1
    assert outcome.stderr == f"numaopt: error: {problem}: {message}\n"


TWO_NODES = NUMACTL.replace("available: 1 nodes (0)", "available: 2 nodes (0-1)").replace(
    "node distances:\nnode 0\n0: 10\n",
    "node 1 cpus: 4 5 6 7\nnode 1 size: 4096 MB\nnode 1 free: 4000 MB\nnode distances:\nnode 0 1\n0: 10 20\n1: 20 10\n",
)


def test_numactl_and_lscpu_that_disagree_on_cores_still_solve(tmp_path: Path) -> None:
    """lscpu pairing CPUs of two numactl nodes as siblings once crashed placement (KeyError)."""
    (tmp_path / "host.numactl").write_text(TWO_NODES)
    (tmp_path / "host.lscpu").write_text("# CPU,Core,Socket\n" + "".join(f"{c},{c % 4},0\n" for c in range(8)))
    problem = tmp_path / "p.toml"
    problem.write_text(SEARCH_HEAD + 'lscpu = "host.lscpu"\n' + GROUPS)
    outcome = run_cli("solve", str(problem), "--quiet")
    assert_well_behaved(outcome, problem)
    assert outcome.code == 0
    assert outcome.stderr.count("\n") == 1  # one warning, cut in the middle if the path is long
    assert outcome.stderr.startswith(f"numaopt: warning: {problem}: 4 core(s) have SMT siblings on different numactl")
    assert outcome.stderr.endswith("SMT siblings and sockets are unknown for the whole host\n")


def test_a_host_table_with_a_core_on_two_nodes_is_refused(tmp_path: Path) -> None:
    problem = tmp_path / "p.toml"
    problem.write_text(
        '[host]\nnodes = [ { id = 0, cpus = "0", memory = "4GiB" }, { id = 1, cpus = "1", memory = "4GiB" } ]\n'
        'distances = [[10, 20], [20, 10]]\nsockets = [ { id = 0, cores = ["0,1"] } ]\n'
        '[workload]\nvcpus = 1\nmemory = "1GiB"\n'
    )
    outcome = run_cli("solve", str(problem), "--quiet")
    assert outcome.code == 1
    assert outcome.stderr == (
        f"numaopt: error: {problem}: CPUs 0-1 are SMT siblings (one core) but lie on nodes 0-1: a core belongs to one node\n"
    )


def test_a_plan_with_a_number_beyond_int64_is_refused(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    solved = run_cli("solve", "problems/seed-4node.toml", "--format", "json", "--quiet", "--out", str(plan))
    assert solved.code == 0, solved.stderr
    plan.write_text(plan.read_text().replace('"distances": [\n      [\n        10', '"distances": [\n      [\n        1' + "0" * 25, 1))
    outcome = run_cli("launch", str(plan))
    assert outcome.code == 1
    assert outcome.stderr == f"numaopt: error: {plan}: malformed numaopt plan: Python int too large to convert to C long\n"


def test_host_source_that_never_ends_is_refused(tmp_path: Path) -> None:
    problem = tmp_path / "p.toml"
    problem.write_text('[host]\nnumactl = "/dev/zero"\n' + GROUPS)
    outcome = run_cli("solve", str(problem))
    assert outcome.code == 1
    assert outcome.stderr == (
        f"numaopt: error: {problem}: host.numactl: /dev/zero: larger than 32 MiB, the most numaopt reads from one input\n"
    )


def test_no_plan_names_the_problem_file(tmp_path: Path) -> None:
    (tmp_path / "host.numactl").write_text(NUMACTL)
    problem = tmp_path / "p.toml"
    problem.write_text(SEARCH_HEAD + '[workload]\ngroups = [ { name = "big", vcpus = 8, memory = "1GiB" } ]\n')
    outcome = run_cli("solve", str(problem), "--quiet")
    assert outcome.code == 3
    assert outcome.stderr.startswith(f"numaopt: error: {problem}: no plan: ")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"-m 1G -name \xe9t\xe9", "not UTF-8 text: byte 12 is 0xe9 (save the file as UTF-8)"),
        (b"\xef\xbb\xbf-m 1G -smp 2", None),  # a BOM does not break the first option
        (b"-m 1G -name " + b"x" * 1000 + b"\n-numa node,nodeid=" + b"9" * 5000, "numaopt: error"),
    ],
    ids=["latin-1", "bom", "huge-number"],
)
def test_corpus_qemu_argument_files(tmp_path: Path, data: bytes, message: str | None) -> None:
    path = tmp_path / "vm.args"
    path.write_bytes(data)
    outcome = run_cli("check", str(path), "--rules", "qemu")
    assert_well_behaved(outcome, path)
    if message is None:
        assert outcome.code == 0, outcome.stderr
    elif message == "numaopt: error":
        assert outcome.code == 1 and outcome.stderr.count("\n") == 1
    else:
        assert outcome.stderr == f"numaopt: error: {path}: {message}\n"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("available: 1 nodes (0)\nnode 0 cpus: 0\x00\x1b[31m\n", "line 2: expected CPU numbers such as '0 1 2 3' (or ranges '0-3'), got '0\\x00\\x1b[31m'"),
        ("x" * 5_000_000, "line 1: expected 'available: N nodes (LIST)', the first line of numactl --hardware, got 'xxxx"),
        (NUMACTL.replace("4096 MB", "999999999999999 MB"), "node 0: 1048575999999998951424 bytes of memory is more than 4 PiB"),
        (NUMACTL.replace("cpus: 0 1 2 3", "cpus: 0 99999"), "node 0: CPU 99999 is more than 65535"),
    ],
    ids=["control-characters", "5-MB-line", "size-beyond-4PiB", "cpu-beyond-65535"],
)
def test_corpus_numactl_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "host.numactl"
    path.write_text(text)
    outcome = run_cli("host", "show", f"numactl:{path}")
    assert_well_behaved(outcome, path)
    assert outcome.code == 1 and outcome.stderr.startswith(f"numaopt: error: {path}: {fragment}")


@pytest.mark.parametrize(
    ("option", "value"),
    [("--timeout", "nan"), ("--timeout", "inf"), ("--timeout", "0"), ("--timeout", "-1")],
)
def test_durations_on_the_command_line_are_finite_and_positive(tmp_path: Path, option: str, value: str) -> None:
    outcome = run_cli("verify", str(tmp_path / "p.toml"), option, value)
    assert outcome.code == 2
    assert "expected a number of seconds above 0 and at most 86400 s" in outcome.stderr


@pytest.mark.parametrize("option", ["--seed", "--jobs", "--count"])
def test_counts_on_the_command_line_are_bounded(tmp_path: Path, option: str) -> None:
    outcome = run_cli("generate", "--out", str(tmp_path / "g"), option, str(2**63))
    assert outcome.code == 2 and "Invalid value" in outcome.stderr
    assert not (tmp_path / "g").exists()

