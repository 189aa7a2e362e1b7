"""What a campaign boots: a stream of (item id, child seed, layout, rule set).

The executor only needs ``WorkItem``s; ``generated_items`` makes them with the layout
generator's public API (``numaopt.generate``: ``resolve``, ``generate_items``), where
item k's layout depends on the campaign seed and k alone
(``numpy.random.SeedSequence(seed, spawn_key=(k,))``), so a resumed or sharded campaign
regenerates exactly the items it still has to run.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from numaopt.errors import InputError
from numaopt.model import GuestLayout
from numaopt.rules import RuleSet

__all__ = ["WorkItem", "generated_items", "parse_shard", "shard_ids"]

CHUNK = 64  # items generated per call: the generator vectorises over a chunk


@dataclass(frozen=True, slots=True, eq=False)
class WorkItem:
    """One layout to boot. ``skipped`` holds the generator's reason when it made none."""

    item_id: int
    child_seed: str  # "SEED/k": numpy.random.SeedSequence(SEED, spawn_key=(k,))
    layout: GuestLayout | None
    rules: RuleSet
    label: str = ""  # e.g. the distance family
    skipped: str | None = None


def parse_shard(text: str) -> tuple[int, int]:
    """"i/n" -> (i, n) with 0 <= i < n."""
    try:
        left, right = text.split("/")
        index, count = int(left), int(right)
    except ValueError:
        raise InputError(f"--shard {text!r}: expected i/n, e.g. 0/4 for the first of four shards") from None
    if count < 1 or not 0 <= index < count:
        raise InputError(f"--shard {text!r}: need 0 <= i < n")
    return index, count


def shard_ids(count: int, shard: tuple[int, int] = (0, 1)) -> list[int]:
    """The item ids of shard i of n: k with k mod n == i, so shards never overlap and cover all."""
    index, total = shard
    return list(range(index, count, total))


def generated_items(knobs: object, seed: int, item_ids: Iterable[int]) -> Iterator[WorkItem]:
    """Items ``item_ids`` of the generator's batch (``knobs``: a ``numaopt.generate.Knobs``)."""
    from numaopt.generate import Generated, generate_items, resolve

    space = resolve(knobs)  # type: ignore[arg-type]
    ids = list(item_ids)
    for start in range(0, len(ids), CHUNK):
        for outcome in generate_items(space, seed, ids[start : start + CHUNK]):
            child = f"{seed}/{outcome.index}"
            if isinstance(outcome, Generated):
                yield WorkItem(outcome.index, child, outcome.layout, outcome.rules, outcome.family.value)
            else:
                target = getattr(knobs, "target", RuleSet.LINUX_ACPI)
                yield WorkItem(outcome.index, child, None, target, outcome.family.value, skipped=outcome.reason)
