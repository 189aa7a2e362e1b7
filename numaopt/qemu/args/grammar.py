"""The option grammar: every option numaopt accepts, every key of the options it reads, the
type of each key's value, and the function that applies it. Read it top to bottom.

Adding an option QEMU has is one row in ``OPTIONS``; a key of ``-m`` or ``-smp``, a memory
backend property or a ``-numa`` key is one row in its table; a ``-numa`` type is one row
in ``NUMA_TYPES`` naming the function that applies it. The rows are plain data built at
import, so a test can walk them (tests/qemu/test_args_grammar.py).

Why the options are not dispatched one by one in command-line order: QEMU itself does not
read them that way. vl.c collects them and applies them by family in a fixed order (the
machine and its properties, -m, -smp when the machine is made, every -object, the -numa
options in their order, then the devices), and a message depends on that order; reader.py
runs the families in QEMU's order, and the rows here say which family reads an option.
The functions below turn an option's text into typed values (``Values``) the way QEMU
parses it (keyval or QemuOpts, repeated keys, JSON for -object) before a family sees it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from numaopt.rules import Severity
from numaopt.units import MIB

from .backends import POLICIES, Backend, read_backend
from .common import Arg, Context, Values
from .hmat import read_hmat_cache, read_hmat_lb
from .numa import read_cpu, read_dist, read_node
from .state import NumaState
from .unexpected import first_unexpected
from .values import (
    Bool,
    Enum,
    HostNodes,
    Identifier,
    Int64,
    Key,
    Size,
    Text,
    UInt,
    UIntList,
    invalid_parameter,
    not_accepted,
    show,
)

# ---------------------------------------------------------------------------------------
# Options


@dataclass(frozen=True, slots=True)
class Option:
    """One QEMU option: whether it takes a value, and which family reads it ("" skipped)."""

    takes_value: bool
    read_by: str = ""
    alias_of: str | None = None  # -M is -machine


VALUE, FLAG = True, False

# Options numaopt reads or consults, and where. Each was checked with qemu-system-x86_64
# 7.2 for whether it takes a value ("-X: requires an argument").
_READ = {
    "machine": Option(VALUE, "machine.py: the machine type and properties (hmat=, smp.*, ...)"),
    "M": Option(VALUE, "machine.py", alias_of="machine"),
    "m": Option(VALUE, "memory.py: RAM size, maxmem=, slots="),
    "smp": Option(VALUE, "machine.py: the vCPU topology"),
    "object": Option(VALUE, "backends.py: memory-backend-ram|file|memfd (other objects: their id only)"),
    "numa": Option(VALUE, "numa.py, hmat.py: nodes, distances, vCPUs, HMAT"),
    "mem-path": Option(VALUE, "memory.py: RAM in a file when no node names a backend"),
    "mem-prealloc": Option(FLAG, "memory.py: RAM preallocated when no node names a backend"),
    "cpu": Option(VALUE, "memory.py: the x86 CPU model's address bits"),
    "accel": Option(VALUE, "machine.py: KVM or TCG (the GIC and address-space limits differ)"),
    "enable-kvm": Option(FLAG, "machine.py: KVM"),
    "device": Option(VALUE, "memory.py: pc-dimm, nvdimm, virtio-mem-pci"),
    "bios": Option(VALUE, "memory.py: firmware on virt (memory hotplug needs it)"),
    "pflash": Option(VALUE, "memory.py: firmware on virt"),
    "drive": Option(VALUE, "memory.py: firmware on virt (if=pflash)"),
    "no-acpi": Option(FLAG, "memory.py: memory hotplug needs ACPI on pc and q35"),
}
# Real QEMU options that do not touch the NUMA layout: accepted and skipped.
_SKIPPED_WITH_VALUE = (
    "D", "L", "acpitable", "action", "append", "audiodev", "blockdev", "boot", "cdrom", "chardev", "d",
    "display", "dtb", "fda", "fdb", "fsdev", "gdb", "global", "hda", "hdb", "hdc", "hdd", "icount", "incoming",
    "initrd", "k", "kernel", "mon", "monitor", "msg", "mtdblock", "name", "net", "netdev", "overcommit",
    "parallel", "pidfile", "qmp", "qmp-pretty", "rtc", "sandbox", "sd", "serial", "smbios", "spice", "trace",
    "usbdevice", "uuid", "vga", "virtfs", "vnc", "watchdog-action",
)  # fmt: skip
_SKIPPED_FLAGS = (
    "S", "daemonize", "full-screen", "no-hpet", "no-reboot", "no-shutdown", "no-user-config", "nodefaults",
    "nographic", "s", "snapshot", "usb",
)  # fmt: skip


def _registry(*groups: Iterable[tuple[str, Option]]) -> dict[str, Option]:
    """The rows of every group in one table; a name given two rows is a bug, refused at import."""
    options: dict[str, Option] = {}
    for name, option in itertools.chain(*groups):
        if name in options:
            raise ValueError(f"option -{name} has two rows")
        options[name] = option
    return options


OPTIONS = _registry(
    _READ.items(),
    ((name, Option(VALUE)) for name in _SKIPPED_WITH_VALUE),
    ((name, Option(FLAG)) for name in _SKIPPED_FLAGS),
)


def _table(*keys: Key) -> dict[str, Key]:
    """An option's keys by name, in the order given; a key given two rows is a bug, refused at import."""
    table = {key.name: key for key in keys}
    if len(table) != len(keys):
        raise ValueError(f"a key has two rows among {', '.join(key.name for key in keys)}")
    return table


