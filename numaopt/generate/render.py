"""Files of a generated layout: the problem TOML and the QEMU argument file.

The TOML is the explicit ``[guest]`` form (every node's vCPUs and memory, the full -smp
shape, the full matrix, one row per line), which ``numaopt.problem.parse_problem`` reads
back to an equal ``GuestLayout``; tomli_w writes every table and value, and the matrix
rows are its integers joined on one line each (tomli_w would put every entry on a line
of its own). The argument file is exactly what ``numaopt.render.qemu.shell_text``
prints; ``args_text`` builds the same text without the per-vCPU dataclass work (a test
compares them on generated layouts), because rendering is most of a small layout's cost.
Both take a ``GuestLayout`` or a batch's compact ``Generated`` item.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import tomli_w

from numaopt.model import GuestLayout, Machine, Plan
from numaopt.rules import RuleSet
from numaopt.units import format_cpulist, format_qemu_size, format_size

if TYPE_CHECKING:
    from numaopt.generate.batch import Generated


@dataclass(frozen=True, slots=True)
class _Parts:
    """A layout whose nodes hold consecutive vCPU indices, as plain values."""

    node_cpus: tuple[tuple[int, ...], ...]
    memory: tuple[int, ...]
    shape: tuple[int, int, int, int]
    distances: npt.NDArray[np.int64] | None
    machine: Machine
    rules: RuleSet

    @property
    def vcpus(self) -> int:
        return sum(len(cpus) for cpus in self.node_cpus)


def _parts(item: GuestLayout | Generated) -> _Parts:
    if isinstance(item, GuestLayout):
        shape = item.shape
        if shape.clusters != 1 or any(node.node_id != i for i, node in enumerate(item.nodes)):
            raise ValueError("generated layouts number nodes 0..n-1 and have no clusters")
        return _Parts(
            tuple(node.cpus for node in item.nodes),
            tuple(node.memory_bytes for node in item.nodes),
            (shape.sockets, shape.dies, shape.cores, shape.threads),
            item.distances,
            item.machine,
            item.rules,
        )
    start = 0
    node_cpus = []
    for count in item.cpus:
        node_cpus.append(tuple(range(start, start + count)))
        start += count
    return _Parts(tuple(node_cpus), item.memory, item.shape, item.distances, item.machine, item.rules)


def problem_dict(item: GuestLayout | Generated) -> dict[str, Any]:
    """The problem file as a dict (``rules`` first, then ``[guest]``)."""
    parts = _parts(item)
    sockets, dies, cores, threads = parts.shape
    guest: dict[str, Any] = {"vcpus": parts.vcpus, "memory": format_size(sum(parts.memory)), "machine": parts.machine.value}
    if parts.distances is not None:
        guest["distances"] = parts.distances.tolist()
    guest["nodes"] = [
        {"cpus": format_cpulist(cpus), "memory": format_size(size) if size else 0}
        for cpus, size in zip(parts.node_cpus, parts.memory, strict=True)
    ]
    guest["smp"] = {"sockets": sockets, "dies": dies, "cores": cores, "threads": threads}
    return {"rules": parts.rules.value, "guest": guest}


@functools.lru_cache(maxsize=4096)
def _head(rules: str, vcpus: int, memory: str, machine: str) -> str:
    return tomli_w.dumps({"rules": rules, "guest": {"vcpus": vcpus, "memory": memory, "machine": machine}})


@functools.lru_cache(maxsize=65536)
def _node_line(start: int, count: int, size: int) -> str:
    """One element of the ``nodes`` array as tomli_w lays it out (its own line, comma included)."""
    node = {"cpus": format_cpulist(range(start, start + count)), "memory": format_size(size) if size else 0}
    return tomli_w.dumps({"nodes": [node]}).splitlines(keepends=True)[1]


@functools.lru_cache(maxsize=4096)
def _smp(shape: tuple[int, int, int, int]) -> str:
    sockets, dies, cores, threads = shape
    return tomli_w.dumps({"guest": {"smp": {"sockets": sockets, "dies": dies, "cores": cores, "threads": threads}}})


def toml_text(item: GuestLayout | Generated, header: str = "") -> str:
    """The problem TOML; ``header`` lines are written first as comments.

    Equal to rendering ``problem_dict`` with tomli_w, except that each matrix row is on
    one line; the pieces tomli_w writes are cached, since batches repeat them a lot.
    """
    parts = _parts(item)
    comments = "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines())
    head = _head(parts.rules.value, parts.vcpus, format_size(sum(parts.memory)), parts.machine.value)
    matrix = ""
    if parts.distances is not None:
        rows = ",\n".join("    [" + ", ".join(map(str, row)) + "]" for row in parts.distances.tolist())
        matrix = f"distances = [\n{rows},\n]\n"
    lines = []
    for cpus, size in zip(parts.node_cpus, parts.memory, strict=True):
        if cpus and cpus[-1] - cpus[0] + 1 != len(cpus):
            raise ValueError("generated layouts give each node consecutive vCPUs")
        lines.append(_node_line(cpus[0] if cpus else 0, len(cpus), size))
    nodes = "nodes = [\n" + "".join(lines) + "]\n"
    return f"{comments}{head}{matrix}{nodes}\n{_smp(parts.shape)}"


_qemu_size = functools.lru_cache(maxsize=4096)(format_qemu_size)


@functools.lru_cache(maxsize=65536)
def _cpu_lines(node_id: int, first: int, count: int, dies: int, cores: int, threads: int) -> list[str]:
    """The ``-numa cpu`` lines of one node holding vCPUs first .. first + count - 1."""
    per_die = cores * threads
    per_socket = dies * per_die
    head = f"    -numa cpu,node-id={node_id},socket-id="
    if dies > 1:
        return [
            f"{head}{cpu // per_socket},die-id={cpu // per_die % dies},core-id={cpu // threads % cores},thread-id={cpu % threads}"
            for cpu in range(first, first + count)
        ]
    return [f"{head}{cpu // per_socket},core-id={cpu // threads % cores},thread-id={cpu % threads}" for cpu in range(first, first + count)]


@functools.lru_cache(maxsize=512)
def _dist_prefixes(n: int, symmetric: bool) -> tuple[list[str], npt.NDArray[np.intp]]:
    """``-numa dist`` line heads in the renderer's order, and which entries they print:
    one direction per pair when symmetric, every ordered pair otherwise."""
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j and (j > i or not symmetric)]
    heads = [f"    -numa dist,src={i},dst={j},val=" for i, j in pairs]
    return heads, np.array([i * n + j for i, j in pairs], dtype=np.intp)


def args_text(item: GuestLayout | Generated) -> str:
    """``numaopt.render.qemu.shell_text`` of the layout, built directly."""
    parts = _parts(item)
    if parts.machine is Machine.VIRT:
        raise ValueError("args_text renders x86 machines only")
    sockets, dies, cores, threads = parts.shape
    vcpus = parts.vcpus
    lines = [
        parts.machine.qemu_binary,
        f"    -machine {parts.machine.value}",
        *(["    -cpu max"] if threads > 1 else []),  # as render.qemu: SMT needs a CPU model with it
        f"    -m {_qemu_size(sum(parts.memory))}",
        f"    -smp {vcpus},sockets={sockets},dies={dies},cores={cores},threads={threads},maxcpus={vcpus}",
    ]
    for node_id, size in enumerate(parts.memory):
        if size:
            lines.append(f"    -object memory-backend-ram,id=mem-node{node_id},size={_qemu_size(size)}")
    for node_id, size in enumerate(parts.memory):
        lines.append(f"    -numa node,nodeid={node_id},memdev=mem-node{node_id}" if size else f"    -numa node,nodeid={node_id}")
    for node_id, cpus in enumerate(parts.node_cpus):
        if cpus:
            if cpus[-1] - cpus[0] + 1 != len(cpus):
                raise ValueError("generated layouts give each node consecutive vCPUs")
            lines += _cpu_lines(node_id, cpus[0], len(cpus), dies, cores, threads)
    d = parts.distances
    if d is not None:
        n = d.shape[0]
        if np.any(np.diagonal(d) != 10):
            raise ValueError("generated layouts have 10 on the diagonal")
        prefixes, flat = _dist_prefixes(n, bool(np.array_equal(d, d.T)))
        lines += [prefix + value for prefix, value in zip(prefixes, map(str, d.ravel()[flat].tolist()), strict=True)]
    return " \\\n".join(lines) + "\n"


def json_text(item: GuestLayout | Generated) -> str:
    """The plan JSON (``numaopt.render.json``) of the layout."""
    from numaopt.render.json import plan_to_json

    layout = item if isinstance(item, GuestLayout) else item.layout
    return plan_to_json(Plan(layout=layout))
