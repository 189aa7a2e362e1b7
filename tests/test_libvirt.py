"""libvirt domain XML: valid against libvirt's own RelaxNG schema (virt-xml-validate)."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from numaopt.model import Group, PlacementRequest, SearchSettings, Traffic, Workload
from numaopt.place import place
from numaopt.render.libvirt import domain_xml
from tests.placement_hosts import GIB, block_host
from tests.problem_plans import PROBLEMS, plan_for

ROOT = Path(__file__).resolve().parent.parent


def validate(xml: str, tmp_path: Path) -> None:
    assert shutil.which("virt-xml-validate"), "virt-xml-validate missing: scripts/test.sh installs libvirt-clients"
    path = tmp_path / "domain.xml"
    path.write_text(xml)
    result = subprocess.run(["virt-xml-validate", str(path), "domain"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", PROBLEMS, ids=lambda p: p.stem)
def test_every_example_validates(path: Path, tmp_path: Path) -> None:
    validate(domain_xml(plan_for(path)), tmp_path)


def test_placement_plan_has_pinning_binding_and_distances(tmp_path: Path) -> None:
    host = block_host(2, 2, cpus_per_node=8, smt=True)
    workload = Workload((Group("db", 8, 8 * GIB), Group("web", 8, 4 * GIB)), threads_per_core=2, traffic=(Traffic("db", "web", 5),))
    plan = place(PlacementRequest(host, workload, reserved_cpus=(0, 16), settings=SearchSettings(time_limit_s=10)))
    xml = domain_xml(plan)
    validate(xml, tmp_path)
    root = ET.fromstring(xml)
    pins = {int(p.get("vcpu", -1)): int(p.get("cpuset", -1)) for p in root.iter("vcpupin")}
    assert pins == dict(plan.vcpu_to_host_cpu)
    memnodes = {int(m.get("cellid", -1)): m.get("nodeset") for m in root.iter("memnode")}
    assert memnodes == {k: str(node.host_nodes[0]) for k, node in enumerate(plan.layout.nodes)}
    cells = list(root.iter("cell"))
    assert len(cells) == plan.layout.num_nodes
    assert plan.layout.distances is not None
    for k, cell in enumerate(cells):
        values = [int(s.get("value", -1)) for s in cell.iter("sibling")]
        assert values == plan.layout.distances[k].tolist()
    topology = root.find("cpu/topology")
    assert topology is not None and topology.get("threads") == "2"
