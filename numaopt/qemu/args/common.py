"""What every option family shares: an option as written, where the reading reports to, and
an option's values typed as the grammar's rows say.

``Context`` is the one piece of state a read carries from option to option: the file's
name (for errors) and the findings so far. ``Values`` is how a family gets at the keys of
its option: it asks for a key, the key's row (a ``Key``) says its type, and a value QEMU
would not parse is a ``QemuArgsError`` naming the argument that gave it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from numaopt.errors import QemuArgsError
from numaopt.rules import Finding, RuleSet, Severity

from .values import BadValue, Key, invalid_parameter, show, split_opts

_UNREAD = object()  # a key not given, or not read yet (None is a JSON value)
MAX_PARAMETERS = 65_536  # key=value elements of one option (a 4096-vCPU node listed one by one: 4097)


@dataclass(frozen=True, slots=True)
class Arg:
    """One option as written: ``name`` without dashes, ``value`` or None for a flag."""

    name: str
    value: str | None
    shown: str  # for messages: "-numa node,nodeid=0"

    @property
    def is_json(self) -> bool:
        """The value is JSON (``-object {"qom-type": ...}``, ``-device {"driver": ...}``)."""
        return (self.value or "").lstrip().startswith("{")


@dataclass(slots=True)
class Context:
    """One read of a command line: the file's name, and the findings so far (each once)."""

    source: str
    findings: list[Finding] = field(default_factory=list)

    def fail(self, where: str, message: str) -> QemuArgsError:
        return QemuArgsError(message, source=self.source, where=show(where))

    def add(self, severity: Severity, code: str, message: str, fix: str | None = None) -> None:
        finding = Finding(RuleSet.QEMU, severity, code, message, fix)
        if finding not in self.findings:
            self.findings.append(finding)

    def opts(self, arg: Arg, implied: str | None, known: Sequence[str] | None) -> list[tuple[str, str]]:
        """``key=value`` pairs in order (repeats kept); the first bare element is ``implied``;
        a key not in ``known`` (when given) is an error naming the valid ones."""
        value = arg.value or ""
        if value.count(",") >= MAX_PARAMETERS:
            raise self.fail(arg.shown, f"more than {MAX_PARAMETERS} parameters in one option")
        pairs: list[tuple[str, str]] = []
        for index, element in enumerate(split_opts(value)):
            key, eq, val = element.partition("=")
            if not eq:
                if index == 0 and implied is not None:
                    key, val = implied, element
                elif element == "":
                    raise self.fail(arg.shown, "empty parameter (two commas in a row are a literal comma: ',,')")
                else:
                    key, val = element, "on"  # QEMU's deprecated short-form boolean
            if known is not None and key not in known:
                raise self.fail(arg.shown, invalid_parameter(key, known))
            pairs.append((key, val))
        return pairs


class Values:
    """The typed values of an option's keys, each read when first asked for, as its ``Key``
    row says; a key not given is None (or "Parameter 'key' is missing" if the row requires it).

    ``raw`` holds each key's texts (a repeated key: all of them, in order) or, for the JSON
    form of ``-object``, the JSON value. Errors name ``arg``, or the option each key came
    from when ``key_args`` says (``-m`` merges its keys over several options)."""

    __slots__ = ("_arg", "_context", "_json", "_key_args", "_keys", "_missing_hint", "_raw", "_typed")

    def __init__(
        self,
        context: Context,
        keys: Mapping[str, Key],
        raw: Mapping[str, object],
        arg: Arg,
        *,
        key_args: Mapping[str, Arg] | None = None,
        json_form: bool = False,
        missing_hint: str = "",
    ):
        self._context = context
        self._keys = keys
        self._raw = raw
        self._arg = arg
        self._key_args = key_args or {}
        self._json = json_form
        self._missing_hint = missing_hint
        self._typed: dict[str, object] = {}

    def __contains__(self, key: str) -> bool:
        return key in self._raw

    def given(self) -> list[str]:
        """The keys given, in the order they were first given."""
        return list(self._raw)

    def where(self, key: str) -> Arg:
        """The option ``key`` came from."""
        return self._key_args.get(key, self._arg)

    def require(self) -> None:
        """Every required key is given (checked in the rows' order, before any value is read)."""
        for key in self._keys.values():
            if key.required and key.name not in self._raw:
                raise self._missing(key.name)

    def read(self, key: str) -> object:
        """``key``'s typed value; None when it is not given and not required."""
        typed = self._typed.get(key, _UNREAD)
        if typed is not _UNREAD:
            return typed
        row = self._keys[key]
        raw = self._raw.get(key, _UNREAD)
        if raw is _UNREAD:
            if row.required:
                raise self._missing(key)
            return None
        assert row.value is not None, f"{key} is accepted but not read: its row has no type"
        try:
            if self._json:
                typed = row.value.from_json(key, raw)
            else:
                texts = [raw] if isinstance(raw, str) else raw
                assert isinstance(texts, list)  # keyval: one text, or a repeated key's texts
                typed = row.value.parse(key, texts)
        except BadValue as bad:
            raise self._context.fail(self.where(key).shown, str(bad)) from None
        self._typed[key] = typed
        return typed

    def _missing(self, key: str) -> QemuArgsError:
        return self._context.fail(self._arg.shown, f"Parameter '{key}' is missing{self._missing_hint}")

    def number(self, key: str) -> int | None:
        value = self.read(key)
        assert value is None or isinstance(value, int)  # the row's type reads an integer
        return value

    def numbers(self, key: str) -> list[int]:
        value = self.read(key)
        assert value is None or isinstance(value, list)  # the row's type reads a list
        return value or []

    def text(self, key: str) -> str | None:
        value = self.read(key)
        assert value is None or isinstance(value, str)  # the row's type reads text
        return value

    def flag(self, key: str) -> bool | None:
        value = self.read(key)
        assert value is None or isinstance(value, bool)  # the row's type reads a boolean
        return value

    def node_set(self, key: str) -> tuple[int, ...]:
        value = self.read(key)
        assert value is None or isinstance(value, tuple)  # the row's type reads host nodes
        return value or ()
