"""The search part of a problem file: ``[host]``, ``[workload]``, ``[objective]`` -> PlacementRequest.

Reads already-parsed TOML tables (``problem.py`` owns the TOML parser); every error names
the file and key path. The schema is documented in ``docs/problem-format.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from numaopt.inputs import (
    MAX_SEED,
    MAX_THREADS_PER_CORE,
    MAX_TOTAL_TRAFFIC,
    MAX_TRAFFIC_WEIGHT,
    MAX_VCPUS,
    MAX_WORKERS,
    plain,
    shown,
)
from numaopt.layout import MAX_NODES
from numaopt.model import (
    BackendKind,
    Group,
    HostTopology,
    Machine,
    MemoryBackend,
    ObjectiveKind,
    PlacementRequest,
    Rule,
    SearchSettings,
    SharedHostRequest,
    Traffic,
    VmRequest,
    Workload,
)
from numaopt.problem import schema
from numaopt.problem.schema import MAX_DISTANCE_LIMIT, MAX_GROUPS, MAX_NAME_CHARS, MAX_PRIORITY, cpu_list, keys
from numaopt.tables import TableReader
from numaopt.units import format_cpulist, parse_duration, parse_size

HOST_EXTRA_KEYS = ("reserved_cpus",)  # the rest of [host] is numaopt.hosts' to read
WORKLOAD_KEYS = keys(schema.Workload)
GROUP_KEYS = keys(schema.Group)
TRAFFIC_KEYS = keys(schema.Traffic)
MAX_DISTANCE_KEYS = keys(schema.MaxDistance)
OBJECTIVE_KEYS = keys(schema.Objective)
VM_KEYS = tuple(key for key in keys(schema.Vm) if key not in WORKLOAD_KEYS)


def read_host(table: dict[str, Any], source: str, base_dir: Path) -> tuple[HostTopology, tuple[int, ...], list[str]]:
    """The host (inline, or imported from the files it names), reserved CPUs, and warnings."""
    from numaopt.hosts import host_findings, host_from_problem

    host, warnings = host_from_problem(table, base_dir, source, "host", also_known=HOST_EXTRA_KEYS)
    # Real hardware quirks (asymmetric SLIT, triangle violations on d - 10, memory-only
    # nodes) are worth saying, never refusing.
    warnings += [f.removeprefix("warning: ") for f in host_findings(host) if f.startswith("warning: ")]
    reader = TableReader(source, {k: v for k, v in table.items() if k in HOST_EXTRA_KEYS}, "host", HOST_EXTRA_KEYS)
    reserved: tuple[int, ...] = reader.convert("reserved_cpus", cpu_list, default=())
    missing: list[int] = sorted(set(reserved) - set(host.cpu_to_node()))
    if missing:
        raise reader.error(
            f"CPUs {format_cpulist(missing)} are not host CPUs (host CPUs: {format_cpulist(host.cpu_to_node())})",
            "reserved_cpus",
        )
    return host, tuple(reserved), warnings


def _name(reader: TableReader, key: str, what: str) -> str:
    """A name for groups and VMs: 1..64 printable characters (it appears in messages and plans)."""
    name = reader.get(key, str, what, required=True)
    if not 1 <= len(name) <= MAX_NAME_CHARS or not name.isprintable():
        raise reader.error(f"expected {what} of 1..{MAX_NAME_CHARS} printable characters, got {shown(name)}", key)
    return name


def _names(reader: TableReader, key: str, value: Any, known: set[str], at_least: int) -> tuple[str, ...]:
    if not isinstance(value, list) or len(value) < at_least or not all(isinstance(v, str) for v in value):
        raise reader.error(f"expected a list of at least {at_least} group names, got {shown(value)}", key)
    unknown = [v for v in value if v not in known]
    if unknown:
        raise reader.error(f"unknown group {shown(unknown[0])} (groups: {plain(', '.join(sorted(known)), 120)})", key)
    return tuple(value)


def read_workload(
    table: dict[str, Any], source: str, host: HostTopology, path: str = "workload", also_known: tuple[str, ...] = ()
) -> tuple[Workload, Machine, MemoryBackend]:
    reader = TableReader(source, {k: v for k, v in table.items() if k not in also_known}, path, WORKLOAD_KEYS + also_known)
    threads = reader.integer("threads_per_core", 1, MAX_THREADS_PER_CORE, "a number of threads per core", default=1)
    machine_name = reader.get("machine", str, "q35, pc or virt", default="q35")
    try:
        machine = Machine(machine_name)
    except ValueError:
        raise reader.error(f"unknown machine {shown(machine_name)} (valid: q35, pc, virt)", "machine") from None
    page = reader.convert("page_size", parse_size) if reader.has("page_size") else None
    if page is not None and (page <= 0 or page & (page - 1)):
        raise reader.error(f"page size must be a power of two such as 2MiB or 1GiB, got {page} bytes", "page_size")
    mem_path = reader.get("mem_path", str, "a hugetlbfs mount such as /dev/hugepages", default=None)
    if mem_path and not page:
        raise reader.error("mem_path goes with page_size (huge pages)", "mem_path")
    backend = (
        MemoryBackend(BackendKind.FILE, mem_path=mem_path or "/dev/hugepages", page_size_bytes=page, share=True)
        if page
        else MemoryBackend()
    )
    host_ids = {node.node_id for node in host.nodes}
    groups = _read_groups(reader, threads, host_ids)
    names = {g.name for g in groups}
    traffic = _read_traffic(reader, names)
    rules: list[tuple[Rule, tuple[str, ...]]] = []
    for key, rule in (("together", Rule.TOGETHER), ("apart", Rule.APART)):
        for index, item in enumerate(reader.get(key, list, "a list of lists of group names", default=[])):
            rules.append((rule, _names(reader, f"{key}[{index}]", item, names, 2)))
    limits: list[tuple[str, str, int]] = []
    for index, item in enumerate(reader.get("max_distance", list, "a list of { between, distance } tables", default=[])):
        path = f"max_distance[{index}]"
        if not isinstance(item, dict):
            raise reader.error(f"expected {{ between = [\"a\", \"b\"], distance = 16 }}, got {shown(item)}", path)
        sub = TableReader(source, item, reader.where(path), MAX_DISTANCE_KEYS)
        a, b = _names(sub, "between", sub.get("between", list, "two group names", required=True), names, 2)[:2]
        limits.append((a, b, sub.integer("distance", 10, MAX_DISTANCE_LIMIT, "a distance such as 16", required=True)))
    guest_nodes, max_guest_nodes = _read_guest_nodes(reader, host)
    workload = Workload(
        groups=groups,
        threads_per_core=threads,
        traffic=traffic,
        rules=tuple(rules),
        max_distances=tuple(limits),
        guest_nodes=guest_nodes,
        max_guest_nodes=max_guest_nodes,
        page_size_bytes=page,
        maxmem_bytes=reader.convert("maxmem", parse_size) if reader.has("maxmem") else None,
        slots=reader.integer("slots", 0, 256, "a number of DIMM slots (QEMU takes 256 at most)", default=0),
    )
    if workload.maxmem_bytes is not None and workload.maxmem_bytes < workload.memory_bytes:
        raise reader.error(f"{workload.maxmem_bytes} bytes is less than the workload's memory ({workload.memory_bytes} bytes)", "maxmem")
    if workload.slots and workload.maxmem_bytes is None:
        raise reader.error("slots need maxmem (the memory they may add up to)", "slots")
    priced = sum(flow.weight for flow in workload.priced_traffic)
    if priced > MAX_TOTAL_TRAFFIC:
        # Weights times distances must stay exact in CP-SAT (and inside int64).
        raise reader.error(
            f"the traffic weights add up to {priced} (split groups count their heaviest flow once more, as "
            f"self-traffic): at most {MAX_TOTAL_TRAFFIC}; scale the weights down",
            "traffic",
        )
    for key, total, what in (("vcpus", workload.vcpus, "vCPUs"), ("memory", workload.memory_bytes, "memory")):
        if reader.has(key):
            stated = reader.convert(key, parse_size) if key == "memory" else reader.get(key, int, "a number of vCPUs")
            if stated != total:
                raise reader.error(f"says {stated} but the groups add up to {total} ({what})", key)
    return workload, machine, backend


def _read_groups(reader: TableReader, threads: int, host_ids: set[int]) -> tuple[Group, ...]:
    raw = reader.get("groups", list, "a list of group tables", default=None)
    if raw is None:
        # No groups: the whole VM is one group that may split, talking to itself.
        if not reader.has("vcpus") or not reader.has("memory"):
            raise reader.error("give groups, or vcpus and memory for one group", "groups")
        vcpus = reader.integer("vcpus", 1, MAX_VCPUS, "a number of vCPUs")
        if vcpus % threads:
            raise reader.error(f"{vcpus} vCPUs: expected a multiple of threads_per_core ({threads})", "vcpus")
        return (Group("vm", vcpus, reader.convert("memory", parse_size), split=True),)
    if not raw:
        raise reader.error("give at least one group", "groups")
    if len(raw) > MAX_GROUPS:
        raise reader.error(f"{len(raw)} groups: at most {MAX_GROUPS}", "groups")
    groups: list[Group] = []
    for index, item in enumerate(raw):
        path = f"groups[{index}]"
        if not isinstance(item, dict):
            raise reader.error(f"expected a table such as {{ name = \"db\", vcpus = 8, memory = \"16GiB\" }}, got {shown(item)}", path)
        sub = TableReader(reader.source, item, reader.where(path), GROUP_KEYS)
        name = _name(sub, "name", "a group name")
        vcpus = sub.integer("vcpus", 0, MAX_VCPUS, "a number of vCPUs", required=True)
        if vcpus % threads:
            raise sub.error(f"{vcpus} vCPUs: expected a multiple of threads_per_core ({threads}), 0 for memory only", "vcpus")
        memory = sub.convert("memory", parse_size, required=True)
        if vcpus == 0 and memory == 0:
            raise sub.error("a group needs vCPUs or memory", "memory")
        if vcpus == 0 and sub.get("split", bool, "true or false", default=False):
            raise sub.error("a memory-only group (vcpus = 0) cannot split", "split")
        allowed: tuple[int, ...] = sub.convert("nodes", lambda value: cpu_list(value, "node"), default=())
        unknown: list[int] = sorted(set(allowed) - host_ids)
        if unknown:
            raise sub.error(f"host node {unknown[0]} does not exist (host nodes: {format_cpulist(host_ids)})", "nodes")
        if any(g.name == name for g in groups):
            raise sub.error(f"group {shown(name)} is defined twice", "name")
        groups.append(Group(name, vcpus, memory, tuple(allowed), sub.get("split", bool, "true or false", default=False)))
    return tuple(groups)


def _read_traffic(reader: TableReader, names: set[str]) -> tuple[Traffic, ...]:
    flows = []
    for index, item in enumerate(reader.get("traffic", list, "a list of { between, weight } tables", default=[])):
        path = f"traffic[{index}]"
        if not isinstance(item, dict):
            raise reader.error(f"expected {{ between = [\"a\", \"b\"], weight = 10 }}, got {shown(item)}", path)
        sub = TableReader(reader.source, item, reader.where(path), TRAFFIC_KEYS)
        if sub.has("between") == (sub.has("from") or sub.has("to")):
            raise sub.error("give either between = [a, b] or from = a, to = b")
        if sub.has("between"):
            between = sub.get("between", list, "one or two group names", required=True)
            pair = _names(sub, "between", between, names, 1)
            if len(pair) > 2:
                raise sub.error(f"expected one or two group names, got {len(pair)}", "between")
            a, b = pair[0], pair[-1]
        else:
            a = _names(sub, "from", [sub.get("from", str, "a group name", required=True)], names, 1)[0]
            b = _names(sub, "to", [sub.get("to", str, "a group name", required=True)], names, 1)[0]
        weight = sub.integer("weight", 0, MAX_TRAFFIC_WEIGHT, "a whole-number weight", required=True)
        flows.append(Traffic(a, b, weight))
    return tuple(flows)


def _read_guest_nodes(reader: TableReader, host: HostTopology) -> tuple[int | None, int | None]:
    if not reader.has("guest_nodes"):
        return None, None
    value = reader.table["guest_nodes"]
    if value == "auto":
        return None, None
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_NODES:
        return value, None
    if isinstance(value, dict) and set(value) == {"max"}:
        number = value["max"]
        if isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= MAX_NODES:
            return None, number
    raise reader.error(f'expected "auto", a number 1..{MAX_NODES}, or {{ max = N }}, got {shown(value)}', "guest_nodes")


def read_objective(table: dict[str, Any] | None, source: str) -> SearchSettings:
    reader = TableReader(source, table or {}, "objective", OBJECTIVE_KEYS)
    kind_name = reader.get("kind", str, "locality, spread or compact", default="locality")
    try:
        kind = ObjectiveKind(kind_name)
    except ValueError:
        raise reader.error(f"unknown objective {shown(kind_name)} (valid: locality, spread, compact)", "kind") from None
    time_limit = reader.convert("time_limit", parse_duration, default=10.0)
    workers = reader.integer("workers", 1, MAX_WORKERS, "a number of CP-SAT workers", default=1)
    seed = reader.integer("seed", 0, MAX_SEED, "a seed", default=0)
    return SearchSettings(kind=kind, time_limit_s=time_limit, seed=seed, workers=workers)


def read_vms(data: dict[str, Any], source: str, base_dir: Path) -> tuple[SharedHostRequest, list[str]]:
    """Several VMs on one host: ``[host]``, ``[[vm]]`` (each a [workload] table with a name
    and a priority), ``[objective]``, and ``sockets_apart`` (pairs of VM names)."""
    top = TableReader(source, data, "", keys(schema.SharedHost))
    host_table = top.get("host", dict, "a [host] table", required=True)
    raw_vms = top.get("vm", list, "[[vm]] tables, one per VM", required=True)
    host, reserved, warnings = read_host(host_table, source, base_dir)
    if not raw_vms:
        raise top.error("give at least one [[vm]] table", "vm")
    vms: list[VmRequest] = []
    for index, table in enumerate(raw_vms):
        path = f"vm[{index}]"
        if not isinstance(table, dict):
            raise top.error("expected a table ([[vm]] with name, vcpus, memory, groups ...)", path)
        own = TableReader(source, {k: v for k, v in table.items() if k in VM_KEYS}, path, VM_KEYS)
        name = _name(own, "name", "a VM name")
        if not name or "/" in name or any(vm.name == name for vm in vms):
            raise own.error(f"expected a unique VM name without '/', got {shown(name)}", "name")
        priority = own.get("priority", int, f"a whole number 1..{MAX_PRIORITY}", default=1)
        if not 1 <= priority <= MAX_PRIORITY:
            raise own.error(f"expected a whole number 1..{MAX_PRIORITY}, got {priority}", "priority")
        for key in ("maxmem", "slots"):
            if key in table:
                raise top.error("room to grow (maxmem, slots) is for a one-VM [workload]; [[vm]] takes none yet", f"{path}.{key}")
        workload, machine, backend = read_workload(table, source, host, path, also_known=VM_KEYS)
        vms.append(VmRequest(name, workload, machine, backend, priority))
    names = {vm.name for vm in vms}
    apart: list[tuple[str, str]] = []
    for index, pair in enumerate(top.get("sockets_apart", list, "a list of [vm, vm] pairs", default=[])):
        valid = isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) and v in names for v in pair)
        if not valid or pair[0] == pair[1]:
            raise top.error(f"expected two different VM names (VMs: {', '.join(sorted(names))}), got {shown(pair)}", f"sockets_apart[{index}]")
        apart.append((pair[0], pair[1]))
    settings = read_objective(top.get("objective", dict, "an [objective] table", default=None), source)
    return SharedHostRequest(host, tuple(vms), reserved, settings, tuple(apart)), warnings


def read_search(data: dict[str, Any], source: str, base_dir: Path) -> tuple[PlacementRequest, list[str]]:
    top = TableReader(source, data, "", keys(schema.Search))
    host_table = top.get("host", dict, "a [host] table", required=True)
    workload_table = top.get("workload", dict, "a [workload] table", required=True)
    host, reserved, warnings = read_host(host_table, source, base_dir)
    workload, machine, backend = read_workload(workload_table, source, host)
    settings = read_objective(top.get("objective", dict, "an [objective] table", default=None), source)
    request = PlacementRequest(host, workload, reserved, settings, machine, backend)
    return request, warnings
