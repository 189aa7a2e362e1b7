"""Words -> a ``QemuConfig``: the options, then each option family as QEMU 7.2 reads it.

Split out of this module so far: ``shell.py`` (text -> words).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from numaopt.distances import LOCAL_DISTANCE, REMOTE_DISTANCE
from numaopt.errors import QemuArgsError, one_line_message
from numaopt.layout import MAX_NODES
from numaopt.model import BackendKind, CpuShape, GuestLayout, GuestNode, Machine, MemoryBackend
from numaopt.rules import Finding, RuleSet, Severity
from numaopt.units import MIB

from .shell import split_command

__all__ = ["QemuConfig", "read_qemu_args"]

DEFAULT_RAM_BYTES = 128 * MIB  # mc->default_ram_size of pc, q35 and virt; also what -m 0 means
MAX_READ_VCPUS = 4096  # beyond every machine's limit (QEMU 7.2: pc 255, q35 288, virt 512)
GICV2_MAX_CPUS = 8  # hw/arm/virt.c: GIC_NCPU
RANGE_MAX = 65536  # QEMU OPTS_VISITOR_RANGE_MAX: elements in one "a-b" range
MAX_LIST_VALUES = 1 << 20  # numaopt's own bound on one repeated list (QEMU has none)

# The newest machine version of QEMU 7.2; unversioned q35 / pc / virt are aliases of it.
NEWEST_VERSION = (7, 2)
# Oldest versioned machine type each family has in QEMU 7.2 (query-machines).
_OLDEST_VERSION = {"pc-q35": (2, 4), "pc-i440fx": (1, 4), "virt": (2, 6)}

_X86_BINARIES = ("qemu-system-x86_64", "qemu-system-i386")
_ARM_BINARIES = ("qemu-system-aarch64",)

# Options numaopt reads.
_NUMA_OPTIONS = frozenset({"machine", "M", "m", "smp", "object", "numa", "mem-path"})
# Real QEMU options that do not touch the NUMA layout: accepted and skipped. Whether
# each takes a value was checked with qemu-system-x86_64 7.2 ("-X: requires an argument").
_SKIPPED_WITH_VALUE = frozenset(
    {
        "D", "L", "accel", "acpitable", "action", "append", "audiodev", "bios", "blockdev", "boot",
        "cdrom", "chardev", "cpu", "d", "device", "display", "drive", "dtb", "fda", "fdb", "fsdev",
        "gdb", "global", "hda", "hdb", "hdc", "hdd", "icount", "incoming", "initrd", "k", "kernel",
        "mon", "monitor", "msg", "mtdblock", "name", "net", "netdev", "overcommit", "parallel",
        "pflash", "pidfile", "qmp", "qmp-pretty", "rtc", "sandbox", "sd", "serial", "smbios",
        "spice", "trace", "usbdevice", "uuid", "vga", "virtfs", "vnc", "watchdog-action",
    }
)  # fmt: skip
_SKIPPED_FLAGS = frozenset(
    {
        "S", "daemonize", "enable-kvm", "full-screen", "mem-prealloc", "no-acpi", "no-hpet", "no-reboot",
        "no-shutdown", "no-user-config", "nodefaults", "nographic", "s", "snapshot", "usb",
    }
)  # fmt: skip
_WITH_VALUE = _NUMA_OPTIONS | _SKIPPED_WITH_VALUE

# -numa keys per type (qapi/machine.json in 7.2: no module-id, book-id or drawer-id yet).
_NUMA_KEYS = {
    "node": ("nodeid", "cpus", "mem", "memdev", "initiator"),
    "dist": ("src", "dst", "val"),
    "cpu": ("node-id", "socket-id", "die-id", "cluster-id", "core-id", "thread-id"),
    "hmat-lb": ("initiator", "target", "hierarchy", "data-type", "latency", "bandwidth"),
    "hmat-cache": ("node-id", "size", "level", "associativity", "policy", "line"),
}
_SMP_KEYS = ("cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads")
_MEMORY_KEYS = ("size", "slots", "maxmem")

# Memory backend properties of QEMU 7.2 (host_memory_backend + per-type ones).
_BACKEND_COMMON = (
    "qom-type", "id", "size", "merge", "dump", "prealloc", "prealloc-threads", "prealloc-context",
    "share", "reserve", "host-nodes", "policy", "x-use-canonical-path-for-ramblock-id",
)  # fmt: skip
_BACKEND_KEYS = {
    "ram": _BACKEND_COMMON,
    "file": (*_BACKEND_COMMON, "mem-path", "align", "discard-data", "pmem", "readonly"),
    "memfd": (*_BACKEND_COMMON, "hugetlb", "hugetlbsize", "seal"),
}
_POLICIES = ("default", "preferred", "bind", "interleave")
# HMAT enums of qapi/machine.json (7.2), in QEMU's order: the data types' index splits
# latency (0-2) from bandwidth (3-5).
_HMAT_HIERARCHIES = ("memory", "first-level", "second-level", "third-level")
_HMAT_DATA_TYPES = (
    "access-latency", "read-latency", "write-latency", "access-bandwidth", "read-bandwidth", "write-bandwidth",
)  # fmt: skip
_HMAT_ASSOCIATIVITIES = ("none", "direct", "complex")
_HMAT_POLICIES = ("none", "write-back", "write-through")
_HMAT_LB_LEVELS = 4  # include/sysemu/numa.h HMAT_LB_LEVELS: memory and 3 cache levels
_UINT16_MAX = 0xFFFF
_UINT64_MAX = (1 << 64) - 1
# qapi_bool_parse (QEMU 7.2): every spelling QemuOpts, keyval and -object accept.
_BOOLS = {"on": True, "yes": True, "true": True, "y": True, "off": False, "no": False, "false": False, "n": False}
_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")  # QEMU id_wellformed
_SIZE_RE = re.compile(r"(?:(0[xX][0-9a-fA-F]+)|([0-9]+)(?:\.([0-9]*))?)([bBkKmMgGtTpPeE]?)")
_SIZE_SCALE = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50, "e": 1 << 60}
_SIZE_HELP = "a size such as 2G, 512M or 1.5G (suffixes K, M, G, T, P, E)"


@dataclass(frozen=True, slots=True)
class QemuConfig:
    """What a QEMU command line asks for, and what QEMU would say about it."""

    layout: GuestLayout
    findings: list[Finding] = field(default_factory=list)  # RuleSet.QEMU, arg-level only
    machine_type: str = ""  # as written or implied: "q35", "pc-q35-5.0", "virt", ...


@dataclass(frozen=True, slots=True)
class _Arg:
    """One option as written: ``name`` without dashes, ``value`` or None for a flag."""

    name: str
    value: str | None
    shown: str  # for messages: "-numa node,nodeid=0"


@dataclass(slots=True)
class _Backend:
    qom_type: str
    backend_id: str
    size: int
    mem_path: str | None = None
    share: bool = False
    prealloc: bool = False
    host_nodes: tuple[int, ...] = ()
    policy: str = "default"
    users: list[int] = field(default_factory=list)

    @property
    def kind(self) -> BackendKind:
        return BackendKind.FILE if self.qom_type == "memory-backend-file" else BackendKind.RAM

    def model(self) -> MemoryBackend:
        return MemoryBackend(kind=self.kind, mem_path=self.mem_path, share=self.share, prealloc=self.prealloc)


@dataclass(slots=True)
class _Node:
    node_id: int
    memory_bytes: int = 0
    memdev: str | None = None
    bad_cpus: list[int] = field(default_factory=list)  # cpus= indices >= maxcpus, kept for check_layout
    initiator: int | None = None  # -numa node,initiator= (HMAT)


_ABOVE_4G_START = 4 << 30  # x86 RAM above 4 GiB starts here ...
_AMD_HT_START = 0xFD00000000  # ... unless an AMD CPU's addresses reach the HyperTransport hole,
_AMD_ABOVE_1TB_START = 1 << 40  # then it starts at 1 TiB (QEMU 7.1+ machine types)
_TCG_PHYS_BITS = 40  # TCG_PHYS_ADDR_BITS: every 64-bit x86 CPU model under TCG
_AMD_MODELS = ("qemu64", "max", "athlon", "phenom", "Opteron", "EPYC")  # vendor AuthenticAMD under TCG
_X86_64_MODELS = (
    *_AMD_MODELS, "kvm64", "core2duo", "Conroe", "Penryn", "Nehalem", "Westmere", "SandyBridge", "IvyBridge",
    "Haswell", "Broadwell", "Skylake", "Cascadelake", "Cooperlake", "Icelake", "SapphireRapids", "Snowridge",
    "Denverton", "Dhyana",
)  # fmt: skip


def _device_props(value: str) -> dict[str, Any]:
    """A -device value as properties, keyval (``pc-dimm,id=d0``) or JSON (``{"driver": ...}``);
    the first bare element is the driver. Unreadable JSON is no properties (QEMU says why)."""
    if value.lstrip().startswith("{"):
        try:
            data = json.loads(value)
        except (ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}
    props: dict[str, Any] = {}
    for index, element in enumerate(_split_opts(value)):
        key, eq, val = element.partition("=")
        if eq:
            props[key] = val
        elif index == 0:
            props["driver"] = key
    return props


def _device_driver(value: str) -> str:
    driver = _device_props(value).get("driver")
    return driver if isinstance(driver, str) else ""


def _x86_max_used_gpa(machine: Machine, ram: int, maxmem: int | None, slots: int, above_4g_start: int) -> int:
    """pc_max_used_gpa: the end of the 64-bit PCI hole, after RAM and device memory."""
    gib = 1 << 30
    if machine is Machine.Q35:
        lowmem, hole64 = (0x80000000 if ram >= 0xB0000000 else 0xB0000000), 32 * gib  # Q35 pci-hole64-size
    else:
        lowmem, hole64 = (0xC0000000 if ram >= 0xE0000000 else 0xE0000000), 2 * gib  # i440fx; gigabyte_align
    above_4g_end = above_4g_start + max(0, ram - lowmem)
    start = above_4g_end
    if maxmem is not None and maxmem > ram:
        # pc_get_device_memory_range: maxmem - ram, plus 1 GiB per slot (enforce_aligned_dimm).
        start = -(-above_4g_end // gib) * gib + maxmem - ram + slots * gib
    return -(-start // gib) * gib + hole64 - 1


@dataclass(slots=True)
class _LbTable:
    """One HMAT latency or bandwidth table (HMAT_LB_Info): values are stored as 16-bit
    entries times one base, so each new value must fit the range of those before it."""

    base: int = 0
    range_bitmap: int = 0
    pairs: set[tuple[int, int]] = field(default_factory=set)

    def add_latency(self, latency: int) -> bool:
        """parse_numa_hmat_lb's latency branch, step by step (its quirks included)."""
        base = self.base or _UINT64_MAX
        entry, temp_base = latency, 1
        while entry % 10 == 0:
            entry //= 10
            temp_base *= 10
        temp_base = min(base, temp_base)
        entry = max(self.range_bitmap, latency // base)  # QEMU divides by the previous base
        if entry >= _UINT16_MAX:
            return False
        self.base, self.range_bitmap = temp_base, entry
        return True

    def add_bandwidth(self, bandwidth: int) -> bool:
        """parse_numa_hmat_lb's bandwidth branch: all values within 16 bits of the lowest set bit."""
        bitmap = self.range_bitmap | bandwidth
        first_bit = (bitmap & -bitmap).bit_length() - 1
        entry = bandwidth >> first_bit
        if bitmap.bit_length() - first_bit > 16 or entry >= _UINT16_MAX:
            return False
        self.base, self.range_bitmap = 1 << first_bit, bitmap
        return True


@dataclass(frozen=True, slots=True)
class _MachineType:
    machine: Machine
    name: str
    version: tuple[int, int] | None  # None: the unversioned alias of the newest

    @property
    def effective_version(self) -> tuple[int, int]:
        return self.version or NEWEST_VERSION

    @property
    def numa_mem_supported(self) -> bool:
        return self.effective_version <= (5, 0)  # query-machines: numa-mem-supported

    @property
    def prefer_sockets(self) -> bool:
        return self.effective_version <= (6, 1)  # hw_compat_6_1: smp_props.prefer_sockets


# ---------------------------------------------------------------------------------------
# Text -> argv


MAX_OPTIONS = 100_000  # a 128-node guest with every distance and CPU given has about 21,000
MAX_PARAMETERS = 65_536  # key=value elements of one option (a 4096-vCPU node listed one by one: 4097)


def _show(text: str, limit: int = 100) -> str:
    """User text for a one-line message: control characters escaped, long text cut."""
    return one_line_message(text, limit)


# ---------------------------------------------------------------------------------------
# Values, the way QEMU parses them


_OPT_ELEMENT = re.compile(r"[^,]*(?:,,[^,]*)*")  # ",," is a literal comma


def _split_opts(value: str) -> list[str]:
    """QemuOpts / keyval elements: split at "," where ",," is a literal comma."""
    parts: list[str] = []
    i, n = 0, len(value)
    while True:
        match = _OPT_ELEMENT.match(value, i)
        assert match is not None  # the pattern matches the empty string
        parts.append(match.group().replace(",,", ","))
        i = match.end() + 1  # past the separating comma
        if i > n:
            break
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # QEMU ignores one trailing comma
    return parts


_MAX_DIGITS = 32  # longer than any uint64 in any base QEMU reads (22 octal digits)


def _c_uint(text: str) -> int | None:
    """An unsigned number the way strtoull(base 0) reads it: 0x1f hex, 017 octal, 15."""
    if len(text) > _MAX_DIGITS:
        return None  # beyond uint64 whatever it holds (and int() refuses 4300+ digits)
    if re.fullmatch(r"0[xX][0-9a-fA-F]+", text):
        return int(text, 16)
    if re.fullmatch(r"0[0-7]*", text):
        return int(text, 8)
    if re.fullmatch(r"[1-9][0-9]*", text):
        return int(text)
    return None


def _c_int(text: str) -> int | None:
    if text.startswith("-"):
        value = _c_uint(text[1:])
        return None if value is None else -value
    return _c_uint(text)


def _qemu_size(text: str, default_scale: int = 1) -> int | None:
    """qemu_strtosz: "2G", "1.5G", "4096", "0x1000"; a bare number times ``default_scale``."""
    match = _SIZE_RE.fullmatch(text) if len(text) <= _MAX_DIGITS else None
    if not match:
        return None
    hex_part, whole, fraction, suffix = match.groups()
    if fraction is not None and not suffix.strip("bB"):
        return None  # QEMU takes a fraction only with a multiplier suffix
    scale = _SIZE_SCALE[suffix.lower()] if suffix else default_scale
    if hex_part is not None:
        value = int(hex_part, 16) * scale
    else:
        value = int(whole) * scale
        if fraction:
            value += int(fraction) * scale // 10 ** len(fraction)
    return value if value < 1 << 64 else None


# ---------------------------------------------------------------------------------------
# The reader


def read_qemu_args(text: str, source: str = "<args>") -> QemuConfig:
    """Read a QEMU command line into a ``QemuConfig`` (layout plus arg-level findings).

    Raises ``QemuArgsError`` for text that is not a QEMU command numaopt can read: an
    unknown option, a bare word, or a value QEMU could not parse.
    """
    return _Reader(source).read(split_command(text, source))


class _Reader:
    def __init__(self, source: str):
        self.source = source
        self.findings: list[Finding] = []
        self.maxmem: int | None = None  # -m maxmem=
        self.slots = 0  # -m slots=

    # -- helpers -------------------------------------------------------------------------

    def fail(self, where: str, message: str) -> QemuArgsError:
        return QemuArgsError(message, source=self.source, where=_show(where))

    def add(self, severity: Severity, code: str, message: str, fix: str | None = None) -> None:
        finding = Finding(RuleSet.QEMU, severity, code, message, fix)
        if finding not in self.findings:
            self.findings.append(finding)

    def opts(self, arg: _Arg, implied: str | None, known: Iterable[str] | None) -> list[tuple[str, str]]:
        """``key=value`` pairs in order (repeats kept); the first bare element is ``implied``."""
        value = arg.value or ""
        if value.count(",") >= MAX_PARAMETERS:
            raise self.fail(arg.shown, f"more than {MAX_PARAMETERS} parameters in one option")
        pairs: list[tuple[str, str]] = []
        allowed = None if known is None else tuple(known)
        for index, element in enumerate(_split_opts(value)):
            key, eq, val = element.partition("=")
            if not eq:
                if index == 0 and implied is not None:
                    key, val = implied, element
                elif element == "":
                    raise self.fail(arg.shown, "empty parameter (two commas in a row are a literal comma: ',,')")
                else:
                    key, val = element, "on"  # QEMU's deprecated short-form boolean
            if allowed is not None and key not in allowed:
                raise self.fail(arg.shown, f"Invalid parameter '{_show(key, 40)}' (valid: {', '.join(allowed)})")
            pairs.append((key, val))
        return pairs

    def uint(self, arg: _Arg, key: str, text: str, bits: int, what: str | None = None) -> int:
        value = _c_uint(text)
        limit = (1 << bits) - 1
        if value is None or value > limit:
            raise self.fail(arg.shown, f"{key}={_show(text, 40)}: expected {what or f'an integer 0..{limit}'}")
        return value

    def int64(self, arg: _Arg, key: str, text: str) -> int:
        value = _c_int(text)
        if value is None or not -(1 << 63) <= value < 1 << 63:
            raise self.fail(arg.shown, f"{key}={_show(text, 40)}: expected an integer")
        return value

    def uint_list(self, arg: _Arg, key: str, texts: list[str], bits: int) -> list[int]:
        """QEMU's opts-visitor list: repeated keys, each a number or an ascending range a-b.

        Distinct values in the order given (a uint16 list has at most 65536 of them).
        """
        values: dict[int, None] = {}
        limit = (1 << bits) - 1
        total = 0
        for text in texts:
            first_text, dash, last_text = text.partition("-")
            first = _c_uint(first_text)
            last = _c_uint(last_text) if dash else first
            if first is None or last is None or last < first or last > limit:
                raise self.fail(
                    arg.shown, f"{key}={_show(text, 40)}: expected a number or a range such as 0-3 (0..{limit})"
                )
            if last - first >= RANGE_MAX:
                raise self.fail(arg.shown, f"{key}={_show(text, 40)}: a range may hold at most {RANGE_MAX} values")
            total += last - first + 1
            if total > MAX_LIST_VALUES:
                raise self.fail(arg.shown, f"{key}: the list holds more than {MAX_LIST_VALUES} values")
            values.update(dict.fromkeys(range(first, last + 1)))
        return list(values)

    def boolean(self, arg: _Arg, key: str, text: str) -> bool:
        if text not in _BOOLS:
            raise self.fail(arg.shown, f"{key}={_show(text, 40)}: expected on or off (or yes/no, true/false, y/n)")
        return _BOOLS[text]

    def size(self, arg: _Arg, key: str, text: str, default_scale: int = 1) -> int:
        value = _qemu_size(text, default_scale)
        if value is None:
            unit = "MiB" if default_scale == MIB else "bytes"
            raise self.fail(arg.shown, f"{key}={_show(text, 40)}: expected {_SIZE_HELP}; a bare number is {unit}")
        return value

    # -- argv ------------------------------------------------------------------------------

    def read(self, argv: list[str]) -> QemuConfig:
        if not argv:
            raise QemuArgsError("no QEMU arguments in the text", source=self.source)
        if len(argv) > 2 * MAX_OPTIONS + 1:
            raise QemuArgsError(f"{len(argv)} words: numaopt reads at most {MAX_OPTIONS} options", source=self.source)
        arch = None
        start = 0
        if not argv[0].startswith("-"):
            arch = self.binary(argv[0])
            start = 1
        args = self.options(argv[start:])
        by_name: dict[str, list[_Arg]] = {}
        for arg in args:
            by_name.setdefault("machine" if arg.name == "M" else arg.name, []).append(arg)

        machine_type, machine_props = self.machine(by_name.get("machine", []), arch)
        kvm = self.uses_kvm(args, machine_props)
        memory_bytes = self.memory(by_name.get("m", []))
        maxcpus, shape = self.smp(self.smp_values(args), machine_type)
        if machine_type.machine is Machine.VIRT:
            self.check_gic(machine_props.get("gic-version"), maxcpus, kvm)
        backends = self.objects(by_name.get("object", []))
        numa = _Numa(self, machine_type, shape, maxcpus, backends, machine_props)
        for arg in by_name.get("numa", []):
            numa.option(arg)
        nodes, distances, backend = numa.finish()
        backend = self.legacy_memory(by_name, backend)
        if machine_type.machine is Machine.VIRT:
            self.check_virt_memory_devices(args, machine_props)
        else:
            if not kvm:
                cpus = [arg.value or "" for arg in by_name.get("cpu", [])]
                self.check_address_space(machine_type, memory_bytes, cpus)
            self.check_pc_memory_devices(args, machine_props, set(backends), len(nodes))
        layout = GuestLayout(
            vcpus=maxcpus,
            memory_bytes=memory_bytes,
            nodes=nodes,
            shape=shape,
            distances=distances,
            machine=machine_type.machine,
            backend=backend,
            rules=machine_type.machine.default_rules,
        )
        return QemuConfig(layout=layout, findings=list(self.findings), machine_type=machine_type.name)

    def binary(self, word: str) -> str:
        name = word.rsplit("/", 1)[-1]
        if name in _X86_BINARIES:
            return "x86"
        if name in _ARM_BINARIES:
            return "arm"
        known = ", ".join((*_X86_BINARIES, *_ARM_BINARIES))
        if name.startswith("qemu"):
            raise self.fail(word, f"numaopt reads commands for {known}")
        raise self.fail(word, f"expected a QEMU binary ({known}) or an option such as -m; paste the QEMU command alone")

    def options(self, argv: list[str]) -> list[_Arg]:
        args: list[_Arg] = []
        i = 0
        while i < len(argv):
            token = argv[i]
            if not token.startswith("-") or token in ("-", "--"):
                raise self.fail(
                    token,
                    "not an option: QEMU options start with '-' (QEMU would open a bare word as a disk image; "
                    "numaopt reads one QEMU command, without pipes, redirections or disk-image arguments)",
                )
            name = token[2:] if token.startswith("--") else token[1:]
            if name in _WITH_VALUE:
                if i + 1 >= len(argv):
                    raise self.fail(token, "requires an argument")
                args.append(_Arg(name, argv[i + 1], f"{token} {argv[i + 1]}"))
                i += 2
            elif name in _SKIPPED_FLAGS:
                args.append(_Arg(name, None, token))
                i += 1
            else:
                raise self.fail(
                    token,
                    "not a QEMU option numaopt knows (it reads -machine/-M, -m, -smp, -object and -numa, "
                    "and skips common options such as -cpu, -accel, -kernel, -drive, -device, -netdev)",
                )
        return args

    # -- -machine --------------------------------------------------------------------------

    def machine(self, args: list[_Arg], arch: str | None) -> tuple[_MachineType, dict[str, str]]:
        """-machine options merge (later keys win), like QEMU's machine opts."""
        props: dict[str, str] = {}
        shown = {}
        for arg in args:
            for key, value in self.opts(arg, "type", None):
                props[key] = value
                shown[key] = arg.shown
        if "type" not in props:
            if arch == "arm":
                self.add(
                    Severity.ERROR,
                    "no-default-machine",
                    "No machine specified, and there is no default",
                    "qemu-system-aarch64 needs -machine virt; numaopt read the command as virt",
                )
                return _MachineType(Machine.VIRT, "virt", None), props
            return _MachineType(Machine.PC, "pc", None), props  # qemu-system-x86_64's default
        return self.machine_type(shown["type"], props["type"], arch), props

    def machine_type(self, where: str, name: str, arch: str | None) -> _MachineType:
        families = {"q35": Machine.Q35, "pc": Machine.PC, "virt": Machine.VIRT}
        valid = "q35, pc, virt and versioned names such as pc-q35-7.2, pc-i440fx-7.2, virt-7.2"
        if name in families:
            machine, version = families[name], None
        else:
            match = re.fullmatch(r"(pc-q35|pc-i440fx|virt)-(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?", name)
            if not match or (match.group(4) is not None and match.group(1) != "pc-q35"):
                raise self.fail(where, f"machine type {_show(name, 60)!r} is not one numaopt knows ({valid})")
            family = match.group(1)
            machine = {"pc-q35": Machine.Q35, "pc-i440fx": Machine.PC, "virt": Machine.VIRT}[family]
            version = (int(match.group(2)), int(match.group(3)))
            if not _OLDEST_VERSION[family] <= version <= NEWEST_VERSION:
                self.add(
                    Severity.WARNING,
                    "machine-version",
                    f"QEMU 7.2 has no machine type {name}: it prints 'unsupported machine type'",
                    f"QEMU 7.2 has {family}-{'.'.join(map(str, _OLDEST_VERSION[family]))} to {family}-7.2",
                )
        wanted = "arm" if machine is Machine.VIRT else "x86"
        if arch is not None and arch != wanted:
            binary = "qemu-system-aarch64" if arch == "arm" else "qemu-system-x86_64"
            has = "virt" if arch == "arm" else "q35 and pc"
            raise self.fail(
                where, f"{binary} has no machine {_show(name, 60)} (QEMU: unsupported machine type); it has {has}"
            )
        return _MachineType(machine, name, version)

    @staticmethod
    def uses_kvm(args: list[_Arg], machine_props: dict[str, str]) -> bool:
        if any(arg.name == "enable-kvm" for arg in args):
            return True
        accels = [machine_props.get("accel", "")] + [arg.value or "" for arg in args if arg.name == "accel"]
        return any("kvm" in accel for accel in accels)

    def check_gic(self, version: str | None, maxcpus: int, kvm: bool) -> None:
        """hw/arm/virt.c: GICv2 (the TCG default when gic-version is not given) takes 8 vCPUs."""
        if maxcpus <= GICV2_MAX_CPUS:
            return
        # Without gic-version, KVM picks GICv3 for > 8 vCPUs (finalize_gic_version); TCG picks v2.
        if version == "2" or (version is None and not kvm):
            self.add(
                Severity.ERROR,
                "gic-max-cpus",
                f"Number of SMP CPUs requested ({maxcpus}) exceeds max CPUs supported by machine "
                f"'mach-virt' ({GICV2_MAX_CPUS})",
                "use -machine virt,gic-version=3 (or max): GICv2 takes at most 8 vCPUs",
            )

    # -- -m ----------------------------------------------------------------------------------

    def memory(self, args: list[_Arg]) -> int:
        values: dict[str, tuple[str, _Arg]] = {}
        for arg in args:
            for key, value in self.opts(arg, "size", _MEMORY_KEYS):
                values[key] = (value, arg)
        size = DEFAULT_RAM_BYTES
        if "size" in values:
            text, arg = values["size"]
            # vl.c parse_memory_options: a size ending in a digit is in MiB ("legacy suffix-less").
            size = self.size(arg, "size", text, MIB) or DEFAULT_RAM_BYTES  # -m 0 means the machine's default
        if "slots" in values:
            text, arg = values["slots"]
            self.slots = self.uint(arg, "slots", text, 64)
        if "maxmem" in values:
            text, arg = values["maxmem"]
            self.maxmem = self.size(arg, "maxmem", text)
        if "slots" in values or "maxmem" in values:
            arg = (values.get("maxmem") or values["slots"])[1]
            if "maxmem" not in values:
                self.add(Severity.ERROR, "memory-slots", "slots specified but no max-size", f"at {_show(arg.shown)}")
            self.add(
                Severity.WARNING,
                "memory-hotplug",
                f"{_show(arg.shown)}: memory hotplug (maxmem=, slots=) is not modelled by numaopt; with maxmem "
                "QEMU adds a hot-pluggable SRAT range on the last node",
            )
        return size

    @staticmethod
    def legacy_memory(by_name: dict[str, list[_Arg]], backend: MemoryBackend) -> MemoryBackend:
        """-mem-path DIR / -mem-prealloc: how RAM not given by a memory-backend object is backed
        (QEMU 7.2 create_default_memdev: a memory-backend-file in DIR, preallocated)."""
        if backend != MemoryBackend():
            return backend  # the nodes' memdev= backends say it themselves
        prealloc = "mem-prealloc" in by_name
        paths = by_name.get("mem-path", [])
        if paths and paths[-1].value:
            return MemoryBackend(kind=BackendKind.FILE, mem_path=paths[-1].value, prealloc=prealloc)
        return MemoryBackend(prealloc=prealloc)

    def check_virt_memory_devices(self, args: list[_Arg], machine_props: dict[str, str]) -> None:
        """virt_memory_pre_plug (QEMU 7.2): pc-dimm and nvdimm need the ACPI GED device, which
        virt creates only with firmware loaded (-bios, -pflash or an if=pflash drive) and ACPI on."""
        firmware = any(
            arg.name in ("bios", "pflash") or (arg.name == "drive" and "if=pflash" in (arg.value or "")) for arg in args
        )
        if firmware and _BOOLS.get(machine_props.get("acpi", "on")) is not False:
            return
        for arg in args:
            if arg.name == "device" and _device_driver(arg.value or "") in ("pc-dimm", "nvdimm"):
                self.add(
                    Severity.ERROR,
                    "memory-hotplug-disabled",
                    "memory hotplug is not enabled: missing acpi-ged device",
                    f"at {_show(arg.shown)}: virt has it only when booting firmware (-bios or -pflash) with ACPI on",
                )
                return

    def check_pc_memory_devices(
        self, args: list[_Arg], machine_props: dict[str, str], backend_ids: set[str], node_count: int
    ) -> None:
        """The first pc-dimm, nvdimm or virtio-mem-pci QEMU 7.2 refuses, if any: its memdev
        (a property, set first), pc_memory_pre_plug (ACPI, nvdimm=on, slots), then the
        device's realize (node= in range).

        QEMU plugs -device options after the machine is built, so this comes after the
        machine's own refusals (the address space)."""
        acpi = _BOOLS.get(machine_props.get("acpi", "on")) is not False and not any(a.name == "no-acpi" for a in args)
        nvdimm = _BOOLS.get(machine_props.get("nvdimm", "off")) is True
        # auto_enable_numa_with_memhp: pc and q35 make one node when memory hotplug is on.
        nodes = node_count or (1 if self.slots or self.maxmem is not None else 0)
        for arg in args:
            props = _device_props(arg.value or "") if arg.name == "device" else {}
            driver = props.get("driver")
            if driver not in ("pc-dimm", "nvdimm", "virtio-mem-pci"):
                continue
            memdev, node = props.get("memdev"), _c_uint(str(props.get("node", 0)))
            message = None
            if isinstance(memdev, str) and memdev not in backend_ids:
                message = f"Device '{_show(memdev, 60)}' not found"
            elif driver != "virtio-mem-pci" and not acpi:
                message = "memory hotplug is not enabled: missing acpi device or acpi disabled"
            elif driver == "nvdimm" and not nvdimm:
                message = "nvdimm is not enabled: missing 'nvdimm' in '-M'"
            elif driver != "virtio-mem-pci" and not self.slots:
                message = "no slots where allocated, please specify the 'slots' option"
            elif node is not None and (node >= nodes if nodes else node > 0):
                message = (
                    f"'node' property has value '{node}', which exceedsthe number of numa nodes: {nodes}"
                    if driver == "virtio-mem-pci"  # sic: QEMU 7.2's message lacks the space
                    else f"'DIMM property node has value {node}' which exceeds the number of numa nodes: {nodes}"
                )
            if message:
                self.add(Severity.ERROR, "memory-device", message, f"at {_show(arg.shown)}")
                return

    def check_address_space(self, machine_type: _MachineType, ram: int, cpus: list[str]) -> None:
        """pc_memory_init (QEMU 7.2, x86 under TCG): the highest guest-physical address in use
        (RAM above 4 GiB, the device-memory region of maxmem/slots, the 64-bit PCI hole) must
        fit the CPU's physical address bits (40 under TCG)."""
        model, *props = (cpus[-1] if cpus else "qemu64").split(",")
        if any(p.split("=")[0] in ("phys-bits", "host-phys-bits", "host-phys-bits-limit") for p in props):
            return  # the CPU's own width: not modelled
        if not model.startswith(_X86_64_MODELS) or machine_type.effective_version < (7, 1):
            return  # 32-bit models, and machine types before 7.1's AMD 1 TiB hole: not modelled
        amd = model.startswith(_AMD_MODELS)
        used = _x86_max_used_gpa(machine_type.machine, ram, self.maxmem, self.slots, _ABOVE_4G_START)
        if amd and used >= _AMD_HT_START:
            # enforce_amd_1tb_hole: RAM above 4 GiB moves above the HyperTransport hole, to 1 TiB.
            used = _x86_max_used_gpa(machine_type.machine, ram, self.maxmem, self.slots, _AMD_ABOVE_1TB_START)
        limit = (1 << _TCG_PHYS_BITS) - 1
        if used > limit:
            self.add(
                Severity.ERROR,
                "phys-bits",
                f"Address space limit 0x{limit:x} < 0x{used:x} phys-bits too low ({_TCG_PHYS_BITS})",
                "lower -m maxmem= (and slots=): every slot reserves 1 GiB more, and the 64-bit PCI hole follows",
            )

    # -- -smp --------------------------------------------------------------------------------

    def smp_values(self, args: list[_Arg]) -> list[tuple[str, str, _Arg]]:
        """``-smp`` keys and ``-machine smp.*`` properties in command-line order.

        QEMU 7.2 merges both into the machine's one ``smp`` dict (vl.c keyval_merge), so a
        key given twice takes its last value whichever option gave it.
        """
        values: list[tuple[str, str, _Arg]] = []
        for arg in args:
            if arg.name == "smp":
                values += [(key, text, arg) for key, text in self.opts(arg, "cpus", None)]
            elif arg.name in ("machine", "M"):
                for key, text in self.opts(arg, "type", None):
                    if not key.startswith("smp."):
                        continue
                    values.append((key[4:], text, arg))
        return values

    def smp(self, values: list[tuple[str, str, _Arg]], machine_type: _MachineType) -> tuple[int, CpuShape]:
        """machine-smp.c machine_parse_smp_config (7.2), options merged like QEMU merges them."""
        given: dict[str, int] = {}
        last: _Arg | None = None
        for key, text, arg in values:
            last = arg
            if key not in _SMP_KEYS:
                # keyval, not QemuOpts: QEMU 7.2 names the key as the machine's smp.* property.
                valid = ", ".join(_SMP_KEYS)
                raise self.fail(arg.shown, f"Parameter 'smp.{_show(key, 40)}' is unexpected (valid: {valid})")
            value = _c_uint(text)
            if value is None or value >= 1 << 32:
                raise self.fail(arg.shown, f"{key}={_show(text, 40)}: expected a whole number of CPUs")
            given[key] = value
        if any(value == 0 for value in given.values()):
            self.add(
                Severity.WARNING,
                "smp-zero",
                "Deprecated CPU topology (considered invalid): CPU topology parameters must be greater than zero",
                "leave a level out instead of giving 0",
            )
        virt = machine_type.machine is Machine.VIRT
        cpus = given.get("cpus", 0)
        maxcpus = given.get("maxcpus", 0)
        sockets = given.get("sockets", 0)
        dies = given.get("dies", 0) or 1
        clusters = given.get("clusters", 0) or 1
        cores = given.get("cores", 0)
        threads = given.get("threads", 0)
        if cpus == 0 and maxcpus == 0:
            sockets, cores, threads = sockets or 1, cores or 1, threads or 1
        else:
            maxcpus = maxcpus or cpus
            if machine_type.prefer_sockets:
                if sockets == 0:
                    cores, threads = cores or 1, threads or 1
                    sockets = maxcpus // (dies * clusters * cores * threads)
                elif cores == 0:
                    threads = threads or 1
                    cores = maxcpus // (sockets * dies * clusters * threads)
            elif cores == 0:
                sockets, threads = sockets or 1, threads or 1
                cores = maxcpus // (sockets * dies * clusters * threads)
            elif sockets == 0:
                threads = threads or 1
                sockets = maxcpus // (dies * clusters * cores * threads)
            if threads == 0:
                threads = maxcpus // (sockets * dies * clusters * cores)
        product = sockets * dies * clusters * cores * threads
        maxcpus = maxcpus or product
        cpus = cpus or maxcpus
        levels = f"sockets ({sockets}) * " + (f"clusters ({clusters})" if virt else f"dies ({dies})")
        levels += f" * cores ({cores}) * threads ({threads})"
        where = last.shown if last else "-smp"
        if 0 in (sockets, cores, threads):
            # QEMU refuses; a CpuShape cannot hold a level of 0, so this one is an error here.
            raise self.fail(
                where,
                f"Invalid CPU topology: product of the hierarchy must match maxcpus: {levels} != maxcpus ({maxcpus})",
            )
        if maxcpus > MAX_READ_VCPUS:
            raise self.fail(
                where, f"{maxcpus} vCPUs: numaopt reads at most {MAX_READ_VCPUS} (QEMU 7.2 allows 512 on virt)"
            )
        # QEMU refuses dies (virt) or clusters (pc, q35) > 1 before it compares maxcpus with
        # cpus; check_layout reports that refusal ("smp-dies", "smp-clusters").
        unsupported_level = given.get("dies" if virt else "clusters", 0) > 1
        if maxcpus < cpus and not unsupported_level:
            self.add(
                Severity.ERROR,
                "smp-maxcpus",
                "Invalid CPU topology: maxcpus must be equal to or greater than smp: "
                f"{levels} == maxcpus ({maxcpus}) < smp_cpus ({cpus})",
            )
        elif maxcpus > cpus:
            self.add(
                Severity.WARNING,
                "cpu-hotplug",
                f"-smp maxcpus={maxcpus} > cpus={cpus}: numaopt does not model CPU hotplug; the layout holds all "
                f"{maxcpus} possible vCPUs, {cpus} of them present at boot",
            )
        shape = CpuShape(sockets=sockets, dies=dies, clusters=clusters, cores=cores, threads=threads)
        return maxcpus, shape

    # -- -object -----------------------------------------------------------------------------

    def objects(self, args: list[_Arg]) -> dict[str, _Backend]:
        backends: dict[str, _Backend] = {}
        ids: set[str] = set()
        for arg in args:
            props = self.object_props(arg)
            qom_type = props.get("qom-type")
            if not isinstance(qom_type, str):
                raise self.fail(arg.shown, "Parameter 'qom-type' is missing")
            object_id = props.get("id")
            if isinstance(object_id, str):
                if object_id in ids:
                    self.add(Severity.ERROR, "duplicate-object-id", f"Duplicate ID '{_show(object_id, 60)}' for object")
                ids.add(object_id)
            if not qom_type.startswith("memory-backend-"):
                continue  # other objects (iothread, rng-random, secret, ...) do not touch NUMA
            backend = self.backend(arg, qom_type, props)
            backends.setdefault(backend.backend_id, backend)
        return backends

    def object_props(self, arg: _Arg) -> dict[str, Any]:
        """-object in keyval form (``type,id=..,key=..``) or JSON (what libvirt writes)."""
        text = arg.value or ""
        if text.lstrip().startswith("{"):
            try:
                data = json.loads(text)
            except (ValueError, RecursionError) as exc:
                raise self.fail(arg.shown, f"invalid JSON: {_show(str(exc), 80)}") from None
            if not isinstance(data, dict):
                raise self.fail(arg.shown, 'expected a JSON object such as {"qom-type": "memory-backend-ram", ...}')
            return data
        props: dict[str, Any] = {}
        for key, value in self.opts(arg, "qom-type", None):
            if key == "host-nodes":
                props.setdefault(key, []).append(value)
            elif key != "id" or key not in props:  # QemuOpts keeps the first id
                props[key] = value
        return props

    def backend(self, arg: _Arg, qom_type: str, props: dict[str, Any]) -> _Backend:
        kind = qom_type.removeprefix("memory-backend-")
        if kind not in _BACKEND_KEYS:
            raise self.fail(
                arg.shown,
                f"invalid object type: {_show(qom_type, 60)} (numaopt reads memory-backend-ram, -file and -memfd)",
            )
        for key in props:
            if key not in _BACKEND_KEYS[kind]:
                raise self.fail(
                    arg.shown, f"Invalid parameter '{_show(str(key), 40)}' (valid: {', '.join(_BACKEND_KEYS[kind])})"
                )
        backend_id = props.get("id")
        if backend_id is None:
            raise self.fail(arg.shown, "Parameter 'id' is missing")
        if not isinstance(backend_id, str) or not _ID_RE.fullmatch(backend_id):
            raise self.fail(
                arg.shown,
                "Parameter 'id' expects an identifier (letters, digits, '-', '.', '_', starting with a letter)",
            )
        if "size" not in props:
            raise self.fail(arg.shown, "Parameter 'size' is missing")
        size = self.json_or_text(arg, props, "size", int, lambda text: self.size(arg, "size", text))
        if size <= 0:
            raise self.fail(arg.shown, f"property 'size' of {qom_type} doesn't take value '0'")
        mem_path = None
        if kind == "file":
            if "mem-path" not in props:
                raise self.fail(arg.shown, "Parameter 'mem-path' is missing")
            mem_path = self.json_or_text(arg, props, "mem-path", str, lambda text: text)
            if not mem_path:
                raise self.fail(arg.shown, "mem-path must not be empty")
        # memory-backend-memfd is shared by default (query-memdev: share true).
        share = self.json_or_text(arg, props, "share", bool, lambda text: self.boolean(arg, "share", text))
        prealloc = self.json_or_text(arg, props, "prealloc", bool, lambda text: self.boolean(arg, "prealloc", text))
        policy = self.json_or_text(arg, props, "policy", str, lambda text: text) or "default"
        if policy not in _POLICIES:
            raise self.fail(
                arg.shown,
                f"Parameter 'policy' does not accept value '{_show(policy, 40)}' (valid: {', '.join(_POLICIES)})",
            )
        host_nodes = self.host_nodes(arg, props.get("host-nodes"))
        where = f"at {_show(arg.shown)}"
        if host_nodes and policy == "default":
            self.add(
                Severity.ERROR,
                "backend-policy",
                "host-nodes must be empty for policy default, or you should explicitly specify a policy other than default",
                where,
            )
        if not host_nodes and policy != "default":
            self.add(Severity.ERROR, "backend-policy", f"host-nodes must be set for policy {policy}", where)
        if host_nodes and policy not in ("default", "bind"):
            self.add(
                Severity.INFO,
                "backend-policy-read-as-bind",
                f"backend {backend_id} has policy={policy}: numaopt models host-nodes as policy=bind",
            )
        return _Backend(
            qom_type=qom_type,
            backend_id=backend_id,
            size=size,
            mem_path=mem_path,
            share=(kind == "memfd") if share is None else share,
            prealloc=bool(prealloc),
            host_nodes=host_nodes,
            policy=policy,
        )

    def json_or_text(self, arg: _Arg, props: dict[str, Any], key: str, kind: type, parse: Any) -> Any:
        """A property from the keyval form (text, parsed) or the JSON form (typed)."""
        if key not in props:
            return None
        value = props[key]
        if isinstance(value, str) and not (arg.value or "").lstrip().startswith("{"):
            return parse(value)
        if kind is int and isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 64:
            return value
        if kind is not int and isinstance(value, kind):
            return value
        raise self.fail(arg.shown, f"Invalid parameter type for '{key}', expected: {kind.__name__}")

    def host_nodes(self, arg: _Arg, raw: Any) -> tuple[int, ...]:
        if raw is None:
            return ()
        if (arg.value or "").lstrip().startswith("{"):
            if not isinstance(raw, list) or not all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in raw
            ):
                raise self.fail(arg.shown, "Invalid parameter type for 'host-nodes', expected: a list of node numbers")
            values = list(raw)
        else:
            values = self.uint_list(arg, "host-nodes", raw, 64)
        for value in values:
            if value >= MAX_NODES:
                raise self.fail(arg.shown, f"Invalid host-nodes value: {value} (host nodes are 0-{MAX_NODES - 1})")
        return tuple(sorted(set(values)))