# ---------------------------------------------------------------------------------------
# -m and -smp

MEMORY_KEYS = _table(Key("size", Size(MIB)), Key("slots", UInt(64)), Key("maxmem", Size()))
_CPUS = UInt(32, "a whole number of CPUs")
SMP_KEYS = _table(
    *(Key(name, _CPUS) for name in ("cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads"))
)
# SMPConfiguration's members in the order QEMU's visitor reads (and removes) them (qapi/machine.json).
_SMP_MEMBERS = ("cpus", "sockets", "dies", "clusters", "cores", "threads", "maxcpus")


def memory_values(context: Context, args: list[Arg]) -> Values:
    """-m's keys over every -m option, the last one of each key winning (QEMU merges them)."""
    texts: dict[str, list[str]] = {}
    key_args: dict[str, Arg] = {}
    for arg in args:
        for key, value in context.opts(arg, "size", tuple(MEMORY_KEYS)):
            texts[key], key_args[key] = [value], arg
    return Values(context, MEMORY_KEYS, texts, args[-1] if args else Arg("m", None, "-m"), key_args=key_args)


def smp_values(context: Context, args: list[Arg]) -> tuple[dict[str, int], Arg | None]:
    """``-smp`` keys and ``-machine smp.*`` properties in command-line order, typed, and the
    option that gave the last one. QEMU 7.2 merges both into the machine's one ``smp``
    dict (vl.c keyval_merge), so a key given twice takes its last value whichever option gave it."""
    texts: list[tuple[str, str, Arg]] = []
    for arg in args:
        if arg.name == "smp":
            texts += [(key, text, arg) for key, text in context.opts(arg, "cpus", None)]
        elif arg.name in ("machine", "M"):
            texts += [(key[4:], text, arg) for key, text in context.opts(arg, "type", None) if key.startswith("smp.")]
    given: dict[str, int] = {}
    unexpected = first_unexpected([key for key, _, _ in texts], [key for key in _SMP_MEMBERS if key in SMP_KEYS])
    if unexpected is not None:
        # keyval, not QemuOpts: QEMU 7.2 names the key as the machine's smp.* property, and
        # of several such keys the one its hash tables yield first (unexpected.py).
        arg = next(arg for key, _, arg in texts if key == unexpected)
        valid = ", ".join(SMP_KEYS)
        raise context.fail(arg.shown, f"Parameter 'smp.{show(unexpected, 40)}' is unexpected (valid: {valid})")
    for key, text, arg in texts:
        value = Values(context, SMP_KEYS, {key: [text]}, arg).number(key)
        assert value is not None
        given[key] = value
    return given, texts[-1][2] if texts else None


