"""Values the way QEMU 7.2 spells them, and the value types the option grammar names.

The spellings: an option's ``key=value`` elements (",," is a literal comma), numbers as
``strtoull`` reads them (``0x1f``, ``017``), sizes as ``qemu_strtosz`` reads them
(``2G``, ``1.5G``, ``0x1000``), booleans in every spelling ``qapi_bool_parse`` takes.

The value types (``UInt``, ``Size``, ``Enum``, ...) are what a row of the grammar says a
key holds. Each turns the text of a key (or, for ``-object`` in JSON form, the JSON value)
into a Python value or raises ``BadValue`` with the message; the caller adds the file and
the argument. They are kept apart from the grammar's rows (grammar.py) because the
families that mean something by the values need them too, and apart from any reading
state so that they can be tested alone.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from numaopt.errors import one_line_message
from numaopt.layout import MAX_NODES
from numaopt.units import MIB, UINT64_MAX

RANGE_MAX = 65536  # QEMU OPTS_VISITOR_RANGE_MAX: elements in one "a-b" range
MAX_LIST_VALUES = 1 << 20  # numaopt's own bound on one repeated list (QEMU has none)
# qapi_bool_parse (QEMU 7.2): every spelling QemuOpts, keyval and -object accept.
BOOLS = {"on": True, "yes": True, "true": True, "y": True, "off": False, "no": False, "false": False, "n": False}
_ID_RE = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")  # QEMU id_wellformed
_SIZE_RE = re.compile(r"(?:(0[xX][0-9a-fA-F]+)|([0-9]+)(?:\.([0-9]*))?)([bBkKmMgGtTpPeE]?)")
_SIZE_SCALE = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50, "e": 1 << 60}
_SIZE_HELP = "a size such as 2G, 512M or 1.5G (suffixes K, M, G, T, P, E)"
_OPT_ELEMENT = re.compile(r"[^,]*(?:,,[^,]*)*")  # ",," is a literal comma
_MAX_DIGITS = 32  # longer than any uint64 in any base QEMU reads (22 octal digits)
_DECIMAL = re.compile(r"[1-9][0-9]*")
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")
_OCTAL = re.compile(r"0[0-7]*")


def show(text: str, limit: int = 100) -> str:
    """User text for a one-line message: control characters escaped, long text cut."""
    return one_line_message(text, limit)


def flag(text: str | None) -> bool | None:
    """A boolean property as QEMU's board code reads it: any spelling, None if not one."""
    return None if text is None else BOOLS.get(text)


# ---------------------------------------------------------------------------------------
# Spellings


def split_opts(value: str) -> list[str]:
    """QemuOpts / keyval elements: split at "," where ",," is a literal comma."""
    parts: list[str] = []
    i, n = 0, len(value)
    while True:
        match = _OPT_ELEMENT.match(value, i)
        assert match is not None  # the pattern matches the empty string
        parts.append(match.group().replace(",,", ","))
        i = match.end() + 1  # past the separating comma
        if i > n:
            break
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # QEMU ignores one trailing comma
    return parts


def c_uint(text: str) -> int | None:
    """An unsigned number the way strtoull(base 0) reads it: 0x1f hex, 017 octal, 15."""
    if len(text) > _MAX_DIGITS:
        return None  # beyond uint64 whatever it holds (and int() refuses 4300+ digits)
    if _DECIMAL.fullmatch(text):
        return int(text)
    if _HEX.fullmatch(text):
        return int(text, 16)
    if _OCTAL.fullmatch(text):
        return int(text, 8)
    return None


def c_int(text: str) -> int | None:
    if text.startswith("-"):
        value = c_uint(text[1:])
        return None if value is None else -value
    return c_uint(text)


