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
from numaopt.model import GuestLayout, Machine
from numaopt.rules import Finding

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

__all__ = ["QemuConfig", "read_qemu_args"]

MAX_OPTIONS = 100_000  # a 128-node guest with every distance and CPU given has about 21,000
_X86_BINARIES = ("qemu-system-x86_64", "qemu-system-i386")
_ARM_BINARIES = ("qemu-system-aarch64",)


@dataclass(frozen=True, slots=True)
class QemuConfig:
    """What a QEMU command line asks for, and what QEMU would say about it."""

    layout: GuestLayout
    findings: list[Finding] = field(default_factory=list)  # RuleSet.QEMU, arg-level only
    machine_type: str = ""  # as written or implied: "q35", "pc-q35-5.0", "virt", ...


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
    ram = read_ram(context, memory_values(context, by_name.get("m", [])))
    maxcpus, shape = read_smp(context, *smp_values(context, args), machine_type)
    board = Board(machine_type, machine_props, shape, maxcpus)
    if board.machine is Machine.VIRT:
        check_gic(context, machine_props.get("gic-version"), maxcpus, kvm)
    backends = read_objects(context, by_name.get("object", []))
    numa = NumaState(context, board, backends)
    for arg in by_name.get("numa", []):
        read_numa(numa, arg)
    nodes, distances, backend = complete(numa)
    backend = legacy_memory(by_name, backend)
    # Devices are plugged after the machine is built: their refusals come after its own.
    if board.machine is Machine.VIRT:
        check_virt_memory_devices(context, by_name, machine_props)
    else:
        check_smt(context, read_x86_cpu([arg.value or "" for arg in by_name.get("cpu", [])]), shape.threads, kvm)
        if not kvm:
            check_address_space(context, machine_type, ram, [arg.value or "" for arg in by_name.get("cpu", [])])
        devices = by_name.get("device", [])
        check_pc_memory_devices(context, pc_board(by_name, machine_props, ram, set(backends), len(nodes)), devices)
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
    return QemuConfig(layout=layout, findings=list(context.findings), machine_type=machine_type.name)


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
