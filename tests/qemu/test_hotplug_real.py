"""Hot-pluggable memory (issue 13.6) against the real QEMU 7.2: ``-m size,slots=,maxmem=``
and pc-dimms per node. Every refusal ``check`` predicts is QEMU's own message; what QEMU
accepts it builds (query-memory-devices, x-query-numa counting the DIMMs in their node);
level 1 hot-plugs a DIMM over QMP and sees it listed; the problem file reads and writes."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from typer.testing import CliRunner

from numaopt.cli import app
from numaopt.errors import ProblemError
from numaopt.guest.verify import hotplug_test, verify_qemu
from numaopt.layout import check_layout
from numaopt.model import Dimm, GuestLayout
from numaopt.problem import load_problem, parse_problem
from numaopt.qemu.qmp import QemuError, QemuRefused, compare, probe
from numaopt.render.qemu import qemu_command
from numaopt.render.toml import problem_toml
from numaopt.rules import RuleSet, Severity
from numaopt.units import MIB
from tests.support.problems import plan_for

pytestmark = pytest.mark.qemu

ROOT = Path(__file__).resolve().parents[2]
DIMMS = ROOT / "tests" / "data" / "hotplug" / "two-nodes-dimms.toml"
GIB = 1 << 30


def dimms() -> GuestLayout:
    layout = load_problem(DIMMS).layout
    assert layout is not None
    return layout


def _with(**changes: object) -> GuestLayout:
    return dataclasses.replace(dimms(), **changes)  # type: ignore[arg-type]


REFUSED = {
    "slots-without-maxmem": _with(maxmem_bytes=None, dimms=()),
    "maxmem-below-ram": _with(maxmem_bytes=512 * MIB, dimms=()),
    "too-many-slots": _with(slots=300, dimms=()),
    "no-slots": _with(slots=0),
    "no-free-slot": _with(slots=1, dimms=(Dimm(0, 256 * MIB), Dimm(1, 256 * MIB))),
    "no-such-node": _with(dimms=(Dimm(2, 256 * MIB),)),
    "unaligned": _with(dimms=(Dimm(1, 1000 * 1024),)),
    "no-space": _with(dimms=(Dimm(0, 768 * MIB), Dimm(1, 512 * MIB))),
}


@pytest.mark.parametrize("name", REFUSED)
def test_check_says_what_qemu_says(name: str) -> None:
    layout = REFUSED[name]
    errors = [f.message for f in check_layout(layout, RuleSet.QEMU) if f.severity is Severity.ERROR]
    with pytest.raises(QemuRefused) as refused:
        probe(qemu_command(layout))
    assert errors == [refused.value.qemu_message]


def test_dimms_are_built_in_their_nodes_and_level_1_hot_plugs_one() -> None:
    layout = dimms()
    assert check_layout(layout, RuleSet.QEMU) == []
    readback = probe(qemu_command(layout))
    [device] = readback.memory_devices
    assert (device.device_id, device.node, device.size_bytes, device.hotplugged) == ("dimm0", 1, 256 * MIB, False)
    assert readback.node_sizes_bytes == {0: 512 * MIB, 1: 768 * MIB}
    assert compare(layout, readback) == []
    assert compare(_with(dimms=()), readback) == [
        "QEMU has memory device 'dimm0' the layout does not",
        "node 1: QEMU has 768 MiB, the layout says 512 MiB",
    ]
    verified = verify_qemu(layout)
    assert verified.mismatches == []
    assert verified.hotplug.endswith("query-memory-devices says node 1, slot 1, hotplugged=true")
    assert verified.readback.node_sizes_bytes[1] == 896 * MIB  # the node grew by the hot-plugged 128 MiB


def test_no_room_no_hot_plug_and_a_refused_hot_plug_is_qemus_error() -> None:
    assert hotplug_test(_with(slots=1)) is None and hotplug_test(_with(maxmem_bytes=GIB + 256 * MIB)) is None
    plug = hotplug_test(dimms())
    assert plug is not None
    with pytest.raises(QemuError, match="exceeds the number of numa nodes: 2"):
        probe(qemu_command(dimms()), plug=(dataclasses.replace(plug, node=5),))


def test_the_problem_file_round_trips_and_verify_prints_the_hot_plug() -> None:
    layout = dimms()
    assert (layout.maxmem_bytes, layout.slots, layout.dimms) == (2 * GIB, 4, (Dimm(1, 256 * MIB),))
    assert parse_problem(problem_toml(layout)).layout == layout
    result = CliRunner().invoke(app, ["verify", str(DIMMS)])
    assert result.exit_code == 0, result.output
    assert "hot-plugged dimm1 (128 MiB) into node 1 over QMP" in result.output


GROW = ROOT / "tests" / "data" / "hotplug" / "search-room-to-grow.toml"


def test_a_search_problem_asks_for_room_to_grow_and_level_1_uses_it() -> None:
    layout = plan_for(GROW).layout
    assert (layout.maxmem_bytes, layout.slots, layout.dimms) == (4 * GIB, 4, ())
    # The plan binds memory to host nodes this machine may lack: level 1 without the binding.
    unbound = dataclasses.replace(layout, nodes=tuple(dataclasses.replace(n, host_nodes=()) for n in layout.nodes))
    verified = verify_qemu(unbound)
    assert verified.mismatches == [] and "hot-plugged dimm0 (128 MiB)" in verified.hotplug


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (('maxmem = "4GiB"', 'maxmem = "512MiB"'), "workload.maxmem: 536870912 bytes is less than the workload's memory"),
        (('maxmem = "4GiB"\n', ""), "workload.slots: slots need maxmem"),
        (("slots = 4", "slots = 300"), "workload.slots"),
    ],
)
def test_room_to_grow_mistakes_are_one_line(change: tuple[str, str], says: str) -> None:
    with pytest.raises(ProblemError) as error:
        parse_problem(GROW.read_text().replace(*change), "x.toml")
    assert str(error.value).startswith(f"x.toml: {says}") and "\n" not in str(error.value)
