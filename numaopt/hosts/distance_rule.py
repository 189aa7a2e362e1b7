"""A two-level distance rule for hosts whose source has no SLIT (hwloc synthetic strings).

``12,32`` or ``same_package=12, other=32``: 10 on the diagonal, ``same_package`` between
two nodes in one package, ``other`` for every other pair (also for nodes that belong to
no single package, such as a CXL memory node). One number, ``20``, means every remote
pair. The synthetic grammar has no distances, so an invented matrix is never silent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from numaopt.distances import LOCAL_DISTANCE, MAX_DISTANCE
from numaopt.inputs import shown

__all__ = ["RULE_HELP", "DistanceRule", "parse_distance_rule"]

RULE_HELP = "a distance rule such as '12,32' or 'same_package=12, other=32' (remote distances 11..255)"
_KEYS = ("same_package", "other")
_NUMBER = re.compile(r"\d{1,4}")


@dataclass(frozen=True, slots=True)
class DistanceRule:
    """Remote distances by package: within one package, and everything else."""

    same_package: int
    other: int

    def __post_init__(self) -> None:
        for name in _KEYS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not LOCAL_DISTANCE < value <= MAX_DISTANCE:
                raise ValueError(f"{name} = {shown(value)}: expected {RULE_HELP}")

    def matrix(self, packages: Sequence[int | None]) -> npt.NDArray[np.int64]:
        """The SLIT for nodes whose packages are ``packages`` (None: no single package)."""
        ids = np.array([-1 if p is None else p for p in packages], dtype=np.int64)
        same = (ids[:, None] == ids[None, :]) & (ids[:, None] >= 0)
        matrix = np.where(same, self.same_package, self.other).astype(np.int64)
        np.fill_diagonal(matrix, LOCAL_DISTANCE)
        return matrix

    def __str__(self) -> str:
        return f"same_package={self.same_package}, other={self.other}"


def parse_distance_rule(spec: str | Mapping[str, object]) -> DistanceRule:
    """``"12,32"``, ``"same_package=12, other=32"``, ``"20"`` or a TOML table with those keys.

    Raises ``ValueError`` saying what is valid; callers add where it came from.
    """
    if isinstance(spec, Mapping):
        unknown = [key for key in spec if key not in _KEYS]
        if unknown:
            raise ValueError(f"unknown key {shown(unknown[0])} (known: {', '.join(_KEYS)})")
        missing = [key for key in _KEYS if key not in spec]
        if missing:
            raise ValueError(f"missing {shown(missing[0])}: expected {RULE_HELP}")
        same, other = spec["same_package"], spec["other"]
        if isinstance(same, bool) or isinstance(other, bool) or not isinstance(same, int) or not isinstance(other, int):
            raise ValueError(f"expected integers, got {shown(same)} and {shown(other)}: {RULE_HELP}")
        return DistanceRule(same, other)
    if not isinstance(spec, str):
        raise ValueError(f"expected {RULE_HELP}, got {shown(spec)}")
    parts = [part.strip() for part in spec.split(",")]
    if all("=" in part for part in parts):
        table: dict[str, object] = {}
        for part in parts:
            key, _, value = (item.strip() for item in part.partition("="))
            if not _NUMBER.fullmatch(value):
                raise ValueError(f"{shown(value)} in {shown(spec)} is not a number: expected {RULE_HELP}")
            if key in table:
                raise ValueError(f"{shown(key)} is given twice in {shown(spec)}")
            table[key] = int(value)
        return parse_distance_rule(table)
    if 1 <= len(parts) <= 2 and all(_NUMBER.fullmatch(part) for part in parts):
        values = [int(part) for part in parts]
        return DistanceRule(values[0], values[-1])
    raise ValueError(f"{shown(spec)} is not {RULE_HELP}")
