"""hwloc 2.x XML: what the real lstopo writes (synthetic and live), hwloc-annotate's distance
matrices, a hand-recorded Xeon Max file, and the writer read back by hwloc itself."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from numaopt.errors import InputError
from numaopt.hosts import DistanceRule, parse_hwloc_xml, parse_synthetic, read_sysfs, render_hwloc_xml
from numaopt.model import HostCore, HostNode, HostTopology, MemorySideCache
from numaopt.units import GIB

HOSTS = Path(__file__).resolve().parents[1] / "data" / "hosts"
LSTOPO = shutil.which("lstopo-no-graphics")
needs_hwloc = pytest.mark.skipif(LSTOPO is None, reason="lstopo-no-graphics missing: apt-get install hwloc")


def lstopo(*args: str) -> str:
    assert LSTOPO is not None
    return subprocess.run([LSTOPO, *args, "--of", "xml"], capture_output=True, text=True, check=True, timeout=30).stdout


SYNTHETIC = [
    "pack:2 numa:2 core:4 pu:2",
    "pack:2 numa:2(memory=64GiB) l3:2 core:2 pu:2",
    "Package:4 NUMANode:2 Core:8 PU:2",
    "numa:2 pack:2 core:2 pu:1",
    "pack:2 core:4 pu:2",
    "pack:2 pu:2",
    "numa:3 pu:2",
    "pack:2 numa:2(memory=32GB) die:1 core:1 pu:1",
]


@needs_hwloc
@pytest.mark.parametrize("description", SYNTHETIC)
def test_lstopo_synthetic_xml_equals_our_synthetic_reading(description: str) -> None:
    rule = DistanceRule(same_package=12, other=32)
    assert parse_hwloc_xml(lstopo("--input", description), "lstopo", rule) == parse_synthetic(description, rule)


@needs_hwloc
def test_lstopo_synthetic_xml_has_no_distances_so_a_rule_is_needed() -> None:
    xml = lstopo("--input", "pack:2 numa:2 core:4 pu:2")
    assert "distances2" not in xml
    with pytest.raises(InputError, match="no NUMA latency matrix"):
        parse_hwloc_xml(xml)
    host = parse_hwloc_xml(xml, distances=DistanceRule(12, 32))
    assert host.distances.tolist() == [[10, 12, 32, 32], [12, 10, 32, 32], [32, 32, 10, 12], [32, 32, 12, 10]]
    assert host.nodes[0].memory_bytes == GIB and host.nodes[0].free_bytes is None
    assert host.cores[0] == HostCore(0, (0, 1)) and host.cores[-1] == HostCore(1, (30, 31))


@needs_hwloc
def test_distances_written_by_hwloc_annotate(tmp_path: Path) -> None:
    """hwloc's own writer of a distances2 matrix (hwloc-annotate), with an asymmetric SNC-like SLIT."""
    annotate = shutil.which("hwloc-annotate")
    if annotate is None:
        pytest.skip("hwloc-annotate missing")
    matrix = [[10, 11, 21, 21], [12, 10, 21, 21], [21, 21, 10, 11], [21, 21, 11, 10]]
    spec = [
        "name=NUMALatency",
        "5",
        "4",
        *(f"NUMANode:{i}" for i in range(4)),
        *(str(v) for row in matrix for v in row),
    ]
    (tmp_path / "distances.txt").write_text("\n".join(spec) + "\n")
    (tmp_path / "plain.xml").write_text(lstopo("--input", "pack:2 numa:2 core:2 pu:2"))
    subprocess.run(
        [
            annotate,
            tmp_path / "plain.xml",
            tmp_path / "annotated.xml",
            "--",
            "none",
            "--",
            "distances",
            tmp_path / "distances.txt",
        ],
        check=True,
        capture_output=True,
        timeout=30,
    )
    text = (tmp_path / "annotated.xml").read_text()
    assert text.count("<u64values") > 1  # hwloc splits long matrices: the reader joins them
    host = parse_hwloc_xml(text)
    assert host.distances.tolist() == matrix
    assert host == dataclasses.replace(
        parse_synthetic("pack:2 numa:2 core:2 pu:2", DistanceRule(11, 21)), distances=np.array(matrix)
    )


