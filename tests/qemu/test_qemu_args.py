"""Reading QEMU arguments back: round trips, the seed article, QEMU 7.2's exact messages, fuzzing.

The messages in FINDING_CASES are QEMU 7.2's own; ``test_qemu_prints_the_same_message``
(marker ``qemu``) runs the real qemu-system-x86_64 / qemu-system-aarch64 on each case
and checks it prints exactly that text.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from numaopt.errors import NumaoptError, ProblemError, QemuArgsError
from numaopt.layout import check_layout
from numaopt.model import BackendKind, CpuShape, GuestLayout, GuestNode, Machine, MemoryBackend
from numaopt.problem import (
    BACKEND_KEYS,
    GUEST_KEYS,
    NODE_KEYS,
    PAIR_KEYS,
    SMP_KEYS,
    TOP_KEYS,
    Problem,
    parse_problem,
)
from numaopt.qemu.args import QemuConfig, read_qemu_args, split_command
from numaopt.render.qemu import one_line, qemu_command, shell_text
from numaopt.rules import RuleSet, Severity
from numaopt.units import GIB, MIB

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "qemu-args"
from tests.support.problems import PROBLEMS, plan_for  # noqa: E402

FUZZ = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])

X86 = "qemu-system-x86_64"
ARM = "qemu-system-aarch64"
ONE_GIB_NODE = "-m 1G -object memory-backend-ram,id=m0,size=1G -numa node,memdev=m0"


def _as_read_back(layout: GuestLayout) -> GuestLayout:
    """What a rendered layout reads back as: the machine's default rules, and no page size
    (the renderer writes no page size: a file backend's page size comes from its mount)."""
    return dataclasses.replace(
        layout,
        rules=layout.machine.default_rules,
        backend=dataclasses.replace(layout.backend, page_size_bytes=None),
    )


def _codes(config: QemuConfig) -> list[str]:
    return [finding.code for finding in config.findings]


def _codes_besides_default_mapping(config: QemuConfig) -> list[str]:
    return [code for code in _codes(config) if code != "default-cpu-mapping"]


# ---------------------------------------------------------------------------------------
# Round trips


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
@pytest.mark.parametrize("render", [shell_text, one_line], ids=["shell_text", "one_line"])
def test_every_problem_renders_and_reads_back(path: Path, render: Callable[[GuestLayout], str]) -> None:
    layout = plan_for(path).layout  # a search problem: the layout of its plan
    config = read_qemu_args(render(layout), str(path))
    assert config.layout == _as_read_back(layout)
    # x86 SMT layouts name -cpu max,vendor=GenuineIntel: plain max is an AMD CPU under TCG,
    # which QEMU 7.2 warns about (smt-amd-no-topoext) and whose guest sees no SMT.
    assert _codes(config) == []


@st.composite
def layouts(draw: st.DrawFn) -> GuestLayout:
    """Layouts the renderer writes faithfully.

    Left out, because the rendered command means something else to QEMU or loses it:
    invalid or repeated CPU indices (QEMU refuses), no CPU mapped at all (QEMU's default
    mapping applies), -m 0 (the default size), a 1x1 distance matrix (no -numa dist is
    written), a backend when no node has memory (no -object is written), a comma in
    mem_path (the renderer does not double it) and a page size (not written).
    """
    machine = draw(st.sampled_from(list(Machine)))
    virt = machine is Machine.VIRT
    shape = CpuShape(
        sockets=draw(st.integers(1, 4)),
        dies=1 if virt else draw(st.integers(1, 2)),
        clusters=draw(st.integers(1, 2)) if virt else 1,
        cores=draw(st.integers(1, 3)),
        threads=draw(st.integers(1, 2)),
    )
    vcpus = shape.num_cpus
    count = draw(st.integers(1, 5))
    if draw(st.booleans()):
        ids = list(range(count))
    else:
        ids = sorted(draw(st.lists(st.integers(0, 127), min_size=count, max_size=count, unique=True)))
    owners = draw(st.lists(st.one_of(st.none(), st.integers(0, count - 1)), min_size=vcpus, max_size=vcpus))
    if all(owner is None for owner in owners):
        owners[0] = 0  # with no CPU mapped at all QEMU applies its default mapping
    sizes = draw(
        st.lists(
            st.one_of(st.just(0), st.integers(1, 64).map(lambda m: m * 128 * MIB), st.integers(1, 1 << 40)),
            min_size=count,
            max_size=count,
        )
    )
    nodes = tuple(
        GuestNode(
            node_id=node_id,
            cpus=tuple(cpu for cpu, owner in enumerate(owners) if owner == i),
            memory_bytes=sizes[i],
            host_nodes=tuple(sorted(draw(st.sets(st.integers(0, 127), max_size=3)))) if sizes[i] else (),
        )
        for i, node_id in enumerate(ids)
    )
    memory = draw(st.one_of(st.just(sum(sizes)), st.integers(1, 1 << 42)))
    memory = memory or 128 * MIB  # -m 0 means the default
    backend = MemoryBackend()
    if any(sizes):
        kind = draw(st.sampled_from(list(BackendKind)))
        path = draw(st.from_regex(r"/[a-z0-9_./-]{0,20}", fullmatch=True)) if kind is BackendKind.FILE else None
        backend = MemoryBackend(kind=kind, mem_path=path, share=draw(st.booleans()), prealloc=draw(st.booleans()))
    distances = None
    if count > 1 and draw(st.booleans()):  # a 1x1 matrix is [[10]]: the renderer writes no -numa dist for it
        values = np.array(draw(st.lists(st.integers(0, 255), min_size=count * count, max_size=count * count)))
        matrix = values.reshape(count, count)
        if draw(st.booleans()):
            matrix = np.triu(matrix, 1) + np.triu(matrix, 1).T
        np.fill_diagonal(matrix, 10)
        distances = matrix
    return GuestLayout(
        vcpus=vcpus,
        memory_bytes=memory,
        nodes=nodes,
        shape=shape,
        distances=distances,
        machine=machine,
        backend=backend,
        rules=machine.default_rules,
    )


@FUZZ
@given(layouts())
def test_any_rendered_layout_reads_back(layout: GuestLayout) -> None:
    for text in (shell_text(layout), one_line(layout)):
        config = read_qemu_args(text)
        assert config.layout == layout
        # phys-bits: QEMU under TCG refuses near 1 TiB of q35 RAM (40 address bits); not a reading error.
        codes = [f.code for f in config.findings if f.code != "phys-bits"]
        assert codes == []


# ---------------------------------------------------------------------------------------
# The seed article


def test_seed_article_reads_as_written() -> None:
    config = read_qemu_args((DATA / "seed-article.sh").read_text(), "seed-article.sh")
    layout = config.layout
    assert (layout.machine, layout.vcpus, layout.memory_bytes) == (Machine.VIRT, 16, 2 * GIB)
    # -smp cpus=16 on a 6.2+ machine type: QEMU prefers cores, so one socket of 16 cores.
    assert layout.shape == CpuShape(sockets=1, cores=16)
    assert [node.cpus for node in layout.nodes] == [tuple(range(4 * i, 4 * i + 4)) for i in range(4)]
    assert [node.memory_bytes for node in layout.nodes] == [0, 0, 0, 0]
    assert layout.distances is not None
    assert layout.distances.tolist() == [[10, 15, 20, 20], [15, 10, 20, 20], [20, 20, 10, 15], [20, 20, 15, 10]]
    errors = [f.message for f in check_layout(layout, RuleSet.QEMU) if f.severity is Severity.ERROR]
    # Exactly what qemu-system-aarch64 7.2 prints for this command line.
    assert errors == ["total memory for NUMA nodes (0x0) should equal RAM size (0x80000000)"]
    # Next in line: virt without gic-version gets GICv2 under TCG, which takes 8 vCPUs.
    assert config.findings[0].message == (
        "Number of SMP CPUs requested (16) exceeds max CPUs supported by machine 'mach-virt' (8)"
    )
    # arm64 clips the core group to the node: the one-socket split is no guest warning.
    guest = check_layout(layout, RuleSet.LINUX_DT)
    assert "socket-split" not in [f.code for f in guest]


def test_seed_article_x86_variant_splits_a_socket() -> None:
    config = read_qemu_args((DATA / "seed-article-x86.sh").read_text(), "seed-article-x86.sh")
    layout = config.layout
    assert (layout.machine, layout.shape) == (Machine.Q35, CpuShape(sockets=1, cores=16))
    assert config.findings == []
    qemu = [f.message for f in check_layout(layout, RuleSet.QEMU) if f.severity is Severity.ERROR]
    assert qemu == ["total memory for NUMA nodes (0x0) should equal RAM size (0x80000000)"]
    split = [f for f in check_layout(layout, RuleSet.LINUX_ACPI) if f.code == "socket-split"]
    assert len(split) == 1
    assert "sched: CPU #4's llc-sibling CPU #0 is not on the same node! [node: 1 != 0]" in split[0].message


# ---------------------------------------------------------------------------------------
# Arg-level findings with QEMU 7.2's exact messages

# (command line, code, message, does QEMU 7.2 print the message itself?)
FINDING_CASES = [
    (f"{ARM} -smp 2", "no-default-machine", "No machine specified, and there is no default", True),
    (
        f"{X86} -smp 4,sockets=0",
        "smp-zero",
        "Deprecated CPU topology (considered invalid): CPU topology parameters must be greater than zero",
        True,
    ),
    (
        f"{X86} -smp 4,maxcpus=2",
        "smp-maxcpus",
        "Invalid CPU topology: maxcpus must be equal to or greater than smp: "
        "sockets (1) * dies (1) * cores (2) * threads (1) == maxcpus (2) < smp_cpus (4)",
        True,
    ),
    (
        f"{ARM} -M virt -smp 4,maxcpus=2",
        "smp-maxcpus",
        "Invalid CPU topology: maxcpus must be equal to or greater than smp: "
        "sockets (1) * clusters (1) * cores (2) * threads (1) == maxcpus (2) < smp_cpus (4)",
        True,
    ),
    (
        f"{ARM} -machine virt -smp 16,sockets=2",
        "gic-max-cpus",
        "Number of SMP CPUs requested (16) exceeds max CPUs supported by machine 'mach-virt' (8)",
        True,
    ),
    (
        f"{ARM} -machine virt,gic-version=2 -smp 9",
        "gic-max-cpus",
        "Number of SMP CPUs requested (9) exceeds max CPUs supported by machine 'mach-virt' (8)",
        True,
    ),
    (f"{X86} -numa node,nodeid=200", "node-id-range", "Max number of NUMA nodes reached: 200", True),
    (f"{X86} -numa node,nodeid=1 -numa node", "duplicate-node", "Duplicate NUMA nodeid: 1", True),
    (f"{X86} -numa node -numa node,nodeid=0", "duplicate-node", "Duplicate NUMA nodeid: 0", True),
    (
        f"{X86} -M pc-q35-5.0 -m 1G -object memory-backend-ram,id=a,size=512M -numa node,mem=512M -numa node,memdev=a",
        "mem-memdev-mixed",
        "numa configuration should use either mem= or memdev=,mixing both is not allowed",
        True,
    ),
    (
        f"{X86} -m 1G -object memory-backend-ram,id=a,size=1G -numa node,memdev=a,mem=1G",
        "mem-memdev-mixed",
        "numa configuration should use either mem= or memdev=,mixing both is not allowed",
        True,
    ),
    (
        f"{X86} -m 1G -numa node,mem=1G",
        "mem-unsupported",
        "Parameter -numa node,mem is not supported by this machine type",
        True,
    ),
    (
        f"{X86} -M pc-i440fx-5.1 -m 1G -numa node,mem=1G",
        "mem-unsupported",
        "Parameter -numa node,mem is not supported by this machine type",
        True,
    ),
    (
        f"{X86} -M pc-q35-5.0 -m 1G -numa node,mem=1024",
        "mem-deprecated",
        "Parameter -numa node,mem is deprecated, use -numa node,memdev instead",
        True,
    ),
    (f"{X86} -m 1G -numa node,memdev=nope", "memdev-missing", "memdev=nope is ambiguous", True),
    (
        f"{X86} -m 1G -object memory-backend-ram,id=a,size=512M -numa node,memdev=a -numa node,memdev=a",
        "memdev-reused",
        "memory backend a can't be used multiple times.",
        True,
    ),
    (
        f"{X86} -machine q35,memory-backend=m0 {ONE_GIB_NODE}",
        "machine-memory-backend",
        "'-machine memory-backend' and '-numa memdev' properties are mutually exclusive",
        True,
    ),
    (
        f"{X86} -numa node -numa node -numa dist,src=128,dst=0,val=20",
        "dist-node-range",
        "Parameter 'src' expects an integer between 0 and 127",
        True,
    ),
    (
        f"{X86} -numa node -numa node -numa dist,src=0,dst=200,val=20",
        "dist-node-range",
        "Parameter 'dst' expects an integer between 0 and 127",
        True,
    ),
    (
        f"{X86} -numa node -numa node -numa dist,src=0,dst=2,val=20",
        "dist-node-missing",
        "Source/Destination NUMA node is missing. Please use '-numa node' option to declare it first.",
        True,
    ),
    (
        f"{X86} -numa dist,src=0,dst=1,val=20 -numa node -numa node",
        "dist-node-missing",
        "Source/Destination NUMA node is missing. Please use '-numa node' option to declare it first.",
        True,
    ),
    (
        f"{X86} {ONE_GIB_NODE} -numa node -numa node -numa dist,src=0,dst=1,val=20",
        "distance-missing",
        "The distance between node 0 and 2 is missing, at least one distance value between each nodes should be "
        "provided.",
        True,
    ),
    (
        f"{X86} {ONE_GIB_NODE} -numa node,nodeid=2 -numa node,nodeid=1 -numa dist,src=0,dst=1,val=20",
        "distance-missing",
        "The distance between node 0 and 2 is missing, at least one distance value between each nodes should be "
        "provided.",
        True,
    ),
    (
        f"{X86} {ONE_GIB_NODE} -numa node -numa node -numa dist,src=0,dst=1,val=20 -numa dist,src=1,dst=0,val=30 "
        "-numa dist,src=0,dst=2,val=20 -numa dist,src=1,dst=2,val=20",
        "distance-asymmetric-incomplete",
        "At least one asymmetrical pair of distances is given, please provide distances for both directions of all "
        "node pairs.",
        True,
    ),
    (
        f"{X86} -smp 4 -numa node -numa cpu,socket-id=0",
        "cpu-node-id-missing",
        "Missing mandatory node-id property",
        True,
    ),
    (
        f"{X86} -smp 4 -numa node -numa cpu,node-id=1",
        "cpu-node-undeclared",
        "Invalid node-id=1, NUMA node must be defined with -numa node,nodeid=ID before it's used with "
        "-numa cpu,node-id=ID",
        True,
    ),
    (
        f"{X86} -smp 4 -numa node -numa cpu,node-id=200",
        "cpu-node-id-range",
        "Invalid node-id=200, NUMA node must be defined with -numa node,nodeid=ID before it's used with "
        "-numa cpu,node-id=ID",
        True,
    ),
    (
        f"{X86} -smp 4 -numa node -numa node -numa cpu,node-id=1,die-id=0",
        "cpu-prop-unsupported",
        "die-id is not supported",
        True,
    ),
    (
        f"{X86} -smp 4 -numa node -numa node -numa cpu,node-id=1,cluster-id=0",
        "cpu-prop-unsupported",
        "cluster-id is not supported",
        True,
    ),
    (
        f"{ARM} -M virt -smp 4 -numa node -numa node -numa cpu,node-id=1,die-id=0",
        "cpu-prop-unsupported",
        "die-id is not supported",
        True,
    ),
    (
        f"{X86} -smp 4 -numa node -numa node -numa cpu,node-id=1,socket-id=1",
        "cpu-no-match",
        "no match found",
        True,
    ),
    (
        f"{X86} -smp 4 -numa node -numa node -numa cpu,node-id=1,socket-id=0 -numa cpu,node-id=0,core-id=1",
        "cpu-assigned-twice",
        "CPU is already assigned to node-id: 1",
        True,
    ),
    (
        f"{X86} -smp 4 -numa node,cpus=0-1 -numa node,cpus=1",
        "cpu-assigned-twice",
        "CPU is already assigned to node-id: 0",
        True,
    ),
    (
        f"{X86} -m 1G -object memory-backend-ram,id=m0,size=1G -numa node,memdev=m0,initiator=0",
        "hmat-disabled",
        "ACPI Heterogeneous Memory Attribute Table (HMAT) is disabled, enable it with -machine hmat=on before using "
        "any of hmat specific options",
        True,
    ),
    (
        f"{X86} -object memory-backend-ram,id=a,size=64M -object memory-backend-ram,id=a,size=64M",
        "duplicate-object-id",
        "Duplicate ID 'a' for object",
        True,
    ),
    (
        f"{X86} -object memory-backend-ram,id=a,size=64M,host-nodes=0",
        "backend-policy",
        "host-nodes must be empty for policy default, or you should explicitly specify a policy other than default",
        True,
    ),
    (
        f"{X86} -object memory-backend-ram,id=a,size=64M,policy=bind",
        "backend-policy",
        "host-nodes must be set for policy bind",
        True,
    ),
    (f"{X86} -m 2G,slots=2", "memory-slots", "slots specified but no max-size", True),
    # numaopt's own words: QEMU accepts these, numaopt cannot model them.
    (f"{X86} -smp 4,maxcpus=8", "cpu-hotplug", "-smp maxcpus=8 > cpus=4", False),
    (f"{X86} -machine pc-q35-9.0", "machine-version", "QEMU 7.2 has no machine type pc-q35-9.0", False),
    (f"{X86} -smp 4,sockets=2 -numa node -numa node", "default-cpu-mapping", "QEMU puts socket S in node S % 2", False),
]


@pytest.mark.parametrize(("text", "code", "message", "verbatim"), FINDING_CASES, ids=[c[1] for c in FINDING_CASES])
def test_arg_level_finding(text: str, code: str, message: str, verbatim: bool) -> None:
    config = read_qemu_args(text)
    found = [f for f in config.findings if f.code == code]
    assert found, f"no {code} finding in {_codes(config)}"
    assert all(f.rule_set is RuleSet.QEMU for f in config.findings)
    if verbatim:
        assert found[0].message == message
    else:
        assert message in found[0].message
    assert all("\n" not in str(f) for f in config.findings)


QMP_QUIT = '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n'


def _run_qemu(text: str) -> subprocess.CompletedProcess[str]:
    argv = split_command(text)
    return subprocess.run(
        [argv[0], "-S", "-display", "none", "-nodefaults", "-qmp", "stdio", *argv[1:]],
        input=QMP_QUIT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.qemu
@pytest.mark.parametrize(
    ("text", "message"), [(c[0], c[2]) for c in FINDING_CASES if c[3]], ids=[c[1] for c in FINDING_CASES if c[3]]
)
def test_qemu_prints_the_same_message(text: str, message: str) -> None:
    if shutil.which(split_command(text)[0]) is None:
        pytest.skip("QEMU is not installed")
    result = _run_qemu(text)
    assert message in result.stderr


@pytest.mark.qemu
@pytest.mark.parametrize("name", ["seed-article.sh", "seed-article-x86.sh"])
def test_qemu_refuses_the_seed_article_with_the_layout_message(name: str) -> None:
    text = (DATA / name).read_text()
    if shutil.which(split_command(text)[0]) is None:
        pytest.skip("QEMU is not installed")
    result = _run_qemu(text)
    layout = read_qemu_args(text).layout
    first = next(f.message for f in check_layout(layout, RuleSet.QEMU) if f.severity is Severity.ERROR)
    assert result.returncode == 1
    assert result.stderr.strip().split(": ", 1)[1] == first


def _random_valid_command(rng: random.Random) -> str:
    """A random NUMA command line QEMU should accept, with explicit, default or partial CPU maps."""
    arm = rng.random() < 0.4
    words = [ARM, "-machine", rng.choice(["virt,gic-version=3", "virt-6.1,gic-version=max"])] if arm else [X86]
    if not arm:
        words += ["-machine", rng.choice(["q35", "pc", "pc-i440fx-6.1"])]
    vcpus = rng.choice([4, 6, 8, 12])
    sockets = rng.choice([s for s in (1, 2, 3, 4) if vcpus % s == 0])
    threads = rng.choice([t for t in (1, 2) if vcpus // sockets % t == 0])
    words += ["-smp", f"{vcpus},sockets={sockets},threads={threads}", "-m", "1G"]
    count = rng.randint(1, 4)
    sizes = {1: [1024], 2: [512, 512], 3: [512, 256, 256], 4: [256] * 4}[count]
    if count > 1 and rng.random() < 0.3:  # a memory-less node
        sizes[0] += sizes[-1]
        sizes[-1] = 0
    numa: list[str] = []
    for i in range(count):
        if sizes[i]:
            words += ["-object", f"memory-backend-ram,id=m{i},size={sizes[i]}M"]
        numa += ["-numa", f"node,nodeid={i}" + (f",memdev=m{i}" if sizes[i] else "")]
    style = rng.choice(["cpus", "socket", "default", "partial"])
    for cpu in range(vcpus):
        node = rng.randrange(count)
        if style == "cpus" or (style == "partial" and rng.random() < 0.5):
            numa[2 * node + 1] += f",cpus={cpu}"
    if style == "socket":
        numa += [arg for s in range(sockets) for arg in ("-numa", f"cpu,node-id={rng.randrange(count)},socket-id={s}")]
    for a in range(count):
        for b in range(a + 1, count):
            numa += ["-numa", f"dist,src={a},dst={b},val={rng.choice([11, 15, 20, 255])}"]
    return shlex.join(words + numa)


def _random_command(rng: random.Random) -> str:
    """A random, often invalid, NUMA command line (for the differential test below)."""
    if rng.random() < 0.4:
        return _random_valid_command(rng)
    arm = rng.random() < 0.4
    machine = rng.choice(
        ["virt,gic-version=3", "virt-6.1,gic-version=3", "virt", "virt-5.0,gic-version=max"]
        if arm
        else ["q35", "pc", "pc-q35-5.0", "pc-i440fx-6.1", "pc-q35-7.1"]
    )
    words = [ARM if arm else X86, "-machine", machine]
    levels = [("cpus", [1, 2, 4, 6, 8, 12]), ("sockets", [1, 2, 3, 4]), ("clusters" if arm else "dies", [1, 2])]
    levels += [("cores", [1, 2, 4]), ("threads", [1, 2]), ("maxcpus", [4, 8, 12])]
    smp = [f"{key}={rng.choice(values)}" for key, values in levels if rng.random() < 0.35]
    if smp:
        words += ["-smp", ",".join(smp)]
    total = rng.choice([512, 1024])
    words += ["-m", rng.choice([f"{total}M", str(total)])]
    count = rng.randint(1, 4)
    sizes = [total // count + (total % count if i == 0 else 0) for i in range(count)]
    if rng.random() < 0.2:
        sizes[-1] += 128
    ids = list(range(count))
    if rng.random() < 0.15:
        ids[rng.randrange(count)] = rng.choice([5, 200])
    style = rng.choice(["memdev", "memdev", "memdev", "mem", "none", "mixed"])
    objects: list[str] = []
    numa: list[str] = []
    for i in range(count):
        opts = ["node"] + ([f"nodeid={ids[i]}"] if rng.random() < 0.85 else [])
        if rng.random() < 0.5:
            low = rng.randrange(8)
            opts.append(f"cpus={low}-{low + rng.randrange(1, 3)}" if rng.random() < 0.5 else f"cpus={low}")
        kind = style if style != "mixed" else rng.choice(["mem", "memdev"])
        if kind == "memdev" and rng.random() < 0.9:
            backend = f"m{i}" if rng.random() < 0.93 else rng.choice(["m0", "nope"])
            if backend == f"m{i}":
                objects += ["-object", f"memory-backend-ram,id=m{i},size={sizes[i]}M"]
            opts.append(f"memdev={backend}")
        elif kind == "mem" and rng.random() < 0.9:
            opts.append(f"mem={sizes[i]}M")
        numa += ["-numa", ",".join(opts)]
    for _ in range(rng.choice([0, 0, 1, 2, 4])):
        props = [f"node-id={rng.choice([*ids, rng.randrange(6)])}"]
        for key, top in [("socket-id", 3), ("core-id", 3), ("thread-id", 1), ("die-id", 1), ("cluster-id", 1)]:
            if rng.random() < 0.4:
                props.append(f"{key}={rng.randrange(top + 1)}")
        numa += ["-numa", "cpu," + ",".join(props)]
    dists: list[str] = []
    if rng.random() < 0.6:
        for a in range(count):
            for b in range(count):
                if (a < b and rng.random() < 0.9) or (a > b and rng.random() < 0.2) or (a == b and rng.random() < 0.05):
                    val = rng.choice([15, 20, 20, 30, 10, 9]) if a != b else rng.choice([10, 11])
                    dists += ["-numa", f"dist,src={ids[a]},dst={ids[b]},val={val}"]
    early = dists[:2] if rng.random() < 0.1 else []
    return shlex.join(words + early + objects + numa + dists)


QMP_QUERIES = (
    '{"execute":"qmp_capabilities"}\n{"execute":"query-cpus-fast"}\n'
    '{"execute":"human-monitor-command","arguments":{"command-line":"info numa"}}\n{"execute":"quit"}\n'
)


@pytest.mark.qemu
@pytest.mark.parametrize("seed", range(40))
def test_reading_agrees_with_real_qemu(seed: int) -> None:
    """Random command lines: QEMU refuses exactly when numaopt finds an error, with the same
    first message; when it accepts, its CPU-to-node map and node sizes are the layout's."""
    text = _random_command(random.Random(seed))
    argv = split_command(text)
    if shutil.which(argv[0]) is None:
        pytest.skip("QEMU is not installed")
    run = subprocess.run(
        [argv[0], "-S", "-display", "none", "-nodefaults", "-qmp", "stdio", *argv[1:]],
        input=QMP_QUERIES,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    try:
        config = read_qemu_args(text)
    except QemuArgsError as error:  # only for a -smp level of 0, which a CpuShape cannot hold
        assert run.returncode == 1
        assert error.detail in run.stderr
        return
    errors = [f.message for f in config.findings if f.severity is Severity.ERROR]
    errors += [f.message for f in check_layout(config.layout, RuleSet.QEMU) if f.severity is Severity.ERROR]
    if run.returncode != 0:
        refusals = [
            line for line in run.stderr.splitlines() if line.startswith("qemu-system") and "warning" not in line
        ]
        first = re.sub(r"^qemu-system-\w+: (-\w+ \S+: )?", "", refusals[0])
        assert first in errors
        return
    assert errors == []
    replies = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    cpus = next(r["return"] for r in replies if isinstance(r.get("return"), list))
    info = next(r["return"] for r in replies if isinstance(r.get("return"), str))
    owner = {cpu: node.node_id for node in config.layout.nodes for cpu in node.cpus}
    # QEMU puts vCPUs no option maps into node 0 (with a warning; check_layout says so).
    assert {c["cpu-index"]: c["props"]["node-id"] for c in cpus} == {
        c["cpu-index"]: owner.get(c["cpu-index"], 0) for c in cpus
    }
    sizes = {int(m[1]): int(m[2]) for m in re.finditer(r"node (\d+) size: (\d+) MB", info)}
    assert sizes == {node.node_id: node.memory_bytes // MIB for node in config.layout.nodes}


def test_unassigned_cpus_stay_out_of_the_layout() -> None:
    # QEMU puts them in node 0 with a warning; check_layout says so.
    config = read_qemu_args(f"{ARM} -M virt -smp 4 {ONE_GIB_NODE} -numa node -numa cpu,node-id=1,core-id=3")
    assert [node.cpus for node in config.layout.nodes] == [(), (3,)]
    assert "cpus-unassigned" in [f.code for f in check_layout(config.layout, RuleSet.QEMU)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Checked with query-cpus-fast on QEMU 7.2: x86 pkg_id % nodes, virt socket_id % nodes.
        (f"{X86} -smp 4,sockets=2 {ONE_GIB_NODE} -numa node -numa node", [(0, 1), (2, 3), ()]),
        (f"{ARM} -M virt-6.1 -smp 4 {ONE_GIB_NODE} -numa node -numa node", [(0, 3), (1,), (2,)]),
        (f"{ARM} -M virt -smp 4,sockets=2,clusters=2 {ONE_GIB_NODE} -numa node -numa node", [(0, 1), (2, 3), ()]),
    ],
)
def test_default_cpu_mapping_is_qemus(text: str, expected: list[tuple[int, ...]]) -> None:
    config = read_qemu_args(text)
    assert [node.cpus for node in config.layout.nodes] == expected
    assert "default-cpu-mapping" in _codes(config)


def test_numa_cpu_props_assign_every_matching_slot() -> None:
    text = (
        f"{X86} -smp 8,sockets=2,dies=2,threads=2 {ONE_GIB_NODE} -numa node -numa node -numa node "
        "-numa cpu,node-id=0,socket-id=0 -numa cpu,node-id=1,socket-id=1,die-id=0 "
        "-numa cpu,node-id=2,socket-id=1,die-id=1,thread-id=0 -numa cpu,node-id=3,socket-id=1,die-id=1,thread-id=1"
    )
    config = read_qemu_args(text)
    assert config.layout.shape == CpuShape(sockets=2, dies=2, cores=1, threads=2)
    assert [node.cpus for node in config.layout.nodes] == [(0, 1, 2, 3), (4, 5), (6,), (7,)]
    assert _codes(config) == ["smt-amd-no-topoext"]  # threads=2 on qemu64, QEMU's default CPU


def test_distances_are_completed_like_qemu() -> None:
    text = f"{X86} {ONE_GIB_NODE} -numa node -numa node -numa dist,src=1,dst=0,val=15 -numa dist,src=0,dst=2,val=21"
    text += " -numa dist,src=2,dst=1,val=30"
    config = read_qemu_args(text)
    assert config.layout.distances is not None
    assert config.layout.distances.tolist() == [[10, 15, 21], [15, 10, 30], [21, 30, 10]]
    assert _codes_besides_default_mapping(config) == []
    no_dist = read_qemu_args(f"{X86} {ONE_GIB_NODE} -numa node")
    assert no_dist.layout.distances is None


def test_refused_distances_stay_in_the_matrix() -> None:
    text = f"{X86} {ONE_GIB_NODE} -numa node -numa dist,src=0,dst=1,val=9 -numa dist,src=0,dst=0,val=11"
    layout = read_qemu_args(text).layout
    messages = [f.message for f in check_layout(layout, RuleSet.QEMU)]
    assert "NUMA distance (9) is invalid, it shouldn't be less than 10." in messages
    assert "Local distance of node 0 should be 10." in messages


# ---------------------------------------------------------------------------------------
# Values as QEMU reads them


@pytest.mark.parametrize(
    ("value", "expected"),
    [  # each checked with query-memory-size-summary on QEMU 7.2 (which shows it rounded up to 8 KiB)
        ("2G", 2 * GIB),
        ("2048", 2 * GIB),
        ("size=2G", 2 * GIB),
        ("2g", 2 * GIB),
        ("1.5G", 3 * GIB // 2),
        ("0x800", 2 * GIB),
        ("0", 128 * MIB),
        ("1.3M", 1363148),
        ("2G,maxmem=4G,slots=2", 2 * GIB),
    ],
)
def test_memory_sizes(value: str, expected: int) -> None:
    assert read_qemu_args(f"{X86} -m {value}").layout.memory_bytes == expected


@pytest.mark.parametrize(
    ("machine", "smp", "vcpus", "shape"),
    [  # each checked with query-hotpluggable-cpus on QEMU 7.2
        ("q35", "0x4,sockets=0x2", 4, (2, 1, 1, 2, 1)),
        ("q35", "cpus=4,cpus=2", 2, (1, 1, 1, 2, 1)),
        ("q35", "maxcpus=4", 4, (1, 1, 1, 4, 1)),
        ("q35", "sockets=2", 2, (2, 1, 1, 1, 1)),
        ("q35", "threads=2,maxcpus=8", 8, (1, 1, 1, 4, 2)),
        ("q35", "8,sockets=2,threads=0", 8, (2, 1, 1, 4, 1)),
        ("q35", "0", 1, (1, 1, 1, 1, 1)),
        ("q35", "8,sockets=2,cores=2", 8, (2, 1, 1, 2, 2)),
        ("q35", "4,maxcpus=8,sockets=2", 8, (2, 1, 1, 4, 1)),
        ("q35", "8,cores=3", 8, (2, 1, 1, 3, 1)),
        ("pc-i440fx-6.1", "8,cores=2", 8, (4, 1, 1, 2, 1)),
        ("pc-i440fx-6.1", "8,sockets=2", 8, (2, 1, 1, 4, 1)),
        ("pc", "8,dies=2", 8, (1, 2, 1, 4, 1)),
        ("pc", "8,dies=2,sockets=2", 8, (2, 2, 1, 2, 1)),
        ("virt-6.1", "4", 4, (4, 1, 1, 1, 1)),
        ("virt", "4,sockets=2,clusters=2", 4, (2, 1, 2, 1, 1)),
    ],
)
def test_smp_is_completed_like_qemu(machine: str, smp: str, vcpus: int, shape: tuple[int, ...]) -> None:
    text = f"{ARM} -machine {machine},gic-version=3" if machine.startswith("virt") else f"{X86} -machine {machine}"
    layout = read_qemu_args(f"{text} -smp {smp}").layout
    assert layout.vcpus == vcpus
    assert dataclasses.astuple(layout.shape) == shape


def test_smp_options_merge_like_qemu() -> None:
    assert read_qemu_args(f"{X86} -smp 4 -smp sockets=2").layout.shape == CpuShape(sockets=2, cores=2)
    layout = read_qemu_args(f"{X86} -smp 4,sockets=4 -smp 8").layout
    assert (layout.vcpus, layout.shape) == (8, CpuShape(sockets=4, cores=2))


def test_smp_product_mismatch_is_left_to_check_layout() -> None:
    layout = read_qemu_args(f"{X86} -machine q35 -smp 16,sockets=3").layout
    messages = [f.message for f in check_layout(layout, RuleSet.QEMU)]
    # Verbatim what qemu-system-x86_64 7.2 prints.
    assert (
        "Invalid CPU topology: product of the hierarchy must match maxcpus: "
        "sockets (3) * dies (1) * cores (5) * threads (1) != maxcpus (16)"
    ) in messages


def test_machine_types() -> None:
    assert read_qemu_args(X86).layout.machine is Machine.PC
    assert read_qemu_args(ARM).layout.machine is Machine.VIRT
    for text, machine in [
        ("-M q35", Machine.Q35),
        ("-machine type=pc-q35-7.2,accel=tcg", Machine.Q35),
        ("-machine pc-i440fx-7.2", Machine.PC),
        ("-machine q35 -machine accel=tcg", Machine.Q35),
        ("-machine pc-q35-4.0.1", Machine.Q35),
        ("-machine virt-7.2", Machine.VIRT),
    ]:
        config = read_qemu_args(text)
        assert config.layout.machine is machine
        assert config.layout.rules is machine.default_rules
    assert read_qemu_args("-machine pc-q35-5.0").machine_type == "pc-q35-5.0"


def test_backends() -> None:
    text = (
        f"{X86} -m 2G -object memory-backend-file,id=a,size=1G,mem-path=/dev/hugepages,share=on,prealloc=yes,"
        "host-nodes=0,host-nodes=2-3,policy=bind -object memory-backend-file,id=b,size=1G,mem-path=/dev/hugepages,"
        "share=on,prealloc=on -numa node,memdev=a -numa node,memdev=b"
    )
    config = read_qemu_args(text)
    assert config.layout.backend == MemoryBackend(BackendKind.FILE, "/dev/hugepages", share=True, prealloc=True)
    assert [node.host_nodes for node in config.layout.nodes] == [(0, 2, 3), ()]
    assert [node.memory_bytes for node in config.layout.nodes] == [GIB, GIB]
    assert _codes_besides_default_mapping(config) == []


def test_backend_variants_are_findings() -> None:
    memfd = read_qemu_args(f"{X86} -m 1G -object memory-backend-memfd,id=a,size=1G -numa node,memdev=a")
    assert memfd.layout.backend == MemoryBackend(share=True)  # memfd is shared by default
    assert _codes_besides_default_mapping(memfd) == ["backend-memfd"]
    mixed = read_qemu_args(
        f"{X86} -m 2G -object memory-backend-ram,id=a,size=1G -object memory-backend-ram,id=b,size=1G,share=on "
        "-numa node,memdev=a -numa node,memdev=b"
    )
    assert _codes_besides_default_mapping(mixed) == ["backend-mixed"]
    preferred = read_qemu_args(f"{X86} -object memory-backend-ram,id=a,size=1G,host-nodes=1,policy=preferred")
    assert _codes(preferred) == ["backend-policy-read-as-bind"]


def test_libvirt_style_json_objects() -> None:
    text = (
        "/usr/bin/qemu-system-x86_64 -name guest=vm1,debug-threads=on -machine pc-q35-7.2,usb=off -accel kvm "
        "-m 2048 -overcommit mem-lock=off -smp 4,sockets=2,dies=1,cores=2,threads=1 "
        '-object \'{"qom-type":"memory-backend-ram","id":"ram-node0","size":1073741824,"host-nodes":[0],'
        '"policy":"bind"}\' -numa node,nodeid=0,cpus=0-1,memdev=ram-node0 '
        '-object \'{"qom-type":"memory-backend-ram","id":"ram-node1","size":1073741824}\' '
        "-numa node,nodeid=1,cpus=2-3,memdev=ram-node1 -no-user-config -nodefaults -no-shutdown -boot strict=on "
        '-object \'{"qom-type":"secret","id":"masterKey0","format":"raw","file":"/x"}\' '
        '-device \'{"driver":"virtio-balloon-pci","id":"balloon0"}\' -sandbox on -msg timestamp=on'
    )
    config = read_qemu_args(text)
    assert [(n.cpus, n.memory_bytes, n.host_nodes) for n in config.layout.nodes] == [
        ((0, 1), GIB, (0,)),
        ((2, 3), GIB, ()),
    ]
    assert config.findings == []


# ---------------------------------------------------------------------------------------
# Text as people paste it


def test_shell_text_is_split_like_a_shell() -> None:
    text = (
        "# a comment line\r\n"
        "qemu-system-x86_64 -machine q35 \\\r\n"
        "  -m 1G   # a trailing comment\r\n"
        "  -name 'my vm #1' -object memory-backend-file,id=m0,size=1G,mem-path=/tmp/a#b \\\n"
        '  -numa "node,memdev=m0"\n'
    )
    argv = split_command(text)
    assert argv == [
        "qemu-system-x86_64", "-machine", "q35", "-m", "1G", "-name", "my vm #1", "-object",
        "memory-backend-file,id=m0,size=1G,mem-path=/tmp/a#b", "-numa", "node,memdev=m0",
    ]  # fmt: skip
    config = read_qemu_args(text)
    assert config.layout.backend.mem_path == "/tmp/a#b"
    assert config.layout.nodes[0].memory_bytes == GIB


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", " ", "\t", "\n", "\\", "'", '"', ",", "=", "é", "\\\\"]), max_size=16).map("".join))
def test_split_agrees_with_shlex(text: str) -> None:
    """Without comments, CR or continuations (which shlex leaves alone) the linear splitter
    gives shlex's posix words, and fails exactly where shlex fails."""
    assume("\\\n" not in text)
    try:
        expected: list[str] | None = shlex.split(text, comments=False, posix=True)
    except ValueError:
        expected = None
    try:
        got: list[str] | None = split_command(text)
    except QemuArgsError:
        got = None
    assert got == expected


@pytest.mark.parametrize(
    ("text", "argv"),
    [
        ("\ufeff-m 1G", ["-m", "1G"]),  # a byte-order mark does not stick to the first option
        ("-name a\\ #b", ["-name", "a #b"]),  # an escaped space does not start a word: no comment
        ("-name a#b #c", ["-name", "a#b"]),
        ("-name a;#b", ["-name", "a;"]),  # a shell operator ends the word: the # starts a comment
        ("-name a\\;#b", ["-name", "a;#b"]),  # an escaped operator does not
        ('-name "a\\\nb\\q\\"\\\\"', ["-name", 'ab\\q"\\']),
        ("-name 'a\\\nb'", ["-name", "a\\\nb"]),  # single quotes keep everything
        ("-m 1G \\\n  -smp 2 \\\r\n -S", ["-m", "1G", "-smp", "2", "-S"]),
        ("-name a\\\\\\b", ["-name", "a\\b"]),
    ],
)
def test_split_like_a_posix_shell(text: str, argv: list[str]) -> None:
    assert split_command(text) == argv


def test_a_long_argument_is_read_whole() -> None:
    """Reading is linear (benchmarks/bench_inputs.py times 10 MB); here: nothing is lost."""
    name = "a\\ b" * 50_000 + "'c d'" + '"e\\"f"' * 10_000
    argv = split_command(f"{X86} -m 1G -name {name}")
    assert argv[-1] == "a b" * 50_000 + "c d" + 'e"f' * 10_000
    assert read_qemu_args(f"{X86} -m 1G -name {name}").layout.memory_bytes == GIB


def test_opts_escaping_and_double_dash() -> None:
    text = f"{X86} --m 1G -object memory-backend-file,id=m0,size=1G,mem-path=/tmp/a,,b -numa node,memdev=m0,"
    config = read_qemu_args(text)
    assert config.layout.backend.mem_path == "/tmp/a,b"
    assert _codes_besides_default_mapping(config) == []


# ---------------------------------------------------------------------------------------
# Bad input: one line, naming the argument


BAD_CASES = [
    ("", None, "no QEMU arguments"),
    (f"{X86} -m 2 parsecs", "parsecs", "not an option"),
    (f"{X86} -m '2 parsecs'", "-m 2 parsecs", "size=2 parsecs: expected a size such as 2G"),
    (f"{X86} -m 2GiB", "-m 2GiB", "expected a size"),
    (f"{X86} -m", "-m", "requires an argument"),
    (f"{X86} -numa node,nodeid=x", "-numa node,nodeid=x", "nodeid=x: expected a node id (0-127)"),
    (f"{X86} -numa node,nodeid=65536", "-numa node,nodeid=65536", "expected a node id"),
    (f"{X86} -numa bogus", "-numa bogus", "Parameter 'type' does not accept value 'bogus' (valid: node, dist, cpu"),
    (f"{X86} -numa nodeid=1", "-numa nodeid=1", "Parameter 'type' is missing"),
    (f"{X86} -numa node,foo=1", "-numa node,foo=1", "Invalid parameter 'foo' (valid: nodeid, cpus, mem, memdev"),
    (f"{X86} -numa node,cpus=3-1", "-numa node,cpus=3-1", "cpus=3-1: expected a number or a range"),
    (f"{X86} -numa node,cpus=", "-numa node,cpus=", "expected a number or a range"),
    (f"{X86} -numa node,mem=xyz", "-numa node,mem=xyz", "mem=xyz: expected a size"),
    (f"{X86} -numa node -numa node -numa dist,src=0,dst=1", "-numa dist,src=0,dst=1", "Parameter 'val' is missing"),
    (f"{X86} -numa node -numa dist,src=0,dst=1,val=256", "-numa dist,src=0,dst=1,val=256", "val=256: expected"),
    (f"{X86} -numa node -numa cpu,node-id=x", "-numa cpu,node-id=x", "node-id=x: expected an integer"),
    (f"{X86} -foo", "-foo", "not a QEMU option numaopt knows"),
    (f"{X86} -readconfig vm.cfg", "-readconfig", "not a QEMU option numaopt knows"),
    ("qemu-system-riscv64 -m 1G", "qemu-system-riscv64", "numaopt reads commands for qemu-system-x86_64"),
    (f"sudo {X86} -m 1G", "sudo", "expected a QEMU binary"),
    (f"{X86} -machine microvm", "-machine microvm", "machine type 'microvm' is not one numaopt knows"),
    (f"{X86} -machine help", "-machine help", "is not one numaopt knows"),
    (f"{X86} -machine virt", "-machine virt", "qemu-system-x86_64 has no machine virt"),
    (f"{ARM} -M q35", "-M q35", "qemu-system-aarch64 has no machine q35"),
    (f"{X86} -smp x", "-smp x", "cpus=x: expected a whole number"),
    (f"{X86} -smp -1", "-smp -1", "expected a whole number"),
    (f"{X86} -smp 4,foo=1", "-smp 4,foo=1", "Parameter 'smp.foo' is unexpected (valid: cpus, maxcpus"),
    (
        f"{X86} -smp 2,sockets=4",
        "-smp 2,sockets=4",
        "Invalid CPU topology: product of the hierarchy must match maxcpus: "
        "sockets (4) * dies (1) * cores (0) * threads (1) != maxcpus (2)",
    ),
    (f"{X86} -smp 100000", "-smp 100000", "numaopt reads at most 4096"),
    (f"{X86} -object memory-backend-ram,id=a", "-object memory-backend-ram,id=a", "Parameter 'size' is missing"),
    (f"{X86} -object memory-backend-ram,size=1G", "-object memory-backend-ram,size=1G", "Parameter 'id' is missing"),
    (f"{X86} -object memory-backend-ram,id=a,size=0", "-object memory-backend-ram,id=a,size=0", "doesn't take value"),
    (f"{X86} -object memory-backend-ram,id=1a,size=1G", "-object memory-backend-ram,id=1a,size=1G", "identifier"),
    (f"{X86} -object memory-backend-ram,id=a,size=1G,share=maybe", "-object", "share=maybe: expected on or off"),
    (f"{X86} -object memory-backend-file,id=a,size=1G", "-object", "Parameter 'mem-path' is missing"),
    (f"{X86} -object memory-backend-ram,id=a,size=1G,mem-path=/x", "-object", "Invalid parameter 'mem-path'"),
    (f"{X86} -object memory-backend-bogus,id=a,size=1G", "-object", "invalid object type: memory-backend-bogus"),
    (f"{X86} -object memory-backend-ram,id=a,size=1G,host-nodes=128,policy=bind", "-object", "host-nodes value: 128"),
    (f"{X86} -object memory-backend-ram,id=a,size=1G,policy=often", "-object", "'policy' does not accept"),
    (f'{X86} -object \'{{"qom-type": "memory-backend-ram", "id": "a", "size": "1G"}}\'', "-object", "type"),
    (f"{X86} -object '{{\"qom-type\": '", "-object", "invalid JSON"),
    (f"{X86} -name 'vm", None, "cannot split the text into arguments: the single quote at line 1, column 26 is never closed"),
    (f'{X86} -name "vm', None, "the double quote at line 1, column 26 is never closed"),
    (f"{X86} -name vm\\", None, "the text ends with a lone backslash"),
    (f"{X86} -m {'9' * 5000}G", "-m 999", "expected a size"),
    (f"{X86} -smp {'9' * 5000}", "-smp 999", "expected"),
    (f"{X86} -m 1G -numa node,cpus=0-{'9' * 5000}", "-numa node,cpus=0-999", "expected a number or a range"),
    (f"{X86} -m 1G -numa node,cpus=" + ",cpus=".join(["1"] * 70_000), "-numa node,cpus=1,", "parameters in one option"),
    (f"{X86} -m 1G" + " -S" * 200_001, None, "numaopt reads at most 100000 options"),
    (f"{X86} -m 'x\ny'", "-m x\\ny", "expected a size"),
]


@pytest.mark.parametrize(("text", "where", "fragment"), BAD_CASES, ids=[str(c[1] or c[2])[:40] for c in BAD_CASES])
def test_bad_input_is_one_line_naming_the_argument(text: str, where: str | None, fragment: str) -> None:
    with pytest.raises(QemuArgsError) as info:
        read_qemu_args(text, "vm.sh")
    error = info.value
    assert "\n" not in str(error)
    assert str(error).startswith("vm.sh: ")
    if where is not None:
        assert error.where is not None
        assert error.where.startswith(where)
    assert fragment in error.detail


# ---------------------------------------------------------------------------------------
# Fuzzing: QemuConfig or NumaoptError, never another exception


def _read_or_error(text: str) -> None:
    try:
        config = read_qemu_args(text)
    except NumaoptError as error:
        assert "\n" not in str(error)
        return
    assert isinstance(config, QemuConfig)
    check_layout(config.layout, RuleSet.QEMU)  # the layout must be usable, not just built


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_arbitrary_text(text: str) -> None:
    _read_or_error(text)


_WORDS = [
    "-numa", "-m", "-smp", "-machine", "-M", "-object", "-cpu", "node", "dist", "cpu", "nodeid=", "cpus=",
    "memdev=", "mem=", "src=", "dst=", "val=", "node-id=", "socket-id=", "die-id=", "cluster-id=", "core-id=",
    "thread-id=", "memory-backend-ram", "memory-backend-file", "memory-backend-memfd", "id=", "size=", "host-nodes=",
    "policy=bind", "mem-path=", "share=on", "prealloc=on", "maxcpus=", "sockets=", "dies=", "clusters=", "cores=",
    "threads=", ",", ",,", "=", "-", "0", "1", "7", "127", "128", "255", "256", "65536", "0x10", "010", "2G", "1.5M",
    "q35", "pc", "virt", "virt-6.1", "pc-q35-5.0", "gic-version=2", "{", "}", "'", '"', "\\", "\n", " ", "#",
]  # fmt: skip


@FUZZ
@given(st.lists(st.sampled_from(_WORDS), max_size=40))
def test_fuzz_option_soup(words: list[str]) -> None:
    _read_or_error("".join(words))


def _mutate(argv: list[str], rng: random.Random, junk: str) -> list[str]:
    argv = list(argv)
    for _ in range(rng.randint(1, 4)):
        if not argv:
            argv.append(junk)
        i = rng.randrange(len(argv))
        j = rng.randrange(len(argv))
        op = rng.randrange(8)
        if op == 0:
            del argv[i]
        elif op == 1:
            argv.insert(i, argv[i])
        elif op == 2:
            argv[i], argv[j] = argv[j], argv[i]
        elif op == 3:
            argv[i] = junk
        elif op == 4:
            k = rng.randrange(len(argv[i]) + 1)
            argv[i] = argv[i][:k] + junk + argv[i][k:]
        elif op == 5:
            argv[i] = re.sub(
                r"\d+", lambda _: str(rng.choice([0, 1, 9, 10, 127, 128, 255, 256, 4097, 1 << 70])), argv[i], count=1
            )
        elif op == 6:
            argv[i] = argv[i][: rng.randrange(len(argv[i]) + 1)]
        else:
            argv.insert(
                i, rng.choice(["-numa", "-m", "-smp", "-object", "-machine", "node", "dist,src=0,dst=0,val=10"])
            )
    return argv


@FUZZ
@given(layouts(), st.randoms(use_true_random=False), st.text(max_size=8), st.booleans())
def test_fuzz_mutated_command_lines(layout: GuestLayout, rng: random.Random, junk: str, quoted: bool) -> None:
    argv = _mutate(qemu_command(layout), rng, junk)
    _read_or_error(shlex.join(argv) if quoted else " ".join(argv))


@FUZZ
@given(st.sampled_from(sorted(DATA.glob("*.sh"))), st.randoms(use_true_random=False), st.text(max_size=8))
def test_fuzz_mutated_seed_articles(path: Path, rng: random.Random, junk: str) -> None:
    _read_or_error(shlex.join(_mutate(split_command(path.read_text()), rng, junk)))


# ---------------------------------------------------------------------------------------
# Fuzzing numaopt.problem.parse_problem: Problem or ProblemError


def _parse_or_error(text: str) -> None:
    try:
        problem = parse_problem(text, "fuzz.toml")
    except ProblemError as error:
        assert "\n" not in str(error)
        return
    assert isinstance(problem, Problem)


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_problem_arbitrary_text(text: str) -> None:
    _parse_or_error(text)


_TOMLISH = [
    "[guest]\n", "[guest.smp]\n", "[guest.memory_backend]\n", "[[guest.nodes]]\n", "vcpus = ", "memory = ",
    "machine = ", "nodes = ", "distances = ", "default_distance = ", "cpus = ", "rules = ", "kind = ", "page_size = ",
    "sockets = ", "threads = ", "[", "]", "{", "}", ",", "\n", "=", '"', "'", "4", "16", "0", "-1", "1e400",
    "99999999999999999999", '"2GiB"', '"0-3"', '"q35"', '"virt"', "true", "{ a = 0, b = 1, value = 15 }",
    "[10, 20]", "a", "b", "value",
]  # fmt: skip


@FUZZ
@given(st.lists(st.sampled_from(_TOMLISH), max_size=40))
def test_fuzz_problem_tomlish_text(pieces: list[str]) -> None:
    _parse_or_error("".join(pieces))


_ALL_KEYS = sorted({*TOP_KEYS, *GUEST_KEYS, *SMP_KEYS, *NODE_KEYS, *PAIR_KEYS, *BACKEND_KEYS, "unknown"})
_SAMPLE_STRINGS = [
    "2GiB", "512MiB", "1.5GiB", "0", "0-3", "4-7", "0-65535", "", "none", "q35", "pc", "virt", "ram", "file",
    "/dev/hugepages", "2MiB", "3MiB", "qemu", "linux-acpi", "linux-dt", "libvirt", "1 parsec",
]  # fmt: skip
_SCALARS = st.one_of(
    st.integers(-(1 << 70), 1 << 70),
    st.integers(-3, 20),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=10),
    st.sampled_from(_SAMPLE_STRINGS),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(_ALL_KEYS), inner, max_size=4),
    max_leaves=10,
)


def _mostly(valid: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    """``valid`` five times in six, else any TOML value: deep enough to reach every check."""
    return st.integers(0, 5).flatmap(lambda k: _VALUES if k == 0 else valid)


@st.composite
def problem_documents(draw: st.DrawFn) -> dict[str, object]:
    """Valid TOML shaped by the schema's keys, with values from valid to absurd."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.dictionaries(st.sampled_from(_ALL_KEYS), _VALUES, max_size=4))
    count = draw(st.integers(1, 4))
    vcpus = draw(st.integers(1, 16))
    cpulist = st.sampled_from(["0-3", "4-7", "0", "", "0-1,8", "2-3", "8-15", "0-65535"])
    size = st.sampled_from(["512MiB", "1GiB", "0", "3MiB", "2GiB", "1.5GiB"])
    big = st.integers(-(1 << 70), 1 << 70)
    node = st.fixed_dictionaries({}, optional={"cpus": _mostly(cpulist), "memory": _mostly(size)})
    pair = st.fixed_dictionaries(
        {
            "a": _mostly(st.integers(-1, count)),
            "b": _mostly(st.integers(-1, count)),
            "value": _mostly(st.integers(-5, 300) | big),
        }
    )
    row = st.lists(_mostly(st.integers(0, 300) | big), min_size=count, max_size=count)
    smp = st.fixed_dictionaries({}, optional={key: _mostly(st.integers(0, 4)) for key in SMP_KEYS})
    backend = st.fixed_dictionaries(
        {},
        optional={
            "kind": _mostly(st.sampled_from(["ram", "file", "dax"])),
            "mem_path": _mostly(st.sampled_from(["/dev/hugepages", ""])),
            "page_size": _mostly(st.sampled_from(["2MiB", "1GiB", "3MiB", "4KiB"]) | big),
            "share": _mostly(st.booleans()),
            "prealloc": _mostly(st.booleans()),
        },
    )
    guest = draw(
        st.fixed_dictionaries(
            {"vcpus": _mostly(st.just(vcpus)), "memory": _mostly(st.sampled_from(["1GiB", "2GiB", "4097MiB"]))},
            optional={
                "machine": _mostly(st.sampled_from(["q35", "pc", "virt", "isapc"])),
                "smp": _mostly(smp),
                "nodes": _mostly(st.lists(node, min_size=count, max_size=count)),
                "distances": _mostly(
                    st.lists(row, min_size=count, max_size=count) | st.lists(pair, max_size=2 * count * count)
                ),
                "default_distance": _mostly(st.integers(-5, 300) | big),
                "memory_backend": _mostly(backend),
            },
        )
    )
    if draw(st.integers(0, 19)) == 0:
        guest["unknown"] = draw(_VALUES)
    top: dict[str, object] = {"guest": guest}
    if draw(st.booleans()):
        top["rules"] = draw(_mostly(st.sampled_from(["qemu", "linux-acpi", "linux-dt", "libvirt", "nope"])))
    return top


@FUZZ
@given(problem_documents())
def test_fuzz_problem_documents(document: dict[str, object]) -> None:
    _parse_or_error(tomli_w.dumps(document))


@pytest.mark.parametrize(
    "text",
    [
        # Found by the fuzzers above: crashed parse_problem before the fix.
        '[guest]\nvcpus = 4\nmemory = "1GiB"\nnodes = [{}]\ndefault_distance = 99999999999999999999\n',
        '[guest]\nvcpus = 4\nmemory = "1GiB"\nnodes = [{}, {}]\ndistances = [[10, 99999999999999999999], [20, 10]]\n',
        '[guest]\nvcpus = 4\nmemory = "1GiB"\nnodes = [{}, {}]\n'
        "distances = [{ a = 0, b = 1, value = -99999999999999999999 }]\n",
        "a = " + "[" * 5000 + "]" * 5000 + "\n",
    ],
    ids=["default-distance", "matrix", "pairs", "deep-nesting"],
)
def test_problem_parser_regressions(text: str) -> None:
    with pytest.raises(ProblemError) as info:
        parse_problem(text, "x.toml")
    assert "\n" not in str(info.value)
