"""``-machine`` / ``-M`` and ``-smp``: the board, and the vCPU topology on it.

They are one family because QEMU 7.2 makes them one: ``-smp`` is the machine's ``smp``
property (``-machine smp.cpus=4`` is the same thing, merged with ``-smp`` key by key),
how an ``-smp`` with missing levels is completed depends on the machine type's version,
and the board (type, properties, topology) is what every later family reads: the memory
checks, the ``-numa`` options and the default CPU-to-node mapping.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from numaopt.model import CpuShape, Machine
from numaopt.rules import Severity

from .common import Arg, Context
from .values import flag, show

MAX_READ_VCPUS = 4096  # beyond every machine's limit (QEMU 7.2: pc 255, q35 288, virt 512)
GICV2_MAX_CPUS = 8  # hw/arm/virt.c: GIC_NCPU
# The newest machine version of QEMU 7.2; unversioned q35 / pc / virt are aliases of it.
NEWEST_VERSION = (7, 2)
# Oldest versioned machine type each family has in QEMU 7.2 (query-machines).
_OLDEST_VERSION = {"pc-q35": (2, 4), "pc-i440fx": (1, 4), "virt": (2, 6)}
_FAMILIES = {"q35": Machine.Q35, "pc": Machine.PC, "virt": Machine.VIRT}
_VERSIONED = {"pc-q35": Machine.Q35, "pc-i440fx": Machine.PC, "virt": Machine.VIRT}
_VERSIONED_NAME = re.compile(r"(pc-q35|pc-i440fx|virt)-(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?")
_VALID_TYPES = "q35, pc, virt and versioned names such as pc-q35-7.2, pc-i440fx-7.2, virt-7.2"


@dataclass(frozen=True, slots=True)
class MachineType:
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


@dataclass(frozen=True, slots=True)
class Board:
    """The machine as the families after ``-smp`` see it."""

    machine_type: MachineType
    props: dict[str, str]  # -machine properties, merged (later keys win)
    shape: CpuShape
    maxcpus: int

    @property
    def machine(self) -> Machine:
        return self.machine_type.machine

    def flag(self, key: str, default: str) -> bool | None:
        """A boolean -machine property (hmat, acpi, nvdimm) as the board reads it."""
        return flag(self.props.get(key, default))


# ---------------------------------------------------------------------------------------
# -machine


def read_machine(context: Context, args: list[Arg], arch: str | None) -> tuple[MachineType, dict[str, str]]:
    """-machine options merge (later keys win), like QEMU's machine opts."""
    props: dict[str, str] = {}
    shown = {}
    for arg in args:
        for key, value in context.opts(arg, "type", None):
            props[key] = value
            shown[key] = arg.shown
    if "type" not in props:
        if arch == "arm":
            context.add(
                Severity.ERROR,
                "no-default-machine",
                "No machine specified, and there is no default",
                "qemu-system-aarch64 needs -machine virt; numaopt read the command as virt",
            )
            return MachineType(Machine.VIRT, "virt", None), props
        return MachineType(Machine.PC, "pc", None), props  # qemu-system-x86_64's default
    return machine_type(context, shown["type"], props["type"], arch), props


def machine_type(context: Context, where: str, name: str, arch: str | None) -> MachineType:
    """A machine type name: q35, pc, virt, or a versioned one QEMU 7.2 may or may not have."""
    if name in _FAMILIES:
        machine, version = _FAMILIES[name], None
    else:
        match = _VERSIONED_NAME.fullmatch(name)
        if not match or (match.group(4) is not None and match.group(1) != "pc-q35"):
            raise context.fail(where, f"machine type {show(name, 60)!r} is not one numaopt knows ({_VALID_TYPES})")
        family = match.group(1)
        machine = _VERSIONED[family]
        version = (int(match.group(2)), int(match.group(3)))
        if not _OLDEST_VERSION[family] <= version <= NEWEST_VERSION:
            context.add(
                Severity.WARNING,
                "machine-version",
                f"QEMU 7.2 has no machine type {name}: it prints 'unsupported machine type'",
                f"QEMU 7.2 has {family}-{'.'.join(map(str, _OLDEST_VERSION[family]))} to {family}-7.2",
            )
    wanted = "arm" if machine is Machine.VIRT else "x86"
    if arch is not None and arch != wanted:
        binary = "qemu-system-aarch64" if arch == "arm" else "qemu-system-x86_64"
        has = "virt" if arch == "arm" else "q35 and pc"
        raise context.fail(
            where, f"{binary} has no machine {show(name, 60)} (QEMU: unsupported machine type); it has {has}"
        )
    return MachineType(machine, name, version)