def test_recorded_xeon_max_hybrid_hbm() -> None:
    """MemCache-wrapped DRAM nodes, flat HBM nodes sharing their locality, a permuted os-indexed
    matrix split in chunks, and a bandwidth matrix that must be ignored."""
    host = parse_hwloc_xml((HOSTS / "xeon-max-snc2-hbm.xml").read_text())
    assert [node.cpus for node in host.nodes] == [(0, 1, 4, 5), (2, 3, 6, 7), (), ()]
    assert [node.memory_bytes for node in host.nodes] == [134217728000, 135291469824, 16 * GIB, 16 * GIB]
    assert host.distances.tolist() == [[10, 12, 13, 14], [12, 10, 14, 13], [13, 14, 10, 15], [14, 13, 15, 10]]
    assert host.cores == (HostCore(0, (0, 4)), HostCore(0, (1, 5)), HostCore(0, (2, 6)), HostCore(0, (3, 7)))
    dram_cache = (MemorySideCache(1, 16 * GIB, 64, "direct", "none"),)  # hwloc keeps no write policy
    assert [node.caches for node in host.nodes] == [dram_cache, dram_cache, (), ()]
    assert all(node.access is None for node in host.nodes)  # no memattr values in it


TWO_LM = HOSTS / "xeon-2lm-cxl.sysfs"


def as_hwloc_keeps_it(host: HostTopology) -> HostTopology:
    """``host`` without what hwloc XML has no place for: free memory, huge pages, cache write policy."""
    nodes = tuple(
        dataclasses.replace(
            node,
            free_bytes=None,
            hugepages=(),
            caches=tuple(dataclasses.replace(cache, policy="none") for cache in node.caches),
        )
        for node in host.nodes
    )
    return dataclasses.replace(host, nodes=nodes)


def test_hwloc_29_memattrs_and_memcaches_read_as_the_sysfs_tree_it_was_written_from() -> None:
    # lstopo 2.9.0 wrote xeon-2lm-cxl.xml from the sysfs tree (HWLOC_FSROOT): Latency and
    # Bandwidth are read/write means (180, 27500), ReadLatency & co. the kernel's own values.
    host = parse_hwloc_xml((HOSTS / "xeon-2lm-cxl.xml").read_text())
    assert host == as_hwloc_keeps_it(read_sysfs(TWO_LM))
    assert host.nodes[0].access is not None and host.nodes[0].access.read_latency == 170
    assert host.nodes[0].caches == (MemorySideCache(1, 32 * GIB, 64, "direct", "none"),)


def test_only_the_means_give_read_and_write_alike() -> None:
    text = (HOSTS / "xeon-2lm-cxl.xml").read_text()
    means = text.split('<memattr name="ReadBandwidth"')[0] + "</topology>\n"
    access = parse_hwloc_xml(means).nodes[2].access
    assert access is not None and access.initiators == (0,)
    assert (access.read_latency, access.write_latency, access.read_bandwidth, access.write_bandwidth) == (
        255,
        255,
        17500,
        17500,
    )


def test_the_best_initiator_is_kept() -> None:
    text = (HOSTS / "xeon-2lm-cxl.xml").read_text()
    farther = (
        '<memattr_value target_obj_type="NUMANode" target_obj_gp_index="30" value="400" initiator_cpuset="0x0000f0f0"/>'
    )
    text = text.replace('<memattr name="Latency" flags="6">', '<memattr name="Latency" flags="6">' + farther)
    text = text.replace('<memattr name="ReadLatency" flags="6">', '<memattr name="ReadLatency" flags="6">' + farther)
    access = parse_hwloc_xml(text).nodes[2].access
    assert access is not None and access.initiators == (0,) and access.read_latency == 250


@needs_hwloc
def test_hwloc_reading_the_sysfs_tree_today_gives_the_same_host() -> None:
    import os

    env = {**os.environ, "HWLOC_FSROOT": str(TWO_LM), "HWLOC_COMPONENTS": "-x86"}
    assert LSTOPO is not None
    xml = subprocess.run(
        [LSTOPO, "--of", "xml"], capture_output=True, text=True, check=True, timeout=30, env=env
    ).stdout
    assert parse_hwloc_xml(xml) == as_hwloc_keeps_it(read_sysfs(TWO_LM))


