"""The journal (fsync'd JSON Lines, resume), sharding, item generation, and the summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from numaopt.errors import InputError
from numaopt.fuzz.executor import reason_key, summarise
from numaopt.fuzz.items import generated_items, parse_shard, shard_ids
from numaopt.fuzz.journal import Journal, JournalError, read_journal
from numaopt.generate import Knobs, Range

HEADER = {"type": "campaign", "seed": 1, "count": 4, "started": "then"}


def item(k: int, verdict: str = "pass", failures: list[dict[str, str]] | None = None) -> dict[str, object]:
    return {"type": "item", "item": k, "verdict": verdict, "failures": failures or [], "reproducer": None}


def test_append_read_and_resume(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path, HEADER, resume=False) as journal:
        journal.append(item(0))
        journal.append(item(2))
    header, records, size = read_journal(path)
    assert header == HEADER and [r["item"] for r in records] == [0, 2] and size == path.stat().st_size
    with pytest.raises(JournalError, match="pass --resume"):
        Journal(path, HEADER, resume=False)
    with Journal(path, {**HEADER, "started": "now"}, resume=True) as journal:  # the start time may differ
        assert journal.done == {0, 2}
        journal.append(item(1))
    assert [r["item"] for r in read_journal(path)[1]] == [0, 2, 1]


def test_a_line_cut_by_a_kill_is_dropped(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    with Journal(path, HEADER, resume=False) as journal:
        journal.append(item(0))
    with open(path, "ab") as handle:
        handle.write(b'{"type": "item", "item": 1, "verd')  # killed mid-write
    assert [r["item"] for r in read_journal(path)[1]] == [0]
    with Journal(path, HEADER, resume=True) as journal:
        assert journal.done == {0}
        journal.append(item(1))
    lines = path.read_text().splitlines()
    assert [json.loads(line)["item"] for line in lines[1:]] == [0, 1]


def test_another_campaign_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    Journal(path, HEADER, resume=False).close()
    with pytest.raises(JournalError, match=r"different campaign \(differs in seed\)"):
        Journal(path, {**HEADER, "seed": 2}, resume=True)
    other = tmp_path / "other.jsonl"
    other.write_text('{"hello": 1}\n')
    with pytest.raises(JournalError, match="not a numaopt fuzz journal"):
        Journal(other, HEADER, resume=True)


def test_shards_partition_the_campaign() -> None:
    assert parse_shard("1/3") == (1, 3)
    for bad in ("3/3", "x", "1/0", "-1/2"):
        with pytest.raises(InputError, match="--shard"):
            parse_shard(bad)
    parts = [shard_ids(10, (i, 3)) for i in range(3)]
    assert sorted(k for part in parts for k in part) == list(range(10))
    assert parts[1] == [1, 4, 7]


def test_items_do_not_depend_on_their_neighbours() -> None:
    knobs = Knobs(nodes=Range(1, 3), vcpus_per_node=Range(1, 2))
    together = {w.item_id: w for w in generated_items(knobs, 5, range(6))}
    alone = next(iter(generated_items(knobs, 5, [4])))
    assert alone.item_id == 4 and alone.child_seed == "5/4"
    assert alone.layout == together[4].layout and alone.label == together[4].label
    assert all(w.layout is not None and w.layout.num_nodes <= 3 for w in together.values())


def test_summary_counts_and_unique_reasons() -> None:
    failure = {"oracle": "messages", "code": "message:error", "message": "the guest kernel printed: ERROR: CPU 3 x"}
    same = {"oracle": "messages", "code": "message:error", "message": "the guest kernel printed: ERROR: CPU 7 x"}
    groups = {"oracle": "sched", "code": "groups", "message": "CPU 2 domain 1 (NUMA): groups cover 2-3, the span is 0-3"}
    records = [item(0), item(1, "fail", [failure, groups]), item(2, "fail", [same]), item(3, "skipped")]
    summary = summarise(records, total=5)
    assert (summary.done, summary.total) == (4, 5)
    assert summary.verdicts == {"pass": 1, "fail": 2, "skipped": 1}
    assert summary.by_oracle == {"messages": 2, "sched": 1}
    assert reason_key(failure) == reason_key(same) == "messages: the guest kernel printed: ERROR: CPU N x"
    assert summary.reasons == {"messages: the guest kernel printed: ERROR: CPU N x": 2, "sched: groups": 1}
    assert summary.examples["sched: groups"] == (1, groups["message"])
