"""The guest kit: cache location, kernel checks, the initramfs archive, Debian's packages.

The Debian test downloads the real linux-image-cloud-amd64 (about 27 MB) into a
temporary cache with apt-get, as ``numaopt guest build`` does the first time.
"""

from __future__ import annotations

import gzip
import multiprocessing
import os
import stat
from pathlib import Path

import pytest
from filelock import FileLock

from numaopt.errors import InputError
from numaopt.guest.kit import (
    INIT_SCRIPT,
    GuestKitError,
    _write_atomically,
    build_initramfs,
    build_kit,
    cache_dir,
    check_kernel,
    cpio_newc,
    find_busybox,
    load_kit,
)


def read_newc(archive: bytes) -> dict[str, tuple[int, bytes, tuple[int, int]]]:
    """name -> (mode, data, (rdev major, minor)), reading the format independently."""
    entries = {}
    offset = 0
    while True:
        assert archive[offset : offset + 6] == b"070701", offset
        fields = [int(archive[offset + 6 + 8 * i : offset + 14 + 8 * i], 16) for i in range(13)]
        namesize, filesize = fields[11], fields[6]
        name_start = offset + 110
        name = archive[name_start : name_start + namesize - 1].decode()
        data_start = name_start + namesize + (-(110 + namesize) % 4)
        data = archive[data_start : data_start + filesize]
        offset = data_start + filesize + (-filesize % 4)
        if name == "TRAILER!!!":
            return entries
        entries[name] = (fields[1], data, (fields[9], fields[10]))


def test_cache_dir_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "numaopt"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")  # the spec says relative paths are invalid
    assert cache_dir() == Path.home() / ".cache" / "numaopt"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == Path.home() / ".cache" / "numaopt"


def test_cpio_newc_layout() -> None:
    archive = cpio_newc([("dir", stat.S_IFDIR | 0o755, b"", (0, 0)), ("dir/f", stat.S_IFREG | 0o644, b"abcde", (0, 0)),
                         ("console", stat.S_IFCHR | 0o600, b"", (5, 1))])
    assert len(archive) % 512 == 0
    entries = read_newc(archive)
    assert entries["dir/f"] == (stat.S_IFREG | 0o644, b"abcde", (0, 0))
    assert entries["console"] == (stat.S_IFCHR | 0o600, b"", (5, 1))
    assert stat.S_ISDIR(entries["dir"][0])


def test_initramfs_holds_busybox_init_and_console() -> None:
    busybox = find_busybox("x86_64")
    assert busybox is not None, "install busybox-static"
    entries = read_newc(gzip.decompress(build_initramfs(busybox)))
    assert entries["init"][1].decode() == INIT_SCRIPT and entries["init"][0] & 0o111
    assert entries["bin/busybox"][1] == busybox.read_bytes()
    assert entries["dev/console"][2] == (5, 1) and stat.S_ISCHR(entries["dev/console"][0])
    assert {"proc", "sys", "tmp"} <= entries.keys()
    assert INIT_SCRIPT.startswith("#!/bin/busybox sh\n") and "reboot -f" in INIT_SCRIPT


def test_broken_kernel_paths_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"no such kernel image: omit --kernel to use Debian's linux-image-cloud-amd64"):
        check_kernel(tmp_path / "missing", "x86_64")
    with pytest.raises(InputError, match="is a directory"):
        check_kernel(tmp_path, "x86_64")
    text = tmp_path / "vmlinuz"
    text.write_text("not a kernel\n" * 100)
    with pytest.raises(InputError, match=r"not an x86 Linux kernel \(bzImage\)"):
        check_kernel(text, "x86_64")
    with pytest.raises(InputError, match="not an arm64 Linux kernel"):
        check_kernel(text, "aarch64")
    with pytest.raises(InputError, match="unknown guest architecture 'riscv64'"):
        check_kernel(text, "riscv64")


def test_given_kernel_kit_is_built_once_per_cache(tmp_path: Path) -> None:
    kernel = load_kit().kernel  # Debian's, from the user's cache (fetched once)
    first = build_kit(kernel, cache=tmp_path)
    assert first.kernel == kernel.resolve() and first.kernel_source == str(kernel)
    assert first.initrd.parent == tmp_path / "guest" / "x86_64"
    built = first.initrd.stat().st_mtime_ns
    again = build_kit(kernel, cache=tmp_path)
    assert again == first and again.initrd.stat().st_mtime_ns == built
    assert not [p for p in first.initrd.parent.iterdir() if p.name.startswith(".")]  # no scratch left