def uses_kvm(by_name: dict[str, list[Arg]], machine_props: dict[str, str]) -> bool:
    """-enable-kvm, -accel kvm or -machine accel=kvm: the accelerator decides some limits."""
    if "enable-kvm" in by_name:
        return True
    accels = [machine_props.get("accel", "")] + [arg.value or "" for arg in by_name.get("accel", [])]
    return any("kvm" in accel for accel in accels)


def check_gic(context: Context, version: str | None, maxcpus: int, kvm: bool) -> None:
    """hw/arm/virt.c: GICv2 (the TCG default when gic-version is not given) takes 8 vCPUs."""
    if maxcpus <= GICV2_MAX_CPUS:
        return
    # Without gic-version, KVM picks GICv3 for > 8 vCPUs (finalize_gic_version); TCG picks v2.
    if version == "2" or (version is None and not kvm):
        context.add(
            Severity.ERROR,
            "gic-max-cpus",
            f"Number of SMP CPUs requested ({maxcpus}) exceeds max CPUs supported by machine "
            f"'mach-virt' ({GICV2_MAX_CPUS})",
            "use -machine virt,gic-version=3 (or max): GICv2 takes at most 8 vCPUs",
        )


# ---------------------------------------------------------------------------------------
# -smp (machine-smp.c machine_parse_smp_config, 7.2)


@dataclass(frozen=True, slots=True)
class _Topology:
    """-smp after QEMU completed the levels not given (a level may still be 0: refused)."""

    cpus: int
    maxcpus: int
    sockets: int
    dies: int
    clusters: int
    cores: int
    threads: int


def read_smp(
    context: Context, given: dict[str, int], last: Arg | None, machine_type: MachineType
) -> tuple[int, CpuShape]:
    """The vCPU count (maxcpus) and topology from the -smp keys given (merged like QEMU
    merges them; ``last`` is the option that gave the last key)."""
    if any(value == 0 for value in given.values()):
        context.add(
            Severity.WARNING,
            "smp-zero",
            "Deprecated CPU topology (considered invalid): CPU topology parameters must be greater than zero",
            "leave a level out instead of giving 0",
        )
    virt = machine_type.machine is Machine.VIRT
    t = _complete(given, machine_type.prefer_sockets)
    levels = f"sockets ({t.sockets}) * " + (f"clusters ({t.clusters})" if virt else f"dies ({t.dies})")
    levels += f" * cores ({t.cores}) * threads ({t.threads})"
    where = last.shown if last else "-smp"
    if 0 in (t.sockets, t.cores, t.threads):
        # QEMU refuses; a CpuShape cannot hold a level of 0, so this one is an error here.
        raise context.fail(
            where,
            f"Invalid CPU topology: product of the hierarchy must match maxcpus: {levels} != maxcpus ({t.maxcpus})",
        )
    if t.maxcpus > MAX_READ_VCPUS:
        raise context.fail(
            where, f"{t.maxcpus} vCPUs: numaopt reads at most {MAX_READ_VCPUS} (QEMU 7.2 allows 512 on virt)"
        )
    # QEMU refuses dies (virt) or clusters (pc, q35) > 1 before it compares maxcpus with
    # cpus; check_layout reports that refusal ("smp-dies", "smp-clusters").
    unsupported_level = given.get("dies" if virt else "clusters", 0) > 1
    _check_maxcpus(context, t, levels, unsupported_level)
    shape = CpuShape(sockets=t.sockets, dies=t.dies, clusters=t.clusters, cores=t.cores, threads=t.threads)
    return t.maxcpus, shape


def _complete(given: dict[str, int], prefer_sockets: bool) -> _Topology:
    """machine_parse_smp_config: the levels not given (or 0), from maxcpus or cpus."""
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
        if prefer_sockets:
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
    maxcpus = maxcpus or sockets * dies * clusters * cores * threads
    return _Topology(cpus or maxcpus, maxcpus, sockets, dies, clusters, cores, threads)


def _check_maxcpus(context: Context, topology: _Topology, levels: str, unsupported_level: bool) -> None:
    """maxcpus below cpus is refused; above it is CPU hotplug, which numaopt does not model."""
    maxcpus, cpus = topology.maxcpus, topology.cpus
    if maxcpus < cpus and not unsupported_level:
        context.add(
            Severity.ERROR,
            "smp-maxcpus",
            "Invalid CPU topology: maxcpus must be equal to or greater than smp: "
            f"{levels} == maxcpus ({maxcpus}) < smp_cpus ({cpus})",
        )
    elif maxcpus > cpus:
        context.add(
            Severity.WARNING,
            "cpu-hotplug",
            f"-smp maxcpus={maxcpus} > cpus={cpus}: numaopt does not model CPU hotplug; the layout holds all "
            f"{maxcpus} possible vCPUs, {cpus} of them present at boot",
        )


