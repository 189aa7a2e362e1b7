"""``-m``, ``-mem-path`` / ``-mem-prealloc``, and what QEMU 7.2 refuses about where memory goes:
the guest-physical address space (x86 under TCG) and memory devices (``-device pc-dimm``,
``nvdimm``, ``virtio-mem-pci``).

One family because they are one question, "where does the guest's memory live": ``-m``
gives RAM and the hotplug area (``maxmem=``, ``slots=``) that both the address-space limit
and the memory devices depend on; ``-mem-path`` backs RAM no ``-numa`` node's backend
does. The backends themselves (``-object memory-backend-*``) are in backends.py: they are
objects QEMU creates before it reads ``-numa``, and nodes name them.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from numaopt.model import BackendKind, Dimm, GuestLayout, Machine, MemoryBackend
from numaopt.rules import Severity
from numaopt.units import MIB

from .backends import Backend
from .common import Arg, Context, Values
from .machine import MachineType
from .values import c_uint, flag, show, split_opts

DEFAULT_RAM_BYTES = 128 * MIB  # mc->default_ram_size of pc, q35 and virt; also what -m 0 means
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
_MEMORY_DEVICES = ("pc-dimm", "nvdimm", "virtio-mem-pci")
# QEMU 7.2's settable properties of each (`-device DRIVER,help`), besides driver, id and bus.
_DIMM_PROPS = frozenset({"addr", "memdev", "node", "size", "slot"})
_DEVICE_PROPS = {
    "pc-dimm": _DIMM_PROPS,
    "nvdimm": _DIMM_PROPS | {"label-size", "unarmed", "uuid"},
    "virtio-mem-pci": frozenset({
        "acpi-index", "addr", "aer", "any_layout", "ats", "block-size", "disable-legacy", "disable-modern", "event_idx",
        "failover_pair_id", "indirect_desc", "iommu_platform", "memaddr", "memdev", "migrate-extra", "modern-pio-notify",
        "multifunction", "node", "notify_on_empty", "packed", "page-per-vq", "prealloc", "queue_reset", "requested-size",
        "rombar", "romfile", "romsize", "size", "unplugged-inaccessible", "use-disabled-flag", "use-started",
        "virtio-pci-bus-master-bug-migration", "x-ats-page-aligned", "x-disable-legacy-check", "x-disable-pcie",
        "x-ignore-backend-features", "x-pcie-deverr-init", "x-pcie-extcap-init", "x-pcie-flr-init",
        "x-pcie-lnkctl-init", "x-pcie-lnksta-dllla", "x-pcie-pm-init",
    }),
}  # fmt: skip
_QDEV_KEYS = frozenset({"driver", "id", "bus"})
_PHYS_BITS_RANGE = (32, 52)  # x86_cpu_realizefn: TARGET_PHYS_ADDR_SPACE_BITS
_RAM_ALIGN = 8 * 1024  # machine_set_mem rounds -m up to this
_DIMM_ALIGN = 2 * MIB  # x86 pc-dimm backends (memory_device_get_free_addr, enforce_aligned_dimm)


@dataclass(frozen=True, slots=True)
class Ram:
    """-m: the RAM size, and the memory-hotplug area (maxmem=, slots=)."""

    size: int
    slots: int = 0
    maxmem: int | None = None


def read_ram(context: Context, values: Values) -> Ram:
    """-m size, slots= and maxmem= (keys merged over every -m, the last one winning)."""
    # vl.c parse_memory_options: a size ending in a digit is in MiB ("legacy suffix-less").
    size = values.number("size") or DEFAULT_RAM_BYTES  # -m 0 means the machine's default
    slots = values.number("slots") or 0
    maxmem = values.number("maxmem")
    if ("slots" in values or "maxmem" in values) and "maxmem" not in values:
        arg = values.where("slots")
        context.add(Severity.ERROR, "memory-slots", "slots specified but no max-size", f"at {show(arg.shown)}")
    return Ram(size, slots, maxmem)


def with_hotplug(layout: GuestLayout, context: Context, ram: Ram, devices: list[Arg], backends: dict[str, Backend]) -> GuestLayout:
    """``layout`` with -m's maxmem= and slots= and its pc-dimms (node, backend size), as
    numaopt renders them; left as it is when QEMU refused any of them (the reader has said
    so, and check_layout would say it again)."""
    if any(f.code in ("memory-slots", "memory-device") for f in context.findings):
        return layout
    dimms = []
    for arg in devices:
        props = device_props(arg.value or "")
        memdev = props.get("memdev")
        if props.get("driver") == "pc-dimm" and isinstance(memdev, str) and memdev in backends:
            dimms.append(Dimm(c_uint(str(props.get("node", 0))) or 0, backends[memdev].size))
    if ram.maxmem is None and not ram.slots and not dimms:
        return layout
    return dataclasses.replace(layout, maxmem_bytes=ram.maxmem, slots=ram.slots, dimms=tuple(dimms))


def legacy_memory(by_name: dict[str, list[Arg]], backend: MemoryBackend) -> MemoryBackend:
    """-mem-path DIR / -mem-prealloc: how RAM not given by a memory-backend object is backed
    (QEMU 7.2 create_default_memdev: a memory-backend-file in DIR, preallocated)."""
    if backend != MemoryBackend():
        return backend  # the nodes' memdev= backends say it themselves
    prealloc = "mem-prealloc" in by_name
    paths = by_name.get("mem-path", [])
    if paths and paths[-1].value:
        return MemoryBackend(kind=BackendKind.FILE, mem_path=paths[-1].value, prealloc=prealloc)
    return MemoryBackend(prealloc=prealloc)


# ---------------------------------------------------------------------------------------
# The x86 address space (pc_memory_init)


def check_address_space(context: Context, machine_type: MachineType, ram: Ram, cpus: list[str]) -> None:
    """pc_memory_init (QEMU 7.2, x86 under TCG): the highest guest-physical address in use
    (RAM above 4 GiB, the device-memory region of maxmem/slots, the 64-bit PCI hole) must
    fit the CPU's physical address bits (40 under TCG)."""
    model, *props = (cpus[-1] if cpus else "qemu64").split(",")
    if not model.startswith(_X86_64_MODELS) or machine_type.effective_version < (7, 1):
        return  # 32-bit models, and machine types before 7.1's AMD 1 TiB hole: not modelled
    # Under TCG phys-bits=N is the width (host-phys-bits and its limit are KVM's alone).
    given = [c_uint(p.partition("=")[2]) for p in props if p.partition("=")[0] == "phys-bits"]
    bits = given[-1] if given and given[-1] else _TCG_PHYS_BITS
    low, high = _PHYS_BITS_RANGE
    if not low <= bits <= high:
        context.add(Severity.ERROR, "phys-bits", f"phys-bits should be between {low} and {high}  (but is {bits})")  # sic: two spaces
        return
    amd = model.startswith(_AMD_MODELS)
    used = _x86_max_used_gpa(machine_type.machine, ram, _ABOVE_4G_START)
    if amd and used >= _AMD_HT_START:
        # enforce_amd_1tb_hole: RAM above 4 GiB moves above the HyperTransport hole, to 1 TiB.
        used = _x86_max_used_gpa(machine_type.machine, ram, _AMD_ABOVE_1TB_START)
    limit = (1 << bits) - 1
    if used > limit:
        context.add(
            Severity.ERROR,
            "phys-bits",
            f"Address space limit 0x{limit:x} < 0x{used:x} phys-bits too low ({bits})",
            "lower -m maxmem= (and slots=): every slot reserves 1 GiB more, and the 64-bit PCI hole follows",
        )


