"""``lscpu`` output -> CPUs, nodes, SMT siblings and sockets (no memory, no distances).

Three forms, told apart by their first line:

* ``lscpu -p`` (parsable): ``# CPU,Core,Socket,Node,,L1d,L1i,L2,L3`` then one line per
  CPU; the only form that names SMT siblings exactly, together with ``-e``;
* ``lscpu -e`` (extended): a header ``CPU NODE SOCKET CORE ...`` then aligned columns;
* ``lscpu`` (summary): ``Key: value`` lines; gives node CPU lists and counts of sockets
  and threads per core, but not which CPUs are siblings.

lscpu knows no memory sizes or distances, so it is merged into numactl's view
(``merge.merge_numactl_lscpu``) rather than turned into a host on its own.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from numaopt.errors import InputError
from numaopt.hosts._common import Lines, shown
from numaopt.model import HostCore, HostTopology
from numaopt.units import parse_cpulist

__all__ = ["LscpuForm", "LscpuReport", "parse_lscpu", "render_lscpu"]

_INT = re.compile(r"\d{1,6}")
_EXTENDED_HEADER = re.compile(r"CPU(?: [A-Za-z0-9:]+)+", re.IGNORECASE)
_NODE_KEY = re.compile(r"NUMA node(\d{1,5}) CPU\(s\)")
_HEADERLESS = re.compile(r"[\d,]+")  # an lscpu -p data line
_UNKNOWN = ("", "-")  # how lscpu shows a column it cannot fill (offline CPUs)
PARSABLE_COMMENT = (
    "# The following is the parsable format, which can be fed to other\n"
    "# programs. Each different item in every column has an unique ID\n"
    "# starting usually from zero.\n"
)


class LscpuForm(enum.StrEnum):
    SUMMARY = "lscpu"
    PARSABLE = "lscpu -p"
    EXTENDED = "lscpu -e"


@dataclass(frozen=True, slots=True)
class LscpuReport:
    """What one lscpu output says about the CPUs.

    ``node_cpus`` pairs node ids with their CPUs (empty when lscpu showed no nodes);
    ``cores`` holds SMT siblings and sockets (empty for the summary form, which does
    not say which CPUs share a core).
    """

    form: LscpuForm
    cpus: tuple[int, ...]
    node_cpus: tuple[tuple[int, tuple[int, ...]], ...]
    cores: tuple[HostCore, ...]
    sockets: int | None
    threads_per_core: int | None

    def node_of_cpu(self) -> dict[int, int]:
        return {cpu: node_id for node_id, cpus in self.node_cpus for cpu in cpus}


def parse_lscpu(text: str, source: str = "<lscpu>") -> LscpuReport:
    """Read any of the three lscpu forms; one ``InputError`` names the first bad line."""
    lines = Lines(text, source)
    if lines.done():
        raise lines.error("empty input: expected lscpu, lscpu -p or lscpu -e output")
    first = lines.peek()
    if first.startswith("#"):
        return _parsable(lines)
    if _EXTENDED_HEADER.fullmatch(first):
        return _extended(lines)
    if ":" in first:
        return _summary(lines)
    if _HEADERLESS.fullmatch(first):
        raise lines.error(
            "lscpu -p output without its header comment: keep the lines up to '# CPU,Core,Socket,Node,...'"
        )
    raise lines.error(f"expected lscpu, lscpu -p or lscpu -e output, got {shown(first)}")


@dataclass(frozen=True, slots=True)
class _Row:
    cpu: int
    core: int
    socket: int
    node: int | None


def _parsable(lines: Lines) -> LscpuReport:
    header: tuple[list[str], int, str] | None = None
    while not lines.done() and lines.peek().startswith("#"):
        content = lines.peek()[1:].strip()
        if content.lower().split(",")[0].strip() == "cpu":
            header = ([c.strip().lower() for c in content.split(",")], lines.number(), content)
        lines.position += 1
    if header is None:
        raise lines.error("expected the lscpu -p header comment '# CPU,Core,Socket,Node,...' before the CPU lines")
    columns, header_line, header_text = header
    _require_columns(lines, columns, header_line, "lscpu -p=CPU,CORE,SOCKET,NODE")
    rows: list[tuple[_Row, int]] = []
    while not lines.done():
        line = lines.peek()
        if not line.startswith("#"):
            fields = [field.strip() for field in line.split(",")]
            if len(fields) != len(columns):
                raise lines.error(
                    f"expected {len(columns)} comma-separated fields as in the header '# {header_text}', "
                    f"got {len(fields)}: {shown(line)}"
                )
            row = _row(lines, dict(zip(columns, fields, strict=True)))
            if row is not None:
                rows.append((row, lines.number()))
        lines.position += 1
    return _report(lines, LscpuForm.PARSABLE, rows)


def _extended(lines: Lines) -> LscpuReport:
    header_text = lines.peek()
    columns = [c.lower() for c in header_text.split()]
    _require_columns(lines, columns, lines.number(), "lscpu -e=CPU,CORE,SOCKET,NODE")
    lines.position += 1
    rows: list[tuple[_Row, int]] = []
    while not lines.done():
        fields = lines.peek().split()
        if len(fields) != len(columns):
            raise lines.error(
                f"expected {len(columns)} columns as in the header {shown(header_text)}, "
                f"got {len(fields)}: {shown(lines.peek())}"
            )
        row = _row(lines, dict(zip(columns, fields, strict=True)))
        if row is not None:
            rows.append((row, lines.number()))
        lines.position += 1
    return _report(lines, LscpuForm.EXTENDED, rows)


def _require_columns(lines: Lines, columns: list[str], line: int, example: str) -> None:
    for name in ("cpu", "core", "socket"):
        if name not in columns:
            raise lines.error(f"the header has no {name.upper()} column: run lscpu -p, lscpu -e or {example}", line)


def _row(lines: Lines, values: dict[str, str]) -> _Row | None:
    """One CPU line; None for an offline CPU (lscpu leaves its core and socket blank)."""
    online = values.get("online", "y").lower()
    if online in ("n", "no") or values["core"] in _UNKNOWN or values["socket"] in _UNKNOWN:
        return None

    def number(name: str) -> int:
        text = values[name]
        if not _INT.fullmatch(text):
            raise lines.error(f"expected a number in column {name.upper()}, got {shown(text)}")
        return int(text)

    node = None if values.get("node", "") in _UNKNOWN else number("node")
    return _Row(cpu=number("cpu"), core=number("core"), socket=number("socket"), node=node)


def _report(lines: Lines, form: LscpuForm, rows: list[tuple[_Row, int]]) -> LscpuReport:
    if not rows:
        raise lines.error(f"no online CPU lines after the {form} header")
    seen: dict[int, int] = {}
    by_core: dict[tuple[int, int], list[int]] = {}
    by_node: dict[int, list[int]] = {}
    for row, line in rows:
        if row.cpu in seen:
            raise lines.error(f"CPU {row.cpu} is listed twice (first on line {seen[row.cpu]})", line)
        seen[row.cpu] = line
        by_core.setdefault((row.socket, row.core), []).append(row.cpu)
        if row.node is not None:
            by_node.setdefault(row.node, []).append(row.cpu)
    cores = tuple(HostCore(socket=socket, cpus=tuple(cpus)) for (socket, _), cpus in by_core.items())
    return LscpuReport(
        form=form,
        cpus=tuple(sorted(seen)),
        node_cpus=tuple((node_id, tuple(sorted(cpus))) for node_id, cpus in sorted(by_node.items())),
        cores=tuple(sorted(cores, key=lambda core: core.cpus)),
        sockets=len({socket for socket, _ in by_core}),
        threads_per_core=max(len(cpus) for cpus in by_core.values()),
    )


def _summary(lines: Lines) -> LscpuReport:
    counts: dict[str, tuple[int, int]] = {}
    online: tuple[int, ...] | None = None
    node_cpus: dict[int, tuple[int, ...]] = {}
    node_lines: dict[int, int] = {}
    while not lines.done():
        line = lines.peek()
        key, colon, value = (part.strip() for part in line.partition(":"))
        if not colon:
            raise lines.error(f"expected 'Key: value' as lscpu prints, got {shown(line)}")
        if key in ("CPU(s)", "Thread(s) per core", "Core(s) per socket", "Socket(s)", "NUMA node(s)"):
            if _INT.fullmatch(value):
                counts[key] = (int(value), lines.number())
            elif value not in _UNKNOWN:
                raise lines.error(f"expected a number after '{key}:', got {shown(value)}")
        elif key == "On-line CPU(s) list":
            online = _cpulist(lines, value)
        elif match := _NODE_KEY.fullmatch(key):
            node_id = int(match.group(1))
            if node_id in node_cpus:
                raise lines.error(f"NUMA node{node_id} is listed twice (first on line {node_lines[node_id]})")
            node_cpus[node_id] = _cpulist(lines, value)
            node_lines[node_id] = lines.number()
        lines.position += 1
    owner: dict[int, int] = {}
    for node_id, cpus in sorted(node_cpus.items()):
        for cpu in cpus:
            if cpu in owner:
                raise lines.error(f"CPU {cpu} is in NUMA node{owner[cpu]} and NUMA node{node_id}", node_lines[node_id])
            owner[cpu] = node_id
    if "NUMA node(s)" in counts:
        expected, count_line = counts["NUMA node(s)"]
        if expected != len(node_cpus):
            raise lines.error(
                f"'NUMA node(s): {expected}' but {len(node_cpus)} 'NUMA nodeN CPU(s):' lines follow", count_line
            )
    if online is not None:
        cpus = online
    elif node_cpus:
        cpus = tuple(sorted(owner))
    elif counts.get("CPU(s)", (0, 0))[0]:
        cpus = tuple(range(counts["CPU(s)"][0]))
    else:
        raise lines.error(
            "found no 'CPU(s):' or 'NUMA nodeN CPU(s):' line: expected lscpu output in English (LC_ALL=C lscpu)"
        )
    return LscpuReport(
        form=LscpuForm.SUMMARY,
        cpus=cpus,
        node_cpus=tuple(sorted(node_cpus.items())),
        cores=(),
        sockets=counts["Socket(s)"][0] if "Socket(s)" in counts else None,
        threads_per_core=counts["Thread(s) per core"][0] if "Thread(s) per core" in counts else None,
    )


def _cpulist(lines: Lines, value: str) -> tuple[int, ...]:
    try:
        return parse_cpulist(value)
    except ValueError as exc:
        raise InputError(str(exc), source=lines.source, where=f"line {lines.number()}") from None


def render_lscpu(host: HostTopology) -> str:
    """``host`` as ``lscpu -p`` prints it (util-linux 2.38): logical core ids in CPU order,
    caches L1d/L1i/L2 per core and L3 per socket. Needs the SMT siblings (``host.cores``)."""
    if not host.cores:
        raise ValueError("lscpu -p lists each CPU's core: the host has no SMT siblings (cores) to render")
    node_of = host.cpu_to_node()
    rows = []
    for core_index, core in enumerate(host.cores):
        for cpu in core.cpus:
            rows.append(
                (
                    cpu,
                    f"{cpu},{core_index},{core.socket},{node_of[cpu]},,{core_index},{core_index},{core_index},{core.socket}",
                )
            )
    body = "".join(f"{line}\n" for _, line in sorted(rows))
    return PARSABLE_COMMENT + "# CPU,Core,Socket,Node,,L1d,L1i,L2,L3\n" + body
