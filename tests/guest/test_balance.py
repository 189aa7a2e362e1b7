"""Oracle (e) balance and the workload part of the report, without QEMU.

Two kinds of input: consoles recorded from real TCG boots with the spread workload
(tests/data/workload-reports, recorded by tests/guest/test_balance_boot.py's layouts: a
flat one-node guest and the SNC-like asymmetric table whose NUMA domains Linux builds
broken), and small traces written here, each built to sit just inside or just outside one
threshold.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from numaopt.errors import InputError
from numaopt.fuzz.replay import read_reproducer
from numaopt.guest.balance import Thresholds, balance_findings
from numaopt.guest.oracles import Oracle, judge_report
from numaopt.guest.report import (
    CpuSample,
    GuestReport,
    NodeView,
    SchedDomain,
    TaskSample,
    WorkloadSample,
    WorkloadTask,
    WorkloadTrace,
    parse_report,
)
from numaopt.guest.workload import WORKLOAD_FILE, WorkloadKind, WorkloadMix, WorkloadSpec, parse_workload
from numaopt.model import CpuShape, GuestLayout, GuestNode
from numaopt.problem import load_problem
from numaopt.units import MIB

DATA = Path(__file__).resolve().parents[1] / "data" / "workload-reports"


def recorded(name: str) -> GuestReport:
    return parse_report((DATA / f"{name}.console").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------
# The report's workload section, from real boots


def test_a_recorded_workload_report_is_complete_and_read_whole() -> None:
    report = recorded("flat8-spread")
    assert report.complete, report.problems
    trace = report.workload
    assert trace is not None and trace.kind == "spread"
    assert trace.settings["threads"] == "8" and trace.settings["seconds"] == "16"
    assert [task.role for task in trace.tasks] == ["spin"] * 8
    assert all(task.allowed == tuple(range(8)) for task in trace.tasks)
    assert len(trace.samples) >= 10
    times = [sample.time_s for sample in trace.samples]
    assert times == sorted(times) and times[-1] - times[0] >= 10  # about 16 s of the guest's uptime
    for sample in trace.samples:
        assert sorted(sample.cpus) == list(range(8))
        assert sorted(sample.tasks) == sorted(task.pid for task in trace.tasks)
        assert all(cpu.ran_ns is not None and cpu.waited_ns is not None for cpu in sample.cpus.values())
    # The workload runs after the topology is read and before dmesg is (which so holds its messages too).
    assert report.stages == (
        "mount", "read-sysfs", "online-memory", "workload-start", "workload-run", "workload-report", "read-dmesg"
    )


def test_a_report_without_a_workload_has_none() -> None:
    text = (Path(__file__).resolve().parents[1] / "data" / "guest-reports" / "asymmetric.console").read_text()
    report = parse_report(text)
    assert report.complete and report.workload is None
    assert balance_findings(report) == []


def test_a_sample_line_before_its_header_is_a_problem_not_a_crash() -> None:
    text = (DATA / "flat8-spread.console").read_text(encoding="utf-8")
    first_sample = text.index("@sample ")
    cut = text[:first_sample] + "@cpustat cpu0 1 2 3 4 5 6 7 8 9 10\n" + text[first_sample:]
    report = parse_report(cut)
    assert not report.complete
    assert any("before the first @sample" in problem for problem in report.problems)


# ---------------------------------------------------------------------------------------
# The oracle on recorded boots


def test_the_flat_one_node_guest_balances() -> None:
    assert balance_findings(recorded("flat8-spread")) == []


def test_the_broken_snc_domains_leave_a_core_idle_and_the_oracle_names_it() -> None:
    findings = balance_findings(recorded("snc-spread"))
    wasted = [f for f in findings if f.code == "wasted-core"]
    assert wasted, findings
    assert all("NUMA" in f.message or "no domain" in f.message for f in wasted)
    assert any(f.code == "spread" for f in findings)


def test_balance_alone_finds_the_idle_memoryless_node_of_a_202_203_table() -> None:
    """Fuzz item 12 of ``--seed 7 --workload spread`` (docs/fuzzing.md): the domains and
    groups pass the boot-time oracles, but node 1's CPUs sit idle the whole run."""
    layout = load_problem(DATA / "memoryless-202-203-spread.toml").layout
    assert layout is not None
    failures = judge_report(layout, recorded("memoryless-202-203-spread"))
    assert {f.oracle for f in failures} == {Oracle.BALANCE}, [str(f) for f in failures]
    wasted = sorted(f.message.split(" (")[0] for f in failures if f.code == "wasted-core")
    assert wasted == ["CPU 2", "CPU 3"]


