"""Failure signatures and the known-failures file (``--expect`` / ``--write-expect``).

A signature is a failure without its numbers: the oracle and the kernel's message with
every number replaced by ``N`` (``messages: the guest kernel printed: ERROR: groups don't
span domain->span``), or the oracle and the mismatch's code (``topology: distances``).
Two items with the same signature fail for the same defect, whatever their sizes, so a
campaign can say which of its failures are new and which every campaign finds again.

The known-failures file is JSON, so that a campaign can write it and a person can edit
it::

    {"numaopt_expect": 1,
     "signatures": [{"signature": "messages: ...", "items": 3, "example": "item 7: ..."}]}

Only ``signature`` is read back; ``items`` and ``example`` say where it was seen.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from numaopt.errors import InputError
from numaopt.files import write_atomically
from numaopt.inputs import read_text

__all__ = ["EXPECT_VERSION", "Expected", "expect_text", "read_expect", "signature", "signatures_of", "write_expect"]

EXPECT_VERSION = 1


def signature(failure: Mapping[str, str]) -> str:
    """The failure's signature: its oracle and its message (numbers as N) or its code."""
    code = failure["code"]
    if code.startswith("message:"):
        return f"{failure['oracle']}: {re.sub(r'[0-9]+', 'N', failure['message'])}"
    return f"{failure['oracle']}: {code}"


def signatures_of(failures: Iterable[Mapping[str, str]]) -> tuple[str, ...]:
    """An item's signatures, each once, in the failures' order (the most severe first)."""
    return tuple(dict.fromkeys(signature(f) for f in failures))


@dataclass(frozen=True, slots=True)
class Expected:
    """The known signatures, and the file they came from (for messages)."""

    signatures: frozenset[str] = frozenset()
    source: str = ""

    def new(self, signatures: Iterable[str]) -> tuple[str, ...]:
        """Those of ``signatures`` that are not known."""
        return tuple(s for s in signatures if s not in self.signatures)


def read_expect(path: Path, option: str = "--expect") -> Expected:
    """The known signatures in ``path``; a file of another shape is one line naming what is wrong."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON ({exc.msg} at line {exc.lineno}); expected a file written by --write-expect",
                         source=str(path), where=option) from None
    if not isinstance(data, dict) or data.get("numaopt_expect") != EXPECT_VERSION:
        raise InputError(f"expected an object with \"numaopt_expect\": {EXPECT_VERSION} (a file written by --write-expect)",
                         source=str(path), where=option)
    entries = data.get("signatures")
    if not isinstance(entries, list):
        raise InputError("\"signatures\" must be a list of {\"signature\": \"...\"} objects", source=str(path), where=option)
    known: list[str] = []
    for index, entry in enumerate(entries):
        value = entry.get("signature") if isinstance(entry, dict) else None
        if not isinstance(value, str) or not value:
            raise InputError(f"signatures[{index}]: expected an object with a non-empty \"signature\" string",
                             source=str(path), where=option)
        known.append(value)
    return Expected(frozenset(known), str(path))


def expect_text(seen: Mapping[str, int], examples: Mapping[str, tuple[int, str]], known: Expected = Expected()) -> str:
    """The known-failures file for the signatures ``seen`` (signature -> items), plus those already ``known``."""
    entries: list[dict[str, Any]] = []
    for key in sorted(set(seen) | known.signatures):
        entry: dict[str, Any] = {"signature": key}
        if key in seen:
            entry["items"] = seen[key]
        if key in examples:
            item, message = examples[key]
            entry["example"] = f"item {item}: {message}"
        entries.append(entry)
    return json.dumps({"numaopt_expect": EXPECT_VERSION, "signatures": entries}, indent=1) + "\n"


def write_expect(path: Path, text: str, option: str = "--write-expect") -> None:
    """Write the file whole or not at all (a campaign stopped while writing leaves the old one)."""
    write_atomically(path, text, option)
