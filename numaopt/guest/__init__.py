"""Boot a layout in the real QEMU with a tiny Linux guest and judge what the guest sees.

* ``kit``: build and cache the guest kernel (Debian's cloud kernel or a given one) and an
  initramfs whose init prints a machine-readable report, then resets the machine;
* ``boot``: run QEMU with ``-kernel/-initrd/-append``, under a timeout, reaping it always;
* ``report``: parse the report (nodes, CPUs, scheduler domains, kernel messages);
* ``oracles``: what Linux's rules predict the guest shows, and the four oracles of fuzzing;
* ``verify``: level 1 (QEMU ``-S`` + QMP) and level 2 (boot) checks of one layout.
"""

from numaopt.guest.boot import BootResult, boot, boot_argv, kvm_usable
from numaopt.guest.kit import GuestKit, GuestKitError, build_kit, cache_dir, load_kit
from numaopt.guest.oracles import Failure, Oracle, expected_view, guest_node_ids, judge, judge_report
from numaopt.guest.report import GuestReport, ReportError, numactl_text, parse_report
from numaopt.guest.verify import BootVerification, QemuVerification, boot_mismatches, verify_boot, verify_qemu

__all__ = [
    "BootResult",
    "BootVerification",
    "Failure",
    "GuestKit",
    "GuestKitError",
    "GuestReport",
    "Oracle",
    "QemuVerification",
    "ReportError",
    "boot",
    "boot_argv",
    "boot_mismatches",
    "build_kit",
    "cache_dir",
    "expected_view",
    "guest_node_ids",
    "judge",
    "judge_report",
    "kvm_usable",
    "load_kit",
    "numactl_text",
    "parse_report",
    "verify_boot",
    "verify_qemu",
]