# ---------------------------------------------------------------------------------------
# Constructed traces: two nodes of two CPUs, four busy loops


def _cpu(cpu: int, busy: int, idle: int, waited_ns: int = 0) -> CpuSample:
    return CpuSample(cpu, (busy, 0, 0, idle, 0, 0, 0, 0, 0, 0), 0, waited_ns)


def _trace(placements: list[list[int]], idle_cpu: int | None, *, allowed: tuple[int, ...] = (0, 1, 2, 3)) -> GuestReport:
    """Samples 0.5 s apart; task i sits on ``placements[k][i]`` at sample k (all runnable);
    ``idle_cpu`` is idle through every interval, the others busy; on CPU 2's run queue a
    task waits all the time."""
    tasks = tuple(WorkloadTask(100 + i, "spin", allowed) for i in range(len(placements[0])))
    samples = []
    for k, where in enumerate(placements):
        cpus = {
            cpu: _cpu(cpu, 0 if cpu == idle_cpu else 50 * k, 50 * k if cpu == idle_cpu else 0, 500_000_000 * k * (cpu == 2))
            for cpu in range(4)
        }
        states = {task.pid: TaskSample(task.pid, "R", cpu, 0, 0) for task, cpu in zip(tasks, where, strict=True)}
        samples.append(WorkloadSample(10.0 + 0.5 * k, cpus, states))
    nodes = {0: NodeView(0, (0, 1), (10, 20), None), 1: NodeView(1, (2, 3), (20, 10), None)}
    domains = {
        cpu: (
            SchedDomain(cpu, 0, "MC", span=(0, 1) if cpu < 2 else (2, 3), groups=()),
            SchedDomain(cpu, 1, "NUMA", span=(0, 1, 2, 3), groups=()),
        )
        for cpu in range(4)
    }
    trace = WorkloadTrace("spread", {}, tasks, tuple(samples))
    return GuestReport(1, True, (), nodes=nodes, domains=domains, workload=trace)


CROWDED = [0, 1, 2, 2]  # CPU 3 idle, CPU 2 holds two loops


def test_an_idle_cpu_beside_a_crowded_one_is_a_wasted_core_with_its_domain() -> None:
    report = _trace([CROWDED] * 20, idle_cpu=3)  # 9.5 s, 19 intervals
    findings = balance_findings(report)
    assert [f.code for f in findings] == ["wasted-core"]
    message = findings[0].message
    assert message.startswith("CPU 3 (node 1) was idle 100% of 7.5 s")  # after the 2 s settle time
    assert "CPU(s) 2 (node 1)" in message and "domain0 MC (span 2-3)" in message
    assert "tasks waited 7.5 s on their run queues" in message  # /proc/schedstat over the stretch


def test_a_stretch_shorter_than_the_threshold_is_no_finding() -> None:
    thresholds = Thresholds()
    intervals = int(thresholds.wasted_s / 0.5) - 1  # just under the limit, after the settle samples
    settle = int(thresholds.settle_s / 0.5)
    placements = [[0, 1, 2, 3]] * settle + [CROWDED] * (intervals + 1) + [[0, 1, 2, 3]] * 4
    assert balance_findings(_trace(placements, idle_cpu=3)) == []
    longer = [[0, 1, 2, 3]] * settle + [CROWDED] * (intervals + 2) + [[0, 1, 2, 3]] * 4
    assert [f.code for f in balance_findings(_trace(longer, idle_cpu=3))] == ["wasted-core"]


def test_waiting_tasks_that_may_not_run_on_the_idle_cpu_waste_nothing() -> None:
    report = _trace([CROWDED] * 20, idle_cpu=3, allowed=(0, 1, 2))
    assert [f for f in balance_findings(report) if f.code == "wasted-core"] == []


def test_fewer_runnable_tasks_than_cpus_is_not_judged() -> None:
    report = _trace([[0, 2, 2]] * 20, idle_cpu=3)
    assert [f for f in balance_findings(report) if f.code == "wasted-core"] == []


def test_tasks_that_mostly_sleep_are_not_enough_however_the_instants_look() -> None:
    """Pairs taking turns: at each sample a just-woken task sits beside its waker (two
    runnable on CPU 2, four in all), but every CPU is idle three quarters of the time (fuzz
    item 6 of --seed 8 --workload pairs,pinned looked like that: a wasted core by the
    instants alone, 1 of 3 replays)."""
    report = _trace([CROWDED] * 20, idle_cpu=3)
    assert report.workload is not None
    sleepy = []
    for k, sample in enumerate(report.workload.samples):
        cpus = {cpu: _cpu(cpu, 10 * k, 30 * k, 100_000_000 * k) for cpu in range(4)}  # 25 % busy, 0.2 waiting
        sleepy.append(WorkloadSample(sample.time_s, cpus, sample.tasks))
    trace = WorkloadTrace("pairs", {}, report.workload.tasks, tuple(sleepy))
    quiet = GuestReport(1, True, (), nodes=report.nodes, domains=report.domains, workload=trace)
    assert [f for f in balance_findings(quiet) if f.code == "wasted-core"] == []


