"""Host import: numactl, lscpu, sysfs, hwloc XML and hwloc synthetic strings -> ``HostTopology``.

Every importer returns the same frozen model and turns bad input into one
``InputError`` naming the file and line; source disagreements and hardware quirks are
warnings (strings), never errors. docs/hosts.md describes the sources and formats.
"""

from numaopt.hosts.distance_rule import DistanceRule, parse_distance_rule
from numaopt.hosts.findings import host_findings
from numaopt.hosts.hwloc import parse_hwloc_xml, render_hwloc_xml
from numaopt.hosts.lscpu import LscpuForm, LscpuReport, parse_lscpu, render_lscpu
from numaopt.hosts.merge import merge_numactl_lscpu
from numaopt.hosts.numactl import parse_numactl, render_numactl
from numaopt.hosts.sources import (
    SOURCE_KEYS,
    HostSource,
    SourceKind,
    host_from_problem,
    load_host_sources,
    load_sources,
    parse_source,
    sniff_kind,
)
from numaopt.hosts.summary import host_summary
from numaopt.hosts.synthetic import parse_synthetic
from numaopt.hosts.sysfs import read_sysfs, write_sysfs_tree
from numaopt.hosts.toml import HOST_KEYS, host_from_table, host_to_toml

__all__ = [
    "HOST_KEYS",
    "SOURCE_KEYS",
    "DistanceRule",
    "HostSource",
    "LscpuForm",
    "LscpuReport",
    "SourceKind",
    "host_findings",
    "host_from_problem",
    "host_from_table",
    "host_summary",
    "host_to_toml",
    "load_host_sources",
    "load_sources",
    "merge_numactl_lscpu",
    "parse_distance_rule",
    "parse_hwloc_xml",
    "parse_lscpu",
    "parse_numactl",
    "parse_source",
    "parse_synthetic",
    "read_sysfs",
    "render_hwloc_xml",
    "render_lscpu",
    "render_numactl",
    "sniff_kind",
    "write_sysfs_tree",
]
