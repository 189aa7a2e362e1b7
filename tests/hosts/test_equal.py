"""The same host through every source gives the same model (HostTopology.__eq__).

For each corpus machine: numactl + lscpu -p, a sysfs snapshot, hwloc XML (ours, and as
the real lstopo rewrites it), and the captured TOML. hwloc has no place for free memory,
so the all-sources comparison is on the machine with free memory unknown, which numactl
prints as ``<not available>`` and a sysfs meminfo shows by leaving MemFree out.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from numaopt.hosts import (
    HostSource,
    SourceKind,
    host_from_table,
    load_sources,
    merge_numactl_lscpu,
    parse_hwloc_xml,
    parse_lscpu,
    parse_numactl,
    read_sysfs,
    render_hwloc_xml,
    render_numactl,
    write_sysfs_tree,
)
from numaopt.model import HostTopology

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"
MACHINES = sorted(p.stem for p in HOSTS.glob("*.numactl"))
LSTOPO = shutil.which("lstopo-no-graphics")


def from_numactl_and_lscpu(name: str) -> HostTopology:
    host, warnings = load_sources(
        [
            HostSource(SourceKind.NUMACTL, str(HOSTS / f"{name}.numactl")),
            HostSource(SourceKind.LSCPU, str(HOSTS / f"{name}.lscpu")),
        ]
    )
    assert warnings == []
    return host


def forget_free(host: HostTopology) -> HostTopology:
    return dataclasses.replace(host, nodes=tuple(dataclasses.replace(node, free_bytes=None) for node in host.nodes))


@pytest.mark.parametrize("name", MACHINES)
def test_numactl_lscpu_equals_sysfs_equals_toml(name: str, tmp_path: Path) -> None:
    host = from_numactl_and_lscpu(name)
    write_sysfs_tree(host, tmp_path)
    assert read_sysfs(tmp_path) == host
    assert host_from_table(tomllib.loads((HOSTS / f"{name}.toml").read_text())["host"], f"{name}.toml") == host


@pytest.mark.parametrize("name", MACHINES)
def test_every_source_gives_the_same_host(name: str, tmp_path: Path) -> None:
    host = forget_free(from_numactl_and_lscpu(name))
    numactl_text = render_numactl(host)
    assert "<not available>" in numactl_text
    via_numactl, warnings = merge_numactl_lscpu(
        parse_numactl(numactl_text), parse_lscpu((HOSTS / f"{name}.lscpu").read_text())
    )
    write_sysfs_tree(host, tmp_path)
    xml = render_hwloc_xml(host)
    assert warnings == []
    assert via_numactl == host
    assert read_sysfs(tmp_path) == host
    assert parse_hwloc_xml(xml) == host
    if LSTOPO is not None:
        (tmp_path / "host.xml").write_text(xml)
        rewritten = subprocess.run(
            [LSTOPO, "--input", str(tmp_path / "host.xml"), "--of", "xml"], capture_output=True, text=True, check=True
        )
        assert parse_hwloc_xml(rewritten.stdout) == host
