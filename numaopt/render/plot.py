"""Pictures: the host's distances, where a plan landed, a batch's coverage, a fuzz campaign.

Each function draws one figure and writes it atomically as SVG or PNG (chosen by the file
name). matplotlib is an optional extra (``pip install 'numaopt[plot]'``); without it every
function raises one clear ``PlotError``. SVG text stays text (not paths) and carries no
date, so a picture of the same input is the same file, and its labels can be searched.
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from numaopt.errors import NumaoptError
from numaopt.files import check_output_file, write_atomically_bytes
from numaopt.model import HostTopology, Plan

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

FORMATS = {".svg": "svg", ".png": "png"}
GROUP_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac")


class PlotError(NumaoptError):
    """A picture cannot be drawn: matplotlib missing, or a file name that says no format."""


def picture_format(path: Path) -> str:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise PlotError(f"{path}: a picture is .svg or .png (the name decides the format)") from None


def check_picture(path: Path, option: str) -> None:
    """Before long work whose picture is asked for: the name says a format, matplotlib is
    there, the file can be written (so a campaign does not end without its picture)."""
    picture_format(path)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotError(f"{option}: pictures need matplotlib: pip install 'numaopt[plot]'") from None
    check_output_file(path, option)


@contextmanager
def _figure(path: Path, width: float, height: float) -> Iterator[Figure]:
    """A figure to draw on; on leaving, written to ``path`` (atomically) and closed."""
    fmt = picture_format(path)
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotError("pictures need matplotlib: pip install 'numaopt[plot]'") from None
    figure = Figure(figsize=(width, height), layout="constrained")
    yield figure
    buffer = io.BytesIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "numaopt"}):
        figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None, dpi=110)
    write_atomically_bytes(path, buffer.getvalue())


def sockets_of(host: HostTopology) -> list[list[int]]:
    """Host node positions per socket: from the host's cores, else the first SLIT level."""
    if host.cores:
        socket_of_cpu = {cpu: core.socket for core in host.cores for cpu in core.cpus}
        by_socket: dict[int, list[int]] = defaultdict(list)
        for p, node in enumerate(host.nodes):
            socket = min((socket_of_cpu[c] for c in node.cpus if c in socket_of_cpu), default=-1 - p)
            by_socket[socket].append(p)
        return list(by_socket.values())
    d = np.asarray(host.distances)
    values = sorted({int(v) for v in d.flatten()})
    near = values[1] if len(values) > 2 else values[0]
    seen: set[int] = set()
    result = []
    for p in range(host.num_nodes):
        if p not in seen:
            members = [q for q in range(host.num_nodes) if d[p, q] <= near and q not in seen]
            seen.update(members)
            result.append(members)
    return result


def plot_host(host: HostTopology, path: Path, title: str = "host distances") -> None:
    """The SLIT as a heat map, node ids on both axes, each socket's block outlined."""
    d = np.asarray(host.distances)
    n = host.num_nodes
    size = min(14.0, 3.0 + 0.35 * n)
    with _figure(path, size + 1.2, size) as figure:
        axes = figure.subplots()
        image = axes.imshow(d, cmap="viridis_r")
        figure.colorbar(image, ax=axes, label="distance")
        ids = [str(node.node_id) for node in host.nodes]
        axes.set_xticks(range(n), ids)
        axes.set_yticks(range(n), ids)
        axes.set_xlabel("to host node")
        axes.set_ylabel("from host node")
        axes.set_title(title)
        if n <= 24:
            middle = (int(d.min()) + int(d.max())) / 2
            for i in range(n):
                for j in range(n):
                    shade = "white" if d[i, j] > middle else "black"  # readable on dark and light cells
                    axes.text(j, i, str(int(d[i, j])), ha="center", va="center", fontsize=7, color=shade)
        _outline_sockets(axes, sockets_of(host))