# ---------------------------------------------------------------------------------------
# -cpu: the x86 model's vendor and topoext, as far as they decide whether the guest sees
# SMT threads (target/i386/cpu.c x86_cpu_realizefn, 7.2)

# Models whose vendor is AuthenticAMD under TCG; with their -vN versions. Measured: each
# model of `qemu-system-x86_64 -cpu help` (7.2) under TCG with -smp 4,threads=2 -S; these
# and no others print the warning (Dhyana is HygonGenuine; `base` has no vendor).
_AMD_MODELS = frozenset({"qemu64", "max", "athlon", "phenom", "EPYC", "EPYC-IBPB", "EPYC-Rome", "EPYC-Milan"})
_AMD_MODELS_PREFIX = ("Opteron_G",)
# Models that list topoext themselves: under KVM on an AMD host they keep it (measured:
# EPYC and Dhyana quiet, EPYC,-topoext warns); TCG never provides topoext.
_TOPOEXT_MODELS = ("EPYC", "Dhyana")
AMD_VENDOR = "AuthenticAMD"
SMT_WARNING = (
    "This family of AMD CPU doesn't support hyperthreading({threads}) "
    "Please configure -smp options properly or try enabling topoext feature."
)
# What the Debian 6.1 guest then sees (booted under TCG, -smp 4,sockets=2,threads=2 with
# -cpu max and qemu64; tests/guest/test_sched_groups_boot.py keeps the boot).
SMT_GUEST = (
    "no SMT at all: every thread is a core of its own (thread_siblings_list of vCPU 0 is '0', core_id 0 and "
    "1 for the two threads, both in core_siblings_list), so the scheduler has no SMT level"
)
SMT_FIX = "-cpu max,vendor=GenuineIntel (or an Intel model such as Skylake-Server) under TCG; an EPYC model under KVM"


@dataclass(frozen=True, slots=True)
class X86Cpu:
    """The last -cpu: its model and the +/- features and properties given (later wins)."""

    model: str
    features: dict[str, bool]  # feature -> on/off as given (+f, -f, f=on|off, bare f)
    vendor: str | None  # vendor= as given

    @property
    def base_model(self) -> str:
        return re.sub(r"-v\d+$", "", self.model)


def read_x86_cpu(values: list[str]) -> X86Cpu:
    """The last -cpu wins, as in QEMU; no -cpu is qemu64 (the pc and q35 default)."""
    model, *props = (values[-1] if values else "qemu64").split(",")
    features: dict[str, bool] = {}
    vendor = None
    for prop in props:
        key, eq, value = prop.partition("=")
        if key[:1] in "+-" and not eq:
            features[key[1:]] = key[0] == "+"
        elif key == "vendor":
            vendor = value
        else:
            on = flag(value) if eq else True
            if on is not None:
                features[key] = on
    return X86Cpu(model, features, vendor)


def check_smt(context: Context, cpu: X86Cpu, threads: int, kvm: bool) -> None:
    """x86_cpu_realizefn: an AMD-vendor CPU without topoext and threads > 1 warns, once.

    Under TCG the vendor is the model's (or vendor=), and topoext is never there (TCG
    filters it). Under KVM every named model takes the host's vendor unless vendor= is
    given, and topoext is there when the model or a +topoext asks and the host has it:
    numaopt does not know the host, so it warns only when the answer is the same on any
    host that would warn (an AMD host; an Intel one never does)."""
    if threads <= 1:
        return
    base = cpu.base_model
    amd_model = base in _AMD_MODELS or base.startswith(_AMD_MODELS_PREFIX)
    if not kvm:
        if (cpu.vendor or (AMD_VENDOR if amd_model else "")) != AMD_VENDOR:
            return
        where = "under TCG"
    else:
        if base in ("host", "max") or (cpu.vendor is not None and cpu.vendor != AMD_VENDOR):
            return  # the host's own CPU, or not AMD whatever the host
        if cpu.features.get("topoext", base.startswith(_TOPOEXT_MODELS)):
            return
        where = "under KVM on an AMD host (on an Intel host the vendor is Intel and QEMU says nothing)"
    context.add(
        Severity.WARNING,
        "smt-amd-no-topoext",
        f"{SMT_WARNING.format(threads=threads)} ({where}, -cpu {show(cpu.model, 40)}); in the guest: {SMT_GUEST}",
        SMT_FIX,
    )
