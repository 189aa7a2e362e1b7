"""Words -> a ``QemuConfig``: the binary, the options, then each option family in the order
QEMU 7.2 applies them.

This module is the order and nothing else: which family runs when, and what each hands
the next (the machine type to -smp, the board to -numa, the backends to the nodes that
name them). What an option may contain is in grammar.py; what it means, in the family's
module (machine.py, memory.py, backends.py, numa.py, hmat.py, complete.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from numaopt.errors import QemuArgsError
from numaopt.layout import QEMU_COMPLETE_CODES, QEMU_DEVICE_CODES, QEMU_SMP_CODES, check_layout
from numaopt.model import GuestLayout, Machine
from numaopt.rules import Finding, RuleSet

from .common import Arg, Context
from .complete import complete
from .grammar import OPTIONS, memory_values, read_numa, read_objects, smp_values
from .hmat import with_hmat
from .machine import Board, check_gic, check_smt, read_machine, read_smp, read_x86_cpu, uses_kvm
from .memory import (
    check_address_space,
    check_pc_memory_devices,
    check_virt_memory_devices,
    legacy_memory,
    pc_board,
    read_ram,
    with_hotplug,
)
from .shell import split_command
from .state import NumaState

__all__ = ["QemuConfig", "qemu_findings", "read_qemu_args"]

MAX_OPTIONS = 100_000  # a 128-node guest with every distance and CPU given has about 21,000
_X86_BINARIES = ("qemu-system-x86_64", "qemu-system-i386")
_ARM_BINARIES = ("qemu-system-aarch64",)


@dataclass(frozen=True, slots=True)
class QemuConfig:
    """What a QEMU command line asks for, and what QEMU would say about it.

    ``findings`` are the arg-level ones, in QEMU's order; the rules the layout carries
    (check_layout) fall between them. The three indexes cut ``findings`` where QEMU
    moves on: to -smp (``smp_at``), to completing the NUMA configuration after the last
    option (``complete_at``), to building the board and plugging devices (``board_at``).
    ``qemu_findings`` puts them all in that order."""

    layout: GuestLayout
    findings: list[Finding] = field(default_factory=list)  # RuleSet.QEMU, arg-level only
    machine_type: str = ""  # as written or implied: "q35", "pc-q35-5.0", "virt", ...
    smp_at: int = 0
    complete_at: int | None = None  # None: after every finding
    board_at: int | None = None
    acpi: bool = True  # pc/q35 with ACPI (neither -machine acpi=off nor -no-acpi): where an x86 guest reads its nodes


def qemu_findings(config: QemuConfig) -> list[Finding]:
    """Everything QEMU 7.2 says about the command line, in the order it says it (docs/rules.md,
    #check-vs-qemu-corpus): the machine's options; -smp; -m, the backends and each -numa
    option (the reader's findings, then the layout's on node ids, CPUs, distances, HMAT);
    the NUMA configuration completed (the layout's node ids and memory, then the reader's
    backends, distances, initiators); the board and the devices (the reader's, then the
    layout's DIMMs). The first error is QEMU's first message."""
    on_layout = check_layout(config.layout, RuleSet.QEMU)
    smp = [f for f in on_layout if f.code in QEMU_SMP_CODES]
    completed = [f for f in on_layout if f.code in QEMU_COMPLETE_CODES]
    devices = [f for f in on_layout if f.code in QEMU_DEVICE_CODES]
    parsed = [f for f in on_layout if f not in smp and f not in completed and f not in devices]
    found = config.findings
    complete_at = len(found) if config.complete_at is None else config.complete_at
    board_at = len(found) if config.board_at is None else config.board_at
    ordered = (
        found[: config.smp_at] + smp + found[config.smp_at : complete_at] + parsed
        + completed + found[complete_at:board_at] + found[board_at:] + devices
    )  # fmt: skip
    return list(dict.fromkeys(ordered))


def read_qemu_args(text: str, source: str = "<args>") -> QemuConfig:
    """Read a QEMU command line into a ``QemuConfig`` (layout plus arg-level findings).

    Raises ``QemuArgsError`` for text that is not a QEMU command numaopt can read: an
    unknown option, a bare word, or a value QEMU could not parse.
    """
    argv = split_command(text, source)
    if not argv:
        raise QemuArgsError("no QEMU arguments in the text", source=source)
    if len(argv) > 2 * MAX_OPTIONS + 1:
        raise QemuArgsError(f"{len(argv)} words: numaopt reads at most {MAX_OPTIONS} options", source=source)
    context = Context(source)
    arch = None
    if not argv[0].startswith("-"):
        arch = _binary(context, argv[0])
        argv = argv[1:]
    return _read_families(context, _options(context, argv), arch)


def _read_families(context: Context, args: list[Arg], arch: str | None) -> QemuConfig:
    """The option families in QEMU's order (vl.c qemu_init, then the board's init)."""
    by_name: dict[str, list[Arg]] = {}
    for arg in args:
        by_name.setdefault(OPTIONS[arg.name].alias_of or arg.name, []).append(arg)
    machine_type, machine_props = read_machine(context, by_name.get("machine", []), arch)
    kvm = uses_kvm(by_name, machine_props)
    smp_at = len(context.findings)
    maxcpus, shape = read_smp(context, *smp_values(context, args), machine_type)
    ram = read_ram(context, memory_values(context, by_name.get("m", [])))  # QEMU sets -m after -smp
    board = Board(machine_type, machine_props, shape, maxcpus)
    backends = read_objects(context, by_name.get("object", []))
    numa = NumaState(context, board, backends)
    for arg in by_name.get("numa", []):
        read_numa(numa, arg)
    complete_at = len(context.findings)
    nodes, distances, backend = complete(numa)
    backend = legacy_memory(by_name, backend)
    # The board is built after QEMU completes the NUMA configuration (the layout's node
    # memory rule), and devices are plugged after the board: what they refuse comes last.
    board_at = len(context.findings)
    acpi = True  # virt: the guest reads a device tree
    if board.machine is Machine.VIRT:
        check_gic(context, machine_props.get("gic-version"), maxcpus, kvm)
        check_virt_memory_devices(context, by_name, machine_props)
    else:
        check_smt(context, read_x86_cpu([arg.value or "" for arg in by_name.get("cpu", [])]), shape.threads, kvm)
        if not kvm:
            check_address_space(context, machine_type, ram, [arg.value or "" for arg in by_name.get("cpu", [])])
        devices = by_name.get("device", [])
        pc = pc_board(by_name, machine_props, ram, backends, len(nodes))
        check_pc_memory_devices(context, pc, devices)
        acpi = pc.acpi
    layout = GuestLayout(
        vcpus=maxcpus,
        memory_bytes=ram.size,
        nodes=nodes,
        shape=shape,
        distances=distances,
        machine=board.machine,
        backend=backend,
        rules=board.machine.default_rules,
    )
    layout = with_hmat(layout, numa)
    if board.machine is not Machine.VIRT:
        layout = with_hotplug(layout, context, ram, by_name.get("device", []), backends)
    return QemuConfig(
        layout=layout,
        findings=list(context.findings),
        machine_type=machine_type.name,
        smp_at=smp_at,
        complete_at=complete_at,
        board_at=board_at,
        acpi=acpi,
    )


def _binary(context: Context, word: str) -> str:
    """The architecture of a leading ``qemu-system-*`` (a path to one is fine)."""
    name = word.rsplit("/", 1)[-1]
    if name in _X86_BINARIES:
        return "x86"
    if name in _ARM_BINARIES:
        return "arm"
    known = ", ".join((*_X86_BINARIES, *_ARM_BINARIES))
    if name.startswith("qemu"):
        raise context.fail(word, f"numaopt reads commands for {known}")
    raise context.fail(word, f"expected a QEMU binary ({known}) or an option such as -m; paste the QEMU command alone")


def _options(context: Context, argv: list[str]) -> list[Arg]:
    """Words -> options, each with its value when ``OPTIONS`` says it takes one."""
    args: list[Arg] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("-") or token in ("-", "--"):
            raise context.fail(
                token,
                "not an option: QEMU options start with '-' (QEMU would open a bare word as a disk image; "
                "numaopt reads one QEMU command, without pipes, redirections or disk-image arguments)",
            )
        name = token[2:] if token.startswith("--") else token[1:]
        option = OPTIONS.get(name)
        if option is None:
            raise context.fail(
                token,
                "not a QEMU option numaopt knows (it reads -machine/-M, -m, -smp, -object and -numa, "
                "and skips common options such as -cpu, -accel, -kernel, -drive, -device, -netdev)",
            )
        if option.takes_value:
            if i + 1 >= len(argv):
                raise context.fail(token, "requires an argument")
            args.append(Arg(name, argv[i + 1], f"{token} {argv[i + 1]}"))
            i += 2
        else:
            args.append(Arg(name, None, token))
            i += 1
    return args
