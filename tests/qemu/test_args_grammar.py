"""The option grammar of ``numaopt.qemu.args`` (grammar.py): each option, key and ``-numa``
type is one row, every row has what the reader needs, and the reader does what the rows
say: an option takes a value exactly when its row says so, and every key with a type is
read (a bad value is refused, naming the key). The rows themselves are checked against the
real qemu-system-x86_64 (marker ``qemu``): an option takes a value exactly when QEMU's does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from numaopt.errors import QemuArgsError
from numaopt.qemu.args import grammar, read_qemu_args
from numaopt.qemu.args.grammar import BACKEND_TYPES, MEMORY_KEYS, NUMA_TYPES, OPTIONS, SMP_KEYS, Option
from numaopt.qemu.args.values import BadValue, Bool, Enum, HostNodes, Identifier, Key, Size, Text, UInt, c_uint

X86 = "qemu-system-x86_64"
PACKAGE = Path(grammar.__file__).parent


def _refusal(text: str) -> QemuArgsError:
    with pytest.raises(QemuArgsError) as info:
        read_qemu_args(text, "vm.sh")
    return info.value


# ---------------------------------------------------------------------------------------
# One row each


def test_every_option_has_one_row() -> None:
    names = [*grammar._READ, *grammar._SKIPPED_WITH_VALUE, *grammar._SKIPPED_FLAGS]
    assert len(names) == len(set(names)) == len(OPTIONS)
    with pytest.raises(ValueError, match="option -m has two rows"):
        grammar._registry([("m", Option(True))], [("m", Option(False))])
    with pytest.raises(ValueError, match="a key has two rows"):
        grammar._table(Key("size", Size()), Key("size", Size()))


@pytest.mark.parametrize("name", sorted(OPTIONS))
def test_an_option_takes_a_value_exactly_when_its_row_says(name: str) -> None:
    option = OPTIONS[name]
    if option.takes_value:
        error = _refusal(f"{X86} -m 1G -{name}")
        assert error.where == f"-{name}"
        assert error.detail == "requires an argument"
    else:
        assert read_qemu_args(f"{X86} -m 1G -{name} -{name}").layout.memory_bytes == 1 << 30
    if not option.read_by:  # skipped: any value is fine, and the next word is an option again
        value = "anything,at=all" if option.takes_value else ""
        assert read_qemu_args(f"{X86} -{name} {value} -m 2G").layout.memory_bytes == 2 << 30


@pytest.mark.qemu
def test_every_option_takes_a_value_exactly_when_qemus_does() -> None:
    """A last option that needs a value: QEMU says "requires an argument" and stops; a flag
    before -version: QEMU prints its version and exits 0 (nothing is started either way)."""
    if shutil.which(X86) is None:
        pytest.skip("QEMU is not installed")
    wrong = []
    for name, option in sorted(OPTIONS.items()):
        argv = [X86, f"-{name}"] if option.takes_value else [X86, f"-{name}", "-version"]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
        if option.takes_value != ("requires an argument" in run.stderr) or (
            not option.takes_value and run.returncode != 0
        ):
            wrong.append(f"-{name}: {run.stderr.strip()[:80]}")
    assert wrong == []


@pytest.mark.parametrize("name", sorted(n for n, o in OPTIONS.items() if o.read_by))
def test_an_option_numaopt_reads_names_the_module_that_reads_it(name: str) -> None:
    option = OPTIONS[name]
    modules = option.read_by.split(":")[0].split(", ")
    assert all((PACKAGE / module).is_file() for module in modules), option.read_by
    if option.alias_of is not None:
        assert OPTIONS[option.alias_of].takes_value == option.takes_value


def test_an_alias_reads_as_its_option() -> None:
    assert read_qemu_args(f"{X86} -M pc-q35-6.1") == read_qemu_args(f"{X86} -machine pc-q35-6.1")


def test_every_numa_type_has_typed_keys_and_a_handler() -> None:
    assert list(NUMA_TYPES) == ["node", "dist", "cpu", "hmat-lb", "hmat-cache"]
    for numa_type in NUMA_TYPES.values():
        assert callable(numa_type.handler)
        assert numa_type.keys and all(key.value is not None for key in numa_type.keys.values())
    for keys in (MEMORY_KEYS, SMP_KEYS):
        assert all(key.value is not None for key in keys.values())


# ---------------------------------------------------------------------------------------
# Unknown keys: the messages numaopt gave before the grammar became a table


@pytest.mark.parametrize(
    ("option", "detail"),
    [
        ("-numa node,bogus=1", "Invalid parameter 'bogus' (valid: nodeid, cpus, mem, memdev, initiator)"),
        ("-numa dist,bogus=1", "Invalid parameter 'bogus' (valid: src, dst, val)"),
        (
            "-numa cpu,bogus=1",
            "Invalid parameter 'bogus' (valid: node-id, socket-id, die-id, cluster-id, core-id, thread-id)",
        ),
        (
            "-numa hmat-lb,bogus=1",
            "Invalid parameter 'bogus' (valid: initiator, target, hierarchy, data-type, latency, bandwidth)",
        ),
        (
            "-numa hmat-cache,bogus=1",
            "Invalid parameter 'bogus' (valid: node-id, size, level, associativity, policy, line)",
        ),
        ("-numa bogus", "Parameter 'type' does not accept value 'bogus' (valid: node, dist, cpu, hmat-lb, hmat-cache)"),
        ("-numa nodeid=1", "Parameter 'type' is missing (node, dist, cpu, hmat-lb or hmat-cache)"),
        ("-m 1G,bogus=1", "Invalid parameter 'bogus' (valid: size, slots, maxmem)"),
        (
            "-smp 2,bogus=1",
            "Parameter 'smp.bogus' is unexpected (valid: cpus, maxcpus, sockets, dies, clusters, cores, threads)",
        ),
        (
            "-machine smp.bogus=1",
            "Parameter 'smp.bogus' is unexpected (valid: cpus, maxcpus, sockets, dies, clusters, cores, threads)",
        ),
        (
            "-object memory-backend-ram,id=a,size=1G,bogus=1",
            "Invalid parameter 'bogus' (valid: qom-type, id, size, merge, dump, prealloc, prealloc-threads, "
            "prealloc-context, share, reserve, host-nodes, policy, x-use-canonical-path-for-ramblock-id)",
        ),
        (
            "-object memory-backend-file,id=a,size=1G,mem-path=/x,bogus=1",
            "Invalid parameter 'bogus' (valid: qom-type, id, size, merge, dump, prealloc, prealloc-threads, "
            "prealloc-context, share, reserve, host-nodes, policy, x-use-canonical-path-for-ramblock-id, "
            "mem-path, align, discard-data, pmem, readonly)",
        ),
        (
            "-object memory-backend-memfd,id=a,size=1G,bogus=1",
            "Invalid parameter 'bogus' (valid: qom-type, id, size, merge, dump, prealloc, prealloc-threads, "
            "prealloc-context, share, reserve, host-nodes, policy, x-use-canonical-path-for-ramblock-id, "
            "hugetlb, hugetlbsize, seal)",
        ),
        (
            "-object memory-backend-bogus,id=a",
            "invalid object type: memory-backend-bogus (numaopt reads memory-backend-ram, -file and -memfd)",
        ),
    ],
)
def test_an_unknown_key_of_a_known_option(option: str, detail: str) -> None:
    error = _refusal(f"{X86} {option}")
    assert error.where == option
    assert error.detail == detail


# ---------------------------------------------------------------------------------------
# Every key with a type is read


# An option of each -numa type that reads, with every required key given.
NUMA_BASES = {
    "node": {},
    "dist": {"src": "0", "dst": "0", "val": "10"},
    "cpu": {"node-id": "0"},
    "hmat-lb": {"initiator": "0", "target": "0", "hierarchy": "memory", "data-type": "access-latency"},
    "hmat-cache": {
        "node-id": "0", "size": "1K", "level": "1", "associativity": "none", "policy": "none", "line": "8",
    },
}  # fmt: skip
BACKEND_BASE = {"id": "a", "size": "1G", "mem-path": "/x"}
BAD = "0zz"  # no key of any type takes it (not even an id: ids start with a letter)


def _option(name: str, first: str, keys: dict[str, str]) -> str:
    return f"-{name} " + ",".join([first, *(f"{key}={value}" for key, value in keys.items())])


def _typed_keys(rows: dict[str, Key]) -> list[str]:
    return [name for name, key in rows.items() if key.value is not None and not isinstance(key.value, Text)]


@pytest.mark.parametrize(
    ("numa_type", "key"), [(t, k) for t, row in NUMA_TYPES.items() for k in _typed_keys(dict(row.keys))]
)
def test_every_numa_key_is_read(numa_type: str, key: str) -> None:
    base = f"{X86} -m 1G -numa node"
    read_qemu_args(f"{base} {_option('numa', numa_type, NUMA_BASES[numa_type])}")  # the base reads
    option = _option("numa", numa_type, {**NUMA_BASES[numa_type], key: BAD})
    error = _refusal(f"{base} {option}")
    assert error.where == option
    assert f"{key}={BAD}" in error.detail or f"Parameter '{key}' does not accept value '{BAD}'" in error.detail


@pytest.mark.parametrize(
    ("numa_type", "key"),
    [(t, name) for t, row in NUMA_TYPES.items() for name, key in row.keys.items() if key.required],
)
def test_every_required_numa_key_is_required(numa_type: str, key: str) -> None:
    keys = {k: v for k, v in NUMA_BASES[numa_type].items() if k != key}
    assert f"Parameter '{key}' is missing" in _refusal(f"{X86} -numa node {_option('numa', numa_type, keys)}").detail


@pytest.mark.parametrize(
    ("qom_type", "key"),
    [(t, k) for t, rows in BACKEND_TYPES.items() for k in [*_typed_keys(rows), "mem-path"] if k in rows],
)
def test_every_backend_property_is_read(qom_type: str, key: str) -> None:
    base = {k: v for k, v in BACKEND_BASE.items() if k in BACKEND_TYPES[qom_type]}
    read_qemu_args(f"{X86} {_option('object', qom_type, base)}")  # the base reads
    if BACKEND_TYPES[qom_type][key].required:
        missing = {k: v for k, v in base.items() if k != key}
        assert _refusal(f"{X86} {_option('object', qom_type, missing)}").detail == f"Parameter '{key}' is missing"
    if key != "mem-path":  # any text is a path (an empty one is refused below)
        assert key in _refusal(f"{X86} {_option('object', qom_type, {**base, key: BAD})}").detail
    else:
        assert (
            _refusal(f"{X86} {_option('object', qom_type, {**base, key: ''})}").detail == "mem-path must not be empty"
        )


@pytest.mark.parametrize(("option", "key"), [("m", key) for key in MEMORY_KEYS] + [("smp", key) for key in SMP_KEYS])
def test_every_memory_and_smp_key_is_read(option: str, key: str) -> None:
    assert f"{key}={BAD}: expected" in _refusal(f"{X86} -{option} {key}={BAD}").detail


# ---------------------------------------------------------------------------------------
# Value types, alone


def test_value_types_read_qemus_spellings() -> None:
    assert c_uint("0x1f") == 31 and c_uint("017") == 15 and c_uint("08") is None
    assert Size(1 << 20).parse("size", ["2"]) == 2 << 20 and Size().parse("size", ["1.5K"]) == 1536
    spellings = ("on", "yes", "true", "y", "off", "no", "false", "n")
    assert [Bool().parse("share", [text]) for text in spellings] == [True] * 4 + [False] * 4
    assert UInt(8).parse("val", ["1", "255"]) == 255  # a repeated key: the last value
    assert Enum(("default", "bind"), blank="default").parse("policy", [""]) == "default"
    assert HostNodes().parse("host-nodes", ["3", "0-1"]) == (0, 1, 3)
    assert HostNodes().from_json("host-nodes", None) == ()
    with pytest.raises(BadValue, match="Parameter 'id' is missing"):
        Identifier().from_json("id", None)
    with pytest.raises(BadValue, match="Invalid parameter type for 'size', expected: int"):
        Size().from_json("size", True)
    with pytest.raises(BadValue, match=r"val=256: expected an integer 0\.\.255"):
        UInt(8).parse("val", ["256"])
