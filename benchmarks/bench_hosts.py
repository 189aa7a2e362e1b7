"""Host import benchmark: parse time of a 1024-CPU, 32-node host from every source.

Run: python3 benchmarks/bench_hosts.py [--repeat N] [--write]

The host: 4 sockets x 8 nodes (NPS4-like), 16 cores x 2 threads per node, Linux CPU
numbering (siblings c and c + 512), SLIT 10 / 12 within a socket / 32 across, huge
pages on some nodes. Each input is generated from that model with numaopt's own
writers (numactl, lscpu -p, a sysfs tree, hwloc XML, TOML) and every parse is checked
to give the model back. Target: under 50 ms each (a user never waits on parsing).

Peers measured in the same run: hwloc's own C parser loading the same XML and the same
synthetic string (``lstopo-no-graphics --input ... --of synthetic``, a process each),
and for sysfs the bare cost of opening and reading the same files.

``--write`` appends (or refreshes) the "Host import (issue 4)" section of
benchmarks/RESULTS.md, leaving every other section as it is.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from numaopt.hosts import (
    DistanceRule,
    host_from_table,
    host_to_toml,
    merge_numactl_lscpu,
    parse_hwloc_xml,
    parse_lscpu,
    parse_numactl,
    parse_synthetic,
    read_sysfs,
    render_hwloc_xml,
    render_lscpu,
    render_numactl,
    write_sysfs_tree,
)
from numaopt.model import HostCore, HostNode, HostTopology, HugePages
from numaopt.units import GIB, MIB

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results_file import RESULTS, cpu_model, free_memory_table, write_section

SECTION = "## Host import (issue 4)"
TARGET_MS = 50.0
SOCKETS, NODES_PER_SOCKET, CORES_PER_NODE, THREADS = 4, 8, 16, 2
SYNTHETIC = f"pack:{SOCKETS} numa:{NODES_PER_SOCKET}(memory=64GiB) core:{CORES_PER_NODE} pu:{THREADS}"
RULE = DistanceRule(same_package=12, other=32)


def big_host() -> HostTopology:
    num_nodes = SOCKETS * NODES_PER_SOCKET
    num_cores = num_nodes * CORES_PER_NODE
    cores = [
        HostCore(socket=c // (CORES_PER_NODE * NODES_PER_SOCKET), cpus=(c, c + num_cores)) for c in range(num_cores)
    ]
    nodes = []
    for k in range(num_nodes):
        cpus = [cpu for core in cores[k * CORES_PER_NODE : (k + 1) * CORES_PER_NODE] for cpu in core.cpus]
        pages = (HugePages(2 * MIB, 2048, 2048 - k), HugePages(GIB, 4, 4)) if k % 4 == 0 else ()
        nodes.append(HostNode(k, tuple(cpus), 64 * GIB - k * MIB, (40 + k % 7) * GIB, pages))
    socket = np.arange(num_nodes) // NODES_PER_SOCKET
    distances = RULE.matrix(socket.tolist())
    return HostTopology(tuple(nodes), distances, tuple(cores))


def without_huge_pages(host: HostTopology) -> HostTopology:
    return dataclasses.replace(host, nodes=tuple(dataclasses.replace(n, hugepages=()) for n in host.nodes))


def without_free(host: HostTopology) -> HostTopology:
    return dataclasses.replace(host, nodes=tuple(dataclasses.replace(n, free_bytes=None) for n in host.nodes))


def timed(run: Callable[[], object], repeat: int) -> tuple[float, float, object]:
    """Median and minimum wall time in ms over ``repeat`` runs after one warm-up, and the last result."""
    result = run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times), result


def sysfs_files(root: Path, host: HostTopology) -> list[str]:
    """The files ``read_sysfs`` opens: per node cpulist, distance, meminfo and huge page
    counts; per core one sibling list and one package id."""
    system = root / "sys" / "devices" / "system"
    files = []
    for node in host.nodes:
        base = system / "node" / f"node{node.node_id}"
        files += [base / "cpulist", base / "distance", base / "meminfo"]
        for huge in sorted((base / "hugepages").glob("hugepages-*")):
            files += [huge / "nr_hugepages", huge / "free_hugepages"]
    for core in host.cores:
        topology = system / "cpu" / f"cpu{core.cpus[0]}" / "topology"
        files += [topology / "core_cpus_list", topology / "physical_package_id"]
    return [str(path) for path in files]


def read_files(paths: list[str]) -> int:
    """The I/O floor of a sysfs import: open and read the same files, parse nothing."""
    total = 0
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            total += len(os.read(fd, 1 << 16))
        finally:
            os.close(fd)
    return total


def machine() -> list[str]:
    model = cpu_model()
    free = free_memory_table()
    return [
        f"- nproc: {os.cpu_count()}; CPU: {model}; Python {platform.python_version()}, numpy {np.__version__}",
        "- `free -g`:",
        "",
        "```",
        free,
        "```",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per source (after one warm-up)")
    parser.add_argument("--write", action="store_true", help=f"write the section into {RESULTS}")
    args = parser.parse_args()

    host = big_host()
    assert host.num_cpus == 1024 and host.num_nodes == 32
    plain = without_huge_pages(host)  # numactl, lscpu, hwloc have no huge pages
    rows: list[tuple[str, str, float, float, str]] = []
    lstopo = shutil.which("lstopo-no-graphics")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        numactl_text = render_numactl(plain)
        lscpu_text = render_lscpu(plain)
        xml_text = render_hwloc_xml(host)
        toml_text = host_to_toml(host)
        write_sysfs_tree(host, root / "snap")
        (root / "host.xml").write_text(xml_text)

        def add(name: str, size: str, run: Callable[[], object], expected: object, note: str = "") -> None:
            median, best, result = timed(run, args.repeat)
            assert result == expected, f"{name}: wrong answer"
            rows.append((name, size, median, best, note))

        def kib(text: str) -> str:
            return f"{len(text.encode()) / 1024:.0f} KiB"

        add(
            "numactl --hardware",
            kib(numactl_text),
            lambda: parse_numactl(numactl_text),
            dataclasses.replace(plain, cores=()),
        )
        add("lscpu -p", kib(lscpu_text), lambda: parse_lscpu(lscpu_text).cores, plain.cores)
        add(
            "numactl + lscpu -p (merged)",
            kib(numactl_text + lscpu_text),
            lambda: merge_numactl_lscpu(parse_numactl(numactl_text), parse_lscpu(lscpu_text)),
            (plain, []),
        )
        files = sysfs_files(root / "snap", host)
        add("sysfs snapshot", f"{len(files)} files read", lambda: read_sysfs(root / "snap"), host)
        add("hwloc XML", kib(xml_text), lambda: parse_hwloc_xml(xml_text), without_free(plain))
        synthetic = parse_synthetic(SYNTHETIC, RULE)
        add(f"synthetic `{SYNTHETIC}`", f"{len(SYNTHETIC)} B", lambda: parse_synthetic(SYNTHETIC, RULE), synthetic)
        add(
            "host TOML (tomllib + host_from_table)",
            kib(toml_text),
            lambda: host_from_table(tomllib.loads(toml_text)["host"], "host.toml"),
            host,
        )
        peers: list[tuple[str, float]] = []
        floor, _, _ = timed(lambda: read_files(files), args.repeat)
        peers.append((f"open + read the same {len(files)} sysfs files, no parsing (os.open/os.read)", floor))
        if lstopo is not None:
            for label, source in (("hwloc XML", str(root / "host.xml")), ("synthetic", SYNTHETIC)):
                command = [lstopo, "--input", source, "--of", "synthetic"]
                median, _, _ = timed(
                    lambda command=command: subprocess.run(command, capture_output=True, check=True), 5
                )
                peers.append((f"`lstopo-no-graphics --input` {label} (hwloc's C parser, one process)", median))

    lines = [
        SECTION,
        "",
        f"Command: `python3 benchmarks/bench_hosts.py --repeat {args.repeat}`. Host: {SOCKETS} sockets x "
        f"{NODES_PER_SOCKET} nodes, 1024 CPUs (512 cores x 2 threads), 32 nodes, SLIT 10/12/32, huge pages on 8 nodes; "
        "every input generated from the model by numaopt's writers, every parse checked against the model. "
        f"Median of {args.repeat} runs after a warm-up. Target: < {TARGET_MS:.0f} ms per source.",
        "",
        *machine(),
        "",
        "| source | input | median ms | min ms | < 50 ms |",
        "|---|---|---:|---:|---|",
        *(
            f"| {name} | {size} | {median:.2f} | {best:.2f} | {'yes' if median < TARGET_MS else 'NO'} |"
            for name, size, median, best, _ in rows
        ),
        "",
        "Peers, same run:",
        "",
        "| peer | median ms |",
        "|---|---:|",
        *(f"| {label} | {median:.2f} |" for label, median in peers),
        "",
    ]
    section = "\n".join(lines)
    print(section)
    if args.write:
        write_section(SECTION, section)
        print(f"wrote the section into {RESULTS}", file=sys.stderr)
    if any(median >= TARGET_MS for _, _, median, _, _ in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
