"""--kernel applies to the guests of its own architecture (read from the image's header:
"HdrS" at 0x202 for an x86 bzImage, "ARM\\x64" at 0x38 for an arm64 Image): in a campaign of
q35 and virt layouts the other architecture's guests boot the kit's Debian kernel."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from numaopt.errors import InputError
from numaopt.fuzz.executor import RunSettings
from numaopt.guest.kit import kernel_arch, load_kit


def _image(path: Path, offset: int, magic: bytes) -> Path:
    data = bytearray(0x400)
    data[offset : offset + len(magic)] = magic
    path.write_bytes(bytes(data))
    return path


def test_the_architecture_comes_from_the_header(tmp_path: Path) -> None:
    assert kernel_arch(_image(tmp_path / "bzImage", 0x202, b"HdrS")) == "x86_64"
    assert kernel_arch(_image(tmp_path / "Image", 0x38, b"ARMd")) == "aarch64"
    with pytest.raises(InputError, match=r"bzImage \('HdrS' at 0x202\) or an arm64 Image"):
        kernel_arch(_image(tmp_path / "junk", 0, b"MZ"))


def test_each_architecture_boots_its_own_images(tmp_path: Path) -> None:
    x86_a, x86_b = (str(_image(tmp_path / name, 0x202, b"HdrS")) for name in ("a", "b"))
    arm = str(_image(tmp_path / "Image", 0x38, b"ARMd"))
    one = RunSettings(kernel=x86_a)
    assert one.kernels_for("x86_64") == (x86_a,) and one.kernels_for("aarch64") == (None,) and not one.compares
    per_arch = RunSettings(kernel=x86_a, compare_kernel=arm)  # one image per architecture: no comparison
    assert per_arch.kernels_for("x86_64") == (x86_a,) and per_arch.kernels_for("aarch64") == (arm,)
    assert not per_arch.compares
    compared = RunSettings(kernel=x86_a, compare_kernel=x86_b)
    assert compared.kernels_for("x86_64") == (x86_a, x86_b) and compared.kernels_for("aarch64") == (None,)
    assert compared.compares
    assert RunSettings().kernels_for("aarch64") == (None,)


def test_a_kernel_no_guest_of_the_run_boots_is_one_line(tmp_path: Path) -> None:
    arm = _image(tmp_path / "Image", 0x38, b"ARMd")
    done = subprocess.run([sys.executable, "-m", "numaopt", "fuzz", "-n", "1", "--out", str(tmp_path / "c"), "--kernel", str(arm)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert f"{arm} is a kernel for aarch64 guests, but --machine makes only x86_64 ones" in done.stderr
    assert not (tmp_path / "c").exists()


@pytest.mark.qemu
def test_a_mixed_campaign_boots_virt_with_the_kits_arm64_kernel(tmp_path: Path) -> None:
    # Item 0 of seed 2 is a q35 layout, item 1 a virt one (2 nodes of 1 vCPU each).
    x86 = load_kit().kernel
    done = subprocess.run(
        [sys.executable, "-m", "numaopt", "fuzz", "-n", "2", "--seed", "2", "--nodes", "1-2", "--vcpus-per-node", "1",
         "--threads", "1", "--memory-per-node", "128MiB", "--memoryless", "0", "--cpuless", "0", "--family", "flat",
         "--sockets", "whole", "--machine", "q35,virt", "--no-shrink", "--out", str(tmp_path), "--kernel", str(x86)],
        capture_output=True, text=True, timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("2 of 2 layouts done: 2 pass, 0 fail, 0 error")
    header = json.loads((tmp_path / "journal.jsonl").read_text().splitlines()[0])
    assert header["kernel"] == str(x86.resolve())
    assert "kernel A" not in done.stdout  # one kernel per architecture is not a comparison