def qemu_size(text: str, default_scale: int = 1) -> int | None:
    """qemu_strtosz: "2G", "1.5G", "4096", "0x1000"; a bare number times ``default_scale``."""
    match = _SIZE_RE.fullmatch(text) if len(text) <= _MAX_DIGITS else None
    if not match:
        return None
    hex_part, whole, fraction, suffix = match.groups()
    if fraction is not None and not suffix.strip("bB"):
        return None  # QEMU takes a fraction only with a multiplier suffix
    scale = _SIZE_SCALE[suffix.lower()] if suffix else default_scale
    if hex_part is not None:
        value = int(hex_part, 16) * scale
    else:
        value = int(whole) * scale
        if fraction:
            value += int(fraction) * scale // 10 ** len(fraction)
    return value if value < 1 << 64 else None


def invalid_parameter(key: str, valid: Sequence[str]) -> str:
    """The message for a key an option does not have."""
    return f"Invalid parameter '{show(key, 40)}' (valid: {', '.join(valid)})"


def not_accepted(key: str, text: str, valid: Sequence[str]) -> str:
    """The message for a value outside an enumeration (QEMU's words, numaopt's list)."""
    return f"Parameter '{key}' does not accept value '{show(text, 40)}' (valid: {', '.join(valid)})"


# ---------------------------------------------------------------------------------------
# Value types: what one key holds


class BadValue(ValueError):
    """A value QEMU could not parse; the message names the key and what is valid."""


class Value(ABC):
    """A key's value type. ``parse`` reads the texts the key was given (a repeated key gives
    several); ``from_json`` takes the value of ``-object``'s JSON form, which must already
    have the property's own JSON type (``json_type``)."""

    __slots__ = ()
    json_type: ClassVar[type] = str

    @abstractmethod
    def parse(self, key: str, texts: Sequence[str]) -> object:
        """The typed value of ``key`` given ``texts`` (at least one); ``BadValue`` if QEMU refuses it."""

    def from_json(self, key: str, value: object) -> object:
        if self.json_type is int:
            fits = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= UINT64_MAX
        else:
            fits = isinstance(value, self.json_type)
        if not fits:
            raise BadValue(f"Invalid parameter type for '{key}', expected: {self.json_type.__name__}")
        return value


class Scalar(Value):
    """A value type of one text: a repeated key takes its last value, as QemuOpts does."""

    __slots__ = ()

    def parse(self, key: str, texts: Sequence[str]) -> object:
        return self.one(key, texts[-1])

    @abstractmethod
    def one(self, key: str, text: str) -> object:
        """The typed value of one text."""


@dataclass(frozen=True, slots=True)
class Text(Scalar):
    """Any text, as written (a backend id a node names, a file path)."""

    def one(self, key: str, text: str) -> object:
        return text


@dataclass(frozen=True, slots=True)
class UInt(Scalar):
    """An unsigned integer of ``bits`` bits, as strtoull reads it; ``what`` names it in the message."""

    bits: int
    what: str | None = None

    def one(self, key: str, text: str) -> object:
        value = c_uint(text)
        limit = (1 << self.bits) - 1
        if value is None or value > limit:
            raise BadValue(f"{key}={show(text, 40)}: expected {self.what or f'an integer 0..{limit}'}")
        return value


@dataclass(frozen=True, slots=True)
class Int64(Scalar):
    """A signed 64-bit integer (``-numa cpu``'s ids: QEMU reads them as int64)."""

    def one(self, key: str, text: str) -> object:
        value = c_int(text)
        if value is None or not -(1 << 63) <= value < 1 << 63:
            raise BadValue(f"{key}={show(text, 40)}: expected an integer")
        return value


