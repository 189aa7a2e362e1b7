"""Per-item random streams: child seeds from ``numpy.random.SeedSequence``, drawn in batches.

Item ``k`` of a batch with seed ``S`` owns the child seed
``numpy.random.SeedSequence(S, spawn_key=(k,))`` (what ``SeedSequence(S).spawn`` hands
out as its k-th child). Its 128-bit state, ``generate_state(2, numpy.uint64)``, keys a
counter-based stream: draw ``j`` of purpose ``slot`` is a fixed hash of (key, slot, j).
So item k's numbers never depend on which other items are generated with it, and a
batch can draw them for thousands of items in one numpy operation: item k alone gives
the same layout as item k in a batch, on any number of processes.

``child_keys`` reproduces SeedSequence's mixing (numpy/random/bit_generator.pyx) with
numpy arrays, vectorised over k; a test checks it against numpy itself.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

UInt64Array = npt.NDArray[np.uint64]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

# numpy/random/bit_generator.pyx (SeedSequence); every value is a uint32.
_POOL_SIZE = 4
_INIT_A = 0x43B0D7E5
_MULT_A = 0x931E8875
_INIT_B = 0x8B51F9DD
_MULT_B = 0x58F38DED
_MIX_MULT_L = 0xCA01F9DD
_MIX_MULT_R = 0x4973F715
_MASK32 = 0xFFFFFFFF
MAX_SEED = (1 << 64) - 1
MAX_INDEX = (1 << 32) - 1


def _words(value: int) -> list[int]:
    """numpy's _int_to_uint32_array: little-endian 32-bit words, [0] for 0."""
    if value == 0:
        return [0]
    words = []
    while value:
        words.append(value & _MASK32)
        value >>= 32
    return words


class _Hash:
    """The multiplier SeedSequence's hashmix advances as it goes (data independent)."""

    def __init__(self) -> None:
        self.const = _INIT_A

    def next_const(self) -> tuple[int, int]:
        before = self.const
        self.const = (self.const * _MULT_A) & _MASK32
        return before, self.const


def _hashmix(value: npt.NDArray[np.uint64], before: int, after: int) -> npt.NDArray[np.uint64]:
    value = value ^ np.uint64(before)
    value = (value * np.uint64(after)) & np.uint64(_MASK32)
    return value ^ (value >> np.uint64(16))


def _mix(x: npt.NDArray[np.uint64], y: npt.NDArray[np.uint64]) -> npt.NDArray[np.uint64]:
    result = (np.uint64(_MIX_MULT_L) * x - np.uint64(_MIX_MULT_R) * y) & np.uint64(_MASK32)
    return result ^ (result >> np.uint64(16))


def child_keys(seed: int, indices: npt.ArrayLike) -> UInt64Array:
    """``SeedSequence(seed, spawn_key=(k,)).generate_state(2, numpy.uint64)`` for each k, shaped (b, 2)."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"seed must be between 0 and {MAX_SEED}, got {seed}")
    ks = np.asarray(indices, dtype=np.int64).reshape(-1)
    if ks.size and (ks.min() < 0 or ks.max() > MAX_INDEX):
        raise ValueError(f"item indices must be between 0 and {MAX_INDEX}")
    run = _words(seed)
    run += [0] * (_POOL_SIZE - len(run))  # a spawn key pads the run entropy to the pool size
    b = ks.size
    # Work in uint64 holding uint32 values, masking after every multiplication.
    entropy = [np.full(b, word, dtype=np.uint64) for word in run] + [ks.astype(np.uint64)]
    hashing = _Hash()
    mixer = [_hashmix(entropy[i], *hashing.next_const()) for i in range(_POOL_SIZE)]
    for i_src in range(_POOL_SIZE):
        for i_dst in range(_POOL_SIZE):
            if i_src != i_dst:
                mixer[i_dst] = _mix(mixer[i_dst], _hashmix(mixer[i_src], *hashing.next_const()))
    for word in entropy[_POOL_SIZE:]:
        for i_dst in range(_POOL_SIZE):
            mixer[i_dst] = _mix(mixer[i_dst], _hashmix(word, *hashing.next_const()))
    # generate_state(4 words of uint32) -> 2 uint64, little-endian pairs.
    const = _INIT_B
    state = []
    for i_dst in range(4):
        data = mixer[i_dst % _POOL_SIZE] ^ np.uint64(const)
        const = (const * _MULT_B) & _MASK32
        data = (data * np.uint64(const)) & np.uint64(_MASK32)
        state.append(data ^ (data >> np.uint64(16)))
    keys = np.empty((b, 2), dtype=np.uint64)
    keys[:, 0] = state[0] | (state[1] << np.uint64(32))
    keys[:, 1] = state[2] | (state[3] << np.uint64(32))
    return keys


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _finalise(z: UInt64Array) -> UInt64Array:
    """SplitMix64's output function: a bijection that avalanches every bit."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


class Draws:
    """Counter-based draws for a batch of items, each from its own key.

    ``uniform(slot, count)`` gives every item ``count`` floats in [0, 1) that depend only
    on its key, ``slot`` (a purpose: node count, family, matrix entries, ...) and the
    position; the same call on a sub-batch gives the same rows.
    """

    def __init__(self, keys: UInt64Array):
        self.keys = np.asarray(keys, dtype=np.uint64).reshape(-1, 2)

    def __len__(self) -> int:
        return int(self.keys.shape[0])

    def take(self, rows: npt.ArrayLike) -> Draws:
        return Draws(self.keys[np.asarray(rows)])

    def bits(self, slot: int, count: int) -> UInt64Array:
        counters = (np.uint64(slot) << np.uint64(32)) + np.arange(count, dtype=np.uint64)
        z = self.keys[:, 0, None] + counters[None, :] * _GOLDEN
        return _finalise(_finalise(z) ^ self.keys[:, 1, None])

    def uniform(self, slot: int, count: int = 1) -> FloatArray:
        return (self.bits(slot, count) >> np.uint64(11)).astype(np.float64) * (1.0 / (1 << 53))

    def integers(self, slot: int, low: npt.ArrayLike, high: npt.ArrayLike, count: int = 1) -> IntArray:
        """Integers in [low, high] (inclusive; per item when ``low``/``high`` are (b,) arrays)."""
        lo = np.asarray(low, dtype=np.int64)
        hi = np.asarray(high, dtype=np.int64)
        if lo.ndim == 1:
            lo = lo[:, None]
        if hi.ndim == 1:
            hi = hi[:, None]
        u = self.uniform(slot, count)
        return np.minimum(lo + np.floor(u * (hi - lo + 1)).astype(np.int64), hi)

    def choice(self, slot: int, counts: npt.ArrayLike) -> IntArray:
        """One index in [0, counts) per item: (b,)."""
        sizes = np.asarray(counts, dtype=np.int64)
        u = self.uniform(slot, 1)[:, 0]
        return np.minimum(np.floor(u * sizes).astype(np.int64), np.maximum(sizes - 1, 0))

    def seed32(self, slot: int) -> IntArray:
        """A non-negative 31-bit integer per item (for CP-SAT's random_seed)."""
        return (self.bits(slot, 1)[:, 0] >> np.uint64(33)).astype(np.int64)