# ---------------------------------------------------------------------------------------
# -object memory-backend-*: every property QEMU 7.2 has (host_memory_backend + per type),
# in QEMU's order; the ones numaopt reads have a type.

_ALL = ("ram", "file", "memfd")
BACKEND_PROPERTIES: tuple[tuple[tuple[str, ...], Key], ...] = (
    (_ALL, Key("qom-type")),
    (_ALL, Key("id", Identifier(), required=True)),
    (_ALL, Key("size", Size(), required=True)),
    (_ALL, Key("merge")),
    (_ALL, Key("dump")),
    (_ALL, Key("prealloc", Bool())),
    (_ALL, Key("prealloc-threads")),
    (_ALL, Key("prealloc-context")),
    (_ALL, Key("share", Bool())),
    (_ALL, Key("reserve")),
    (_ALL, Key("host-nodes", HostNodes())),
    (_ALL, Key("policy", Enum(POLICIES, blank="default"))),
    (_ALL, Key("x-use-canonical-path-for-ramblock-id")),
    (("file",), Key("mem-path", Text(), required=True)),
    (("file",), Key("align")),
    (("file",), Key("discard-data")),
    (("file",), Key("pmem")),
    (("file",), Key("readonly")),
    (("memfd",), Key("hugetlb")),
    (("memfd",), Key("hugetlbsize")),
    (("memfd",), Key("seal")),
)
# qom-type -> its properties.
BACKEND_TYPES: dict[str, dict[str, Key]] = {
    f"memory-backend-{kind}": _table(*(key for kinds, key in BACKEND_PROPERTIES if kind in kinds)) for kind in _ALL
}


def read_objects(context: Context, args: list[Arg]) -> dict[str, Backend]:
    """Every -object: ids checked for duplicates, memory backends read (by id, the first wins)."""
    backends: dict[str, Backend] = {}
    ids: set[str] = set()
    for arg in args:
        props = _object_props(context, arg)
        qom_type = props.get("qom-type")
        if not isinstance(qom_type, str):
            raise context.fail(arg.shown, "Parameter 'qom-type' is missing")
        object_id = props.get("id")
        if isinstance(object_id, str):
            if object_id in ids:
                context.add(Severity.ERROR, "duplicate-object-id", f"Duplicate ID '{show(object_id, 60)}' for object")
            ids.add(object_id)
        if not qom_type.startswith("memory-backend-"):
            continue  # other objects (iothread, rng-random, secret, ...) do not touch NUMA
        keys = BACKEND_TYPES.get(qom_type)
        if keys is None:
            raise context.fail(
                arg.shown,
                f"invalid object type: {show(qom_type, 60)} (numaopt reads memory-backend-ram, -file and -memfd)",
            )
        for key in props:
            if key not in keys:
                raise context.fail(arg.shown, invalid_parameter(str(key), tuple(keys)))
        backend = read_backend(context, arg, qom_type, Values(context, keys, props, arg, json_form=arg.is_json))
        backends.setdefault(backend.backend_id, backend)
    return backends


def _object_props(context: Context, arg: Arg) -> dict[str, Any]:
    """-object in keyval form (``type,id=..,key=..``) or JSON (what libvirt writes)."""
    if arg.is_json:
        try:
            data = json.loads(arg.value or "")
        except (ValueError, RecursionError) as exc:
            raise context.fail(arg.shown, f"invalid JSON: {show(str(exc), 80)}") from None
        if not isinstance(data, dict):
            raise context.fail(arg.shown, 'expected a JSON object such as {"qom-type": "memory-backend-ram", ...}')
        return data
    props: dict[str, Any] = {}
    for key, value in context.opts(arg, "qom-type", None):
        if key == "host-nodes":
            props.setdefault(key, []).append(value)
        elif key != "id" or key not in props:  # QemuOpts keeps the first id
            props[key] = value
    return props


# ---------------------------------------------------------------------------------------
# -numa: type -> keys (qapi/machine.json in 7.2: no module-id, book-id or drawer-id yet) -> handler

Handler = Callable[[NumaState, Arg, Values], None]