@dataclass(frozen=True, slots=True)
class UIntList(Value):
    """QEMU's opts-visitor list: repeated keys, each a number or an ascending range a-b.

    Distinct values in the order given (a uint16 list has at most 65536 of them)."""

    bits: int

    def parse(self, key: str, texts: Sequence[str]) -> object:
        values: dict[int, None] = {}
        limit = (1 << self.bits) - 1
        total = 0
        for text in texts:
            first_text, dash, last_text = text.partition("-")
            first = c_uint(first_text)
            last = c_uint(last_text) if dash else first
            if first is None or last is None or last < first or last > limit:
                raise BadValue(f"{key}={show(text, 40)}: expected a number or a range such as 0-3 (0..{limit})")
            if last - first >= RANGE_MAX:
                raise BadValue(f"{key}={show(text, 40)}: a range may hold at most {RANGE_MAX} values")
            total += last - first + 1
            if total > MAX_LIST_VALUES:
                raise BadValue(f"{key}: the list holds more than {MAX_LIST_VALUES} values")
            values.update(dict.fromkeys(range(first, last + 1)))
        return list(values)


@dataclass(frozen=True, slots=True)
class Size(Scalar):
    """A size as qemu_strtosz reads it; a bare number is ``default_scale`` bytes (-m: MiB)."""

    default_scale: int = 1
    json_type: ClassVar[type] = int

    def one(self, key: str, text: str) -> object:
        value = qemu_size(text, self.default_scale)
        if value is None:
            unit = "MiB" if self.default_scale == MIB else "bytes"
            raise BadValue(f"{key}={show(text, 40)}: expected {_SIZE_HELP}; a bare number is {unit}")
        return value


@dataclass(frozen=True, slots=True)
class Bool(Scalar):
    """on/off in every spelling qapi_bool_parse takes."""

    json_type: ClassVar[type] = bool

    def one(self, key: str, text: str) -> object:
        if text not in BOOLS:
            raise BadValue(f"{key}={show(text, 40)}: expected on or off (or yes/no, true/false, y/n)")
        return BOOLS[text]


@dataclass(frozen=True, slots=True)
class Enum(Scalar):
    """One of ``valid``, in QEMU's order; an empty text is ``blank`` when one is given."""

    valid: tuple[str, ...]
    blank: str | None = None

    def one(self, key: str, text: str) -> object:
        text = (text or self.blank) if self.blank is not None else text
        if text not in self.valid:
            raise BadValue(not_accepted(key, text, self.valid))
        return text

    def from_json(self, key: str, value: object) -> object:
        text = Value.from_json(self, key, value)
        assert isinstance(text, str)
        return self.one(key, text)


@dataclass(frozen=True, slots=True)
class Identifier(Scalar):
    """An object id as QEMU's id_wellformed takes it."""

    def one(self, key: str, text: str) -> object:
        if not _ID_RE.fullmatch(text):
            raise BadValue(
                f"Parameter '{key}' expects an identifier (letters, digits, '-', '.', '_', starting with a letter)"
            )
        return text

    def from_json(self, key: str, value: object) -> object:
        if value is None:
            raise BadValue(f"Parameter '{key}' is missing")  # numaopt reads a JSON null id as no id
        if not isinstance(value, str):
            return self.one(key, "")  # the same message as a malformed id
        return self.one(key, value)


@dataclass(frozen=True, slots=True)
class HostNodes(Value):
    """A memory backend's host-nodes: a list of host node numbers, sorted, each once."""

    def parse(self, key: str, texts: Sequence[str]) -> object:
        values = UIntList(64).parse(key, texts)
        assert isinstance(values, list)
        return self._in_range(values)

    def from_json(self, key: str, value: object) -> object:
        if value is None:
            return ()  # numaopt reads a JSON null as no host-nodes
        if not isinstance(value, list) or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
        ):
            raise BadValue(f"Invalid parameter type for '{key}', expected: a list of node numbers")
        return self._in_range(value)

    @staticmethod
    def _in_range(values: list[int]) -> tuple[int, ...]:
        for value in values:
            if value >= MAX_NODES:
                raise BadValue(f"Invalid host-nodes value: {value} (host nodes are 0-{MAX_NODES - 1})")
        return tuple(sorted(set(values)))


@dataclass(frozen=True, slots=True)
class Key:
    """One key of an option: its name, the type of its value (None: accepted, not read),
    and whether it must be given."""

    name: str
    value: Value | None = None
    required: bool = False
