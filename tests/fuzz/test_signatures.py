"""Failure signatures, the known-failures file, and a summary that counts only new failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from numaopt.errors import InputError
from numaopt.fuzz.executor import kernel_difference, summarise
from numaopt.fuzz.signatures import (
    Expected,
    classless,
    expect_text,
    layout_class,
    read_expect,
    signature,
    signatures_of,
    write_expect,
)
from numaopt.model import CpuShape, GuestLayout, GuestNode, Machine
from numaopt.units import MIB

SPAN = {"oracle": "messages", "code": "message:error", "message": "the guest kernel printed: CPU 3 on node 1 (distance 21)"}
SPAN_OTHER = {"oracle": "messages", "code": "message:error", "message": "the guest kernel printed: CPU 17 on node 0 (distance 31)"}
TOPOLOGY = {"oracle": "topology", "code": "distances", "message": "node 0 -> 1: 20 seen, 21 expected"}


def record(item: int, *failures: dict[str, str], layout: str = "") -> dict[str, object]:
    found = {"type": "item", "item": item, "verdict": "fail" if failures else "pass", "failures": list(failures)}
    return found | ({"layout_class": layout} if layout else {})


def two_nodes(distances: list[list[int]] | None, machine: Machine = Machine.Q35) -> GuestLayout:
    nodes = (GuestNode(0, (0,), 128 * MIB), GuestNode(1, (1,), 128 * MIB))
    return GuestLayout(vcpus=2, memory_bytes=256 * MIB, nodes=nodes, shape=CpuShape(sockets=2), distances=distances, machine=machine)


def test_a_signature_drops_numbers_from_messages_and_keeps_a_mismatchs_kind() -> None:
    assert signature(SPAN) == signature(SPAN_OTHER) == "messages: the guest kernel printed: CPU N on node N (distance N)"
    assert signature(TOPOLOGY) == "topology: distances"
    assert signatures_of([SPAN, TOPOLOGY, SPAN_OTHER]) == (signature(SPAN), "topology: distances")


def test_known_signatures_are_counted_apart(tmp_path: Path) -> None:
    records = [record(0, SPAN), record(1), record(2, SPAN_OTHER, TOPOLOGY), record(3, TOPOLOGY)]
    first = summarise(records, 4)
    assert first.new_items == 3 and first.known_items == 0
    path = tmp_path / "known.json"
    write_expect(path, expect_text(first.reasons, first.examples))
    assert json.loads(path.read_text())["signatures"][0]["items"] == 2
    # The next campaign with that file: nothing new.
    again = summarise(records, 4, read_expect(path))
    assert again.new_items == 0 and again.known_items == 3 and not again.new_reasons
    assert [key for key, _ in again.known_reasons] == [signature(SPAN), "topology: distances"]
    # Only the span message known: items 2 and 3 still fail with a new signature.
    partial = summarise(records, 4, Expected(frozenset({signature(SPAN)}), "k.json"))
    assert (partial.new_items, partial.known_items) == (2, 1) and partial.new_reasons == [("topology: distances", 2)]


def test_the_layout_class_is_machine_table_and_odd_nodes() -> None:
    assert layout_class(two_nodes(None)) == "q35, no table"
    assert layout_class(two_nodes([[10, 20], [20, 10]], machine=Machine.PC)) == "pc, symmetric"
    assert layout_class(two_nodes([[10, 20], [30, 10]], machine=Machine.VIRT)) == "virt, asymmetric"
    memoryless = GuestLayout(vcpus=2, memory_bytes=128 * MIB, nodes=(GuestNode(0, (0,), 128 * MIB), GuestNode(1, (1,), 0)),
                             shape=CpuShape(sockets=2))
    assert layout_class(memoryless) == "q35, no table, memoryless"
    cpuless = GuestLayout(vcpus=1, memory_bytes=256 * MIB, nodes=(GuestNode(0, (0,), 128 * MIB), GuestNode(1, (), 128 * MIB)),
                          shape=CpuShape(sockets=1), distances=[[10, 21], [21, 10]])
    assert layout_class(cpuless) == "q35, symmetric, cpuless"


def test_the_same_failure_on_another_class_of_layout_is_another_signature() -> None:
    asymmetric, flat = "q35, asymmetric", "q35, no table"
    assert signature(TOPOLOGY, asymmetric) == "topology: distances (layout: q35, asymmetric)"
    assert signature(SPAN, flat) == signature(SPAN_OTHER, flat) != signature(SPAN, asymmetric)
    assert classless(signature(SPAN, flat)) == signature(SPAN)
    records = [record(0, TOPOLOGY, layout=asymmetric), record(1, TOPOLOGY, layout=flat), record(2, TOPOLOGY)]
    summary = summarise(records, 3)
    assert summary.reasons == {signature(TOPOLOGY, asymmetric): 1, signature(TOPOLOGY, flat): 1, "topology: distances": 1}
    known = summarise(records, 3, Expected(frozenset({signature(TOPOLOGY, asymmetric)})))
    assert (known.new_items, known.known_items) == (2, 1)


def test_a_version_1_file_still_reads_and_knows_its_signatures_on_every_class(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"numaopt_expect": 1, "signatures": [{"signature": "topology: distances", "items": 2}]}))
    old = read_expect(path)
    records = [record(0, TOPOLOGY, layout="q35, asymmetric"), record(1, TOPOLOGY, layout="pc, no table"), record(2, SPAN)]
    summary = summarise(records, 3, old)
    assert (summary.new_items, summary.known_items) == (1, 2)
    # Written again, it is a version 2 file that keeps the old classless entry (still known everywhere).
    again = json.loads(expect_text(summary.reasons, summary.examples, old))
    assert again["numaopt_expect"] == 2
    assert "topology: distances" in [entry["signature"] for entry in again["signatures"]]


def test_a_written_file_keeps_the_signatures_it_was_given() -> None:
    text = expect_text({"topology: distances": 1}, {}, Expected(frozenset({"hang: no-report"})))
    assert [e["signature"] for e in json.loads(text)["signatures"]] == ["hang: no-report", "topology: distances"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("{", "not JSON"),
        ("[]", '"numaopt_expect": 2 (or 1)'),
        ('{"numaopt_expect": 3, "signatures": []}', '"numaopt_expect": 2 (or 1)'),
        ('{"numaopt_expect": 1, "signatures": {}}', '"signatures" must be a list'),
        ('{"numaopt_expect": 1, "signatures": [{"signature": ""}]}', "signatures[0]: expected an object"),
        ('{"numaopt_expect": 1, "signatures": ["x"]}', "signatures[0]: expected an object"),
    ],
)
def test_a_bad_expect_file_is_one_line_naming_file_and_option(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "known.json"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_expect(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: --expect: ") and says in message and "\n" not in message


def test_two_kernels_differ_only_when_their_signatures_differ() -> None:
    assert kernel_difference([SPAN], [SPAN_OTHER]) == []
    assert kernel_difference([], []) == []
    [differ] = kernel_difference([SPAN, TOPOLOGY], [])
    assert differ["oracle"] == "kernels" and differ["message"] == f"kernel A: {signature(SPAN)} | topology: distances; kernel B: pass"
    # Its own signature is stable across sizes, so a regression found once can be made known.
    assert signature(differ) == signature(kernel_difference([SPAN_OTHER, TOPOLOGY], [])[0])
