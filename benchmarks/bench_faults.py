"""Fault benchmark: generate and fuzz campaigns killed with SIGKILL at random moments, then resumed.

Run: python3 benchmarks/bench_faults.py [--quick] [--generate N] [--fuzz N] [--seed S] [--write]

Each campaign is ``python -m numaopt generate|fuzz`` started with a marker in its
environment (every process it starts inherits it, so its descendants are found in /proc
after they were reparented), killed with SIGKILL at a moment drawn uniformly from
[0, 0.9 x the time an uninterrupted run of the same campaign took] (seeded), and run again
(``fuzz --resume``) to completion. Against the uninterrupted run of the same seed it counts:

* lost items (an item of the uninterrupted run missing after the resume) and duplicated
  items (an item recorded twice in index.jsonl or journal.jsonl); for generate also
  whether the folder is byte-identical;
* orphans: processes of the killed run still alive 5 s after the kill (they are then
  killed, so that one case does not spill into the next), and the longest time they took
  to go;
* temporary files (``.NAME.PID-TOKEN.tmp``, reproducer folders under construction) the
  kill left, and how many are left after the resume.

The goal is 0 lost / 0 duplicated / 0 orphans / 0 temporary files after the resume.
``--quick`` runs 10 generate and 3 fuzz campaigns; the full run 100 and 30.
``--write`` refreshes the "Killed runs (issue 11)" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from numaopt.processes import processes_with_env

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import cpu_model, free_memory_table, write_section

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Killed runs (issue 11)"
TAG = "NUMAOPT_BENCH_RUN"
ORPHAN_WAIT_S = 5.0
GENERATE_SEEDS = (101, 102, 103, 104, 105)
FUZZ_SEEDS = (7, 8, 9)


def generate_args(seed: int) -> list[str]:
    # 2000 layouts: two worker processes (and the resource tracker) for most of the run.
    return ["generate", "--count", "2000", "--seed", str(seed), "--jobs", "2", "--quiet"]


def fuzz_args(seed: int) -> list[str]:
    # Small guests of every distance family: some fail, so reproducers and shrinking run too.
    return ["fuzz", "-n", "4", "--seed", str(seed), "--nodes", "1-3", "--vcpus-per-node", "1", "--threads", "1",
            "--memory-per-node", "128MiB", "--shrink-boots", "2", "--jobs", "2"]


@dataclass
class Case:
    kind: str
    seed: int
    kill_at_s: float
    lost: int = 0
    duplicated: int = 0
    identical: bool = True  # generate: the folder equals the uninterrupted run's
    orphans: int = 0  # alive ORPHAN_WAIT_S after the kill
    orphan_names: list[str] = field(default_factory=list)
    gone_after_s: float = 0.0  # until the last process of the killed run was gone
    temporaries_after_kill: int = 0
    temporaries_after_resume: int = 0
    finished_before_kill: bool = False
    verdicts_changed: int = 0  # fuzz: items whose verdict differs from the uninterrupted run (load)


class Started:
    """``python -m numaopt ARGS`` with the marker; output to a log file (a pipe would be
    held open by a child that outlived numaopt)."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.tag = uuid.uuid4().hex
        self.started = time.monotonic()
        with log.open("w") as handle:
            self.process = subprocess.Popen([sys.executable, "-m", "numaopt", *args], cwd=ROOT, stdin=subprocess.DEVNULL,
                                            stdout=handle, stderr=subprocess.STDOUT, env={**os.environ, TAG: self.tag})

    def family(self) -> list[int]:
        return processes_with_env(TAG, self.tag)

    def finish(self) -> tuple[int, float]:
        status = self.process.wait()
        return status, time.monotonic() - self.started


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"


def kill_at(run: Started, at_s: float, case: Case) -> None:
    """SIGKILL ``run`` ``at_s`` after its start; watch its processes for ORPHAN_WAIT_S."""
    remaining = at_s - (time.monotonic() - run.started)
    try:
        run.process.wait(timeout=max(0.0, remaining))
        case.finished_before_kill = True
        return
    except subprocess.TimeoutExpired:
        pass
    killed = time.monotonic()
    run.process.kill()
    run.process.wait()
    left = run.family()
    while left and time.monotonic() - killed < ORPHAN_WAIT_S:
        time.sleep(0.02)
        left = run.family()
    case.gone_after_s = time.monotonic() - killed
    case.orphans = len(left)
    case.orphan_names = sorted(_comm(pid) for pid in left)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def temporaries(folder: Path) -> int:
    """Temporary files and folders under ``folder`` (all start with a dot and end in .tmp)."""
    return sum(1 for path in folder.rglob(".*.tmp"))


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def records(path: Path) -> list[dict[str, object]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines[1:]]


