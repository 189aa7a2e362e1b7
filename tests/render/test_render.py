"""Renderers: golden files for every example, and the properties QEMU relies on."""

from __future__ import annotations

import dataclasses
import os
import shlex
from pathlib import Path

import numpy as np
import pytest

from numaopt.model import BackendKind, GuestLayout, GuestNode, MemoryBackend, Plan
from numaopt.problem import load_problem, parse_problem
from numaopt.render.json import plan_from_json, plan_to_json
from numaopt.render.qemu import one_line, qemu_command, shell_text
from numaopt.render.text import numactl_hardware
from tests.support.problems import EXPLICIT, PROBLEMS, plan_for

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"
UPDATE = os.environ.get("NUMAOPT_UPDATE_GOLDEN") == "1"


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with NUMAOPT_UPDATE_GOLDEN=1 once"
    assert text == path.read_text()


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_golden_renderings(path: Path) -> None:
    plan = dataclasses.replace(plan_for(path), wall_time_s=0.0)  # the one field a clock decides
    _golden(f"{path.stem}.sh", shell_text(plan))
    _golden(f"{path.stem}.json", plan_to_json(plan))
    _golden(f"{path.stem}.numactl", numactl_hardware(plan.layout))


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_shell_text_and_one_line_are_the_same_argv(path: Path) -> None:
    plan = plan_for(path)
    argv = qemu_command(plan)
    # POSIX shells join backslash-newline continuations; shlex does not, so join first.
    assert shlex.split(shell_text(plan).replace("\\\n", "")) == argv
    assert shlex.split(one_line(plan)) == argv


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_json_reads_back_to_the_same_plan(path: Path) -> None:
    plan = plan_for(path)
    assert plan_from_json(plan_to_json(plan)) == plan


@pytest.mark.parametrize("path", EXPLICIT, ids=lambda p: p.stem)
def test_json_keeps_pinning_of_explicit_layouts(path: Path) -> None:
    layout = load_problem(path).layout
    assert layout is not None
    plan = Plan(layout, vcpu_to_host_cpu=((0, 3), (1, 5)), seed=4)
    assert plan_from_json(plan_to_json(plan)) == plan


def _options(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == flag]


def test_every_vcpu_is_mapped_and_nodes_come_first() -> None:
    plan = Plan(load_problem(ROOT / "problems" / "smt-2socket.toml").layout)
    numa = _options(qemu_command(plan), "-numa")
    kinds = [option.split(",", 1)[0] for option in numa]
    assert kinds == sorted(kinds, key=["node", "cpu", "dist"].index)  # declared before use
    cpus = [option for option in numa if option.startswith("cpu,")]
    assert len(cpus) == 8
    assert "cpu,node-id=1,socket-id=1,core-id=1,thread-id=1" in cpus
    assert not any("mem=" in option for option in numa)


def test_distances_minimal_when_symmetric_all_pairs_when_asymmetric() -> None:
    sym = _options(qemu_command(load_problem(ROOT / "problems" / "seed-4node.toml").layout), "-numa")
    assert len([o for o in sym if o.startswith("dist,")]) == 6
    asym = _options(qemu_command(load_problem(ROOT / "problems" / "asymmetric.toml").layout), "-numa")
    assert [o for o in asym if o.startswith("dist,")] == ["dist,src=0,dst=1,val=20", "dist,src=1,dst=0,val=30"]


def test_memory_less_node_has_no_backend() -> None:
    argv = qemu_command(load_problem(ROOT / "problems" / "memoryless-node.toml").layout)
    assert _options(argv, "-object") == [
        "memory-backend-ram,id=mem-node0,size=512M",
        "memory-backend-ram,id=mem-node1,size=512M",
    ]
    assert "node,nodeid=2" in _options(argv, "-numa")


def test_file_backend_and_binding_options() -> None:
    base = load_problem(ROOT / "problems" / "seed-4node.toml").layout
    backend = MemoryBackend(kind=BackendKind.FILE, mem_path="/dev/hugepages", page_size_bytes=2 << 20, share=True, prealloc=True)
    nodes = tuple(GuestNode(n.node_id, n.cpus, n.memory_bytes, host_nodes=(0, 1, 3)) for n in base.nodes)
    bound = GuestLayout(base.vcpus, base.memory_bytes, nodes, base.shape, base.distances, backend=backend)
    (first, *_) = _options(qemu_command(bound), "-object")
    assert first == (
        "memory-backend-file,id=mem-node0,size=512M,mem-path=/dev/hugepages,share=on,prealloc=on,"
        "host-nodes=0-1,host-nodes=3,policy=bind"
    )


def test_sizes_are_exact_and_suffixed() -> None:
    layout = parse_problem('[guest]\nvcpus = 2\nmemory = "1537MiB"\nnodes = [ { memory = "1GiB" }, {} ]\n').layout
    argv = qemu_command(layout)
    assert _options(argv, "-m") == ["1537M"]
    assert _options(argv, "-object") == ["memory-backend-ram,id=mem-node0,size=1G", "memory-backend-ram,id=mem-node1,size=513M"]


def test_virt_gets_a_64bit_cpu_and_gicv3() -> None:
    argv = qemu_command(load_problem(ROOT / "problems" / "seed-4node-aarch64.toml").layout)
    assert argv[0] == "qemu-system-aarch64"
    assert _options(argv, "-machine") == ["virt,gic-version=3"]
    assert _options(argv, "-cpu") == ["max"]
    assert _options(argv, "-smp") == ["16,sockets=4,clusters=1,cores=4,threads=1,maxcpus=16"]


def test_numactl_view_matches_the_article() -> None:
    text = numactl_hardware(load_problem(ROOT / "problems" / "seed-4node.toml").layout)
    assert "node 0 cpus: 0 1 2 3\nnode 0 size: 512 MB\n" in text
    rows = [line for line in text.splitlines() if line.strip().startswith(("0:", "1:", "2:", "3:"))]
    table = np.array([[int(v) for v in row.split(":")[1].split()] for row in rows])
    assert table.tolist() == [[10, 15, 20, 20], [15, 10, 20, 20], [20, 20, 10, 15], [20, 20, 15, 10]]


def test_bash_reads_the_shell_text_as_the_same_argv() -> None:
    import subprocess

    argv = qemu_command(load_problem(ROOT / "problems" / "seed-4node.toml").layout)
    text = shell_text(Plan(load_problem(ROOT / "problems" / "seed-4node.toml").layout))
    echo = text.replace(argv[0], 'printf "%s\\n"', 1)
    out = subprocess.run(["bash", "-c", echo], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == argv[1:]
