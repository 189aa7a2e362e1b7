"""Writing files so that a reader never sees half of one, and a failure leaves nothing behind.

The rules for every file numaopt writes (``solve --out``, ``host capture --out``, ``plot``,
the files of ``generate`` and ``fuzz``):

* The path names a regular file or nothing yet, in a folder that exists. A directory, a
  device, a FIFO or a socket is refused before anything is written: a write by rename
  would replace ``/dev/null`` (as root) with a regular file. A symbolic link is followed:
  the file it points at is replaced and the link stays.
* The data goes to a temporary file in the same folder, named ``.NAME.PID-TOKEN.tmp``
  after the process writing it, and is renamed over the path: a reader sees the old file
  or the new one. If anything fails (no space, a read-only folder, an interrupt) the
  temporary file is removed and ``OutputError`` says in one line what happened.
* A new file gets mode 0666 minus the umask, as a shell redirection or ``touch`` would
  make it; a file that is replaced keeps its mode.
* A process killed with SIGKILL cannot remove its temporary file: ``remove_stale``
  removes those of dead processes, and a resumed ``generate`` or ``fuzz`` calls it on its
  folders. The process id in the name tells a dead writer's file from a live one's.

Output folders (``generate --out DIR``, ``fuzz --out DIR``, several VMs of ``solve``) are
made when missing, in a folder that exists, and must be folders when they exist.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

from numaopt.errors import InputError

__all__ = [
    "OutputError",
    "check_output_dir",
    "check_output_file",
    "make_temporary_dir",
    "prepare_output_dir",
    "remove_stale",
    "write_atomically",
    "write_atomically_bytes",
    "writing",
]

_FILE_RULE = "give a regular file or a new name in an existing folder"
_DIR_RULE = "give a folder, or a new name in an existing folder"
# .NAME.PID-TOKEN.tmp (ours) and .NAME.XXXXXXXX.tmp (what tempfile.mkstemp made before:
# no process id, so only a resumed run, which owns the folder, may remove them).
_OURS = re.compile(r"^\..+\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")
_LEGACY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
_WRITE_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO)


class OutputError(InputError):
    """A file or folder numaopt was asked to write cannot be written (exit 1)."""


def _kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _target(path: Path) -> Path:
    """The file a write to ``path`` replaces: a symbolic link's target, so the link stays."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _folder(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def check_output_file(path: Path, option: str | None = None) -> None:
    """Refuse ``path`` as a file to write (``OutputError``) unless it is a regular file or a
    new name in an existing folder; ``option`` (e.g. ``--out``) is named in the message."""
    target = _target(path)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise OutputError(f"cannot write: {_reason(exc)}; {_FILE_RULE}", source=str(path), where=option) from None
    if mode is not None:
        if not stat.S_ISREG(mode):
            raise OutputError(f"cannot write: it is {_kind(mode)}; {_FILE_RULE}", source=str(path), where=option)
        return
    folder = _folder(target)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"cannot write: the folder {folder} {what}; {_FILE_RULE}", source=str(path), where=option)


def check_output_dir(path: Path, option: str | None = None) -> None:
    """Refuse ``path`` as an output folder unless it is a folder or a new name in an existing one."""
    if path.exists():
        if not path.is_dir():
            kind = "a regular file" if path.is_file() else _kind(path.stat().st_mode)
            raise OutputError(f"cannot write into it: it is {kind}; {_DIR_RULE}", source=str(path), where=option)
        return
    folder = _folder(path)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise OutputError(f"cannot write into it: the folder {folder} {what}; {_DIR_RULE}", source=str(path), where=option)


def prepare_output_dir(path: Path, option: str | None = None) -> None:
    """``check_output_dir``, then make the folder if it is missing."""
    check_output_dir(path, option)
    with writing(path, option):
        path.mkdir(exist_ok=True)


@contextlib.contextmanager
def writing(path: Path, option: str | None = None) -> Iterator[None]:
    """Within: an ``OSError`` (no space, read-only, ...) becomes one ``OutputError`` line naming ``path``."""
    try:
        yield
    except OSError as exc:
        raise OutputError(f"cannot write: {_reason(exc)}", source=str(path), where=option) from None


def _temporary_name(name: str) -> str:
    return f".{name}.{os.getpid()}-{secrets.token_hex(4)}.tmp"


def write_atomically(path: Path, text: str, option: str | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path`` through a temporary file in its folder and a rename."""
    write_atomically_bytes(path, text.encode("utf-8"), option)


def write_atomically_bytes(path: Path, data: bytes, option: str | None = None) -> None:
    """Write ``data`` to ``path`` through a temporary file in its folder and a rename; on any
    failure nothing is left and ``path`` is unchanged (``OutputError`` for an ``OSError``)."""
    check_output_file(path, option)
    target = _target(path)
    try:
        keep_mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        keep_mode = None
    folder = _folder(target)
    tmp = folder / _temporary_name(target.name)
    try:
        # 0o666: the kernel takes the umask off, as for any new file (mkstemp would give 0600).
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise OutputError(f"cannot write: {_reason(exc)} (in {folder}); nothing was written",
                          source=str(path), where=option) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            if keep_mode is not None:
                os.fchmod(handle.fileno(), keep_mode)
            handle.write(data)
        os.replace(tmp, target)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            left = "the file is unchanged" if keep_mode is not None else "no file was made"
            raise OutputError(f"cannot write: {_reason(exc)}; {left}", source=str(path), where=option) from None
        raise


def make_temporary_dir(parent: Path, name: str) -> Path:
    """A new folder ``parent/.NAME.PID-TOKEN.tmp`` (mode 0777 minus the umask) to fill and
    then rename into place; ``remove_stale`` removes it if this process dies first."""
    while True:
        path = parent / _temporary_name(name)
        try:
            path.mkdir(mode=0o777)
        except FileExistsError:
            continue
        return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def remove_stale(folder: Path) -> list[Path]:
    """Remove the temporary files and folders in ``folder`` that a dead numaopt process left;
    the paths removed. A temporary of a live process (another run writing here) stays."""
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        ours = _OURS.match(entry.name)
        if ours is None and _LEGACY.match(entry.name) is None:
            continue
        # This process's own id can only be a dead writer's, reused: nothing of ours is in flight.
        if ours is not None and int(ours.group("pid")) != os.getpid() and _alive(int(ours.group("pid"))):
            continue
        path = Path(entry.path)
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(path)
            else:
                path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise OutputError(f"cannot remove a stale temporary file: {_reason(exc)}", source=str(path)) from None
        removed.append(path)
    return removed


def stdout_failed(exc: OSError) -> bool:
    """Whether ``exc`` is a failed write to standard output (``> /dev/full``, a full disk):
    a write error raised where ``sys.stdout`` was being written. If so, stdout is pointed
    at /dev/null so that Python's exit does not fail on the same buffered text again."""
    if exc.filename is not None or exc.errno not in _WRITE_ERRNOS:
        return False
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    # The innermost frames: the one that wrote (click's echo, print) holds the stream.
    if not any(value is sys.stdout for frame in frames[-3:] for value in frame.f_locals.values()):
        return False
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)
    return True