class _Numa:
    """-numa options applied in command-line order, as hw/core/numa.c does."""

    def __init__(
        self,
        reader: _Reader,
        machine_type: _MachineType,
        shape: CpuShape,
        maxcpus: int,
        backends: dict[str, _Backend],
        machine_props: dict[str, str],
    ):
        self.reader = reader
        self.machine_type = machine_type
        self.machine = machine_type.machine
        self.shape = shape
        self.maxcpus = maxcpus
        self.backends = backends
        self.machine_props = machine_props
        self.nodes: dict[int, _Node] = {}
        self.slot_node: dict[int, int] = {}  # vCPU index -> node id (machine_set_cpu_numa_node)
        self.given: dict[tuple[int, int], int] = {}  # (src, dst) -> val
        self.have_mem = False
        self.have_memdev = False
        self.slot_ids: dict[str, dict[int, set[int]]] = {}
        self.has_cpu: set[int] = set()  # nodes given a vCPU explicitly so far (NodeInfo.has_cpu)
        self.initiators: dict[int, int] = {}  # node -> its HMAT initiator (NodeInfo.initiator)
        self.hmat_on = _BOOLS.get(machine_props.get("hmat", "off")) is True
        self.hmat_lb: dict[tuple[str, str], _LbTable] = {}  # (hierarchy, data-type) -> values so far
        self.lb_provided: dict[int, int] = {}  # target node -> bit 0 latency, bit 1 bandwidth given
        self.hmat_cache: dict[tuple[int, int], int] = {}  # (node-id, level) -> size

    def option(self, arg: _Arg) -> None:
        reader = self.reader
        pairs = reader.opts(arg, "type", None)
        types = [value for key, value in pairs if key == "type"]
        if not types:
            raise reader.fail(arg.shown, "Parameter 'type' is missing (node, dist, cpu, hmat-lb or hmat-cache)")
        numa_type = types[-1]
        if numa_type not in _NUMA_KEYS:
            raise reader.fail(
                arg.shown,
                f"Parameter 'type' does not accept value '{_show(numa_type, 40)}' (valid: {', '.join(_NUMA_KEYS)})",
            )
        values: dict[str, list[str]] = {}
        for key, value in pairs:
            if key == "type":
                continue
            if key not in _NUMA_KEYS[numa_type]:
                raise reader.fail(
                    arg.shown, f"Invalid parameter '{_show(key, 40)}' (valid: {', '.join(_NUMA_KEYS[numa_type])})"
                )
            values.setdefault(key, []).append(value)
        getattr(self, "numa_" + numa_type.replace("-", "_"))(arg, values)

    # -- -numa node (parse_numa_node) -------------------------------------------------------

    def numa_node(self, arg: _Arg, values: dict[str, list[str]]) -> None:
        reader = self.reader
        where = f"at {_show(arg.shown)}"
        node_id = (
            reader.uint(arg, "nodeid", values["nodeid"][-1], 16, "a node id (0-127)")
            if "nodeid" in values
            else len(self.nodes)
        )
        cpus = reader.uint_list(arg, "cpus", values["cpus"], 16) if "cpus" in values else []
        mem = reader.size(arg, "mem", values["mem"][-1], MIB) if "mem" in values else None
        memdev = values["memdev"][-1] if "memdev" in values else None
        initiator = reader.uint(arg, "initiator", values["initiator"][-1], 16) if "initiator" in values else None
        if node_id >= MAX_NODES:
            reader.add(Severity.ERROR, "node-id-range", f"Max number of NUMA nodes reached: {node_id}", where)
            return
        if node_id in self.nodes:
            fix = where + (
                "" if "nodeid" in values else f" (without nodeid= a node gets the number of nodes so far, {node_id})"
            )
            reader.add(Severity.ERROR, "duplicate-node", f"Duplicate NUMA nodeid: {node_id}", fix)
            return
        node = _Node(node_id, initiator=initiator)
        if initiator is not None and self.hmat_on:
            self.initiators[node_id] = initiator  # set before the node's cpus= are mapped
        for cpu in cpus:
            if cpu >= self.maxcpus:
                node.bad_cpus.append(cpu)  # check_layout: "CPU index (%u) should be smaller than maxcpus (%d)"
            else:
                self.assign(cpu, node_id, where)
        self.have_mem = self.have_mem or mem is not None
        self.have_memdev = self.have_memdev or memdev is not None
        if (mem is not None and self.have_memdev) or (memdev is not None and self.have_mem):
            reader.add(
                Severity.ERROR,
                "mem-memdev-mixed",
                "numa configuration should use either mem= or memdev=,mixing both is not allowed",
                where,
            )
        if mem is not None:
            if self.machine_type.numa_mem_supported:
                reader.add(
                    Severity.WARNING,
                    "mem-deprecated",
                    "Parameter -numa node,mem is deprecated, use -numa node,memdev instead",
                )
            else:
                reader.add(
                    Severity.ERROR,
                    "mem-unsupported",
                    "Parameter -numa node,mem is not supported by this machine type",
                    f"Use -numa node,memdev instead ({where}; mem= works only on machine types up to 5.0)",
                )
            node.memory_bytes = mem
        if memdev is not None:
            backend = self.backends.get(memdev)
            if backend is None:
                reader.add(
                    Severity.ERROR,
                    "memdev-missing",
                    f"memdev={_show(memdev, 60)} is ambiguous",
                    f"{where}: no memory-backend object has id={_show(memdev, 60)}",
                )
            else:
                node.memory_bytes = backend.size
                node.memdev = memdev
                backend.users.append(node_id)
        if "initiator" in values:
            self.hmat(arg)
        self.nodes[node_id] = node

    def assign(self, cpu: int, node_id: int, where: str) -> bool:
        owner = self.slot_node.get(cpu)
        if owner is not None and owner != node_id:
            self.reader.add(
                Severity.ERROR,
                "cpu-assigned-twice",
                f"CPU is already assigned to node-id: {owner}",
                f"{where}: vCPU {cpu}",
            )
            return False
        self.slot_node[cpu] = node_id
        if self.hmat_on:
            initiator = self.initiators.setdefault(node_id, node_id)
            if initiator != node_id:
                self.reader.add(
                    Severity.ERROR,
                    "hmat-initiator",
                    f"The initiator of CPU NUMA node {node_id} should be itself (got {initiator})",
                    f"{where}: a node with vCPUs is its own initiator",
                )
                return False
        self.has_cpu.add(node_id)
        return True

    # -- -numa dist (parse_numa_distance) ----------------------------------------------------

    def numa_dist(self, arg: _Arg, values: dict[str, list[str]]) -> None:
        reader = self.reader
        for key in ("src", "dst", "val"):
            if key not in values:
                raise reader.fail(arg.shown, f"Parameter '{key}' is missing (-numa dist,src=A,dst=B,val=D)")
        src = reader.uint(arg, "src", values["src"][-1], 16, "a node id (0-127)")
        dst = reader.uint(arg, "dst", values["dst"][-1], 16, "a node id (0-127)")
        val = reader.uint(arg, "val", values["val"][-1], 8, "a distance 10..255 (QEMU takes a uint8)")
        where = f"at {_show(arg.shown)}"
        if src >= MAX_NODES or dst >= MAX_NODES:
            name = "src" if src >= MAX_NODES else "dst"
            reader.add(
                Severity.ERROR,
                "dist-node-range",
                f"Parameter '{name}' expects an integer between 0 and {MAX_NODES - 1}",
                where,
            )
            return
        if src not in self.nodes or dst not in self.nodes:
            reader.add(
                Severity.ERROR,
                "dist-node-missing",
                "Source/Destination NUMA node is missing. Please use '-numa node' option to declare it first.",
                where,
            )
        # Kept even when refused (< 10, local != 10): the layout's matrix carries those rules.
        self.given[src, dst] = val

    # -- -numa cpu (set_numa_options, machine_set_cpu_numa_node) ---------------------------

    def numa_cpu(self, arg: _Arg, values: dict[str, list[str]]) -> None:
        reader = self.reader
        props = {key: reader.int64(arg, key, texts[-1]) for key, texts in values.items()}
        where = f"at {_show(arg.shown)}"
        if "node-id" not in props:
            reader.add(Severity.ERROR, "cpu-node-id-missing", "Missing mandatory node-id property", where)
            return
        node_id = props.pop("node-id")
        if node_id not in self.nodes:
            message = (
                f"Invalid node-id={node_id}, NUMA node must be defined with -numa node,nodeid=ID before it's used "
                "with -numa cpu,node-id=ID"
            )
            if not 0 <= node_id < MAX_NODES:
                # QEMU 7.2 indexes its node table with node-id unchecked: -1 is taken silently,
                # large values read out of bounds (node-id=5000 crashed it with SIGSEGV).
                reader.add(
                    Severity.ERROR,
                    "cpu-node-id-range",
                    message,
                    f"{where}: node ids are 0-{MAX_NODES - 1}; QEMU 7.2 does not range-check node-id here "
                    "(it accepts -1 and crashes on large values)",
                )
            else:
                reader.add(Severity.ERROR, "cpu-node-undeclared", message, where)
            if not 0 <= node_id < MAX_NODES:
                return
        # x86_possible_cpu_arch_ids: die-id only with dies > 1, never cluster-id;
        # virt_possible_cpu_arch_ids (7.2): socket, cluster, core and thread ids, never die-id.
        if self.machine is Machine.VIRT:
            supported = {"socket-id", "cluster-id", "core-id", "thread-id"}
        else:
            supported = {"socket-id", "core-id", "thread-id"} | ({"die-id"} if self.shape.dies > 1 else set())
        for key in ("thread-id", "core-id", "cluster-id", "socket-id", "die-id"):  # QEMU's order
            if key in props and key not in supported:
                reader.add(Severity.ERROR, "cpu-prop-unsupported", f"{key} is not supported", where)
                return
        matching: set[int] | None = None
        for key, value in props.items():
            slots = self.slots_with(key).get(value, set())
            matching = slots if matching is None else matching & slots
        if matching is None:
            matching = set(range(self.maxcpus))  # only node-id: every slot
        for cpu in sorted(matching):
            if not self.assign(cpu, node_id, where):
                return  # QEMU stops at the first conflict
        if not matching:
            reader.add(Severity.ERROR, "cpu-no-match", "no match found", f"{where}: no vCPU slot has these ids")

    def slots_with(self, key: str) -> dict[int, set[int]]:
        """vCPU slots by the value of one topology id (``socket-id`` -> {0: {0, 1}, 1: {2, 3}})."""
        if key not in self.slot_ids:
            name = key.removesuffix("-id")
            table: dict[int, set[int]] = {}
            for cpu in range(self.maxcpus):
                table.setdefault(getattr(self.shape.position(cpu), name), set()).add(cpu)
            self.slot_ids[key] = table
        return self.slot_ids[key]

    # -- HMAT (hw/core/numa.c parse_numa_hmat_lb / parse_numa_hmat_cache) -------------------

    def numa_hmat_lb(self, arg: _Arg, values: dict[str, list[str]]) -> None:
        reader = self.reader
        for key in ("initiator", "target", "hierarchy", "data-type"):
            if key not in values:
                raise reader.fail(arg.shown, f"Parameter '{key}' is missing")
        initiator = reader.uint(arg, "initiator", values["initiator"][-1], 16)
        target = reader.uint(arg, "target", values["target"][-1], 16)
        hierarchy = self.enum(arg, "hierarchy", values["hierarchy"][-1], _HMAT_HIERARCHIES)
        data_type = self.enum(arg, "data-type", values["data-type"][-1], _HMAT_DATA_TYPES)
        latency = reader.uint(arg, "latency", values["latency"][-1], 64) if "latency" in values else None
        bandwidth = reader.size(arg, "bandwidth", values["bandwidth"][-1]) if "bandwidth" in values else None
        if not self.hmat(arg):
            return
        refused = self.lb_refusal(initiator, target, (hierarchy, data_type), latency, bandwidth)
        if refused:
            reader.add(Severity.ERROR, refused[0], refused[1], f"at {_show(arg.shown)}")

    def lb_refusal(
        self, initiator: int, target: int, table_key: tuple[str, str], latency: int | None, bandwidth: int | None
    ) -> tuple[str, str] | None:
        """QEMU 7.2's checks of one hmat-lb, in its order; the value is recorded when none fails."""
        count = len(self.nodes)
        # QEMU compares with ">" (not ">="): initiator=N of N nodes gets the next message instead.
        if initiator > count:
            return "hmat-lb-initiator", f"Invalid initiator={initiator}, it should be less than {count}"
        if target > count:
            return "hmat-lb-target", f"Invalid target={target}, it should be less than {count}"
        if initiator not in self.has_cpu:
            return "hmat-lb-initiator", f"Invalid initiator={initiator}, it isn't an initiator proximity domain"
        if target not in self.nodes:
            return "hmat-lb-target", f"The target={target} should point to an existing node"
        table = self.hmat_lb.setdefault(table_key, _LbTable())
        is_latency = table_key[1].endswith("latency")
        kind, other = ("latency", "bandwidth") if is_latency else ("bandwidth", "latency")
        value, other_value = (latency, bandwidth) if is_latency else (bandwidth, latency)
        if value is None:
            return "hmat-lb-value", f"Missing '{kind}' option"
        if other_value is not None:
            return "hmat-lb-value", f"Invalid option '{other}' since the data type is {kind}"
        if not is_latency and value % MIB:
            return (
                "hmat-lb-alignment",
                f"Bandwidth {value} between initiator={initiator} and target={target} should be 1MB aligned",
            )
        if (initiator, target) in table.pairs:
            return (
                "hmat-lb-duplicate",
                f"Duplicate configuration of the {kind} for initiator={initiator} and target={target}",
            )
        if value and not (table.add_latency(value) if is_latency else table.add_bandwidth(value)):
            return "hmat-lb-range", (
                f"Latency {value} between initiator={initiator} and target={target} should not differ from "
                f"previously entered min or max values on more than {_UINT16_MAX - 1}"
                if is_latency
                else f"Bandwidth {value} between initiator={initiator} and target={target} should not differ "
                f"from previously entered values on more than {_UINT16_MAX - 1}"
            )
        if value:  # a 0 counts as not given (lb_info_provided)
            self.lb_provided[target] = self.lb_provided.get(target, 0) | (1 if is_latency else 2)
        table.pairs.add((initiator, target))
        return None

    def numa_hmat_cache(self, arg: _Arg, values: dict[str, list[str]]) -> None:
        reader = self.reader
        for key in ("node-id", "size", "level", "associativity", "policy", "line"):
            if key not in values:
                raise reader.fail(arg.shown, f"Parameter '{key}' is missing")
        node_id = reader.uint(arg, "node-id", values["node-id"][-1], 32)
        size = reader.size(arg, "size", values["size"][-1])
        level = reader.uint(arg, "level", values["level"][-1], 8)
        self.enum(arg, "associativity", values["associativity"][-1], _HMAT_ASSOCIATIVITIES)
        self.enum(arg, "policy", values["policy"][-1], _HMAT_POLICIES)
        reader.uint(arg, "line", values["line"][-1], 16)
        if not self.hmat(arg):
            return
        refused = self.cache_refusal(node_id, size, level)
        if refused:
            reader.add(Severity.ERROR, "hmat-cache", refused, f"at {_show(arg.shown)}")

    def cache_refusal(self, node_id: int, size: int, level: int) -> str | None:
        """QEMU 7.2's checks of one hmat-cache, in its order; the cache is recorded when none fails."""
        count = len(self.nodes)
        if node_id >= count:
            return f"Invalid node-id={node_id}, it should be less than {count}"
        if self.lb_provided.get(node_id, 0) != 3:
            return (
                f"The latency and bandwidth information of node-id={node_id} should be provided before memory "
                "side cache attributes"
            )
        if not 1 <= level < _HMAT_LB_LEVELS:
            return f"Invalid level={level}, it should be larger than 0 and less than or equal to {_HMAT_LB_LEVELS - 1}"
        if (node_id, level) in self.hmat_cache:
            return f"Duplicate configuration of the side cache for node-id={node_id} and level={level}"
        below = self.hmat_cache.get((node_id, level - 1))
        if level > 1 and below is None:
            return f"Cache level={level - 1} shall be defined first"
        if level > 1 and below is not None and size <= below:
            return (
                f"Invalid size={size}, the size of level={level} should be larger than the size({below}) "
                f"of level={level - 1}"
            )
        above = self.hmat_cache.get((node_id, level + 1))
        if above is not None and size >= above:
            return (
                f"Invalid size={size}, the size of level={level} should be less than the size({above}) "
                f"of level={level + 1}"
            )
        self.hmat_cache[node_id, level] = size
        return None

    def enum(self, arg: _Arg, key: str, text: str, valid: tuple[str, ...]) -> str:
        if text not in valid:
            raise self.reader.fail(
                arg.shown, f"Parameter '{key}' does not accept value '{_show(text, 40)}' (valid: {', '.join(valid)})"
            )
        return text

    def hmat(self, arg: _Arg) -> bool:
        """False (and QEMU's error) when HMAT is off: QEMU refuses every HMAT option then."""
        if _BOOLS.get(self.machine_props.get("hmat", "off")) is True:
            return True
        self.reader.add(
            Severity.ERROR,
            "hmat-disabled",
            "ACPI Heterogeneous Memory Attribute Table (HMAT) is disabled, enable it with -machine hmat=on "
            "before using any of hmat specific options",
            f"at {_show(arg.shown)}",
        )
        return False

    # -- numa_complete_configuration --------------------------------------------------------

    def finish(self) -> tuple[tuple[GuestNode, ...], np.ndarray | None, MemoryBackend]:
        reader = self.reader
        ids = sorted(self.nodes)
        for cpu in [cpu for cpu, node_id in self.slot_node.items() if node_id not in self.nodes]:
            del self.slot_node[cpu]
        if ids and not self.slot_node:
            self.default_mapping(ids)
        if self.hmat_on:  # after the default mapping, which sets initiators too
            self.validate_initiators(ids)
        # Backends: each may back one node (machine_consume_memdev) and not -machine memory-backend too.
        for backend in self.backends.values():
            if len(backend.users) > 1:
                reader.add(
                    Severity.ERROR,
                    "memdev-reused",
                    f"memory backend {backend.backend_id} can't be used multiple times.",
                    f"nodes {', '.join(map(str, backend.users))} all name it",
                )
        if "memory-backend" in self.machine_props and any(node.memdev for node in self.nodes.values()):
            reader.add(
                Severity.ERROR,
                "machine-memory-backend",
                "'-machine memory-backend' and '-numa memdev' properties are mutually exclusive",
            )
        cpus_of: dict[int, list[int]] = {node_id: [] for node_id in ids}
        for cpu, node_id in self.slot_node.items():
            cpus_of[node_id].append(cpu)
        used = [self.backends[memdev] for node_id in ids if (memdev := self.nodes[node_id].memdev)]
        nodes = tuple(
            GuestNode(
                node_id=node_id,
                cpus=tuple(sorted({*cpus_of[node_id], *self.nodes[node_id].bad_cpus})),
                memory_bytes=self.nodes[node_id].memory_bytes,
                host_nodes=self.backends[memdev].host_nodes if (memdev := self.nodes[node_id].memdev) else (),
            )
            for node_id in ids
        )
        return nodes, self.distances(ids), self.backend_model(used)

    def validate_initiators(self, ids: list[int]) -> None:
        """numa_validate_initiator (QEMU 7.2): a node's initiator= is a declared node with
        vCPUs mapped explicitly (QEMU's default mapping comes later and does not count)."""
        for node_id in ids:
            initiator = self.initiators.get(node_id)
            if initiator is None:
                continue
            if initiator not in self.nodes:
                message = f"NUMA node {initiator} is missing, use '-numa node' option to declare it first"
            elif initiator not in self.has_cpu:
                message = f"The initiator of NUMA node {node_id} is invalid"
            else:
                continue
            self.reader.add(Severity.ERROR, "hmat-initiator", message)
            return

    def default_mapping(self, ids: list[int]) -> None:
        """No CPU mapped explicitly: the board's default (x86 pkg_id, virt socket_id % nodes)."""
        count = len(ids)
        for cpu in range(self.maxcpus):
            node_id = self.shape.position(cpu).socket % count
            # machine_set_cpu_numa_node, as for an explicit mapping (HMAT initiators included)
            if node_id in self.nodes and not self.assign(cpu, node_id, f"vCPU {cpu} (default mapping)"):
                break
        if self.maxcpus:
            self.reader.add(
                Severity.INFO,
                "default-cpu-mapping",
                f"no vCPU is mapped to a node: QEMU puts socket S in node S % {count} "
                f"({'virt_get_default_cpu_node_id' if self.machine is Machine.VIRT else 'x86_get_default_cpu_node_id'})",
                "map every vCPU with -numa cpu,node-id=N,socket-id=S,... so the layout says what the guest gets",
            )

    def distances(self, ids: list[int]) -> np.ndarray | None:
        """validate_numa_distance + complete_init_numa_distance, over nodes in id order."""
        index = {node_id: i for i, node_id in enumerate(ids)}
        placed = {(index[s], index[d]): v for (s, d), v in self.given.items() if s in index and d in index}
        if not placed:
            return None
        n = len(ids)
        matrix = np.zeros((n, n), dtype=np.int64)
        known = np.zeros((n, n), dtype=bool)
        for (i, j), value in placed.items():
            matrix[i, j] = value
            known[i, j] = True
        off = ~np.eye(n, dtype=bool)
        missing = np.argwhere(np.triu(~known & ~known.T & off))
        if missing.size:
            i, j = (int(x) for x in missing[0])
            more = len(missing) - 1
            self.reader.add(
                Severity.ERROR,
                "distance-missing",
                f"The distance between node {ids[i]} and {ids[j]} is missing, at least one distance value between "
                "each nodes should be provided.",
                f"give -numa dist,src={ids[i]},dst={ids[j]},val=D"
                + (f" ({more} more pairs are missing)" if more else ""),
            )
        asymmetric = np.any(known & known.T & (matrix != matrix.T))
        if asymmetric and np.any(off & ~known):
            self.reader.add(
                Severity.ERROR,
                "distance-asymmetric-incomplete",
                "At least one asymmetrical pair of distances is given, please provide distances for both directions "
                "of all node pairs.",
            )
        one_way = ~known & known.T
        matrix[one_way] = matrix.T[one_way]  # QEMU: a missing A->B is copied from B->A
        matrix[~known & ~known.T & off] = REMOTE_DISTANCE  # refused above; the guest default stands in
        np.fill_diagonal(matrix, np.where(np.diag(known), np.diag(matrix), LOCAL_DISTANCE))
        return matrix

    def backend_model(self, used: list[_Backend]) -> MemoryBackend:
        """One MemoryBackend for the layout, from the backends the nodes use."""
        if not used:
            return MemoryBackend()
        first = used[0]
        if first.qom_type == "memory-backend-memfd":
            self.reader.add(
                Severity.INFO,
                "backend-memfd",
                "memory-backend-memfd is read as memory-backend-ram (numaopt models ram and file backends)",
            )
        model = first.model()
        differing = [b for b in used[1:] if b.model() != model]
        if differing:
            other = differing[0]
            self.reader.add(
                Severity.WARNING,
                "backend-mixed",
                f"backends {first.backend_id} and {other.backend_id} differ in type, mem-path, share or prealloc: "
                f"numaopt models one kind for all nodes and reads that of {first.backend_id}",
            )
        return model
