"""Which of several unexpected keys QEMU 7.2 names: "Parameter 'smp.KEY' is unexpected".

QEMU reads a keyval option (``-smp``, ``-machine smp.*``) into a QDict, then visits it
as a struct: the visitor copies the QDict's keys into a GLib hash table, removes each
member it reads, and names the first key left in the table's iteration order. That order
is neither the command line's nor alphabetical; it is fixed by two hash tables, which
this module replays:

* QDict (qobject/qdict.c): 512 buckets by ``tdb_hash(key) % 512``, each a list with the
  newest entry first; iterated bucket by bucket.
* GHashTable (GLib 2.74, glib/ghash.c): open addressing over a power-of-two array,
  home slot ``(g_str_hash(key) * 11) % prime`` and quadratic probing; it grows when the
  occupied slots reach the size and shrinks (in place, re-placing entries in slot
  order) when fewer than a quarter of the slots hold keys; iterated slot by slot.

Checked against the real qemu-system-x86_64 7.2 on Debian 12 (GLib 2.74) with random sets
of unexpected and valid ``-smp`` keys (tests/qemu/test_qemu_args_unexpected.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

_MASK32 = 0xFFFFFFFF
_QDICT_BUCKETS = 512
_MIN_SHIFT = 3
# glib/ghash.c prime_mod: the modulus for each table size 1 << shift.
_PRIME_MOD = (1, 2, 3, 7, 13, 31, 61, 127, 251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521)
_UNUSED, _TOMBSTONE = 0, 1


def _tdb_hash(key: str) -> int:
    """qobject/qdict.c tdb_hash, in 32-bit unsigned arithmetic."""
    data = key.encode()
    value = (0x238F13AF * len(data)) & _MASK32
    for i, byte in enumerate(data):
        value = (value + (byte << (i * 5 % 24))) & _MASK32
    return (1103515243 * value + 12345) & _MASK32


def _g_str_hash(key: str) -> int:
    """GLib's g_str_hash (djb2 over signed chars; ASCII keys are what QEMU's parser lets through)."""
    value = 5381
    for byte in key.encode():
        value = (value * 33 + (byte - 256 if byte > 127 else byte)) & _MASK32
    return value if value > 1 else 2  # 0 and 1 mark unused and removed slots


def qdict_order(keys: Iterable[str]) -> list[str]:
    """The keys as qdict_first/qdict_next return them, inserted in ``keys``' order."""
    buckets: dict[int, list[str]] = {}
    for key in keys:
        bucket = buckets.setdefault(_tdb_hash(key) % _QDICT_BUCKETS, [])
        if key not in bucket:
            bucket.insert(0, key)  # QLIST_INSERT_HEAD
    return [key for index in sorted(buckets) for key in buckets[index]]


class _GHashSet:
    """The slots of a GHashTable used as a set of string keys, as GLib 2.74 moves them."""

    def __init__(self) -> None:
        self._set_shift(_MIN_SHIFT)
        self.hashes: list[int] = [_UNUSED] * self.size
        self.keys: list[str | None] = [None] * self.size
        self.nnodes = 0
        self.noccupied = 0

    def _set_shift(self, shift: int) -> None:
        self.size, self.mod, self.mask = 1 << shift, _PRIME_MOD[shift], (1 << shift) - 1

    def _index(self, hashed: int) -> int:
        return ((hashed * 11) & _MASK32) % self.mod

    def _lookup(self, key: str, hashed: int) -> int:
        index, step, tombstone = self._index(hashed), 0, None
        while self.hashes[index] != _UNUSED:
            if self.hashes[index] == hashed and self.keys[index] == key:
                return index
            if self.hashes[index] == _TOMBSTONE and tombstone is None:
                tombstone = index
            step += 1
            index = (index + step) & self.mask
        return index if tombstone is None else tombstone

    def insert(self, key: str) -> None:
        hashed = _g_str_hash(key)
        index = self._lookup(key, hashed)
        old = self.hashes[index]
        if old > _TOMBSTONE:
            return  # already there
        self.hashes[index], self.keys[index] = hashed, key
        self.nnodes += 1
        if old == _UNUSED:
            self.noccupied += 1
            self._maybe_resize()

    def remove(self, key: str) -> None:
        index = self._lookup(key, _g_str_hash(key))
        if self.hashes[index] <= _TOMBSTONE:
            return
        self.hashes[index], self.keys[index] = _TOMBSTONE, None
        self.nnodes -= 1
        self._maybe_resize()

    def _maybe_resize(self) -> None:
        small = self.size > self.nnodes * 4 and self.size > 1 << _MIN_SHIFT
        if small or self.size <= self.noccupied + self.noccupied // 16:
            self._resize()

    def _resize(self) -> None:
        """g_hash_table_resize: the new size from the node count, entries re-placed in slot order."""
        old_size = self.size
        self._set_shift(max(int(self.nnodes * 1.333).bit_length(), _MIN_SHIFT))
        if self.size > old_size:
            self.hashes += [_UNUSED] * (self.size - old_size)
            self.keys += [None] * (self.size - old_size)
        placed = [False] * max(self.size, old_size)
        for i in range(old_size):
            hashed = self.hashes[i]
            if hashed <= _TOMBSTONE:
                self.hashes[i] = _UNUSED
                continue
            if placed[i]:
                continue
            key = self.keys[i]
            self.hashes[i], self.keys[i] = _UNUSED, None
            while True:  # place it; an entry not yet placed that sat there moves on
                index, step = self._index(hashed), 0
                while placed[index]:
                    step += 1
                    index = (index + step) & self.mask
                placed[index] = True
                replaced_hash, replaced_key = self.hashes[index], self.keys[index]
                self.hashes[index], self.keys[index] = hashed, key
                if replaced_hash <= _TOMBSTONE:
                    break
                hashed, key = replaced_hash, replaced_key
        del self.hashes[self.size :], self.keys[self.size :]
        self.noccupied = self.nnodes

    def first(self) -> str | None:
        return next((key for hashed, key in zip(self.hashes, self.keys, strict=True) if hashed > _TOMBSTONE), None)


def first_unexpected(given: Sequence[str], members: Iterable[str]) -> str | None:
    """The key QEMU names as unexpected: ``given`` are the option's keys in command-line
    order, ``members`` the struct's members (the visitor removes those given, in this order)."""
    table = _GHashSet()
    for key in qdict_order(given):
        table.insert(key)
    for member in members:
        table.remove(member)
    return table.first()
