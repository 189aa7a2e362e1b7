"""``-numa hmat-lb`` and ``-numa hmat-cache`` (hw/core/numa.c parse_numa_hmat_lb,
parse_numa_hmat_cache) and the initiator rules of ``-machine hmat=on``.

Apart from numa.py because HMAT is a world of its own with its own order of refusals
(every check below mirrors QEMU 7.2's, message for message, in its order) and because it
adds nothing to the layout: it only decides what QEMU refuses.
"""

from __future__ import annotations

import dataclasses

from numaopt.layout import hmat_range_message
from numaopt.model import GuestLayout, HmatCache, HmatLb
from numaopt.rules import Severity
from numaopt.units import MIB

from .common import Arg, Values
from .state import LbTable, NumaState
from .values import show

HMAT_LB_LEVELS = 4  # include/sysemu/numa.h HMAT_LB_LEVELS: memory and 3 cache levels


def read_hmat_lb(numa: NumaState, arg: Arg, values: Values) -> None:
    """-numa hmat-lb: one latency or bandwidth between an initiator and a target node."""
    initiator, target = values.number("initiator"), values.number("target")
    hierarchy, data_type = values.text("hierarchy"), values.text("data-type")
    assert initiator is not None and target is not None and hierarchy and data_type  # required rows
    if not numa.require_hmat(arg):
        return
    refused = _lb_refusal(numa, initiator, target, (hierarchy, data_type), values)
    if refused:
        numa.context.add(Severity.ERROR, refused[0], refused[1], f"at {show(arg.shown)}")


def _lb_refusal(
    numa: NumaState, initiator: int, target: int, table_key: tuple[str, str], values: Values
) -> tuple[str, str] | None:
    """QEMU 7.2's checks of one hmat-lb, in its order; the value is recorded when none fails."""
    count = len(numa.nodes)
    # QEMU compares with ">" (not ">="): initiator=N of N nodes gets the next message instead.
    if initiator > count:
        return "hmat-lb-initiator", f"Invalid initiator={initiator}, it should be less than {count}"
    if target > count:
        return "hmat-lb-target", f"Invalid target={target}, it should be less than {count}"
    if initiator not in numa.has_cpu:
        return "hmat-lb-initiator", f"Invalid initiator={initiator}, it isn't an initiator proximity domain"
    if target not in numa.nodes:
        return "hmat-lb-target", f"The target={target} should point to an existing node"
    table = numa.hmat_lb.setdefault(table_key, LbTable())
    is_latency = table_key[1].endswith("latency")
    kind, other = ("latency", "bandwidth") if is_latency else ("bandwidth", "latency")
    value, other_value = values.number(kind), values.number(other)
    if value is None:
        return "hmat-lb-value", f"Missing '{kind}' option"
    if other_value is not None:
        return "hmat-lb-value", f"Invalid option '{other}' since the data type is {kind}"
    if not is_latency and value % MIB:
        return (
            "hmat-lb-alignment",
            f"Bandwidth {value} between initiator={initiator} and target={target} should be 1MB aligned",
        )
    if (initiator, target) in table.pairs:
        return (
            "hmat-lb-duplicate",
            f"Duplicate configuration of the {kind} for initiator={initiator} and target={target}",
        )
    if value and not (table.add_latency(value) if is_latency else table.add_bandwidth(value)):
        return "hmat-lb-range", hmat_range_message(is_latency, value, initiator, target)
    if value:  # a 0 counts as not given (lb_info_provided)
        numa.lb_provided[target] = numa.lb_provided.get(target, 0) | (1 if is_latency else 2)
    table.pairs.add((initiator, target))
    numa.lb_entries.append(HmatLb(initiator, target, table_key[1], value, table_key[0]))
    return None


def read_hmat_cache(numa: NumaState, arg: Arg, values: Values) -> None:
    """-numa hmat-cache: one memory-side cache level of a node."""
    node_id, size, level = values.number("node-id"), values.number("size"), values.number("level")
    assert node_id is not None and size is not None and level is not None  # required rows
    if not numa.require_hmat(arg):
        return
    refused = _cache_refusal(numa, node_id, size, level)
    if refused:
        numa.context.add(Severity.ERROR, "hmat-cache", refused, f"at {show(arg.shown)}")
        return
    line = values.number("line")
    associativity, policy = values.text("associativity"), values.text("policy")
    assert line is not None and associativity and policy  # required rows
    numa.cache_entries.append(HmatCache(node_id, size, level, associativity, policy, line))


def with_hmat(layout: GuestLayout, numa: NumaState) -> GuestLayout:
    """``layout`` with what the HMAT options gave: hmat=, the initiators given explicitly
    (not those QEMU fills in, a vCPU node's itself), and the accepted hmat-lb and hmat-cache;
    ``layout`` as it is when QEMU refused any of it (the reader has said so, and
    check_layout would say it again)."""
    if any(f.code.startswith("hmat") for f in numa.context.findings):
        return layout
    nodes = tuple(
        dataclasses.replace(node, initiator=numa.nodes[node.node_id].initiator)
        if node.node_id in numa.nodes
        else node
        for node in layout.nodes
    )
    return dataclasses.replace(
        layout, nodes=nodes, hmat=numa.hmat_on, hmat_lb=tuple(numa.lb_entries), hmat_cache=tuple(numa.cache_entries)
    )


def _cache_refusal(numa: NumaState, node_id: int, size: int, level: int) -> str | None:
    """QEMU 7.2's checks of one hmat-cache, in its order; the cache is recorded when none fails."""
    count = len(numa.nodes)
    if node_id >= count:
        return f"Invalid node-id={node_id}, it should be less than {count}"
    if numa.lb_provided.get(node_id, 0) != 3:
        return (
            f"The latency and bandwidth information of node-id={node_id} should be provided before memory "
            "side cache attributes"
        )
    if not 1 <= level < HMAT_LB_LEVELS:
        return f"Invalid level={level}, it should be larger than 0 and less than or equal to {HMAT_LB_LEVELS - 1}"
    if (node_id, level) in numa.hmat_cache:
        return f"Duplicate configuration of the side cache for node-id={node_id} and level={level}"
    below = numa.hmat_cache.get((node_id, level - 1))
    if level > 1 and below is None:
        return f"Cache level={level - 1} shall be defined first"
    if level > 1 and below is not None and size <= below:
        return (
            f"Invalid size={size}, the size of level={level} should be larger than the size({below}) "
            f"of level={level - 1}"
        )
    above = numa.hmat_cache.get((node_id, level + 1))
    if above is not None and size >= above:
        return (
            f"Invalid size={size}, the size of level={level} should be less than the size({above}) of level={level + 1}"
        )
    numa.hmat_cache[node_id, level] = size
    return None


def validate_initiators(numa: NumaState, ids: list[int]) -> None:
    """numa_validate_initiator (QEMU 7.2): a node's initiator= is a declared node with
    vCPUs mapped explicitly (QEMU's default mapping comes later and does not count)."""
    for node_id in ids:
        initiator = numa.initiators.get(node_id)
        if initiator is None:
            continue
        if initiator not in numa.nodes:
            message = f"NUMA node {initiator} is missing, use '-numa node' option to declare it first"
        elif initiator not in numa.has_cpu:
            message = f"The initiator of NUMA node {node_id} is invalid"
        else:
            continue
        numa.context.add(Severity.ERROR, "hmat-initiator", message)
        return
