"""The memory-hotplug keys of an explicit ``[guest]``: ``maxmem``, ``slots`` and ``dimms``.

Only the form of each value is refused here; whether QEMU takes them (slots without
maxmem, more DIMMs than slots, DIMMs beyond maxmem, a DIMM not 2 MiB aligned or on a node
that does not exist) is for ``numaopt check`` to say in QEMU's words.
"""

from __future__ import annotations

import dataclasses

from numaopt.model import Dimm, GuestLayout
from numaopt.problem import schema
from numaopt.problem.hmat import tables
from numaopt.problem.schema import keys
from numaopt.tables import TableReader
from numaopt.units import parse_size

__all__ = ["read_hotplug"]

DIMM_KEYS = keys(schema.Dimm)
_MAX_SLOTS = 4096  # QEMU takes 256 at most and says so; larger numbers are not worth reading


def read_hotplug(guest: TableReader, layout: GuestLayout) -> GuestLayout:
    """``layout`` with the file's ``maxmem``, ``slots`` and ``dimms``."""
    maxmem = guest.convert("maxmem", parse_size) if guest.has("maxmem") else None
    slots = guest.integer("slots", 0, _MAX_SLOTS, "a number of DIMM slots", default=0)
    dimms = []
    for index, raw in enumerate(tables(guest, "dimms")):
        entry = TableReader(guest.source, raw, guest.where(f"dimms[{index}]"), DIMM_KEYS)
        node = entry.integer("node", 0, 127, "a node id", required=True)
        size = entry.convert("size", parse_size, required=True)
        if size <= 0:
            raise entry.error("a DIMM needs a size above 0, e.g. \"512MiB\"", "size")
        dimms.append(Dimm(node, size))
    if maxmem is None and not slots and not dimms:
        return layout
    return dataclasses.replace(layout, maxmem_bytes=maxmem, slots=slots, dimms=tuple(dimms))
