"""Workloads the guest's init runs after its report, for the balance oracle.

A workload is asked for on the kernel command line (``numaopt.workload=KIND,key=value,...``)
and run by the init's shell (``kit.INIT_SCRIPT``): busy loops, sleep/wake pairs and loops
pinned to one node, all started on the CPUs the workload names and then left to the
scheduler, sampled every ``tick`` seconds. The kinds:

* ``spread[:N]``: N busy loops (default: one per vCPU) started on one CPU; the balancer
  must spread them over every CPU (Lozi et al.'s missing-domain and group-construction bugs
  leave cores idle here);
* ``pairs[:P]``: P pairs of tasks (default: one pair per vCPU) started on one CPU that take
  turns: work, wake the partner, sleep (wake-up placement: overload-on-wakeup);
* ``pinned[:G]``: G busy loops pinned to one node (default: twice its CPUs) plus one free
  loop per CPU of the other nodes, the free ones started on the pinned node (group
  imbalance: the free loops must leave the overloaded node).
* ``memory[:MiB]``: one task (default 16 MiB) builds a shell string of that size while it
  may run only on one node's CPUs (first touch: its pages land there), is then moved to
  another node's CPUs and keeps reading it, with automatic NUMA balancing on; the init
  samples /proc/vmstat's numa_* counters and the task's pages per node (numa_maps), and
  oracle (memory) expects the pages to follow the task (``numaopt.guest.memory``). A
  layout without two nodes with CPUs and twice that memory each runs nothing (``mib=0``)
  and is not judged.

Where things start (the CPU, the node) comes from the seed, so a workload and its seed
name one run exactly; the guest's CPU numbers are the layout's vCPU numbers. Several kinds
separated by commas (``spread,pairs:4``) make a ``WorkloadMix``: the seed picks one per run.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass

from numaopt.errors import InputError
from numaopt.model import GuestLayout
from numaopt.units import format_cpulist

__all__ = [
    "DEFAULT_SAMPLES",
    "DEFAULT_SECONDS",
    "DEFAULT_TICK_S",
    "WORKLOAD_FILE",
    "Workload",
    "WorkloadKind",
    "WorkloadMix",
    "WorkloadSpec",
    "parse_workload",
]

# Sampling for 16 s of the guest's uptime, a quarter second between samples (a sample itself
# takes about 0.1 s for 8 vCPUs under TCG on an idle host, up to 1 s on a loaded one): well
# inside the hang oracle's quiet limit (30 s or more), and at most 80 samples.
DEFAULT_SECONDS = 16
DEFAULT_SAMPLES = 80
DEFAULT_TICK_S = 0.25
# A fuzz reproducer's record of its workload (Workload.record()).
WORKLOAD_FILE = "workload.json"
# Arithmetic steps a pair's task does before it wakes its partner (a few ms under TCG).
PAIR_WORK = 100
# The memory workload's default size: the string is built by doubling, so the task briefly
# holds 1.5x this on the first node, which fuzz layouts (128 MiB a node) have room for.
MEMORY_MIB = 16


class WorkloadKind(enum.StrEnum):
    SPREAD = "spread"
    PAIRS = "pairs"
    PINNED = "pinned"
    MEMORY = "memory"


@dataclass(frozen=True, slots=True)
class WorkloadSpec:
    """What the user asked: a kind and its size (None: the default for the layout)."""

    kind: WorkloadKind
    size: int | None = None

    def __str__(self) -> str:
        return self.kind.value if self.size is None else f"{self.kind.value}:{self.size}"

    def for_layout(self, layout: GuestLayout, seed: int) -> Workload:
        """The workload for ``layout``: sizes from the layout, where it starts from ``seed``."""
        rng = random.Random(seed)
        cpu_nodes = [node for node in layout.nodes if node.cpus]
        if not cpu_nodes:
            raise InputError(f"workload {self}: the layout has no CPUs")
        start_node = rng.choice(cpu_nodes)
        start_cpu = rng.choice(sorted(start_node.cpus))
        if self.kind is WorkloadKind.SPREAD:
            return Workload(self, seed, threads=self.size or layout.vcpus, start=(start_cpu,))
        if self.kind is WorkloadKind.PAIRS:
            return Workload(self, seed, pairs=self.size or layout.vcpus, start=(start_cpu,))
        if self.kind is WorkloadKind.MEMORY:
            return self._memory(layout, seed, rng)
        node_cpus = tuple(sorted(start_node.cpus))
        return Workload(
            self,
            seed,
            threads=layout.vcpus - len(node_cpus),
            pinned=self.size or 2 * len(node_cpus),
            start=node_cpus,
            pin=node_cpus,
        )


    def _memory(self, layout: GuestLayout, seed: int, rng: random.Random) -> Workload:
        """First touch on one node with CPUs and memory, then the move to another such node."""
        mib = self.size or MEMORY_MIB
        room = [node for node in layout.nodes if node.cpus and node.memory_bytes >= 2 * mib * 1024 * 1024]
        if len(room) < 2:  # nowhere to move (a campaign's 1-node layout, a shrunk one): not judged
            return Workload(self, seed, mib=0)
        first, then = rng.sample(room, 2)
        return Workload(self, seed, start=tuple(sorted(first.cpus)), pin=tuple(sorted(then.cpus)), mib=mib)


@dataclass(frozen=True, slots=True)
class WorkloadMix:
    """Several specs (``spread,pairs:4``): each item runs the one its seed picks."""

    specs: tuple[WorkloadSpec, ...]

    def __str__(self) -> str:
        return ",".join(str(spec) for spec in self.specs)

    def for_layout(self, layout: GuestLayout, seed: int) -> Workload:
        return self.specs[seed % len(self.specs)].for_layout(layout, seed)


def parse_workload(text: str, what: str = "--workload") -> WorkloadSpec | WorkloadMix:
    """``KIND[:SIZE]`` (spread, pairs, pinned; SIZE 1..256), or several separated by commas
    (a ``WorkloadMix``), or a one-line ``InputError``."""
    parts = [part.strip() for part in text.split(",")]
    if len(parts) == 1:
        return _parse_spec(parts[0], text, what)
    specs = tuple(_parse_spec(part, text, what) for part in parts)
    if len(set(specs)) != len(specs):
        raise InputError(f"{what} {text!r}: a workload is named twice")
    return WorkloadMix(specs)


def _parse_spec(part: str, text: str, what: str) -> WorkloadSpec:
    kind_text, _, size_text = part.partition(":")
    valid = ", ".join(kind.value for kind in WorkloadKind)
    try:
        kind = WorkloadKind(kind_text)
    except ValueError:
        raise InputError(f"{what} {text!r}: unknown workload {kind_text!r} (valid: {valid}, each with an optional :SIZE)") from None
    if not size_text:
        return WorkloadSpec(kind)
    if not size_text.isdigit() or not 1 <= int(size_text) <= 256:
        raise InputError(f"{what} {text!r}: the size after ':' must be a whole number 1..256")
    return WorkloadSpec(kind, int(size_text))


@dataclass(frozen=True, slots=True)
class Workload:
    """One run: the spec, its seed, and what the init is told (counts and CPU lists)."""

    spec: WorkloadSpec
    seed: int
    threads: int = 0  # free busy loops
    pinned: int = 0  # busy loops kept on ``pin``
    pairs: int = 0  # sleep/wake pairs (two tasks each)
    start: tuple[int, ...] = (0,)  # where the free loops and the pairs start
    pin: tuple[int, ...] = (0,)
    seconds: int = DEFAULT_SECONDS
    samples: int = DEFAULT_SAMPLES
    tick_s: float = DEFAULT_TICK_S
    work: int = PAIR_WORK
    mib: int = 0  # memory: the string's size; start = the first node's CPUs, pin = the next node's
    balancing: int = 1  # memory: kernel.numa_balancing for the run (0: the control, pages must stay)

    def kernel_argument(self) -> str:
        """The ``numaopt.workload=...`` argument the init reads (no spaces: one argument)."""
        settings: tuple[str, ...] = (
            f"threads={self.threads}",
            f"pinned={self.pinned}",
            f"pairs={self.pairs}",
            f"work={self.work}",
            f"start={format_cpulist(self.start)}",
            f"pin={format_cpulist(self.pin)}",
            f"seconds={self.seconds}",
            f"samples={self.samples}",
            f"tick={self.tick_s:g}",
        )
        if self.spec.kind is WorkloadKind.MEMORY:
            settings = (*settings, f"mib={self.mib}", f"balancing={self.balancing}")
        return "numaopt.workload=" + ",".join((self.spec.kind.value, *settings))

    def record(self) -> dict[str, object]:
        """What a reproducer keeps: the spec and the seed (the rest follows from the layout)."""
        return {"workload": str(self.spec), "seed": self.seed, "argument": self.kernel_argument()}
