"""Fuzz guest schedulers: boot generated layouts, judge them, keep and shrink failures.

* ``items``: the (item id, child seed, layout, rule set) stream, from the generator;
* ``executor``: boots and judges items (``--jobs`` processes or a Dask cluster), writes
  reproducer directories and the journal, summarises;
* ``journal``: the fsync'd JSON Lines journal that ``--resume`` continues;
* ``shrink``: the greedy shrinker (fewer nodes, vCPUs, threads, simpler distances);
* ``signatures``: a failure's signature (oracle + message without numbers, or mismatch
  kind) and the known-failures file of ``--expect`` / ``--write-expect``;
* ``provenance``: what a reproducer ran on (kernel path, source, release, sha256; QEMU);
* ``replay``: boot a reproducer again under its recorded kernel(s).
"""

from numaopt.fuzz.executor import CampaignSummary, ItemResult, RunSettings, Task, run_campaign, run_item, summarise
from numaopt.fuzz.items import WorkItem, generated_items, parse_shard, shard_ids
from numaopt.fuzz.journal import Journal, JournalError, read_journal
from numaopt.fuzz.shrink import ShrinkResult, shrink

__all__ = [
    "CampaignSummary",
    "ItemResult",
    "Journal",
    "JournalError",
    "RunSettings",
    "ShrinkResult",
    "Task",
    "WorkItem",
    "generated_items",
    "parse_shard",
    "read_journal",
    "run_campaign",
    "run_item",
    "shard_ids",
    "shrink",
    "summarise",
]