def _outline_sockets(axes: Axes, sockets: list[list[int]]) -> None:
    from matplotlib.patches import Rectangle

    for k, members in enumerate(sockets):
        if members != list(range(members[0], members[0] + len(members))):
            continue  # not a contiguous block: nothing square to outline
        start = members[0] - 0.5
        axes.add_patch(Rectangle((start, start), len(members), len(members), fill=False, edgecolor="red", linewidth=2))
        axes.text(start + len(members) / 2, start - 0.1, f"socket {k}", ha="center", va="bottom", fontsize=8, color="red")


def plot_plan(host: HostTopology, plan: Plan, path: Path, traffic: tuple[tuple[str, str, int], ...] = ()) -> None:
    """Host nodes grouped by socket, each with its CPUs and memory used by the plan, the
    guest nodes and groups written where they landed, traffic as weighted edges."""
    sockets = sockets_of(host)
    node_of_cpu = host.cpu_to_node()
    used_cpus: Counter[int] = Counter(node_of_cpu[cpu] for _, cpu in plan.vcpu_to_host_cpu if cpu in node_of_cpu)
    used_memory: Counter[int] = Counter()
    groups_on: dict[int, list[str]] = defaultdict(list)
    for group, node_id, num_bytes in plan.memory_placement:
        used_memory[node_id] += num_bytes
        if group not in groups_on[node_id]:
            groups_on[node_id].append(group)
    guest_on = {guest.host_nodes[0]: guest.node_id for guest in plan.layout.nodes if guest.host_nodes}
    colour = {g: GROUP_COLOURS[k % len(GROUP_COLOURS)] for k, g in enumerate(dict.fromkeys(plan.vcpu_groups))}
    columns = max(len(s) for s in sockets)
    with _figure(path, 2.6 * columns + 1, 2.4 * len(sockets) + 0.8) as figure:
        axes = figure.subplots()
        axes.set_axis_off()
        centre: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for row, members in enumerate(sockets):
            y = -row * 2.4
            axes.text(-0.3, y + 0.9, f"socket {row}", rotation=90, ha="center", va="center", fontsize=9)
            for col, p in enumerate(members):
                x = col * 2.6
                node = host.nodes[p]
                _node_box(axes, x, y, node.node_id, len(node.cpus), used_cpus[node.node_id],
                          node.memory_bytes, used_memory[node.node_id], guest_on.get(node.node_id))
                for k, group in enumerate(groups_on[node.node_id]):
                    axes.text(x + 1.1, y + 0.55 - 0.28 * k, group, ha="center", fontsize=8, color="white",
                              bbox={"boxstyle": "round", "facecolor": colour.get(group, "#777777"), "edgecolor": "none"})
                    centre[group].append((x + 1.1, y + 0.55 - 0.28 * k))
        heaviest = max((w for _, _, w in traffic), default=1) or 1
        for a, b, weight in traffic:
            for xa, ya in centre.get(a, []):
                for xb, yb in centre.get(b, []):
                    if (xa, ya) != (xb, yb):
                        axes.plot([xa, xb], [ya, yb], color="#555555", alpha=0.6, linewidth=0.5 + 3 * weight / heaviest)
        axes.set_title(f"plan: {plan.layout.num_nodes} guest node(s), status {plan.status.value}", fontsize=10)
        axes.set_xlim(-0.6, 2.6 * columns)
        axes.set_ylim(-2.4 * len(sockets) + 1.6, 2.2)


