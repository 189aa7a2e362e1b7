"""Coverage of a batch: how many layouts fall in each class, and which classes none does.

The dimensions a tester asks about: node count, scheduler levels, topology type,
symmetric or not, the triangle inequality, hop diameter, distances on each side of 30,
edge values, memory-less and CPU-less nodes, SMT, split sockets; and, for a batch asked for
them (``--hmat``, ``--dimms``), HMAT and hot-pluggable memory. ``missing`` lists the
values a batch could have exercised under its knobs but did not.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from numaopt.distances import RECLAIM_DISTANCE, TopologyType
from numaopt.generate.knobs import EDGE_VALUES, Family, Metric, SocketMode, Space, Symmetry
from numaopt.generate.memory import MIN_BOOT_MEMORY_FOR_DIMMS
from numaopt.model import Machine

DIMENSIONS = (
    "nodes",
    "levels",
    "topology",
    "symmetric",
    "triangle",
    "diameter",
    "reclaim",
    "edge_values",
    "memoryless",
    "cpuless",
    "threads",
    "sockets",
    "distances",
    "machine",
    "family",
    "method",
)
# Counted only for a batch that asks for them (the layouts' classes hold them only then),
# so the coverage of every other batch stays as it was.
MEMORY_DIMENSIONS = ("hmat", "dimms")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@dataclass
class Coverage:
    """Counts per (dimension, value) over the layouts of a batch."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: {d: Counter() for d in (*DIMENSIONS, *MEMORY_DIMENSIONS)})
    layouts: int = 0
    duplicates: int = 0
    skipped: int = 0

    def add(self, classes: dict[str, Any], family: str, method: str) -> None:
        self.layouts += 1
        for dimension in DIMENSIONS:
            if dimension == "family":
                self.counts[dimension][family] += 1
            elif dimension == "method":
                self.counts[dimension][method] += 1
            elif dimension == "edge_values":
                for value in classes["edge_values"] or ["none"]:
                    self.counts[dimension][_value(value)] += 1
            elif dimension in ("memoryless", "cpuless"):
                self.counts[dimension]["0" if classes[dimension] == 0 else "1+"] += 1
            else:
                self.counts[dimension][_value(classes[dimension])] += 1
        if "hmat" in classes:
            self.counts["hmat"][_value(classes["hmat"])] += 1
        if "dimms" in classes:
            self.counts["dimms"]["0" if classes["dimms"] == 0 else "1+"] += 1

    def dimensions(self, space: Space) -> tuple[str, ...]:
        """The dimensions this batch counts: the memory ones only when its knobs ask for them."""
        asked = space.knobs.hmat > 0 or space.knobs.dimms > 0
        return (*DIMENSIONS, *MEMORY_DIMENSIONS) if asked else DIMENSIONS

    def expected(self, space: Space) -> dict[str, list[str]]:
        """Values each dimension could take under the knobs (what a full batch shows)."""
        knobs = space.knobs
        most_cpu_nodes = max(n - min(space.roles[n].cpuless) for n in space.node_counts)
        dist = knobs.distance_range
        levels_top = min(8, 1 + most_cpu_nodes * (most_cpu_nodes - 1))
        if knobs.levels is not None:
            levels = list(range(knobs.levels.lo, min(knobs.levels.hi, levels_top) + 1))
        else:
            levels = list(range(1 if min(space.node_counts) == 1 else 2, levels_top + 1))
        topology = [TopologyType.DIRECT.value] + (
            [TopologyType.GLUELESS_MESH.value, TopologyType.BACKPLANE.value] if most_cpu_nodes >= 3 else []
        )
        if knobs.topology is not None:
            topology = [knobs.topology.value]
        symmetric = {Symmetry.ANY: ["yes", "no"], Symmetry.SYMMETRIC: ["yes"], Symmetry.ASYMMETRIC: ["no"]}[knobs.symmetry]
        if max(space.node_counts) < 2:
            symmetric = ["yes"]
        triangle = {Metric.ANY: ["metric", "excess", "raw"], Metric.YES: ["metric"], Metric.NO: ["excess", "raw"]}[knobs.metric]
        reclaim = [v for v, ok in (("up-to-30", dist.lo <= RECLAIM_DISTANCE), ("above-30", dist.hi > RECLAIM_DISTANCE)) if ok]
        if len(reclaim) == 2:
            reclaim.append("both")
        sockets = ["whole"]
        x86 = any(m is not Machine.VIRT for m in knobs.machines)
        if SocketMode.SPLIT in knobs.sockets:
            # virt splits a socket along clusters or inside a one-cluster socket; x86 along dies or inside one
            sockets += ["package-split", "llc-split"] if x86 else []
            sockets += ["socket-split"] if Machine.VIRT in knobs.machines else []
        if SocketMode.SPLIT_CORE in knobs.sockets:
            sockets.append("core-split")
        families = sorted({f.value for fits in space.families.values() for f in fits})
        top_diameter = min(3, most_cpu_nodes - 1)
        if knobs.diameter is not None:
            diameters = [str(d) for d in range(knobs.diameter.lo, min(knobs.diameter.hi, most_cpu_nodes - 1) + 1)]
        else:
            diameters = [str(d) for d in range(1, top_diameter + 1)]
        memory: dict[str, list[str]] = {}
        if space.knobs.hmat > 0 or space.knobs.dimms > 0:
            # Only q35 and pc layouts get either; a share below 1, a virt layout or the other
            # knob alone leave some without.
            without = Machine.VIRT in knobs.machines
            memory["hmat"] = [v for v, ok in (("no", without or knobs.hmat < 1), ("yes", x86 and knobs.hmat > 0)) if ok]
            # DIMMs need 256 MiB of boot memory: the fewest nodes with memory at the least memory may have less.
            small = knobs.memory_per_node.lo * max(1, min(space.node_counts) - knobs.memoryless.hi) < MIN_BOOT_MEMORY_FOR_DIMMS
            memory["dimms"] = [v for v, ok in (("0", without or small or knobs.dimms < 1), ("1+", x86 and knobs.dimms > 0)) if ok]
        return {
            "nodes": [str(n) for n in space.node_counts],
            "levels": [str(k) for k in levels],
            "topology": topology,
            "symmetric": symmetric,
            "triangle": triangle,
            "diameter": diameters,
            "reclaim": reclaim,
            "edge_values": [str(v) for v in EDGE_VALUES if v in space.edge_values],
            "memoryless": sorted({"0" if knobs.memoryless.lo == 0 else "1+", "1+" if knobs.memoryless.hi > 0 else "0"}),
            "cpuless": sorted({"0" if knobs.cpuless.lo == 0 else "1+", "1+" if knobs.cpuless.hi > 0 else "0"}),
            "threads": sorted({str(t) for roles in space.roles.values() for ts in roles.threads.values() for t in ts}),
            "sockets": sockets,
            "family": families,
            "machine": [m.value for m in knobs.machines],
            "distances": ["given", "default"] if Family.NONE.value in families else ["given"],
            **memory,
        }

    def missing(self, space: Space) -> dict[str, list[str]]:
        gaps = {}
        for dimension, values in self.expected(space).items():
            absent = [v for v in values if self.counts[dimension][v] == 0]
            if absent:
                gaps[dimension] = absent
        return gaps

    def to_json(self, space: Space) -> dict[str, Any]:
        return {
            "record": "coverage",
            "layouts": self.layouts,
            "duplicates": self.duplicates,
            "skipped": self.skipped,
            "counts": {d: dict(sorted(self.counts[d].items(), key=lambda kv: _order(kv[0]))) for d in self.dimensions(space)},
            "missing": self.missing(space),
        }

    def summary(self, space: Space) -> str:
        """Lines a tester reads: counts per dimension, then what the batch does not exercise."""
        lines = [
            f"{self.layouts} layout(s); {self.duplicates} duplicate(s) of earlier ones skipped; "
            f"{self.skipped} item(s) CP-SAT could not satisfy"
        ]
        width = max(len(d) for d in DIMENSIONS)
        for dimension in self.dimensions(space):
            parts = [f"{value} x{count}" for value, count in sorted(self.counts[dimension].items(), key=lambda kv: _order(kv[0]))]
            lines.append(f"  {dimension:<{width}}  {', '.join(parts) or '-'}")
        gaps = self.missing(space)
        if gaps:
            lines.append("not exercised: " + "; ".join(f"{d} {', '.join(v)}" for d, v in gaps.items()))
        else:
            lines.append("not exercised: nothing the knobs allow is missing")
        return "\n".join(lines) + "\n"


def _order(value: str) -> tuple[int, int | str]:
    """Numbers in numeric order before words."""
    return (0, int(value)) if value.lstrip("-").isdigit() else (1, value)