def test_debian_kernel_is_fetched_with_apt(tmp_path: Path) -> None:
    kit = build_kit(cache=tmp_path)
    assert kit.kernel_source.startswith("debian linux-image-") and kit.kernel_source.endswith(tuple("0123456789"))
    assert kit.kernel_release is not None and kit.kernel_release.endswith("-cloud-amd64")
    check_kernel(kit.kernel, "x86_64")
    assert (kit.kernel.parent / f"config-{kit.kernel_release}").read_text().count("CONFIG_NUMA=y") == 1
    # The second build reads the cache record and downloads nothing.
    assert build_kit(cache=tmp_path) == kit
    leftovers = [p.name for p in (tmp_path / "guest").iterdir() if p.name.startswith(".scratch")]
    assert leftovers == []


def test_missing_apt_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(GuestKitError, match=r"apt-get not found: .*pass --kernel PATH"):
        build_kit(cache=tmp_path / "cache")
    assert os.environ["PATH"] == str(empty)


def test_a_changed_init_script_builds_a_new_initramfs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kernel = load_kit().kernel
    first = build_kit(kernel, cache=tmp_path)
    changed = INIT_SCRIPT.replace('r "stage read-dmesg"', 'r "stage read-the-log"')
    assert changed != INIT_SCRIPT
    monkeypatch.setattr("numaopt.guest.kit.INIT_SCRIPT", changed)
    second = build_kit(kernel, cache=tmp_path)
    assert second.initrd != first.initrd and first.initrd.is_file()  # the cache is keyed by the script
    assert read_newc(gzip.decompress(second.initrd.read_bytes()))["init"][1].decode() == changed
    assert read_newc(gzip.decompress(first.initrd.read_bytes()))["init"][1].decode() == INIT_SCRIPT


def test_the_init_announces_every_silent_step_and_lowers_the_console_level() -> None:
    lines = INIT_SCRIPT.splitlines()
    printk = lines.index("echo 4 > /proc/sys/kernel/printk")
    assert printk < lines.index('echo "@numaopt-report 1"')  # the report shares the console with errors only
    stages = [line.split()[2].rstrip('"') for line in lines if line.startswith('r "stage ')]
    assert stages == ["mount", "read-sysfs", "online-memory", "read-dmesg"]
    # Each step that prints nothing while it runs comes right after a stage line (only
    # assignments and comments between them).
    for step in ("$B mount -t sysfs", "$B grep -H . ", "for f in $S/memory/", "$B dmesg > /tmp/dmesg"):
        at = next(i for i, line in enumerate(lines) if line.startswith(step))
        before = [line for line in lines[:at] if not line.startswith("#") and "=" not in line.split()[0]]
        assert before[-1].startswith('r "stage '), step



def _build_into(cache: str, kernel: str) -> str:
    """A kit build in another process (spawned: a fresh interpreter, like a fuzz worker)."""
    return str(build_kit(Path(kernel), cache=Path(cache)).initrd)


def test_concurrent_builds_make_one_whole_kit(tmp_path: Path) -> None:
    kernel = load_kit().kernel
    busybox = find_busybox("x86_64")
    assert busybox is not None, "install busybox-static"
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        first, second = pool.starmap(_build_into, [(str(tmp_path), str(kernel))] * 2)
    assert first == second
    entries = read_newc(gzip.decompress(Path(first).read_bytes()))
    assert entries["bin/busybox"][1] == busybox.read_bytes() and entries["init"][1].decode() == INIT_SCRIPT
    folder = tmp_path / "guest" / "x86_64"
    assert [p.name for p in folder.iterdir()] == [Path(first).name]  # no temporaries left
    assert sorted(p.name for p in (tmp_path / "guest").iterdir()) == [".lock", "x86_64"]  # no scratch either


def test_a_build_waits_while_another_holds_the_cache_lock(tmp_path: Path) -> None:
    kernel = load_kit().kernel
    child = multiprocessing.get_context("spawn").Process(target=_build_into, args=(str(tmp_path), str(kernel)))
    with FileLock(tmp_path / "guest" / ".lock"):
        child.start()
        # Held here, the lock keeps the child from writing anything, however long it runs.
        child.join(timeout=3)
        assert child.is_alive() and not (tmp_path / "guest" / "x86_64").exists()
    child.join()
    assert child.exitcode == 0
    assert len(list((tmp_path / "guest" / "x86_64").glob("initramfs-*.cpio.gz"))) == 1


@pytest.mark.parametrize(("umask", "file_mode", "program_mode"), [(0o002, 0o664, 0o775), (0o077, 0o600, 0o700)])
def test_cached_files_get_the_umasks_modes(tmp_path: Path, umask: int, file_mode: int, program_mode: int) -> None:
    kernel = load_kit().kernel
    previous = os.umask(umask)
    try:
        kit = build_kit(kernel, cache=tmp_path)
        _write_atomically(tmp_path / "guest" / "x86_64" / "busybox", b"\x7fELF", executable=True)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(kit.initrd.stat().st_mode) == file_mode
    assert stat.S_IMODE((tmp_path / "guest" / ".lock").stat().st_mode) == file_mode
    assert stat.S_IMODE((kit.initrd.parent / "busybox").stat().st_mode) == program_mode
