"""libvirt's own QEMU driver, asked for the QEMU command line it makes of a domain."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path

# Arguments of libvirt's QEMU command line that build the machine, its CPUs and NUMA nodes
# (the rest are devices, files, sandboxing and the monitor, which probe adds itself).
MACHINE_FLAGS = {"-machine", "-accel", "-cpu", "-m", "-smp", "-object", "-numa", "-no-acpi"}


def libvirt_qemu_argv(xml: str) -> list[str]:
    """The QEMU command line libvirt's own QEMU driver makes of a domain (``virsh
    domxml-to-native`` on an embedded driver: no daemon). As root the driver would run
    QEMU as Debian's libvirt-qemu user, which only libvirt-daemon-system creates, so
    root asks as nobody; anyone else asks as themselves."""
    assert shutil.which("virsh"), "virsh missing: scripts/test.sh installs libvirt-clients"
    root = Path(tempfile.mkdtemp(prefix="numaopt-libvirt-", dir="/tmp"))
    try:
        root.chmod(0o777)
        domain = root / "domain.xml"
        domain.write_text(xml)
        domain.chmod(0o644)
        as_nobody = ["runuser", "-u", "nobody", "--"] if os.geteuid() == 0 else []
        command = [*as_nobody, "env", f"HOME={root}", "virsh", "-c", f"qemu:///embed?root={root}"]
        result = subprocess.run([*command, "domxml-to-native", "qemu-argv", str(domain)], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr + " (scripts/test.sh installs libvirt-daemon-driver-qemu)"
    finally:
        shutil.rmtree(root, ignore_errors=True)
    words = shlex.split(result.stdout)
    start = next(i for i, word in enumerate(words) if "qemu-system-" in word)  # after VAR=value words
    argv = [Path(words[start]).name]
    for flag, value in zip(words[start + 1 :], [*words[start + 2 :], ""], strict=True):
        if (flag in MACHINE_FLAGS and not (flag == "-object" and '"secret"' in value)) or (
            flag == "-device" and '"driver":"pc-dimm"' in value  # DIMMs: the only devices a layout has
        ):
            argv += [flag] if flag == "-no-acpi" else [flag, value]
    return argv
