"""``-numa node``, ``-numa dist`` and ``-numa cpu``, applied in command-line order as
hw/core/numa.c applies them.

The ``-numa`` types are rows in grammar.py (``NUMA_TYPES``: each type's keys, their
types, and the function that applies it: here, or in hmat.py for the two HMAT types).
Each function gets the state the options before it built (state.py) and the option's
values, already typed and checked as its row says.
"""

from __future__ import annotations

from numaopt.layout import MAX_NODES
from numaopt.model import Machine
from numaopt.rules import Severity

from .common import Arg, Context, Values
from .state import Node, NumaState
from .values import show

# ---------------------------------------------------------------------------------------
# -numa node (parse_numa_node)


def read_node(numa: NumaState, arg: Arg, values: Values) -> None:
    """-numa node: a node, its vCPUs (cpus=), its memory (mem= or memdev=) and its HMAT initiator."""
    context = numa.context
    where = f"at {show(arg.shown)}"
    nodeid = values.number("nodeid")
    node_id = len(numa.nodes) if nodeid is None else nodeid
    initiator = values.number("initiator")
    if node_id >= MAX_NODES:
        context.add(Severity.ERROR, "node-id-range", f"Max number of NUMA nodes reached: {node_id}", where)
        return
    if node_id in numa.nodes:
        implied = "" if nodeid is not None else f" (without nodeid= a node gets the number of nodes so far, {node_id})"
        context.add(Severity.ERROR, "duplicate-node", f"Duplicate NUMA nodeid: {node_id}", where + implied)
        return
    node = Node(node_id, initiator=initiator)
    if initiator is not None and numa.hmat_on:
        numa.initiators[node_id] = initiator  # set before the node's cpus= are mapped
    for cpu in values.numbers("cpus"):
        if cpu >= numa.maxcpus:
            node.bad_cpus.append(cpu)  # check_layout: "CPU index (%u) should be smaller than maxcpus (%d)"
        else:
            numa.assign(cpu, node_id, where)
    _node_memory(numa, node, values.number("mem"), values.text("memdev"), where)
    if initiator is not None:
        numa.require_hmat(arg)
    numa.nodes[node_id] = node


def _node_memory(numa: NumaState, node: Node, mem: int | None, memdev: str | None, where: str) -> None:
    """A node's memory: mem= (machine types up to 5.0) or memdev= (a backend), never both kinds."""
    context = numa.context
    numa.have_mem = numa.have_mem or mem is not None
    numa.have_memdev = numa.have_memdev or memdev is not None
    if (mem is not None and numa.have_memdev) or (memdev is not None and numa.have_mem):
        context.add(
            Severity.ERROR,
            "mem-memdev-mixed",
            "numa configuration should use either mem= or memdev=,mixing both is not allowed",
            where,
        )
    if mem is not None:
        if numa.board.machine_type.numa_mem_supported:
            context.add(
                Severity.WARNING,
                "mem-deprecated",
                "Parameter -numa node,mem is deprecated, use -numa node,memdev instead",
            )
        else:
            context.add(
                Severity.ERROR,
                "mem-unsupported",
                "Parameter -numa node,mem is not supported by this machine type",
                f"Use -numa node,memdev instead ({where}; mem= works only on machine types up to 5.0)",
            )
        node.memory_bytes = mem
    if memdev is not None:
        backend = numa.backends.get(memdev)
        if backend is None:
            context.add(
                Severity.ERROR,
                "memdev-missing",
                f"memdev={show(memdev, 60)} is ambiguous",
                f"{where}: no memory-backend object has id={show(memdev, 60)}",
            )
        else:
            node.memory_bytes = backend.size
            node.memdev = memdev
            backend.users.append(node.node_id)


# ---------------------------------------------------------------------------------------
# -numa dist (parse_numa_distance)


