"""Failure signatures and the known-failures file (``--expect`` / ``--write-expect``).

A signature is a failure without its numbers, and the class of layout it failed on: the
oracle and the kernel's message with every number replaced by ``N`` (``messages: the guest
kernel printed: ERROR: groups don't span domain->span``), or the oracle and the mismatch's
code (``topology: distances``), then ``(layout: CLASS)``. The class is a coarse shape
(``layout_class``): the machine, the distance table (none, symmetric or asymmetric), and
whether some node has vCPUs but no memory (memoryless) or memory but no vCPUs (cpuless).
Two items with the same signature fail for the same defect on the same kind of layout,
whatever their sizes, so a campaign can say which of its failures are new and which every
campaign finds again. The node count is left out on purpose: a shrunk reproducer has fewer
nodes than its item, and the same defect would otherwise be new at every size.

The known-failures file is JSON, so that a campaign can write it and a person can edit
it::

    {"numaopt_expect": 2,
     "signatures": [{"signature": "sched: no-domains (layout: q35, asymmetric)", "items": 3,
                     "example": "item 7: ..."}]}

Only ``signature`` is read back; ``items`` and ``example`` say where it was seen. Version 1
files (written before signatures had a class) are still read: a signature without a class
is known on every class of layout.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from numaopt.errors import InputError
from numaopt.files import write_atomically
from numaopt.inputs import read_text
from numaopt.model import GuestLayout

__all__ = [
    "EXPECT_VERSION", "Expected", "classless", "expect_text", "layout_class", "read_expect", "signature",
    "signatures_of", "write_expect",
]  # fmt: skip

EXPECT_VERSION = 2  # 2: signatures end in "(layout: CLASS)"; 1 (without) is still read
_READ_VERSIONS = (1, 2)
_CLASS = re.compile(r" \(layout: [^()]*\)$")


def layout_class(layout: GuestLayout) -> str:
    """The layout's coarse shape: machine, distance table, memoryless and cpuless nodes."""
    parts = [layout.machine.value]
    if layout.distances is None:
        parts.append("no table")
    else:
        table = np.asarray(layout.distances)
        parts.append("symmetric" if np.array_equal(table, table.T) else "asymmetric")
    if any(node.cpus and not node.memory_bytes for node in layout.nodes):
        parts.append("memoryless")
    if any(node.memory_bytes and not node.cpus for node in layout.nodes):
        parts.append("cpuless")
    return ", ".join(parts)


def signature(failure: Mapping[str, str], layout: str = "") -> str:
    """The failure's signature: its oracle and its message (numbers as N) or its code, and
    the class of the layout it failed on (``layout_class``; none when not known)."""
    code = failure["code"]
    if code.startswith("message:"):
        key = f"{failure['oracle']}: {re.sub(r'[0-9]+', 'N', failure['message'])}"
    else:
        key = f"{failure['oracle']}: {code}"
    return f"{key} (layout: {layout})" if layout else key


def classless(key: str) -> str:
    """A signature without its layout class (what a version 1 file holds)."""
    return _CLASS.sub("", key)


def signatures_of(failures: Iterable[Mapping[str, str]], layout: str = "") -> tuple[str, ...]:
    """An item's signatures, each once, in the failures' order (the most severe first)."""
    return tuple(dict.fromkeys(signature(f, layout) for f in failures))


@dataclass(frozen=True, slots=True)
class Expected:
    """The known signatures, and the file they came from (for messages)."""

    signatures: frozenset[str] = frozenset()
    source: str = ""

    def knows(self, key: str) -> bool:
        """``key`` is known: as it is, or without its class (a version 1 file's signature)."""
        return key in self.signatures or classless(key) in self.signatures

    def new(self, signatures: Iterable[str]) -> tuple[str, ...]:
        """Those of ``signatures`` that are not known."""
        return tuple(s for s in signatures if not self.knows(s))


def read_expect(path: Path, option: str = "--expect") -> Expected:
    """The known signatures in ``path``; a file of another shape is one line naming what is wrong."""
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON ({exc.msg} at line {exc.lineno}); expected a file written by --write-expect",
                         source=str(path), where=option) from None
    if not isinstance(data, dict) or data.get("numaopt_expect") not in _READ_VERSIONS:
        raise InputError(f"expected an object with \"numaopt_expect\": {EXPECT_VERSION} (or 1) (a file written by --write-expect)",
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