def reference(kind: str, seed: int, work: Path) -> tuple[Path, float]:
    out = work / f"reference-{kind}-{seed}"
    args = generate_args(seed) if kind == "generate" else fuzz_args(seed)
    status, wall = Started([*args, "--out", str(out)], work / f"reference-{kind}-{seed}.log").finish()
    if status not in (0, 4):
        raise SystemExit(f"the uninterrupted {kind} run of seed {seed} failed with status {status}: see {work}")
    return out, wall


def generate_case(seed: int, at_s: float, ref: Path, work: Path, number: int) -> Case:
    case = Case("generate", seed, at_s)
    out = work / f"generate-{number}"
    args = [*generate_args(seed), "--out", str(out)]
    kill_at(Started(args, work / f"generate-{number}.log"), at_s, case)
    case.temporaries_after_kill = temporaries(out) if out.exists() else 0
    status, _ = Started(args, work / f"generate-{number}-resume.log").finish()
    if status != 0:
        raise SystemExit(f"resuming generate case {number} failed with status {status}: see {work}")
    case.temporaries_after_resume = temporaries(out)
    ours = [r["index"] for r in records(out / "index.jsonl") if r["record"] != "coverage"]
    theirs = [r["index"] for r in records(ref / "index.jsonl") if r["record"] != "coverage"]
    case.lost = len(set(theirs) - set(ours))
    case.duplicated = len(ours) - len(set(ours))
    case.identical = tree(out) == tree(ref)
    shutil.rmtree(out)
    return case


def fuzz_case(seed: int, at_s: float, ref: Path, work: Path, number: int) -> Case:
    case = Case("fuzz", seed, at_s)
    out = work / f"fuzz-{number}"
    args = [*fuzz_args(seed), "--out", str(out)]
    kill_at(Started(args, work / f"fuzz-{number}.log"), at_s, case)
    case.temporaries_after_kill = temporaries(out) if out.exists() else 0
    status, _ = Started([*args, "--resume"], work / f"fuzz-{number}-resume.log").finish()
    if status not in (0, 4):
        raise SystemExit(f"resuming fuzz case {number} failed with status {status}: see {work}")
    case.temporaries_after_resume = temporaries(out)
    ours = [r for r in records(out / "journal.jsonl") if r.get("type") == "item"]
    theirs = {r["item"]: r["verdict"] for r in records(ref / "journal.jsonl") if r.get("type") == "item"}
    items = [r["item"] for r in ours]
    case.lost = len(set(theirs) - set(items))
    case.duplicated = len(items) - len(set(items))
    case.verdicts_changed = sum(1 for r in ours if theirs.get(r["item"]) != r["verdict"])
    shutil.rmtree(out)
    return case


def _qemu_version() -> str:
    try:
        text = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout
    except OSError:
        return "not installed"
    return text.splitlines()[0] if text else "unknown"


def _commit() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "numaopt"], cwd=ROOT, capture_output=True, text=True).stdout
    return head + (" plus uncommitted changes to numaopt/ (other work in progress)" if dirty.strip() else "")