def read_dist(numa: NumaState, arg: Arg, values: Values) -> None:
    """-numa dist: one distance, from src to dst (both declared before)."""
    src, dst, val = values.number("src"), values.number("dst"), values.number("val")
    assert src is not None and dst is not None and val is not None  # required rows
    where = f"at {show(arg.shown)}"
    if src >= MAX_NODES or dst >= MAX_NODES:
        name = "src" if src >= MAX_NODES else "dst"
        numa.context.add(
            Severity.ERROR,
            "dist-node-range",
            f"Parameter '{name}' expects an integer between 0 and {MAX_NODES - 1}",
            where,
        )
        return
    if src not in numa.nodes or dst not in numa.nodes:
        numa.context.add(
            Severity.ERROR,
            "dist-node-missing",
            "Source/Destination NUMA node is missing. Please use '-numa node' option to declare it first.",
            where,
        )
    # Kept even when refused (< 10, local != 10): the layout's matrix carries those rules.
    numa.given[src, dst] = val


# ---------------------------------------------------------------------------------------
# -numa cpu (set_numa_options, machine_set_cpu_numa_node)


def read_cpu(numa: NumaState, arg: Arg, values: Values) -> None:
    """-numa cpu: every vCPU slot whose topology ids match goes to node-id."""
    context = numa.context
    where = f"at {show(arg.shown)}"
    node_id = values.number("node-id")
    if node_id is None:
        context.add(Severity.ERROR, "cpu-node-id-missing", "Missing mandatory node-id property", where)
        return
    if node_id not in numa.nodes and not _undeclared_node(context, node_id, where):
        return
    props: dict[str, int] = {}
    for key in values.given():
        value = values.number(key)
        if key != "node-id" and value is not None:
            props[key] = value
    supported = _supported_ids(numa)
    for key in ("thread-id", "core-id", "cluster-id", "socket-id", "die-id"):  # QEMU's order
        if key in props and key not in supported:
            context.add(Severity.ERROR, "cpu-prop-unsupported", f"{key} is not supported", where)
            return
    matching: set[int] | None = None
    for key, value in props.items():
        slots = numa.slots_with(key).get(value, set())
        matching = slots if matching is None else matching & slots
    if matching is None:
        matching = set(range(numa.maxcpus))  # only node-id: every slot
    for cpu in sorted(matching):
        if not numa.assign(cpu, node_id, where):
            return  # QEMU stops at the first conflict
    if not matching:
        context.add(Severity.ERROR, "cpu-no-match", "no match found", f"{where}: no vCPU slot has these ids")


def _undeclared_node(context: Context, node_id: int, where: str) -> bool:
    """QEMU's error for a node-id no -numa node declared; True if reading goes on (QEMU 7.2
    goes on with an id in range, and is undefined beyond it)."""
    message = (
        f"Invalid node-id={node_id}, NUMA node must be defined with -numa node,nodeid=ID before it's used "
        "with -numa cpu,node-id=ID"
    )
    if 0 <= node_id < MAX_NODES:
        context.add(Severity.ERROR, "cpu-node-undeclared", message, where)
        return True
    # QEMU 7.2 indexes its node table with node-id unchecked: -1 is taken silently,
    # large values read out of bounds (node-id=5000 crashed it with SIGSEGV).
    context.add(
        Severity.ERROR,
        "cpu-node-id-range",
        message,
        f"{where}: node ids are 0-{MAX_NODES - 1}; QEMU 7.2 does not range-check node-id here "
        "(it accepts -1 and crashes on large values)",
    )
    return False


def _supported_ids(numa: NumaState) -> set[str]:
    """x86_possible_cpu_arch_ids: die-id only with dies > 1, never cluster-id;
    virt_possible_cpu_arch_ids (7.2): socket, cluster, core and thread ids, never die-id."""
    if numa.board.machine is Machine.VIRT:
        return {"socket-id", "cluster-id", "core-id", "thread-id"}
    return {"socket-id", "core-id", "thread-id"} | ({"die-id"} if numa.board.shape.dies > 1 else set())
