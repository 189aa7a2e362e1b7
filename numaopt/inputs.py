"""The input boundary: size-capped UTF-8 reading, values quoted safely, and the bounds on numbers.

Every reader of user input uses these: problem TOML, host sources (numactl, lscpu,
sysfs, hwloc, host TOML), QEMU argument files, plans, stdin, and command-line options.
So every file read stops at a size cap instead of reading ``/dev/zero`` forever, every
text is UTF-8 (a leading byte-order mark is dropped) or one error naming the byte
offset, every value quoted in an error is short and on one line, and every number is
checked against a bound that says what it is (docs/problem-format.md lists them).
"""

from __future__ import annotations

import math
import os
import reprlib
from pathlib import Path
from typing import BinaryIO

from numaopt.errors import InputError

MIB = 1 << 20

# -- Bounds on numbers (docs/problem-format.md, "Bounds") ---------------------------------
MAX_TEXT_BYTES = 32 * MIB  # one input file or stdin; a 1024-node host's numactl SLIT is ~4 MiB
MAX_SYSFS_FILE_BYTES = MIB  # one sysfs attribute (the kernel writes at most a page)
MAX_HOST_NODES = 1024  # Linux MAX_NUMNODES at the largest CONFIG_NODES_SHIFT (10)
MAX_CPU_ID = (1 << 16) - 1  # host CPU ids, CPU-list entries (Linux NR_CPUS tops out at 8192)
MAX_VCPUS = 4096  # guest vCPUs; QEMU 7.2's largest machines take 288 (q35) and 512 (virt)
MAX_THREADS_PER_CORE = 8  # SMT width: 2 on x86 and arm64, 8 on POWER8+ and SPARC
MAX_SIZE_BYTES = 1 << 52  # 4 PiB: a 52-bit physical address space (x86-64 5-level, arm64 LPA)
MAX_SEED = (1 << 31) - 1  # CP-SAT's random_seed is an int32
MAX_WORKERS = 256  # CP-SAT num_workers
MAX_JOBS = 256  # worker processes or boots at once (generate, fuzz)
MAX_COUNT = 10_000_000  # layouts in one generate or fuzz batch
MAX_TRAFFIC_WEIGHT = 1_000_000_000  # one traffic weight
# All traffic weights together: times the largest distance (255) this stays below 2^52,
# where CP-SAT keeps integer objectives exact, so no scaled coefficient can overflow int64.
MAX_TOTAL_TRAFFIC = 1_000_000_000_000
MAX_DURATION_S = 86_400.0  # a time limit or timeout: one day

# -- Values quoted in errors -------------------------------------------------------------
SHOWN_CHARS = 60

_REPR = reprlib.Repr()
_REPR.maxlevel = 2
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = 4
_REPR.maxdict = 3
_REPR.maxstring = _REPR.maxother = SHOWN_CHARS
_REPR.maxlong = 24


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """``value`` as an error quotes it: like ``repr`` (control characters and newlines
    escaped), at most ``limit`` characters, cut in the middle with ``...``.

    ``reprlib`` cuts strings and containers before rendering them, so a 4 MB value or a
    deeply nested array costs no more than a short one.
    """
    text = _REPR.repr(value)
    if len(text) <= limit:
        return text
    keep = limit - 3
    return text[: keep - keep // 3] + "..." + text[len(text) - keep // 3 :]


def plain(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` without quotes, control characters escaped and cut like ``shown``."""
    quoted = shown(text, limit + 2)
    return quoted[1:-1] if len(quoted) >= 2 and quoted[0] == quoted[-1] and quoted[0] in "'\"" else quoted


# -- Numbers -----------------------------------------------------------------------------


def bounded_int(value: object, low: int, high: int, what: str) -> int:
    """``value`` if it is an integer in ``low..high``; else ``ValueError`` saying what is valid."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected {what} ({low}..{high}), got {shown(value)}")
    if not low <= value <= high:
        raise ValueError(f"expected {what} ({low}..{high}), got {shown(value)}")
    return value


def bounded_seconds(value: float, what: str = "a duration") -> float:
    """A positive, finite duration of at most ``MAX_DURATION_S``; ``ValueError`` otherwise.

    NaN and infinity are refused explicitly: every comparison with NaN is false, so a
    plain ``<= 0`` test would let it through to a deadline computation.
    """
    if not math.isfinite(value) or not 0 < value <= MAX_DURATION_S:
        raise ValueError(f"expected {what} above 0 and at most {MAX_DURATION_S:g} s, got {shown(value)}")
    return value


# -- Text --------------------------------------------------------------------------------


def decode_text(data: bytes, source: str) -> str:
    """UTF-8 text with a leading byte-order mark dropped; ``InputError`` with the byte offset."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            f"not UTF-8 text: byte {exc.start} is 0x{data[exc.start]:02x} (save the file as UTF-8)", source=source
        ) from None
    return text.removeprefix("\ufeff")


def _too_big(cap: int) -> str:
    return f"larger than {cap // MIB} MiB, the most numaopt reads from one input"


def read_capped(path: str | Path, cap: int = MAX_TEXT_BYTES) -> bytes:
    """The bytes of ``path``, at most ``cap`` of them; ``InputError`` naming the file otherwise.

    Reads at most ``cap + 1`` bytes, so ``/dev/zero`` or a FIFO that never ends is refused
    instead of read forever. Plain ``os.read``: a sysfs import opens a thousand small files
    and buffered file objects cost more than the reads.
    """
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise InputError("no such file", source=source) from None
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=source) from None
    except ValueError:  # a NUL byte in the name
        raise InputError("not a valid file name", source=source) from None
    try:
        chunks: list[bytes] = []
        left = cap + 1
        while left > 0 and (chunk := os.read(fd, min(left, MIB))):
            chunks.append(chunk)
            left -= len(chunk)
    except IsADirectoryError:
        raise InputError("is a directory, expected a file", source=source) from None
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", source=source) from None
    finally:
        os.close(fd)
    if left <= 0:
        raise InputError(_too_big(cap), source=source)
    return b"".join(chunks)


def read_text(path: str | Path, cap: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of ``path`` (BOM dropped), at most ``cap`` bytes; ``InputError`` otherwise."""
    return decode_text(read_capped(path, cap), str(path))


def read_stream(stream: BinaryIO, source: str = "<stdin>", cap: int = MAX_TEXT_BYTES) -> str:
    """The UTF-8 text of a byte stream (stdin), at most ``cap`` bytes."""
    data = stream.read(cap + 1)
    if len(data) > cap:
        raise InputError(_too_big(cap), source=source)
    return decode_text(data, source)