@needs_hwloc
def test_the_writer_keeps_the_hmat_through_lstopo(tmp_path: Path) -> None:
    # The 2LM + CXL host (two cache levels on node 0 for the nesting, a write-only
    # bandwidth on node 2 for a mean that must not be written) through our writer, our
    # reader and lstopo's: the same host as hwloc keeps it.
    host = read_sysfs(TWO_LM)
    first, _, cxl = host.nodes
    two_levels = (*first.caches, MemorySideCache(2, 64 * GIB, 128, "complex", "write-through"))
    assert cxl.access is not None
    nodes = (
        dataclasses.replace(first, caches=two_levels),
        host.nodes[1],
        dataclasses.replace(cxl, access=dataclasses.replace(cxl.access, read_bandwidth=0)),
    )
    host = as_hwloc_keeps_it(dataclasses.replace(host, nodes=nodes))
    xml = render_hwloc_xml(host)
    assert parse_hwloc_xml(xml) == host
    (tmp_path / "host.xml").write_text(xml)
    assert parse_hwloc_xml(lstopo("--input", str(tmp_path / "host.xml"))) == host


def cxl_host() -> HostTopology:
    cores = tuple(HostCore(c // 4, (c, c + 8)) for c in range(8))
    nodes = (
        HostNode(0, (0, 1, 8, 9), 8 * GIB),
        HostNode(1, (2, 3, 10, 11), 8 * GIB),
        HostNode(2, (4, 5, 12, 13), 8 * GIB),
        HostNode(3, (6, 7, 14, 15), 8 * GIB),
        HostNode(4, (), 64 * GIB),
    )
    d = [[10, 11, 21, 21, 14], [11, 10, 21, 21, 14], [21, 21, 10, 11, 24], [21, 21, 11, 10, 24], [14, 14, 24, 24, 10]]
    return HostTopology(nodes, np.array(d), cores)


@needs_hwloc
@pytest.mark.parametrize(
    "host",
    [
        cxl_host(),
        dataclasses.replace(cxl_host(), cores=()),
        HostTopology((HostNode(0, (0, 1, 2, 3), GIB),), np.array([[10]]), (HostCore(0, (0, 2)), HostCore(0, (1, 3)))),
        # one node over two packages (node interleaving in the BIOS)
        HostTopology(
            (HostNode(0, (0, 1), GIB), HostNode(1, (), GIB)),
            np.array([[10, 20], [20, 10]]),
            (HostCore(0, (0,)), HostCore(1, (1,))),
        ),
    ],
    ids=["snc-cxl", "no-smt", "one-node", "node-over-packages"],
)
def test_writer_output_is_read_by_hwloc_and_back(host: HostTopology, tmp_path: Path) -> None:
    xml = render_hwloc_xml(host)
    assert parse_hwloc_xml(xml) == host
    (tmp_path / "host.xml").write_text(xml)
    assert parse_hwloc_xml(lstopo("--input", str(tmp_path / "host.xml"))) == host


@needs_hwloc
@pytest.mark.skipif(not Path("/sys/devices/system/node/node0").is_dir(), reason="no NUMA sysfs on this machine")
def test_this_machine_through_lstopo_matches_sysfs() -> None:
    from_hwloc = parse_hwloc_xml(lstopo(), "lstopo")
    from_sysfs = read_sysfs()
    assert from_hwloc.cores == from_sysfs.cores
    assert [n.cpus for n in from_hwloc.nodes] == [n.cpus for n in from_sysfs.nodes]
    assert np.array_equal(from_hwloc.distances, from_sysfs.distances)
    for a, b in zip(from_hwloc.nodes, from_sysfs.nodes, strict=True):
        assert a.free_bytes is None  # hwloc does not record free memory
        assert abs(a.memory_bytes - b.memory_bytes) <= b.memory_bytes // 100  # MemTotal, read twice


def _xml(body: str, version: str = "2.0") -> str:
    return f'<?xml version="1.0"?>\n<topology version="{version}">\n{body}\n</topology>\n'


MACHINE = (
    '<object type="Machine" os_index="0">\n'
    '  <object type="NUMANode" os_index="0" local_memory="1024"/>\n'
    '  <object type="NUMANode" os_index="1" local_memory="1024"/>\n'
    '  <object type="PU" os_index="0"/>\n'
    "</object>"
)


MEMATTR = (
    '\n<memattr name="Latency" flags="6">\n'
    '  <memattr_value target_obj_type="NUMANode" target_obj_gp_index="%s" value="80" initiator_cpuset="0x00000001"/>\n'
    "</memattr>"
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "line 1: not well-formed XML (no element found): expected hwloc XML from lstopo --of xml"),
        ("<root/>", "line 1: expected hwloc XML (a <topology> root element), got <root>"),
        (_xml(""), "line 2: no <object> under <topology>: expected the Machine object"),
        (
            _xml('<object type="Machine"><object type="PU" os_index="0"/></object>'),
            "line 3: no NUMANode object: hwloc 2 XML has at least one",
        ),
        (
            _xml(MACHINE.replace('os_index="1" local_memory="1024"', 'os_index="0" local_memory="5"')),
            "line 5: NUMANode os_index 0 appears twice",
        ),
        (
            _xml(
                MACHINE.replace(
                    'local_memory="1024"/>\n  <object type="NUMANode" os_index="1"',
                    'local_memory="lots"/>\n  <object type="NUMANode" os_index="1"',
                )
            ),
            "line 4: expected a non-negative integer in local_memory, got 'lots'",
        ),
        (
            _xml(
                MACHINE + '\n<distances2 type="NUMANode" nbobjs="2" kind="5" indexing="os"><indexes>0 2</indexes>'
                "<u64values>10 20 20 10</u64values></distances2>"
            ),
            "line 8: the latency matrix covers nodes 0 2 but the XML has nodes 0 1",
        ),
        (
            _xml(
                MACHINE + '\n<distances2 type="NUMANode" nbobjs="2" kind="5" indexing="os"><indexes>0 1</indexes>'
                "<u64values>10 20 2000 10</u64values></distances2>"
            ),
            "line 8: distance from node 1 to node 0 is 2000: expected 10..255 (a SLIT byte)",
        ),
        (
            _xml(
                MACHINE + '\n<distances2 type="NUMANode" nbobjs="2" kind="5" indexing="os"><indexes>0 1</indexes>'
                "<u64values>10 20 x 10</u64values></distances2>"
            ),
            "line 8: expected integers in <u64values/values>, got 'x'",
        ),
        (
            '<topology version="2.0">' + '<object type="Group">' * 300,
            "line 1: elements nested deeper than 200 levels (hwloc XML is about 10 deep)",
        ),
        (
            '<!DOCTYPE t [<!ENTITY a "aaaa">]><topology version="2.0"/>',
            "line 1: XML entity declarations are not allowed in hwloc XML",
        ),
        (
            _xml(
                MACHINE.replace('os_index="0" local_memory', 'os_index="0" gp_index="4" local_memory') + MEMATTR % "9"
            ),
            "line 9: memattr_value target_obj_gp_index '9' is no NUMANode object",
        ),
        (
            _xml(
                MACHINE.replace('os_index="0" local_memory', 'os_index="0" gp_index="4" local_memory')
                + (MEMATTR % "4").replace("0x00000001", "ff")
            ),
            "line 9: expected an hwloc cpuset such as 0x0000ff00,0x000000ff, got 'ff'",
        ),
        (
            _xml(
                MACHINE.replace(
                    '<object type="NUMANode" os_index="1" local_memory="1024"/>',
                    '<object type="MemCache" depth="0" cache_size="1"><object type="NUMANode" os_index="1"/></object>',
                )
            ),
            "line 5: MemCache depth 0: memory-side cache levels start at 1",
        ),
    ],
)
def test_messages_name_the_line(text: str, message: str) -> None:
    """One error naming the line, for each way an XML file goes wrong."""
    with pytest.raises(InputError) as info:
        parse_hwloc_xml(text, "x.xml")
    assert str(info.value) == f"x.xml: {message}"
