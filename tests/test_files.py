"""Safe output: what --out refuses, what a failed write leaves (nothing), the modes written,
and the stale temporary files of a killed writer. Write failures are the kernel's own:
a tiny tmpfs that fills up and a read-only mount (as root, as CI runs), RLIMIT_FSIZE and
/dev/full (as anyone)."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from numaopt.files import (
    OutputError,
    check_output_dir,
    make_temporary_dir,
    prepare_output_dir,
    remove_stale,
    write_atomically,
    write_atomically_bytes,
)

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "problems" / "seed-4node.toml"
IS_ROOT = os.geteuid() == 0


def numaopt(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **kwargs}
    return subprocess.run([sys.executable, "-m", "numaopt", *args], text=True, cwd=ROOT, check=False,
                          **streams)  # type: ignore[call-overload]


def one_error_line(result: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert result.returncode == 1, result
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("numaopt: error: "), result.stderr
    for part in parts:
        assert part in result.stderr, result.stderr


@pytest.fixture
def umask_027() -> Iterator[None]:
    before = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(before)


def _mount_tmpfs(where: Path, options: str) -> Iterator[Path]:
    if not IS_ROOT or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root (CI runs as root)")
    where.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 32 KiB tmpfs: a bigger write fails with ENOSPC."""
    yield from _mount_tmpfs(tmp_path / "tiny", "size=32k,mode=0777")


@pytest.fixture
def read_only(tmp_path: Path) -> Iterator[Path]:
    """A folder no write can go into: a read-only tmpfs as root, a mode 0555 folder otherwise."""
    if IS_ROOT:
        yield from _mount_tmpfs(tmp_path / "ro", "ro,size=32k")
        return
    folder = tmp_path / "ro"
    folder.mkdir(mode=0o555)
    try:
        yield folder
    finally:
        folder.chmod(0o755)


# ---------------------------------------------------------------------------------------
# Refused before anything is written


def test_out_refuses_a_directory_a_missing_folder_and_non_regular_files(tmp_path: Path) -> None:
    one_error_line(numaopt("solve", str(SEED), "-q", "--out", str(tmp_path)),
                   f"{tmp_path}: --out: cannot write: it is a directory; give a regular file or a new name in an existing folder")
    missing = tmp_path / "no" / "x.args"
    one_error_line(numaopt("solve", str(SEED), "-q", "--out", str(missing)),
                   f"{missing}: --out: cannot write: the folder {tmp_path / 'no'} does not exist")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    one_error_line(numaopt("host", "capture", "synthetic:pu:2", "--out", str(fifo)), f"{fifo}: --out: cannot write: it is a FIFO")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]


def test_out_never_replaces_a_device_node() -> None:
    # As root a rename would turn /dev/null into a regular file for the whole machine.
    before = os.stat("/dev/null")
    one_error_line(numaopt("solve", str(SEED), "-q", "--out", "/dev/null"),
                   "/dev/null: --out: cannot write: it is a character device")
    after = os.stat("/dev/null")
    assert (after.st_ino, after.st_mode, after.st_rdev) == (before.st_ino, before.st_mode, before.st_rdev)


