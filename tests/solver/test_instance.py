"""The search's instance: built complete at once, and never changed after."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from numaopt.hosts.shapes import block_host, equal_groups, matrix_host
from numaopt.model import PlacementRequest, Workload
from numaopt.solver.instance import build_instance


def interleaved_sockets_request() -> PlacementRequest:
    """Two sockets of two nodes, numbered so that the sockets interleave (0 and 2 share
    one, 1 and 3 the other): the labels then differ from the node positions."""
    order = [0, 2, 1, 3]
    d = block_host(2, 2).distances[np.ix_(order, order)]
    return PlacementRequest(matrix_host(d, cpus_per_node=4), Workload(equal_groups(4, 2)))


def test_symmetry_structure_is_there_when_the_instance_is_built() -> None:
    inst = build_instance(interleaved_sockets_request())
    assert inst.hierarchical
    # Each socket's nodes get neighbouring labels, so every block is a label range.
    assert inst.labels == [0, 2, 1, 3]
    blocks = {block for sibling in inst.sibling_classes for block in sibling.blocks}
    assert {(0, 2), (1, 3)} <= blocks
    for block in blocks:
        labels = sorted(inst.labels[p] for p in block)
        assert labels == list(range(labels[0], labels[0] + len(block)))


def test_an_instance_cannot_be_patched() -> None:
    inst = build_instance(interleaved_sockets_request())
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.labels = list(range(inst.num_nodes))  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        inst.hierarchical = False  # type: ignore[misc]
