"""Typed access to a parsed TOML table that knows its key path, for one-line errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from numaopt.errors import ProblemError
from numaopt.inputs import bounded_int, plain, shown

T = TypeVar("T")


class TableReader:
    """Typed access to a TOML table that knows its key path, for error messages."""

    def __init__(self, source: str, table: Mapping[str, Any], path: str, known: tuple[str, ...]):
        self.source = source
        self.table = table
        self.path = path
        unknown = [key for key in table if key not in known]
        if unknown:
            raise self.error(f"unknown key {shown(unknown[0])} (known: {', '.join(known)})", key=plain(unknown[0], 40))

    def where(self, key: str | None = None) -> str:
        if key is None:
            return self.path
        return f"{self.path}.{key}" if self.path else key

    def error(self, message: str, key: str | None = None) -> ProblemError:
        return ProblemError(message, source=self.source, where=self.where(key) or None)

    def has(self, key: str) -> bool:
        return key in self.table

    def get(self, key: str, kind: type[T], what: str, default: T | None = None, required: bool = False) -> T:
        if key not in self.table:
            if required:
                raise self.error(f"missing required key ({what})", key)
            return default  # type: ignore[return-value]
        value = self.table[key]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
            raise self.error(f"expected {what}, got {shown(value)}", key)
        if not isinstance(value, kind):
            raise self.error(f"expected {what}, got {type(value).__name__} {shown(value)}", key)
        return value

    def integer(self, key: str, low: int, high: int, what: str, default: int | None = None, required: bool = False) -> int:
        """An integer in ``low..high`` (the bounds say what is valid in the error)."""
        if key not in self.table:
            if required:
                raise self.error(f"missing required key ({what}, {low}..{high})", key)
            return default  # type: ignore[return-value]
        try:
            return bounded_int(self.table[key], low, high, what)
        except ValueError as exc:
            raise self.error(str(exc), key) from None

    def convert(self, key: str, parse: Callable[[Any], T], default: T | None = None, required: bool = False) -> T:
        if key not in self.table:
            if required:
                raise self.error("missing required key", key)
            return default  # type: ignore[return-value]
        try:
            return parse(self.table[key])
        except (ValueError, TypeError) as exc:
            raise self.error(str(exc), key) from None

    def sub(self, key: str, known: tuple[str, ...]) -> TableReader | None:
        if key not in self.table:
            return None
        value = self.table[key]
        if not isinstance(value, dict):
            raise self.error(f"expected a table, got {shown(value)}", key)
        return TableReader(self.source, value, self.where(key), known)
