"""The campaign journal: JSON Lines, one record per finished item, flushed and fsync'd.

The first line is the campaign's header (seed, count, shard, knobs, ...). A resumed
campaign must have the same header, reads which items are done, and appends the rest;
a last line cut by a kill (no newline, or not JSON) is dropped before appending. An item
is journaled only after its reproducer directory is complete, so a record never points
at half a reproducer, and an item that was running when the campaign died runs again.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

from numaopt.errors import InputError
from numaopt.files import check_output_file, writing

__all__ = ["Journal", "JournalError", "read_journal"]


class JournalError(InputError):
    """The journal cannot be used: another campaign's, or --resume missing."""


def read_journal(path: Path) -> tuple[dict[str, Any] | None, list[dict[str, Any]], int]:
    """(header, records, bytes of complete lines). A cut last line is not counted."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, [], 0
    header: dict[str, Any] | None = None
    records: list[dict[str, Any]] = []
    good = 0
    for line in data.splitlines(keepends=True):
        if not line.endswith(b"\n"):
            break
        try:
            record = json.loads(line)
        except ValueError:
            break
        if not isinstance(record, dict):
            break
        if header is None:
            if record.get("type") != "campaign":
                raise JournalError(f"{path}: not a numaopt fuzz journal (the first line is no campaign header)")
            header = record
        else:
            records.append(record)
        good += len(line)
    return header, records, good


class Journal:
    """An open journal to append records to."""

    def __init__(self, path: Path, header: dict[str, Any], *, resume: bool) -> None:
        self.path = path
        check_output_file(path, "--out")  # a folder or a FIFO by that name is neither read nor written
        old_header, self.records, good = read_journal(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        if old_header is not None and not resume:
            raise JournalError(f"{path} already holds a campaign: pass --resume to continue it, or choose another --out")
        if old_header is not None:
            theirs = {k: v for k, v in old_header.items() if k != "started"}
            ours = {k: v for k, v in header.items() if k != "started"}
            if theirs != ours:
                changed = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
                raise JournalError(
                    f"{path} is a different campaign (differs in {', '.join(changed)}): resume with the same options"
                )
        with writing(path, "--out"):
            self._handle = open(path, "r+b" if path.exists() else "w+b")  # noqa: SIM115 (closed in close())
            if old_header is None:
                self._handle.truncate(0)
            else:
                self._handle.truncate(good)  # drop a line a kill cut short
                self._handle.seek(good)
        if old_header is None:
            self._write(header)

    @property
    def done(self) -> set[int]:
        return {int(r["item"]) for r in self.records if r.get("type") == "item"}

    def _write(self, record: dict[str, Any]) -> None:
        # A full disk is one line naming the journal; a record cut short by it is dropped
        # (like one cut by a kill) when the campaign resumes.
        with writing(self.path, "--out"):
            self._handle.write((json.dumps(record, sort_keys=True) + "\n").encode())
            self._handle.flush()
            os.fsync(self._handle.fileno())

    def append(self, record: dict[str, Any]) -> None:
        self._write(record)
        self.records.append(record)

    def close(self) -> None:
        # Every record was flushed and fsync'd when written: only the rest of one a full
        # disk refused can be left in the buffer, and it is already reported.
        with contextlib.suppress(OSError):
            self._handle.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
