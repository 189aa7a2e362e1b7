"""The seed's own platform end to end: an arm64 guest kit built on any machine, and the
seed article's aarch64 `virt` layout booted under TCG, its guest showing the article's table."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from numaopt.guest.kit import _elf_facts, build_kit, check_kernel
from tests.support.article import ARTICLE_TABLE

ROOT = Path(__file__).resolve().parents[2]
APT_LISTS = Path("/var/lib/apt/lists")



def _apt_state() -> tuple[str, list[tuple[str, int]]]:
    foreign = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True, text=True, check=True).stdout
    lists = sorted((p.name, p.stat().st_mtime_ns) for p in APT_LISTS.iterdir()) if APT_LISTS.is_dir() else []
    return foreign, lists


def test_an_arm64_kit_is_built_without_touching_the_hosts_apt(tmp_path: Path) -> None:
    before = _apt_state()
    kit = build_kit(arch="aarch64", cache=tmp_path)
    assert _apt_state() == before, "the host's apt architectures or package lists changed"
    check_kernel(kit.kernel, "aarch64")  # an arm64 Image, not the host's kernel
    assert kit.kernel_release is not None and kit.kernel_release.endswith("-arm64")
    assert _elf_facts(tmp_path / "guest" / "aarch64" / "busybox") == (183, True)  # EM_AARCH64, static
    assert kit.initrd.is_file()
    assert (kit.initrd.stat().st_mode & 0o777) == (0o666 & ~_umask())


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.qemu
def test_the_seed_article_layout_boots_on_aarch64_and_the_guest_sees_its_table() -> None:
    problem = ROOT / "problems" / "seed-4node-aarch64.toml"
    done = subprocess.run([sys.executable, "-m", "numaopt", "verify", "--boot", str(problem)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].endswith("(virt-7.2) built 4 node(s), 16 vCPU(s): as planned")
    assert lines[1].startswith("level 2: booted ") and "-arm64 under tcg" in lines[1]
    assert lines[1].endswith("the guest sees (as asked):")
    assert "available: 4 nodes (0-3)\nnode 0 cpus: 0 1 2 3\nnode 0 size:" in done.stdout
    assert "node 3 cpus: 12 13 14 15\n" in done.stdout
    assert done.stdout.endswith(ARTICLE_TABLE)
