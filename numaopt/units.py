"""Sizes, CPU lists and durations: parsed from and formatted for people and QEMU.

Every parser raises ``ValueError`` with a message that says what is valid; callers add
the file and key path (``InputError``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB

# Binary units only: QEMU reads "2G" as 2 GiB, so "GB" would be a lie either way.
_SIZE_UNITS = {
    "b": 1,
    "k": KIB,
    "kib": KIB,
    "m": MIB,
    "mib": MIB,
    "g": GIB,
    "gib": GIB,
    "t": TIB,
    "tib": TIB,
}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
SIZE_HELP = "a size such as 512MiB, 2GiB or 2G (units B, KiB, MiB, GiB, TiB; K/M/G/T mean the same)"


def parse_size(text: str | int) -> int:
    """Bytes in ``text`` ("2GiB", "512M", "1.5GiB"); a bare integer must be 0."""
    if isinstance(text, bool):
        raise ValueError(f"expected {SIZE_HELP}, got {text!r}")
    if isinstance(text, int):
        if text == 0:
            return 0
        raise ValueError(f"a bare number is ambiguous: write {text}MiB or {text}GiB ({SIZE_HELP})")
    match = _SIZE_RE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not {SIZE_HELP}")
    number, unit = match.groups()
    scale = _SIZE_UNITS.get(unit.lower())
    if scale is None:
        raise ValueError(f"unknown size unit {unit!r} in {text!r}: expected {SIZE_HELP}")
    if not unit and number != "0":
        raise ValueError(f"{text!r} has no unit: expected {SIZE_HELP}")
    value = float(number) * scale if "." in number else int(number) * scale
    if value != int(value):
        raise ValueError(f"{text!r} is not a whole number of bytes")
    return int(value)


def format_size(num_bytes: int) -> str:
    """The largest exact binary unit: 2147483648 -> "2GiB", 1536 MiB -> "1536MiB"."""
    for suffix, scale in (("TiB", TIB), ("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if num_bytes and num_bytes % scale == 0:
            return f"{num_bytes // scale}{suffix}"
    return f"{num_bytes}B"


def format_qemu_size(num_bytes: int) -> str:
    """A size as QEMU reads it, exact, always with a suffix (a bare -m number means MiB)."""
    for suffix, scale in (("T", TIB), ("G", GIB), ("M", MIB), ("K", KIB)):
        if num_bytes and num_bytes % scale == 0:
            return f"{num_bytes // scale}{suffix}"
    return f"{num_bytes}B"


CPULIST_HELP = 'a CPU list such as "0-3,8-11" ("" for none)'


def parse_cpulist(text: str | Iterable[int]) -> tuple[int, ...]:
    """Sorted CPU ids in "0-3,8,10-11" (or a list of ints); duplicates are an error."""
    if isinstance(text, str):
        cpus: list[int] = []
        stripped = text.strip()
        if stripped.lower() in ("", "none"):
            return ()
        for part in stripped.split(","):
            item = part.strip()
            match = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", item)
            if not match:
                raise ValueError(f"{item!r} in {text!r} is not a CPU or range: expected {CPULIST_HELP}")
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) is not None else first
            if last < first:
                raise ValueError(f"range {item!r} in {text!r} runs backwards")
            if last - first >= 65536:
                raise ValueError(f"range {item!r} in {text!r} has more than 65536 CPUs")
            cpus.extend(range(first, last + 1))
    else:
        cpus = []
        for cpu in text:
            if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu < 0:
                raise ValueError(f"{cpu!r} is not a CPU id: expected {CPULIST_HELP} or a list of integers")
            cpus.append(cpu)
    seen: set[int] = set()
    for cpu in cpus:
        if cpu in seen:
            raise ValueError(f"CPU {cpu} is listed twice")
        seen.add(cpu)
    return tuple(sorted(cpus))


def format_cpulist(cpus: Iterable[int]) -> str:
    """Compact ranges: (0, 1, 2, 3, 8) -> "0-3,8"; () -> ""."""
    ordered = sorted(set(cpus))
    parts: list[str] = []
    start = prev = None
    for cpu in ordered:
        if start is None:
            start = prev = cpu
        elif cpu == prev + 1:  # type: ignore[operator]
            prev = cpu
        else:
            parts.append(f"{start}" if start == prev else f"{start}-{prev}")
            start = prev = cpu
    if start is not None:
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ",".join(parts)


_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}
DURATION_HELP = "a duration such as 500ms, 5s or 2m"


def parse_duration(text: str | int | float) -> float:
    """Seconds in "5s", "500ms", "2m"; a bare number is seconds."""
    if isinstance(text, bool):
        raise ValueError(f"expected {DURATION_HELP}, got {text!r}")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", text)
        if not match or match.group(2) not in ("", *_DURATION_UNITS):
            raise ValueError(f"{text!r} is not {DURATION_HELP}")
        seconds = float(match.group(1)) * _DURATION_UNITS.get(match.group(2) or "s", 1.0)
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {text!r}")
    return seconds
