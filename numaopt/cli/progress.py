"""A live status line while the search runs: only on a terminal, never in a pipe or with --quiet."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.live import Live
from rich.text import Text

from numaopt.solver import Progress


class SearchStatus:
    """Elapsed time against the limit, best objective, bound and gap; rendered by rich on
    every refresh, so the clock moves even while CP-SAT finds nothing new."""

    def __init__(self, time_limit_s: float):
        self.start = time.perf_counter()
        self.time_limit_s = time_limit_s
        self.best: float | None = None
        self.bound: float | None = None

    def update(self, best: float | None, bound: float | None) -> None:
        """Called from CP-SAT's threads; plain attribute writes, read by the refresh thread."""
        if best is not None:
            self.best = best
        if bound is not None:
            self.bound = bound

    def __rich__(self) -> Text:
        elapsed = time.perf_counter() - self.start
        line = f"searching {elapsed:5.1f} s of {self.time_limit_s:g} s"
        if self.best is not None:
            line += f" | best {self.best:g}"
        if self.bound is not None:
            line += f" | bound {self.bound:g}"
            if self.best is not None:
                line += f" | gap {abs(self.best - self.bound) / max(abs(self.best), 1e-9):.2%}"
        return Text(line)


def wanted(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()


@contextmanager
def search_progress(enabled: bool, time_limit_s: float) -> Iterator[Progress | None]:
    """A progress callback for the search, drawing a transient status line; None when off."""
    if not enabled:
        yield None
        return
    status = SearchStatus(time_limit_s)
    with Live(status, console=Console(stderr=True), refresh_per_second=8, transient=True):
        yield status.update