def test_plot_and_verify_console_follow_the_same_rules(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    picture = tmp_path / "x.svg"
    picture.mkdir()
    one_error_line(numaopt("plot", str(SEED), "-o", str(picture)), f"{picture}: cannot write: it is a directory")
    console = tmp_path / "none" / "console.txt"
    one_error_line(numaopt("verify", str(SEED), "--boot", "--console", str(console)),
                   f"{console}: --console: cannot write: the folder {tmp_path / 'none'} does not exist")


def test_output_folders_must_be_folders_in_existing_folders(tmp_path: Path) -> None:
    regular = tmp_path / "file"
    regular.write_text("x")
    with pytest.raises(OutputError, match="^" + re.escape(f"{regular}: --out: cannot write into it: it is a regular file; give a folder")):
        check_output_dir(regular, "--out")
    with pytest.raises(OutputError, match=r"cannot write into it: the folder .*/a does not exist"):
        prepare_output_dir(tmp_path / "a" / "b")
    prepare_output_dir(tmp_path / "new")
    assert (tmp_path / "new").is_dir()
    one_error_line(numaopt("generate", "--count", "2", "--out", str(regular)), f"{regular}: --out: cannot write into it")
    batch = tmp_path / "deep" / "batch"
    one_error_line(numaopt("generate", "--count", "2", "--out", str(batch)),
                   f"{batch}: --out: cannot write into it: the folder {tmp_path / 'deep'} does not exist")


# ---------------------------------------------------------------------------------------
# Modes


def test_new_files_follow_the_umask_and_replaced_files_keep_their_mode(tmp_path: Path, umask_027: None) -> None:
    new = tmp_path / "new.txt"
    write_atomically(new, "a")
    assert new.stat().st_mode & 0o777 == 0o640  # 0666 & ~027, as a shell redirection makes it
    kept = tmp_path / "kept.txt"
    kept.write_text("old")
    kept.chmod(0o604)
    write_atomically(kept, "new")
    assert kept.read_text() == "new" and kept.stat().st_mode & 0o777 == 0o604
    folder = make_temporary_dir(tmp_path, "item")
    assert folder.stat().st_mode & 0o777 == 0o750


def test_a_symbolic_link_is_written_through_and_stays(tmp_path: Path) -> None:
    target = tmp_path / "real.args"
    target.write_text("old")
    link = tmp_path / "link.args"
    link.symlink_to("real.args")
    write_atomically(link, "new")
    assert link.is_symlink() and target.read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["link.args", "real.args"]


def test_the_cli_writes_with_the_umask(tmp_path: Path) -> None:
    out = tmp_path / "seed.args"
    result = numaopt("solve", str(SEED), "-q", "--out", str(out), preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0 and out.stat().st_mode & 0o777 == 0o644


# ---------------------------------------------------------------------------------------
# Failed writes leave nothing behind


def test_a_full_disk_leaves_nothing_and_keeps_the_old_file(tiny_tmpfs: Path) -> None:
    big = b"x" * (256 * 1024)
    fresh = tiny_tmpfs / "big.bin"
    with pytest.raises(OutputError, match="^" + re.escape(f"{fresh}: cannot write: No space left on device; no file was made") + "$"):
        write_atomically_bytes(fresh, big)
    old = tiny_tmpfs / "old.bin"
    old.write_bytes(b"old")
    with pytest.raises(OutputError, match=r"No space left on device; the file is unchanged$"):
        write_atomically_bytes(old, big)
    assert sorted(p.name for p in tiny_tmpfs.iterdir()) == ["old.bin"] and old.read_bytes() == b"old"


def test_a_full_disk_through_the_cli(tiny_tmpfs: Path) -> None:
    with open(tiny_tmpfs / "filler", "wb", buffering=0) as filler, contextlib.suppress(OSError):
        while True:
            filler.write(b"x" * 4096)
    out = tiny_tmpfs / "plan.json"
    one_error_line(numaopt("solve", str(SEED), "-q", "-f", "json", "--out", str(out)),
                   f"{out}: --out: cannot write: No space left on device")
    assert sorted(p.name for p in tiny_tmpfs.iterdir()) == ["filler"]


def test_a_read_only_folder_is_refused_in_one_line(read_only: Path) -> None:
    out = read_only / "host.toml"
    reason = "Read-only file system" if IS_ROOT else "Permission denied"
    one_error_line(numaopt("host", "capture", "synthetic:pu:2", "--out", str(out)),
                   f"{out}: --out: cannot write: {reason} (in {read_only}); nothing was written")
    assert list(read_only.iterdir()) == []


def test_a_file_size_limit_leaves_nothing(tmp_path: Path) -> None:
    # RLIMIT_FSIZE: the kernel refuses the write with EFBIG (Python ignores SIGXFSZ).
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))

    out = tmp_path / "seed.args"
    one_error_line(numaopt("solve", str(SEED), "-q", "--out", str(out), preexec_fn=limit),
                   f"{out}: --out: cannot write: File too large; no file was made")
    assert list(tmp_path.iterdir()) == []


def test_a_full_stdout_is_one_line() -> None:
    with open("/dev/full", "w") as full:
        result = numaopt("solve", str(SEED), "-q", stdout=full)
    assert result.returncode == 1 and result.stderr == "numaopt: error: stdout: cannot write: No space left on device\n"


# ---------------------------------------------------------------------------------------
# Stale temporaries


def test_stale_temporaries_of_dead_writers_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()  # its id is free (a live process would have to reuse it at once)
    stale_file = tmp_path / f".layout-000001.toml.{dead.pid}-0123abcd.tmp"
    stale_file.write_text("half")
    stale_dir = tmp_path / f".item-000002.{dead.pid}-89abcdef.tmp"
    (stale_dir / "shrunk").mkdir(parents=True)
    legacy = tmp_path / ".layout-000003.args.k2j_x9q0.tmp"  # tempfile.mkstemp's name, before the process id
    legacy.write_text("half")
    live = tmp_path / f".layout-000004.toml.{os.getppid()}-0123abcd.tmp"  # a writer that is still running
    live.write_text("busy")
    kept = [tmp_path / "layout-000001.toml", tmp_path / ".hidden.tmp", tmp_path / "notes.tmp"]
    for path in kept:
        path.write_text("mine")
    removed = remove_stale(tmp_path)
    assert sorted(removed) == sorted([stale_file, stale_dir, legacy])
    assert sorted(tmp_path.iterdir()) == sorted([live, *kept])