def summary_rows(cases: list[Case]) -> list[str]:
    rows = []
    for kind in ("generate", "fuzz"):
        mine = [c for c in cases if c.kind == kind]
        if not mine:
            continue
        killed = [c for c in mine if not c.finished_before_kill]
        rows.append(
            f"| {kind} | {len(mine)} | {len(killed)} | {sum(c.lost for c in mine)} | {sum(c.duplicated for c in mine)} | "
            + (f"{sum(not c.identical for c in mine)} | " if kind == "generate" else "n/a | ")
            + f"{sum(c.orphans for c in mine)} | {max((c.gone_after_s for c in killed), default=0):.2f} | "
            f"{sum(c.temporaries_after_kill for c in mine)} | {sum(c.temporaries_after_resume for c in mine)} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 generate and 3 fuzz campaigns")
    parser.add_argument("--generate", type=int, help="generate campaigns (default 100, --quick 10)")
    parser.add_argument("--fuzz", type=int, help="fuzz campaigns (default 30, --quick 3)")
    parser.add_argument("--seed", type=int, default=2024, help="seed of the kill moments")
    parser.add_argument("--write", action="store_true", help="refresh the section in benchmarks/RESULTS.md")
    options = parser.parse_args()
    num_generate = options.generate if options.generate is not None else (10 if options.quick else 100)
    num_fuzz = options.fuzz if options.fuzz is not None else (3 if options.quick else 30)
    rng = np.random.default_rng(options.seed)
    started = time.monotonic()
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    cases: list[Case] = []
    walls: dict[str, list[float]] = {"generate": [], "fuzz": []}
    try:
        for kind, count, seeds, run_case in (("generate", num_generate, GENERATE_SEEDS, generate_case),
                                             ("fuzz", num_fuzz, FUZZ_SEEDS, fuzz_case)):
            if count == 0:
                continue
            used = seeds[: min(len(seeds), count)]
            refs = {seed: reference(kind, seed, work) for seed in used}
            walls[kind] = [wall for _, wall in refs.values()]
            for number in range(count):
                seed = used[number % len(used)]
                ref, wall = refs[seed]
                at_s = float(rng.uniform(0, 0.9 * wall))
                case = run_case(seed, at_s, ref, work, number)
                cases.append(case)
                print(f"{kind} {number + 1}/{count}: seed {seed}, killed at {at_s:.2f} s: lost {case.lost}, "
                      f"duplicated {case.duplicated}, orphans {case.orphans} {case.orphan_names or ''}, "
                      f"gone after {case.gone_after_s:.2f} s, temporaries {case.temporaries_after_kill} -> "
                      f"{case.temporaries_after_resume}" + ("" if case.identical else ", NOT byte-identical")
                      + (", finished before the kill" if case.finished_before_kill else ""), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total_s = time.monotonic() - started
    quick = " --quick" if options.quick else ""
    lines = [
        SECTION,
        "",
        f"Command: `python3 benchmarks/bench_faults.py{quick} --seed {options.seed}`"
        + (" (the quick run, not the full 100 + 30)" if options.quick else "")
        + f"; {total_s / 60:.0f} min in all. Code: numaopt at commit {_commit()}.",
        "",
        f"- nproc: {os.cpu_count()}; CPU: {cpu_model()}; Python {platform.python_version()}; {_qemu_version()}; "
        f"load average at the start {load_before[0]:.1f} (other sessions' work shares the cores)",
        "- `free -g`:",
        "",
        "```",
        free_memory_table(),
        "```",
        "",
        "Each campaign is killed with SIGKILL at a moment drawn uniformly from [0, 0.9 x its uninterrupted "
        "run's time], then run again to completion (`fuzz --resume`), and compared with the uninterrupted run "
        "of the same seed. generate: `" + " ".join(generate_args(GENERATE_SEEDS[0]))
        + " --out DIR` (seeds " + ", ".join(map(str, GENERATE_SEEDS)) + "; uninterrupted "
        + ", ".join(f"{w:.1f}" for w in walls["generate"]) + " s). fuzz: `" + " ".join(fuzz_args(FUZZ_SEEDS[0]))
        + " --out DIR` (seeds " + ", ".join(map(str, FUZZ_SEEDS)) + "; uninterrupted "
        + ", ".join(f"{w:.1f}" for w in walls["fuzz"]) + " s; real QEMU TCG guests).",
        "",
        "| campaign | runs | killed mid-run | lost items | duplicated items | not byte-identical | "
        f"orphans after {ORPHAN_WAIT_S:g} s | longest until all gone, s | temporaries left by the kills | "
        "temporaries after the resume |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *summary_rows(cases),
        "",
        "Goal: 0 lost / 0 duplicated / 0 orphans / 0 temporaries after the resume. The temporaries a kill "
        "leaves (a file being renamed into place, a reproducer folder being filled) are removed by the resume. "
        f"fuzz items whose verdict differs from the uninterrupted run: {sum(c.verdicts_changed for c in cases)} "
        "(a guest judged on a loaded machine; not a fault of the resume).",
    ]
    section = "\n".join(lines) + "\n"
    print(section)
    if options.write:
        write_section(SECTION, section)


if __name__ == "__main__":
    main()
