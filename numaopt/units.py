"""Sizes, CPU lists and durations: parsed from and formatted for people and QEMU.

Every parser raises ``ValueError`` with a message that says what is valid; callers add
the file and key path (``InputError``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from fractions import Fraction

from numaopt.inputs import MAX_CPU_ID, MAX_SIZE_BYTES, bounded_seconds, shown

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB
TIB = 1024 * GIB
# Widths of the fields QEMU, ACPI and Linux keep numbers in.
UINT16_MAX = (1 << 16) - 1
UINT32_MAX = (1 << 32) - 1
UINT64_MAX = (1 << 64) - 1

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
_SIZE_RE = re.compile(r"^\s*(\d{1,30}(?:\.\d{1,30})?)\s*([A-Za-z]*)\s*$")
SIZE_HELP = "a size such as 512MiB, 2GiB or 2G (units B, KiB, MiB, GiB, TiB; K/M/G/T mean the same)"


def parse_size(text: str | int) -> int:
    """Bytes in ``text`` ("2GiB", "512M", "1.5GiB"), at most ``MAX_SIZE_BYTES``; a bare integer must be 0."""
    if isinstance(text, bool) or not isinstance(text, (str, int)):
        raise ValueError(f"expected {SIZE_HELP}, got {shown(text)}")
    if isinstance(text, int):
        if text == 0:
            return 0
        raise ValueError(f"a bare number is ambiguous: write {shown(text)}MiB or {shown(text)}GiB ({SIZE_HELP})")
    match = _SIZE_RE.match(text)
    if not match:
        raise ValueError(f"{shown(text)} is not {SIZE_HELP}")
    number, unit = match.groups()
    if not unit and Fraction(number) != 0:
        raise ValueError(f"{shown(text)} has no unit: expected {SIZE_HELP}")
    scale = _SIZE_UNITS.get(unit.lower(), 0) if unit else 1
    if not scale:
        raise ValueError(f"unknown size unit {shown(unit)} in {shown(text)}: expected {SIZE_HELP}")
    value = Fraction(number) * scale  # exact: a float would round "1.0000000000000001TiB" to 1 TiB
    if value.denominator != 1:
        raise ValueError(f"{shown(text)} is not a whole number of bytes")
    if value > MAX_SIZE_BYTES:
        raise ValueError(f"{shown(text)} is more than {format_size(MAX_SIZE_BYTES)}, the largest size numaopt takes")
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


def parse_cpulist(text: str | Iterable[int], what: str = "CPU") -> tuple[int, ...]:
    """Sorted CPU ids in "0-3,8,10-11" (or a list of ints), each 0..``MAX_CPU_ID``;
    duplicates are an error (so a list holds at most ``MAX_CPU_ID + 1`` ids)."""
    seen: set[int] = set()
    if isinstance(text, str):
        stripped = text.strip()
        if stripped.lower() in ("", "none"):
            return ()
        for part in stripped.split(","):
            item = part.strip()
            match = re.fullmatch(r"(\d{1,6})(?:\s*-\s*(\d{1,6}))?", item)
            if not match:
                raise ValueError(f"{shown(item)} in {shown(text)} is not a CPU or range: expected {CPULIST_HELP}")
            first = int(match.group(1))
            last = int(match.group(2)) if match.group(2) is not None else first
            if last < first:
                raise ValueError(f"range {shown(item)} in {shown(text)} runs backwards")
            _add_cpus(seen, range(first, last + 1), what)
    else:
        for cpu in text:
            if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu < 0:
                raise ValueError(f"{shown(cpu)} is not a CPU id: expected {CPULIST_HELP} or a list of integers")
            _add_cpus(seen, range(cpu, cpu + 1), what)
    return tuple(sorted(seen))


def _add_cpus(seen: set[int], cpus: range, what: str) -> None:
    if cpus.stop - 1 > MAX_CPU_ID:
        raise ValueError(f"{what} {cpus.stop - 1} is more than {MAX_CPU_ID}, the largest {what} id numaopt takes")
    if any(cpu in seen for cpu in cpus):
        raise ValueError(f"{what} {next(cpu for cpu in cpus if cpu in seen)} is listed twice")
    seen.update(cpus)


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
    """Seconds in "5s", "500ms", "2m"; a bare number is seconds. Positive, finite, at most a day."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        raise ValueError(f"expected {DURATION_HELP}, got {shown(text)}")
    if isinstance(text, (int, float)):
        seconds = float(min(text, 1e300))  # an int too large for a float is still just "too long"
    else:
        match = re.fullmatch(r"\s*(\d{1,30}(?:\.\d{1,30})?)\s*([a-z]{0,3})\s*", text)
        if not match or match.group(2) not in ("", *_DURATION_UNITS):
            raise ValueError(f"{shown(text)} is not {DURATION_HELP}")
        seconds = float(match.group(1)) * _DURATION_UNITS.get(match.group(2) or "s", 1.0)
    try:
        return bounded_seconds(seconds)
    except ValueError:
        raise ValueError(f"a duration must be more than 0 and at most 24h, got {shown(text)}") from None
