"""What the VM-manager renderers (libvirt, Proxmox VE, Cloud Hypervisor) need beyond the plan.

A plan says where the guest's nodes, vCPUs and memory go; a VM manager's configuration
also names the VM, picks a CPU model (which depends on the accelerator it will run
under) and may boot a kernel directly. Those choices live in one small frozen object so
every renderer makes them the same way.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from numaopt.model import Machine

DEFAULT_NAME = "numaopt-guest"
# The x86 CPU under TCG wherever threads matter: QEMU's default (qemu64) and "max" are AMD
# CPUs without topoext there, whose guest sees every thread as a core of its own ("This
# family of AMD CPU doesn't support hyperthreading"). With Intel's vendor, max exposes
# CPUID leaves 0xB/0x1F and the guest sees threads, cores and dies as -smp asks.
TCG_X86_CPU = "max,vendor=GenuineIntel"


class Accel(enum.StrEnum):
    """The accelerator the guest runs under: it decides the CPU model."""

    KVM = "kvm"  # the host's own CPU, passed through
    TCG = "tcg"  # emulation: a named model QEMU emulates on any host


@dataclass(frozen=True, slots=True)
class VmOptions:
    """The VM's name, accelerator and an optional direct kernel boot (paths as given)."""

    name: str = DEFAULT_NAME
    accel: Accel = Accel.KVM
    kernel: str | None = None
    initrd: str | None = None
    cmdline: str | None = None  # None: a serial console for the machine (see kernel_cmdline)


def cpu_model(machine: Machine, accel: Accel) -> str:
    """The QEMU CPU model a VM manager's configuration asks for.

    Under KVM the host's CPU ("host"). Under TCG: cortex-a57 on aarch64 ``virt`` (the
    seed layout's CPU; 64-bit, with the GICv3 CPU interface QEMU emulates), and "max" on
    x86, which is an AMD CPU there: a renderer that can set the vendor gives SMT layouts
    ``TCG_X86_CPU`` instead, and libvirt (whose maximum mode cannot) qemu64 with Intel's.
    """
    if accel is Accel.KVM:
        return "host"
    return "cortex-a57" if machine is Machine.VIRT else "max"


def kernel_cmdline(machine: Machine, options: VmOptions) -> str:
    """The kernel command line: the given one, or the machine's serial console."""
    if options.cmdline is not None:
        return options.cmdline
    return "console=ttyAMA0" if machine is Machine.VIRT else "console=ttyS0"
