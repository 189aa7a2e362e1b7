"""aarch64 `virt` layouts from the generator: sockets, clusters, cores and threads as QEMU 7.2's
virt takes them, judged by linux-dt (each machine of a mixed batch by its own guest's rules),
written as files that read back, and built exactly by the real qemu-system-aarch64."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from numaopt.cli import app as numaopt_app
from numaopt.cli.generate import generate_command
from numaopt.generate import (
    Family,
    Generated,
    KnobError,
    Knobs,
    OutputKind,
    Range,
    SocketMode,
    args_text,
    generate_items,
    resolve,
    toml_text,
    write_batch,
)
from numaopt.generate.classes import socket_class
from numaopt.layout import check_layout
from numaopt.model import Machine
from numaopt.problem import parse_problem
from numaopt.qemu.args import read_qemu_args
from numaopt.qemu.qmp import compare, probe
from numaopt.render.qemu import qemu_command
from numaopt.rules import RuleSet, Severity

SAMPLED = tuple(f for f in Family if f not in (Family.SYNTH, Family.REMOTE_10))


def errors(layout: Any, rules: RuleSet) -> list[str]:
    return [f.message for f in check_layout(layout, rules) if f.severity is Severity.ERROR]


def run_generate(*args: str) -> Any:
    app = typer.Typer()
    app.command("generate")(generate_command)
    app.command("version")(lambda: None)  # a second command keeps "generate" a subcommand
    return CliRunner().invoke(app, ["generate", *args])


virt_knobs = st.builds(
    Knobs,
    target=st.sampled_from([RuleSet.LINUX_ACPI, RuleSet.LINUX_DT, RuleSet.QEMU]),
    nodes=st.sampled_from([Range(1, 4), Range(2, 8), Range(9, 16)]),
    vcpus_per_node=st.sampled_from([Range(1, 2), Range(1, 8), Range(4, 24)]),
    threads=st.sampled_from([(1,), (2,), (1, 2, 4)]),
    sockets=st.sampled_from([(SocketMode.WHOLE,), (SocketMode.SPLIT,), (SocketMode.WHOLE, SocketMode.SPLIT)]),
    memoryless=st.sampled_from([Range(0, 0), Range(0, 2)]),
    cpuless=st.sampled_from([Range(0, 0), Range(0, 2)]),
    families=st.sampled_from([SAMPLED, None]),
    machines=st.sampled_from([(Machine.VIRT,), (Machine.Q35, Machine.VIRT), (Machine.PC, Machine.VIRT)]),
)


def _resolvable(knobs: Knobs) -> bool:
    try:
        resolve(knobs)
    except KnobError:
        return False
    return True


@given(knobs=virt_knobs.filter(_resolvable), seed=st.integers(0, 2**32), start=st.integers(0, 10**6))
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_every_virt_layout_passes_its_machines_rules_and_round_trips(knobs: Knobs, seed: int, start: int) -> None:
    for outcome in generate_items(resolve(knobs), seed, list(range(start, start + 8))):
        if not isinstance(outcome, Generated):
            continue
        layout = outcome.layout
        want = RuleSet.QEMU if knobs.target is RuleSet.QEMU else outcome.machine.default_rules
        assert outcome.rules is layout.rules is want
        assert errors(layout, RuleSet.QEMU) == []
        assert errors(layout, want) == []
        if outcome.machine is Machine.VIRT:
            # virt has clusters between socket and core, never dies; the -smp line says clusters
            assert layout.shape.dies == 1 and layout.shape.clusters == outcome.shape[1]
            assert f"clusters={layout.shape.clusters}," in args_text(outcome)
            assert outcome.classes["sockets"] in ("whole", "socket-split")
            kind = socket_class([len(n.cpus) for n in layout.nodes], outcome.shape, virt=True)
            assert outcome.classes["sockets"] == kind
        else:
            assert layout.shape.clusters == 1
        loaded = parse_problem(toml_text(outcome, "header")).layout
        assert loaded == layout
        back = read_qemu_args(args_text(outcome))
        assert [f for f in back.findings if f.severity is Severity.ERROR] == []
        assert (back.layout.machine, back.layout.nodes, back.layout.shape) == (layout.machine, layout.nodes, layout.shape)
        if layout.distances is not None:
            assert np.array_equal(back.layout.distances, layout.distances)


def test_a_mixed_batch_draws_both_machines_and_x86_items_keep_their_bytes() -> None:
    mixed = [o for o in generate_items(resolve(Knobs(machines=(Machine.Q35, Machine.VIRT))), 5, list(range(200)))
             if isinstance(o, Generated)]
    by_machine = {m: [o for o in mixed if o.machine is m] for m in (Machine.Q35, Machine.VIRT)}
    assert min(len(items) for items in by_machine.values()) > 60
    assert {o.rules for o in by_machine[Machine.VIRT]} == {RuleSet.LINUX_DT}
    assert {o.rules for o in by_machine[Machine.Q35]} == {RuleSet.LINUX_ACPI}
    # Clusters and split sockets appear on virt; SMT only on x86: a virt guest with threads > 1
    # prints 'BUG: arch topology borken' (linux-dt's virt-smt error).
    virt = by_machine[Machine.VIRT]
    assert any(o.shape[1] > 1 for o in virt) and all(o.shape[3] == 1 for o in virt)
    assert any(o.shape[3] > 1 for o in by_machine[Machine.Q35])
    assert any(o.classes["sockets"] == "socket-split" for o in virt)
    # An x86-only batch is the same whatever virt can do (the golden test holds its bytes).
    alone = generate_items(resolve(Knobs()), 5, list(range(20)))
    again = generate_items(resolve(Knobs(machines=(Machine.Q35,))), 5, list(range(20)))
    assert [toml_text(a) for a in alone if isinstance(a, Generated)] == [toml_text(b) for b in again if isinstance(b, Generated)]


def test_virt_takes_up_to_512_vcpus_without_x86_apic_limits() -> None:
    knobs = Knobs(machines=(Machine.VIRT,), target=RuleSet.QEMU, nodes=Range(8, 8), vcpus_per_node=Range(64, 64), threads=(4,))
    [item] = [o for o in generate_items(resolve(knobs), 1, [0]) if isinstance(o, Generated)]
    assert item.layout.vcpus == 512 and errors(item.layout, RuleSet.QEMU) == []
    # x86 in the same batch brings back the 255-vCPU APIC limit.
    with pytest.raises(KnobError, match="exceed 255 vCPUs"):
        resolve(Knobs(machines=(Machine.Q35, Machine.VIRT), nodes=Range(8, 8), vcpus_per_node=Range(64, 64)))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--target", "linux-dt"], "--target linux-dt --machine q35: the device-tree rules judge virt guests; add virt to --machine"),
        (["--machine", "virt", "--nodes", "8", "--cpuless", "0", "--vcpus-per-node", "65-80"],
         "exceed 512 vCPUs (QEMU 7.2's most for virt with GICv3)"),
        (["--machine", "virt", "--sockets", "split-core"], "use --target qemu"),
        (["--machine", "q35,virt", "--threads", "2"],
         "--threads 2 --machine q35,virt: a virt guest with threads > 1 prints 'BUG: arch topology borken' "
         "(linux-dt's virt-smt error); add 1 to --threads or use --target qemu"),
        (["--machine", "arm"], "--machine: unknown value 'arm' (valid: q35, pc, virt)"),
    ],
)
def test_impossible_virt_knobs_are_refused_in_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "never"
    result = run_generate("--count", "5", "--out", str(out), *args)
    assert result.exit_code == 1
    assert isinstance(result.exception, KnobError)
    assert message in str(result.exception) and "\n" not in str(result.exception)
    assert not out.exists()


def test_virt_files_pass_numaopt_check_with_linux_dt(tmp_path: Path) -> None:
    space = resolve(Knobs(machines=(Machine.VIRT,), nodes=Range(1, 6), threads=(1, 2)))
    write_batch(space, 13, tmp_path, 10, (OutputKind.TOML, OutputKind.ARGS), jobs=1)
    files = sorted(tmp_path.glob("layout-*.toml")) + sorted(tmp_path.glob("layout-*.args"))
    assert len(files) == 20
    runner = CliRunner()
    for path in files:
        result = runner.invoke(numaopt_app, ["check", str(path)])  # auto: qemu, linux-dt, libvirt
        assert result.exit_code == 0, result.output
        assert f"{path}: linux-dt: " in result.output


def test_a_guest_targets_virt_items_have_one_thread_whatever_threads_allows() -> None:
    # --threads 1,2,4 on virt alone: the space offers only 1, so coverage never waits for SMT
    space = resolve(Knobs(machines=(Machine.VIRT,), nodes=Range(1, 4), threads=(1, 2, 4)))
    assert {t for roles in space.roles.values() for ts in roles.threads.values() for t in ts} == {1}
    items = [o for o in generate_items(space, 3, list(range(30))) if isinstance(o, Generated)]
    assert items and all(o.shape[3] == 1 and "virt-smt" not in [f.code for f in check_layout(o.layout, o.rules)] for o in items)
    # --target qemu keeps SMT on virt: QEMU builds it as asked
    qemu = resolve(Knobs(machines=(Machine.VIRT,), target=RuleSet.QEMU, nodes=Range(1, 4), threads=(2,)))
    assert all(o.shape[3] == 2 for o in generate_items(qemu, 3, list(range(10))) if isinstance(o, Generated))


def _virt_sample() -> list[Generated]:
    """Small and large virt layouts: clusters, SMT, split sockets, memory-less and CPU-less nodes,
    and one beyond the 123 vCPUs of GICv3's first redistributor region."""
    batches = [
        (Knobs(machines=(Machine.VIRT,), nodes=Range(1, 6), threads=(1, 2, 4), memoryless=Range(0, 1), cpuless=Range(0, 1)), 40),
        (Knobs(machines=(Machine.VIRT,), target=RuleSet.QEMU, nodes=Range(2, 4), threads=(2,), distance_range=Range(10, 40),
               sockets=(SocketMode.SPLIT_CORE,)), 4),
        (Knobs(machines=(Machine.VIRT,), nodes=Range(4, 4), vcpus_per_node=Range(40, 48), threads=(1, 2)), 1),
    ]
    pool = [o for knobs, count in batches for o in generate_items(resolve(knobs), 7, list(range(count))) if isinstance(o, Generated)]
    chosen: dict[tuple[Any, ...], Generated] = {}
    for item in pool:
        key = (item.shape[1] > 1, item.shape[3], item.classes["sockets"], item.classes["memoryless"] > 0,
               item.classes["cpuless"] > 0, item.rules, item.layout.vcpus > 123)
        chosen.setdefault(key, item)
    return list(chosen.values())


@pytest.mark.qemu
def test_virt_layouts_are_built_exactly_by_the_real_qemu_system_aarch64() -> None:
    sample = _virt_sample()
    assert len(sample) >= 8
    assert any(item.layout.vcpus > 123 for item in sample)
    assert any(item.classes["sockets"] == "core-split" for item in sample)
    failures = []
    for item in sample:
        readback = probe(qemu_command(item.layout))
        differences = compare(item.layout, readback)
        if differences or readback.warnings:
            failures.append(f"item {item.index} {item.shape}: {differences} {readback.warnings}")
    assert failures == []