def _node_box(axes: Axes, x: float, y: float, node_id: int, cpus: int, cpus_used: int,
              memory: int, memory_used: int, guest: int | None) -> None:
    from matplotlib.patches import Rectangle

    axes.add_patch(Rectangle((x, y - 0.3), 2.2, 1.9, fill=False, edgecolor="black"))
    label = f"host node {node_id}" + (f" = guest node {guest}" if guest is not None else "")
    axes.text(x + 1.1, y + 1.4, label, ha="center", fontsize=8)
    for k, (what, used, total) in enumerate((("CPUs", cpus_used, cpus), ("memory", memory_used, memory))):
        share = used / total if total else 0.0
        axes.add_patch(Rectangle((x + 0.1, y + 0.95 - 0.25 * k), 2.0, 0.15, facecolor="#dddddd", edgecolor="none"))
        axes.add_patch(Rectangle((x + 0.1, y + 0.95 - 0.25 * k), 2.0 * min(share, 1.0), 0.15, facecolor="#e15759", edgecolor="none"))
        text = f"{what} {used}/{total}" if what == "CPUs" else f"{what} {used >> 20}/{total >> 20} MiB"
        axes.text(x + 1.1, y + 0.99 - 0.25 * k, text, ha="center", va="center", fontsize=6)


