"""Input reading benchmark: files of QEMU arguments up to 10 MB, and inputs that never end.

Run: python3 benchmarks/bench_inputs.py [--repeat N] [--write]

Each case is a file written to a temporary directory and read the way ``numaopt check
FILE`` reads it (size-capped UTF-8 read, then ``read_qemu_args``), and every result is
checked (the long argument comes back whole). Target: a 10 MB argument file in at most
2 s. Peer measured in the same run: ``shlex.split`` (what numaopt used before), which
grows each word one character at a time, on one long argument of 1 and 2 MB.

``--write`` refreshes the "Input reading (issue 11)" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from numaopt.errors import InputError
from numaopt.inputs import MAX_TEXT_BYTES, read_text
from numaopt.qemu.args import read_qemu_args, split_command

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import cpu_model, free_memory_table, write_section

SECTION = "## Input reading (issue 11)"
MB = 10**6
HEAD = "qemu-system-x86_64 -machine q35 -m 1G -smp 2 "
TARGET_S = 2.0


def _cases(size: int) -> dict[str, tuple[str, Callable[[str], bool]]]:
    """name -> (file text of about ``size`` bytes, check of the argv's last word)."""
    quarter = size // 4
    return {
        "one long argument (-name xxxx...)": (HEAD + "-name " + "x" * size, lambda w: len(w) == size),
        "one long argument, single-quoted with spaces": (HEAD + "-name '" + "a b " * quarter + "'", lambda w: len(w) == 4 * quarter),
        "one long argument, escaped spaces (a\\ b...)": (HEAD + "-name " + "a\\ b" * quarter, lambda w: w == "a b" * quarter),
        'one long argument, double-quoted with \\" escapes': (HEAD + '-name "' + 'a\\"b' * quarter + '"', lambda w: w == 'a"b' * quarter),
        "comment lines after the command": (HEAD + "-name vm\n" + "# a comment line here\n" * (size // 22), lambda w: w == "vm"),
        "continuation lines (-device x \\\\ per line), cut at 100,000 options": (
            HEAD + "-device virtio-rng \\\n" * (size // 21),
            lambda w: w == "virtio-rng",
        ),
    }


def _time(function: Callable[[], object], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def _read_args(path: Path) -> bool:
    """What check does with a file of arguments: True if read, False if refused in one line."""
    try:
        read_qemu_args(read_text(path), str(path))
    except InputError as exc:
        assert "\n" not in str(exc) and len(str(exc)) <= 280
        return False
    return True


def run_cases(directory: Path, size: int, repeat: int) -> list[tuple[str, int, float, float, str]]:
    rows = []
    for name, (text, check) in _cases(size).items():
        path = directory / "vm.args"
        path.write_text(text)
        outcome = "read" if _read_args(path) else "refused in one line"
        assert check(split_command(text)[-1]), name  # the words come back whole
        times = _time(lambda path=path: _read_args(path), repeat)  # type: ignore[misc]
        rows.append((name, path.stat().st_size, statistics.median(times), min(times), outcome))
    return rows


def never_ending(repeat: int) -> float:
    """Seconds to refuse /dev/zero as a host source (read up to the cap, then stop)."""

    def refuse() -> None:
        try:
            read_text("/dev/zero")
        except InputError as exc:
            assert "larger than 32 MiB" in str(exc)
            return
        raise AssertionError("/dev/zero was read")

    return statistics.median(_time(refuse, repeat))


def shlex_peer(sizes: list[int]) -> list[tuple[int, float]]:
    rows = []
    for size in sizes:
        text = HEAD + "-name " + "x" * size
        started = time.perf_counter()
        words = shlex.split(text, posix=True)
        rows.append((size, time.perf_counter() - started))
        assert len(words[-1]) == size
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="refresh the section in benchmarks/RESULTS.md")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        rows = run_cases(Path(name), 10 * MB, options.repeat)
    zero_s = never_ending(options.repeat)
    peer = shlex_peer([MB, 2 * MB])
    lines = [
        SECTION,
        "",
        f"Command: `python3 benchmarks/bench_inputs.py --repeat {options.repeat}`. Each file is read as "
        "`numaopt check FILE` reads it (size-capped UTF-8 read, `read_qemu_args`); the long argument is checked "
        f"to come back whole. Median of {options.repeat} runs. Target: a 10 MB argument file in at most {TARGET_S:g} s.",
        "",
        f"- nproc: {os.cpu_count()}; CPU: {cpu_model()}; Python {platform.python_version()}",
        "- `free -g`:",
        "",
        "```",
        free_memory_table(),
        "```",
        "",
        "| file of QEMU arguments | size | outcome | median s | min s | within target |",
        "|---|---:|---|---:|---:|---|",
    ]
    for case, size, median, fastest, outcome in rows:
        lines.append(
            f"| {case} | {size / MB:.1f} MB | {outcome} | {median:.3f} | {fastest:.3f} | {'yes' if median <= TARGET_S else 'NO'} |"
        )
    lines += [
        "",
        f"A host source that never ends (`numactl:/dev/zero`): refused after reading {MAX_TEXT_BYTES >> 20} MiB "
        f"in {zero_s:.3f} s.",
        "",
        "Peer, same run: `shlex.split` (numaopt's splitter before this change) on one long argument:",
        "",
        "| argument | shlex.split s | numaopt s (10 MB, from the table) |",
        "|---:|---:|---:|",
    ]
    ours = rows[0][2]
    for size, seconds in peer:
        lines.append(f"| {size / MB:.0f} MB | {seconds:.2f} | {ours:.3f} |")
    section = "\n".join(lines) + "\n"
    print(section)
    if options.write:
        write_section(SECTION, section)


if __name__ == "__main__":
    main()