@dataclass(frozen=True, slots=True)
class NumaType:
    """One -numa type: its keys (in QEMU's order), and the function that applies it."""

    keys: Mapping[str, Key]
    handler: Handler
    missing_hint: str = ""  # after "Parameter 'key' is missing"
    # Values are read in the keys' order; -numa cpu's (all int64) in the order given.
    in_given_order: bool = False


_NODE_ID = UInt(16, "a node id (0-127)")
# HMAT enums of qapi/machine.json (7.2), in QEMU's order: the data types' index splits
# latency (0-2) from bandwidth (3-5).
HMAT_HIERARCHIES = ("memory", "first-level", "second-level", "third-level")
HMAT_DATA_TYPES = (
    "access-latency", "read-latency", "write-latency", "access-bandwidth", "read-bandwidth", "write-bandwidth",
)  # fmt: skip
HMAT_ASSOCIATIVITIES = ("none", "direct", "complex")
HMAT_POLICIES = ("none", "write-back", "write-through")

NUMA_TYPES: dict[str, NumaType] = {
    "node": NumaType(
        _table(
            Key("nodeid", _NODE_ID),
            Key("cpus", UIntList(16)),
            Key("mem", Size(MIB)),
            Key("memdev", Text()),
            Key("initiator", UInt(16)),
        ),
        read_node,
    ),
    "dist": NumaType(
        _table(
            Key("src", _NODE_ID, required=True),
            Key("dst", _NODE_ID, required=True),
            Key("val", UInt(8, "a distance 10..255 (QEMU takes a uint8)"), required=True),
        ),
        read_dist,
        missing_hint=" (-numa dist,src=A,dst=B,val=D)",
    ),
    "cpu": NumaType(
        _table(
            *(Key(name, Int64()) for name in ("node-id", "socket-id", "die-id", "cluster-id", "core-id", "thread-id"))
        ),
        read_cpu,
        in_given_order=True,
    ),
    "hmat-lb": NumaType(
        _table(
            Key("initiator", UInt(16), required=True),
            Key("target", UInt(16), required=True),
            Key("hierarchy", Enum(HMAT_HIERARCHIES), required=True),
            Key("data-type", Enum(HMAT_DATA_TYPES), required=True),
            Key("latency", UInt(64)),
            Key("bandwidth", Size()),
        ),
        read_hmat_lb,
    ),
    "hmat-cache": NumaType(
        _table(
            Key("node-id", UInt(32), required=True),
            Key("size", Size(), required=True),
            Key("level", UInt(8), required=True),
            Key("associativity", Enum(HMAT_ASSOCIATIVITIES), required=True),
            Key("policy", Enum(HMAT_POLICIES), required=True),
            Key("line", UInt(16), required=True),
        ),
        read_hmat_cache,
    ),
}
_NUMA_TYPE_NAMES = ", ".join(list(NUMA_TYPES)[:-1]) + " or " + list(NUMA_TYPES)[-1]


def read_numa(numa: NumaState, arg: Arg) -> None:
    """One -numa option: its type's row, its keys checked and typed, then its handler."""
    context = numa.context
    pairs = context.opts(arg, "type", None)
    types = [value for key, value in pairs if key == "type"]
    if not types:
        raise context.fail(arg.shown, f"Parameter 'type' is missing ({_NUMA_TYPE_NAMES})")
    row = NUMA_TYPES.get(types[-1])
    if row is None:
        raise context.fail(arg.shown, not_accepted("type", types[-1], tuple(NUMA_TYPES)))
    texts: dict[str, list[str]] = {}
    for key, value in pairs:
        if key == "type":
            continue
        if key not in row.keys:
            raise context.fail(arg.shown, invalid_parameter(key, tuple(row.keys)))
        texts.setdefault(key, []).append(value)
    values = Values(context, row.keys, texts, arg, missing_hint=row.missing_hint)
    values.require()
    # QEMU parses the whole option before it applies any of it: every value is read now.
    for key in texts if row.in_given_order else [key for key in row.keys if key in texts]:
        values.read(key)
    row.handler(numa, arg, values)
