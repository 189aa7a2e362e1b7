"""What a reproducer ran on: the kernel (path, source, release, sha256) and the QEMU version.

A failure found with one kernel may be gone with the next point release; a reproducer
that does not say which kernel it booted cannot tell a fixed bug from a wrong replay.
``replay`` checks the sha256 before it boots, so "it passes now" means the same image.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
from pathlib import Path
from typing import Any

from numaopt.guest.kit import GuestKit

__all__ = ["KERNEL_FILE", "file_sha256", "kernel_record", "qemu_version"]

KERNEL_FILE = "kernel.json"


@functools.cache
def _sha256_of(path: str, size: int, mtime_ns: int) -> str:
    # Keyed on size and mtime too: a kernel rebuilt in place between two items is hashed again.
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    stat = path.stat()
    return _sha256_of(str(path), stat.st_size, stat.st_mtime_ns)


@functools.cache
def qemu_version(binary: str) -> str:
    """The first line of ``binary --version`` ("QEMU emulator version 7.2.19 (Debian ...)"), or why not."""
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({binary}: {exc})"
    lines = done.stdout.strip().splitlines()
    return lines[0] if lines else f"unknown ({binary} printed no version)"


def kernel_record(kit: GuestKit, guest_release: str = "") -> dict[str, Any]:
    """One booted kernel: its image, where it came from, its release (as the guest printed it) and its sha256."""
    return {
        "path": str(kit.kernel),
        "source": kit.kernel_source,
        "release": guest_release or kit.kernel_release or "",
        "sha256": file_sha256(kit.kernel),
    }
