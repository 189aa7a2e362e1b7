"""Where a host comes from: ``KIND:VALUE`` arguments, problem-file references, and loading.

One host is made from one of these combinations (anything else is an error that lists
them): ``numactl``, ``numactl`` + ``lscpu``, ``sysfs``, ``hwloc``, ``synthetic``. A distance
rule goes with ``synthetic`` (and with ``hwloc`` XML that has no latency matrix).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from numaopt.errors import InputError, ProblemError
from numaopt.hosts._common import numbered_lines, read_text, shown
from numaopt.hosts.distance_rule import DistanceRule, parse_distance_rule
from numaopt.hosts.hwloc import parse_hwloc_xml
from numaopt.hosts.lscpu import parse_lscpu
from numaopt.hosts.merge import merge_numactl_lscpu
from numaopt.hosts.numactl import parse_numactl
from numaopt.hosts.synthetic import parse_synthetic
from numaopt.hosts.sysfs import read_sysfs
from numaopt.hosts.toml import host_from_table
from numaopt.inputs import plain
from numaopt.model import HostTopology

__all__ = [
    "COMBINATIONS",
    "SOURCE_KEYS",
    "HostSource",
    "SourceKind",
    "host_from_problem",
    "load_host_sources",
    "load_sources",
    "parse_source",
    "sniff_kind",
]


class SourceKind(enum.StrEnum):
    NUMACTL = "numactl"
    LSCPU = "lscpu"
    SYSFS = "sysfs"
    HWLOC = "hwloc"
    SYNTHETIC = "synthetic"


KIND_NAMES = frozenset(kind.value for kind in SourceKind)
SOURCE_KEYS = (*(kind.value for kind in SourceKind), "distances")
COMBINATIONS = "numactl, numactl + lscpu, sysfs, hwloc, or synthetic (+ distances)"
SOURCE_HELP = "numactl:PATH, lscpu:PATH, sysfs:DIR, hwloc:PATH, synthetic:STRING, or a path (its kind is sniffed)"


@dataclass(frozen=True, slots=True)
class HostSource:
    """One input: its kind and where it is (a path, or the synthetic string itself).

    ``text`` holds content already read (stdin); otherwise the path is read on load.
    """

    kind: SourceKind
    location: str
    text: str | None = None

    def __str__(self) -> str:
        return f"{self.kind}:{self.location}"

    def read(self) -> str:
        return self.text if self.text is not None else read_text(Path(self.location))


def parse_source(argument: str) -> HostSource:
    """``numactl:PATH``, ``lscpu:PATH``, ``sysfs:DIR``, ``hwloc:PATH``, ``synthetic:STRING``, or a
    bare path whose kind is sniffed from its content (a directory is a sysfs snapshot)."""
    prefix, colon, rest = argument.partition(":")
    if colon and prefix in KIND_NAMES:
        if not rest:
            raise InputError(f"nothing after '{prefix}:' (expected {SOURCE_HELP})", source=argument)
        return HostSource(SourceKind(prefix), rest)
    path = Path(argument)
    try:
        is_dir = path.is_dir()
    except (OSError, ValueError):  # too long, a NUL byte: read_text says which
        is_dir = False
    if is_dir:
        return HostSource(SourceKind.SYSFS, argument)
    text = read_text(path)
    return HostSource(sniff_kind(text, argument), argument, text)


def sniff_kind(text: str, source: str) -> SourceKind:
    """Tell numactl, lscpu and hwloc XML apart by their first lines."""
    lines = numbered_lines(text)
    if not lines:
        raise InputError(f"empty: expected {SOURCE_HELP}", source=source)
    first = lines[0][1]
    if first.startswith("<"):
        return SourceKind.HWLOC
    if first.startswith("available:") or "numactl" in first:
        return SourceKind.NUMACTL
    comments = [line.lstrip("# ").lower() for _, line in lines[:8] if line.startswith("#")]
    if any(c.startswith("cpu") or "parsable format" in c for c in comments):
        return SourceKind.LSCPU
    if first.upper().startswith("CPU ") or first.startswith("Architecture:"):
        return SourceKind.LSCPU
    raise InputError(
        "cannot tell what this is (expected numactl --hardware, lscpu or hwloc XML output): "
        "prefix it with its kind, e.g. numactl:PATH",
        source=source,
        where=f"line {lines[0][0]}",
    )


def load_sources(
    sources: Sequence[HostSource], distances: DistanceRule | None = None
) -> tuple[HostTopology, list[str]]:
    """One host from a valid combination of sources, with warnings (source disagreements)."""
    by_kind: dict[SourceKind, HostSource] = {}
    for item in sources:
        if item.kind in by_kind:
            first = by_kind[item.kind].location
            raise InputError(f"two {item.kind} sources ({plain(first)} and {plain(item.location)}): give one", source=item.location)
        by_kind[item.kind] = item
    kinds = set(by_kind)
    if kinds == {SourceKind.NUMACTL, SourceKind.LSCPU}:
        numactl = by_kind[SourceKind.NUMACTL]
        lscpu = by_kind[SourceKind.LSCPU]
        host = parse_numactl(numactl.read(), numactl.location)
        return merge_numactl_lscpu(host, parse_lscpu(lscpu.read(), lscpu.location))
    if kinds == {SourceKind.LSCPU}:
        raise InputError(
            "lscpu has no memory sizes or distances: give numactl --hardware output with it",
            source=by_kind[SourceKind.LSCPU].location,
        )
    if len(kinds) != 1:
        given = " + ".join(sorted(kinds)) or "nothing"
        raise InputError(f"cannot make one host from {given}: give {COMBINATIONS}")
    (kind,) = kinds
    item = by_kind[kind]
    if kind is SourceKind.NUMACTL:
        return parse_numactl(item.read(), item.location), []
    if kind is SourceKind.SYSFS:
        return read_sysfs(item.location), []
    if kind is SourceKind.HWLOC:
        return parse_hwloc_xml(item.read(), item.location, distances), []
    return parse_synthetic(item.location, distances, f"synthetic:{shown(item.location)}"), []


def load_host_sources(
    spec: Mapping[str, Any], base_dir: Path, source: str, key_path: str = "host", also_known: Collection[str] = ()
) -> tuple[HostTopology, list[str]]:
    """A problem file's ``host = { numactl = "hosts/x.txt", lscpu = "hosts/x.lscpu" }`` (paths
    relative to ``base_dir``); every error names ``source`` and the key path."""
    known = (*SOURCE_KEYS, *also_known)
    unknown = [key for key in spec if key not in known]
    if unknown:
        raise ProblemError(
            f"unknown key {shown(unknown[0])} (known: {', '.join(known)})",
            source=source,
            where=f"{key_path}.{plain(unknown[0], 40)}",
        )
    sources: list[HostSource] = []
    for kind in SourceKind:
        if kind.value not in spec:
            continue
        value = spec[kind.value]
        if not isinstance(value, str) or not value.strip():
            what = (
                "a synthetic string such as 'pack:2 numa:2 core:4 pu:2'" if kind is SourceKind.SYNTHETIC else "a path"
            )
            raise ProblemError(f"expected {what}, got {shown(value)}", source=source, where=f"{key_path}.{kind.value}")
        location = value if kind is SourceKind.SYNTHETIC else os.fspath(base_dir / value)
        sources.append(HostSource(kind, location))
    rule = None
    if "distances" in spec:
        if not {SourceKind.SYNTHETIC.value, SourceKind.HWLOC.value} & set(spec):
            raise ProblemError(
                "a distance rule goes with synthetic or hwloc; the other sources carry their own distances",
                source=source,
                where=f"{key_path}.distances",
            )
        try:
            rule = parse_distance_rule(spec["distances"])
        except ValueError as exc:
            raise ProblemError(str(exc), source=source, where=f"{key_path}.distances") from None
    try:
        return load_sources(sources, rule)
    except InputError as exc:
        # Point at the key whose file failed: "host.numactl: problems/hosts/x.txt: line 7: ...".
        culprit = next((str(item.kind) for item in sources if _came_from(exc, item)), None)
        where = f"{key_path}.{culprit}" if culprit else key_path
        raise ProblemError(str(exc), source=source, where=where) from None


def _came_from(exc: InputError, item: HostSource) -> bool:
    if not exc.source:
        return False
    if item.kind is SourceKind.SYNTHETIC:
        return exc.source.startswith("synthetic:")
    return exc.source.startswith(item.location)


def host_from_problem(
    table: Mapping[str, Any], base_dir: Path, source: str, key_path: str = "host", also_known: Collection[str] = ()
) -> tuple[HostTopology, list[str]]:
    """A problem file's ``[host]`` either way: source references (any of numactl, lscpu,
    sysfs, hwloc, synthetic) or an inline host table (nodes, distances, sockets)."""
    if any(kind.value in table for kind in SourceKind):
        return load_host_sources(table, base_dir, source, key_path, also_known)
    return host_from_table(table, source, key_path, also_known), []