def plot_coverage(records: list[dict[str, Any]], path: Path) -> None:
    """A generated batch's layouts counted per value of each class dimension."""
    classes = [r["classes"] for r in records if r.get("record") == "layout" and isinstance(r.get("classes"), dict)]
    if not classes:
        raise PlotError(f"{path}: no layouts to draw (an index.jsonl of `numaopt generate` has them)")
    dimensions = sorted({k for c in classes for k in c})
    columns = 4
    rows = -(-len(dimensions) // columns)
    with _figure(path, 4.0 * columns, 2.6 * rows) as figure:
        grid = figure.subplots(rows, columns, squeeze=False)
        for k, dimension in enumerate(dimensions):
            axes = grid[k // columns][k % columns]
            counts = Counter(str(c.get(dimension)) for c in classes)
            labels = sorted(counts, key=lambda v: (len(v), v))
            axes.bar(range(len(labels)), [counts[v] for v in labels], color="#4e79a7")
            axes.set_xticks(range(len(labels)), labels, rotation=45, fontsize=7, ha="right")
            axes.set_title(dimension, fontsize=9)
        for k in range(len(dimensions), rows * columns):
            grid[k // columns][k % columns].set_axis_off()
        figure.suptitle(f"coverage of {len(classes)} layouts")


def plot_campaign(records: list[dict[str, Any]], path: Path) -> None:
    """A fuzz campaign: each item's verdict per oracle in order, verdicts per distance family
    and per node count (where the failures are), and the failure classes."""
    items = sorted((r for r in records if r.get("type") == "item"), key=lambda r: int(r.get("item", 0)))
    if not items:
        raise PlotError(f"{path}: no finished items to draw (a fuzz journal has them)")
    from matplotlib.ticker import MaxNLocator

    oracles = ("topology", "messages", "sched", "hang", "qemu", "kernels")
    with _figure(path, 11, 10) as figure:
        top, middle, bottom = figure.subplots(3, 1, height_ratios=(1, 1.1, 1.1))
        for row, oracle in enumerate(oracles):
            failed = [r["item"] for r in items if any(f.get("oracle") == oracle for f in r.get("failures") or [])]
            passed = [r["item"] for r in items if r.get("verdict") == "pass"]
            top.scatter(passed, [row] * len(passed), marker="|", color="#59a14f", label="pass" if row == 0 else None)
            top.scatter(failed, [row] * len(failed), marker="x", color="#e15759", label="fail" if row == 0 else None)
        top.set_yticks(range(len(oracles)), oracles)
        top.set_xlabel("item (in campaign order)")
        top.xaxis.set_major_locator(MaxNLocator(integer=True))
        top.set_title(f"{len(items)} layouts booted: " + ", ".join(f"{v} {c}" for v, c in Counter(r.get("verdict") for r in items).most_common()))
        top.legend(loc="upper right", fontsize=7)
        _verdicts_by_class(middle, items)
        classes = Counter(f"{f.get('oracle')}: {f.get('code')}" for r in items for f in r.get("failures") or [])
        names = [name for name, _ in classes.most_common(12)]
        bottom.barh(range(len(names)), [classes[n] for n in names], color="#e15759")
        bottom.set_yticks(range(len(names)), names, fontsize=7)
        bottom.invert_yaxis()
        bottom.set_xlabel("failures")
        bottom.xaxis.set_major_locator(MaxNLocator(integer=True))
        bottom.set_title("failure classes (oracle: code)", fontsize=9)


VERDICT_COLOURS = {"pass": "#59a14f", "fail": "#e15759", "error": "#f28e2b", "skipped": "#bab0ac"}


def _verdicts_by_class(axes: Axes, items: list[dict[str, Any]]) -> None:
    """Stacked bars of verdicts per distance family (the item's label) and per node count."""
    from matplotlib.ticker import MaxNLocator

    rows: dict[str, Counter[str]] = defaultdict(Counter)
    for record in items:
        rows[f"family {record.get('label') or '?'}"][str(record.get("verdict"))] += 1
    for record in sorted(items, key=lambda r: int(r.get("nodes") or 0)):
        rows[f"{record.get('nodes') or '?'} node(s)"][str(record.get("verdict"))] += 1
    names = list(rows)
    left = np.zeros(len(names))
    for verdict, colour in VERDICT_COLOURS.items():
        counts = np.array([rows[name][verdict] for name in names], dtype=float)
        if counts.any():
            axes.barh(range(len(names)), counts, left=left, color=colour, label=verdict)
            left += counts
    axes.set_yticks(range(len(names)), names, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlabel("layouts")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title("verdicts per distance family and per node count", fontsize=9)
    axes.legend(loc="lower right", fontsize=7)


def plot_shared(host: HostTopology, plans: tuple[tuple[str, Plan], ...], path: Path) -> None:
    """Several VMs on one host: host nodes grouped by socket, each with the CPUs and memory
    all VMs use there, and a label per VM node placed on it ("db: guest node 0"), one
    colour per VM, so which VMs share a node or a socket is seen at once."""
    sockets = sockets_of(host)
    node_of_cpu = host.cpu_to_node()
    used_cpus: Counter[int] = Counter()
    used_memory: Counter[int] = Counter()
    chips: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for k, (name, plan) in enumerate(plans):
        colour = GROUP_COLOURS[k % len(GROUP_COLOURS)]
        used_cpus.update(node_of_cpu[cpu] for _, cpu in plan.vcpu_to_host_cpu if cpu in node_of_cpu)
        for _, node_id, num_bytes in plan.memory_placement:
            used_memory[node_id] += num_bytes
        for guest in plan.layout.nodes:
            for host_node in guest.host_nodes:
                chips[host_node].append((f"{name}: guest node {guest.node_id}", colour))
    columns = max(len(s) for s in sockets)
    rows = max((len(c) for c in chips.values()), default=1)
    step = 2.4 + 0.28 * max(0, rows - 3)  # a row of boxes grows when a node holds more than three labels
    with _figure(path, 2.6 * columns + 1, step * len(sockets) + 0.8) as figure:
        axes = figure.subplots()
        axes.set_axis_off()
        for row, members in enumerate(sockets):
            y = -row * step
            axes.text(-0.3, y + 0.9, f"socket {row}", rotation=90, ha="center", va="center", fontsize=9)
            for col, p in enumerate(members):
                node = host.nodes[p]
                x = col * 2.6
                _node_box(axes, x, y, node.node_id, len(node.cpus), used_cpus[node.node_id],
                          node.memory_bytes, used_memory[node.node_id], None)
                for k, (text, colour) in enumerate(chips[node.node_id]):
                    axes.text(x + 1.1, y + 0.55 - 0.28 * k, text, ha="center", fontsize=7, color="white",
                              bbox={"boxstyle": "round", "facecolor": colour, "edgecolor": "none"})
        names = ", ".join(f"{name} ({plan.layout.num_nodes} node(s))" for name, plan in plans)
        axes.set_title(f"{len(plans)} VMs on one host: {names}", fontsize=10)
        axes.set_xlim(-0.6, 2.6 * columns)
        axes.set_ylim(-step * (len(sockets) - 1) - 0.5 - 0.28 * max(0, rows - 3), 2.2)
