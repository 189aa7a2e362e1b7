"""render/qemu.py caches the pieces batches repeat (a node's -numa cpu options, the
-numa dist heads, backend options) and quotes only when a value needs it: whatever order
layouts come in, every piece is the one its own layout asks for."""

from __future__ import annotations

import shlex
import subprocess

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from numaopt.model import BackendKind, CpuShape, GuestLayout, GuestNode, Machine, MemoryBackend
from numaopt.render.qemu import qemu_command, shell_text
from numaopt.units import MIB


@st.composite
def layouts(draw: st.DrawFn) -> GuestLayout:
    """Any shape on x86 or virt, vCPUs dealt to nodes in runs or scattered, node ids with
    gaps, any matrix (asymmetric, a diagonal that is not 10), a backend that needs quotes."""
    machine = draw(st.sampled_from(Machine))
    virt = machine is Machine.VIRT
    shape = CpuShape(
        sockets=draw(st.integers(1, 3)),
        dies=1 if virt else draw(st.integers(1, 3)),
        clusters=draw(st.integers(1, 3)) if virt else 1,
        cores=draw(st.integers(1, 3)),
        threads=draw(st.integers(1, 2)),
    )
    vcpus = shape.num_cpus
    count = draw(st.integers(1, min(vcpus, 5)))
    owner = draw(st.lists(st.integers(0, count - 1), min_size=vcpus, max_size=vcpus))
    ids = sorted(draw(st.sets(st.integers(0, 12), min_size=count, max_size=count)))
    nodes = tuple(
        GuestNode(ids[k], tuple(cpu for cpu in range(vcpus) if owner[cpu] == k), draw(st.sampled_from([0, 128 * MIB])))
        for k in range(count)
    )
    matrix = np.array(draw(st.lists(st.lists(st.integers(10, 60), min_size=count, max_size=count), min_size=count, max_size=count)))
    if draw(st.booleans()):
        matrix = np.minimum(matrix, matrix.T)
    if draw(st.booleans()):
        np.fill_diagonal(matrix, 10)
    backend = draw(st.sampled_from([MemoryBackend(), MemoryBackend(kind=BackendKind.FILE, mem_path="/mnt/huge pages/it's", share=True)]))
    return GuestLayout(
        vcpus=vcpus,
        memory_bytes=sum(node.memory_bytes for node in nodes),
        nodes=nodes,
        shape=shape,
        distances=matrix if draw(st.booleans()) else None,
        machine=machine,
        backend=backend,
    )


def _numa(argv: list[str], kind: str) -> list[dict[str, int]]:
    options = [argv[i + 1] for i, word in enumerate(argv) if word == "-numa" and argv[i + 1].startswith(kind + ",")]
    return [{key: int(value) for key, value in (part.split("=") for part in option.split(",")[1:])} for option in options]


@settings(max_examples=300, deadline=None)
@given(layout=layouts())
def test_every_piece_is_its_own_layouts(layout: GuestLayout) -> None:
    argv = qemu_command(layout)
    shape, virt = layout.shape, layout.machine is Machine.VIRT
    expected_cpus = []
    for node in layout.nodes:
        for cpu in node.cpus:
            pos = shape.position(cpu)
            ids = {"node-id": node.node_id, "socket-id": pos.socket}
            ids |= {"die-id": pos.die} if not virt and shape.dies > 1 else {}
            ids |= {"cluster-id": pos.cluster} if virt and shape.clusters > 1 else {}
            expected_cpus.append(ids | {"core-id": pos.core, "thread-id": pos.thread})
    assert _numa(argv, "cpu") == expected_cpus
    d = layout.distances
    expected_dist = []
    if d is not None:
        symmetric = bool((d == d.T).all())
        ids_of = [node.node_id for node in layout.nodes]
        for i in range(len(ids_of)):
            for j in range(len(ids_of)):
                if (i != j and (j > i or not symmetric)) or (i == j and d[i, i] != 10):
                    expected_dist.append({"src": ids_of[i], "dst": ids_of[j], "val": int(d[i, j])})
    assert _numa(argv, "dist") == expected_dist
    backends = [argv[i + 1] for i, word in enumerate(argv) if word == "-object"]
    assert [b.split(",")[1] for b in backends] == [f"id=mem-node{n.node_id}" for n in layout.nodes if n.memory_bytes]
    assert all(("mem-path=" in b) == (layout.backend.kind is BackendKind.FILE) for b in backends)
    # The shell text is the same argv, quoted only where a value needs it.
    text = shell_text(layout)
    assert shlex.split(text.replace("\\\n", "")) == argv
    quoted = layout.backend.kind is BackendKind.FILE and any(node.memory_bytes for node in layout.nodes)
    assert ("'" in text) == quoted


def test_bash_reads_a_quoted_mem_path_back() -> None:
    backend = MemoryBackend(kind=BackendKind.FILE, mem_path="/mnt/huge pages/it's $HOME, too")
    layout = GuestLayout(2, 256 * MIB, (GuestNode(0, (0, 1), 256 * MIB),), CpuShape(cores=2), backend=backend)
    argv = qemu_command(layout)
    text = shell_text(layout)
    assert "'" in text
    out = subprocess.run(["bash", "-c", text.replace(argv[0], 'printf "%s\\n"', 1)], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == argv[1:]