def _x86_max_used_gpa(machine: Machine, ram: Ram, above_4g_start: int) -> int:
    """pc_max_used_gpa: the end of the 64-bit PCI hole, after RAM and device memory."""
    gib = 1 << 30
    if machine is Machine.Q35:
        lowmem, hole64 = (0x80000000 if ram.size >= 0xB0000000 else 0xB0000000), 32 * gib  # Q35 pci-hole64-size
    else:
        lowmem, hole64 = (0xC0000000 if ram.size >= 0xE0000000 else 0xE0000000), 2 * gib  # i440fx; gigabyte_align
    above_4g_end = above_4g_start + max(0, ram.size - lowmem)
    start = above_4g_end
    if ram.maxmem is not None and ram.maxmem > ram.size:
        # pc_get_device_memory_range: maxmem - ram, plus 1 GiB per slot (enforce_aligned_dimm).
        start = -(-above_4g_end // gib) * gib + ram.maxmem - ram.size + ram.slots * gib
    return -(-start // gib) * gib + hole64 - 1


# ---------------------------------------------------------------------------------------
# Memory devices (-device pc-dimm, nvdimm, virtio-mem-pci)


def device_props(value: str) -> dict[str, Any]:
    """A -device value as properties, keyval (``pc-dimm,id=d0``) or JSON (``{"driver": ...}``);
    the first bare element is the driver. Unreadable JSON is no properties (QEMU says why)."""
    if value.lstrip().startswith("{"):
        try:
            data = json.loads(value)
        except (ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}
    props: dict[str, Any] = {}
    for index, element in enumerate(split_opts(value)):
        key, eq, val = element.partition("=")
        if eq:
            props[key] = val
        elif index == 0:
            props["driver"] = key
    return props


def unknown_property(props: dict[str, Any]) -> str | None:
    """QEMU's refusal of a memory device's first property it does not have, if any."""
    driver = str(props.get("driver"))
    for key in props:
        if key not in _QDEV_KEYS and key not in _DEVICE_PROPS.get(driver, _QDEV_KEYS):
            return f"Property '{driver}.{show(key, 60)}' not found"
    return None


def check_virt_memory_devices(context: Context, by_name: dict[str, list[Arg]], machine_props: dict[str, str]) -> None:
    """virt_memory_pre_plug (QEMU 7.2): pc-dimm and nvdimm need the ACPI GED device, which
    virt creates only with firmware loaded (-bios, -pflash or an if=pflash drive) and ACPI on."""
    firmware = "bios" in by_name or "pflash" in by_name
    firmware = firmware or any("if=pflash" in (arg.value or "") for arg in by_name.get("drive", []))
    if firmware and flag(machine_props.get("acpi", "on")) is not False:
        return
    for arg in by_name.get("device", []):
        props = device_props(arg.value or "")
        if props.get("driver") in ("pc-dimm", "nvdimm") and (unknown := unknown_property(props)):
            context.add(Severity.ERROR, "memory-device", unknown, f"at {show(arg.shown)}")
            return
        if props.get("driver") in ("pc-dimm", "nvdimm"):
            context.add(
                Severity.ERROR,
                "memory-hotplug-disabled",
                "memory hotplug is not enabled: missing acpi-ged device",
                f"at {show(arg.shown)}: virt has it only when booting firmware (-bios or -pflash) with ACPI on",
            )
            return


@dataclass(frozen=True, slots=True)
class PcBoard:
    """What pc_memory_pre_plug and a memory device's realize look at on pc and q35."""

    acpi: bool
    nvdimm: bool  # -machine nvdimm=on
    slots: int
    nodes: int  # NUMA nodes, with the one QEMU adds for memory hotplug
    backend_ids: frozenset[str]
    area: int  # bytes of the device-memory area (maxmem - RAM), 0 without one
    backend_sizes: dict[str, int]


def check_pc_memory_devices(context: Context, board: PcBoard, devices: list[Arg]) -> None:
    """The first pc-dimm, nvdimm or virtio-mem-pci QEMU 7.2 refuses, if any.

    QEMU plugs -device options after the machine is built, so this comes after the
    machine's own refusals (qemu_findings puts it there). Each device takes a slot and
    room in the device-memory area before the next is plugged."""
    plugged = _Plugged()
    for arg in devices:
        props = device_props(arg.value or "")
        if props.get("driver") not in _MEMORY_DEVICES:
            continue
        message = _pc_device_refusal(board, props, plugged)
        if message:
            context.add(Severity.ERROR, "memory-device", message, f"at {show(arg.shown)}")
            return


def pc_board(
    by_name: dict[str, list[Arg]], machine_props: dict[str, str], ram: Ram, backends: dict[str, Backend], nodes: int
) -> PcBoard:
    """The pc/q35 board as its memory devices see it."""
    acpi = flag(machine_props.get("acpi", "on")) is not False and "no-acpi" not in by_name
    # auto_enable_numa_with_memhp: pc and q35 make one node when memory hotplug is on.
    hotplug_nodes = nodes or (1 if ram.slots or ram.maxmem is not None else 0)
    nvdimm = flag(machine_props.get("nvdimm", "off")) is True
    # machine_set_mem rounds -m up to 8 KiB; the device-memory area is maxmem minus that.
    ram_size = -(-ram.size // _RAM_ALIGN) * _RAM_ALIGN
    area = max(0, ram.maxmem - ram_size) if ram.maxmem is not None else 0
    sizes = {name: backend.size for name, backend in backends.items()}
    return PcBoard(acpi, nvdimm, ram.slots, hotplug_nodes, frozenset(backends), area, sizes)


@dataclass(slots=True)
class _Plugged:
    """The memory devices plugged so far: slots taken, bytes of the device-memory area used."""

    slots: set[int] = dataclasses.field(default_factory=set)
    used: int = 0


def _pc_device_refusal(board: PcBoard, props: dict[str, Any], plugged: _Plugged) -> str | None:
    """QEMU 7.2's checks of one memory device, in its order: its memdev (a property, set
    first), pc_memory_pre_plug (ACPI, nvdimm=on, a free slot, then memory_device_pre_plug:
    alignment and room left), then the device's realize (node=)."""
    driver = props.get("driver")
    memdev, node = props.get("memdev"), c_uint(str(props.get("node", 0)))
    unknown = unknown_property(props)
    if unknown:
        return unknown
    if isinstance(memdev, str) and memdev not in board.backend_ids:
        return f"Device '{show(memdev, 60)}' not found"
    if driver != "virtio-mem-pci" and not board.acpi:
        return "memory hotplug is not enabled: missing acpi device or acpi disabled"
    if driver == "nvdimm" and not board.nvdimm:
        return "nvdimm is not enabled: missing 'nvdimm' in '-M'"
    size = board.backend_sizes.get(memdev) if isinstance(memdev, str) else None
    room = _room_refusal(board, driver, size, c_uint(str(props.get("slot", ""))) if "slot" in props else None, plugged)
    if room:
        return room
    nodes = board.nodes
    if node is not None and (node >= nodes if nodes else node > 0):
        if driver == "virtio-mem-pci":  # sic: QEMU 7.2's message lacks the space
            return f"'node' property has value '{node}', which exceedsthe number of numa nodes: {nodes}"
        return f"'DIMM property node has value {node}' which exceeds the number of numa nodes: {nodes}"
    return None


def _room_refusal(board: PcBoard, driver: object, size: int | None, slot: int | None, plugged: _Plugged) -> str | None:
    """A slot (DIMMs only; pc_dimm_get_free_slot, slot= or the first free one), then
    memory_device_pre_plug's area, a pc-dimm's 2 MiB alignment and the room left; counts
    the device as plugged if it fits."""
    if driver != "virtio-mem-pci":
        if not board.slots:
            return "no slots where allocated, please specify the 'slots' option"  # sic
        if slot is not None and slot >= board.slots:
            return f"invalid slot number {slot}, valid range is [0-{board.slots - 1}]"
        if slot is not None and slot in plugged.slots:
            return f"slot {slot} is busy"
        free = [n for n in range(board.slots) if n not in plugged.slots]
        if not free:
            return "no free slots available"
        slot = free[0] if slot is None else slot
    if size is None:
        return None  # no memdev= (QEMU says so in words numaopt does not model)
    if not board.area:
        return "memory devices (e.g. for memory hotplug) are not enabled, please specify the maxmem option"
    if driver == "pc-dimm" and size % _DIMM_ALIGN:
        return f"backend memory size must be multiple of 0x{_DIMM_ALIGN:x}"
    if plugged.used + size > board.area:
        return f"not enough space, currently 0x{plugged.used:x} in use of total space for memory devices 0x{board.area:x}"
    if driver != "virtio-mem-pci" and slot is not None:
        plugged.slots.add(slot)
    plugged.used += size
    return None