def test_loops_kept_on_one_node_break_the_spread() -> None:
    report = _trace([[0, 0, 1, 1]] * 20, idle_cpu=None)
    findings = balance_findings(report)
    assert sorted(f.code for f in findings) == ["spread", "spread"]
    assert findings[0].message.startswith("node 0 held 4.0 of the 4 free busy loops")


def test_too_few_samples_is_said() -> None:
    findings = balance_findings(_trace([[0, 1, 2, 3]] * 3, idle_cpu=None))
    assert [f.code for f in findings] == ["no-samples"]


# ---------------------------------------------------------------------------------------
# Workloads as asked on the command line


def _two_nodes() -> GuestLayout:
    nodes = (GuestNode(0, (0, 1, 2), 128 * MIB), GuestNode(1, (3, 4, 5), 128 * MIB))
    return GuestLayout(vcpus=6, memory_bytes=256 * MIB, nodes=nodes, shape=CpuShape(sockets=2, cores=3))


def test_workload_specs_parse_and_bad_ones_are_one_line() -> None:
    assert parse_workload("spread") == WorkloadSpec(WorkloadKind.SPREAD)
    assert parse_workload("pairs:3") == WorkloadSpec(WorkloadKind.PAIRS, 3)
    for bad, words in (("spin", "unknown workload 'spin'"), ("spread:0", "1..256"), ("pinned:x", "1..256")):
        with pytest.raises(InputError, match=words) as caught:
            parse_workload(bad)
        assert "\n" not in str(caught.value) and "--workload" in str(caught.value)


def test_a_mix_of_workloads_gives_each_seed_one_of_them() -> None:
    mix = parse_workload("spread, pairs:3")
    assert isinstance(mix, WorkloadMix) and str(mix) == "spread,pairs:3"
    kinds = [mix.for_layout(_two_nodes(), seed).spec for seed in range(4)]
    assert kinds == [WorkloadSpec(WorkloadKind.SPREAD), WorkloadSpec(WorkloadKind.PAIRS, 3)] * 2
    assert str(parse_workload(str(mix))) == str(mix)  # what the journal keeps reads back the same
    for bad, words in (("spread,spread", "named twice"), ("spread,", "unknown workload ''"), ("pairs,bogus:1", "'bogus'")):
        with pytest.raises(InputError, match=words):
            parse_workload(bad)


def test_the_seed_picks_where_a_workload_starts_and_nothing_else() -> None:
    layout = _two_nodes()
    spread = [WorkloadSpec(WorkloadKind.SPREAD).for_layout(layout, seed) for seed in range(20)]
    assert {w.threads for w in spread} == {6} and len({w.start for w in spread}) > 1
    assert all(len(w.start) == 1 for w in spread)
    assert WorkloadSpec(WorkloadKind.SPREAD).for_layout(layout, 7) == spread[7]  # the same seed, the same run
    pinned = WorkloadSpec(WorkloadKind.PINNED).for_layout(layout, 1)
    assert pinned.pin in ((0, 1, 2), (3, 4, 5)) and pinned.start == pinned.pin
    assert (pinned.pinned, pinned.threads) == (6, 3)
    argument = pinned.kernel_argument()
    assert " " not in argument and argument.startswith("numaopt.workload=pinned,threads=3,pinned=6,")


def test_a_reproducers_workload_record_is_read_back_or_refused_in_one_line(tmp_path: Path) -> None:
    layout = _two_nodes()
    workload = WorkloadSpec(WorkloadKind.PAIRS, 2).for_layout(layout, 5)
    (tmp_path / WORKLOAD_FILE).write_text(json.dumps(workload.record()), encoding="utf-8")
    reproducer = read_reproducer(tmp_path, layout)
    assert (reproducer.workload, reproducer.workload_seed) == ("pairs:2", 5)
    for bad in ({"workload": "pairs:2"}, {"workload": "bogus", "seed": 1}, ["spread"]):
        (tmp_path / WORKLOAD_FILE).write_text(json.dumps(bad), encoding="utf-8")
        with pytest.raises(InputError) as caught:
            read_reproducer(tmp_path, layout)
        assert WORKLOAD_FILE in str(caught.value) and "\n" not in str(caught.value)
