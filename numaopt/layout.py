"""Complete and check a guest layout: defaults, the -smp shape, node boundaries.

``check_layout`` judges everything but the distances' own values (those are in
``distances``) against one rule set and returns findings; nothing here raises for a
rule a layout breaks, because ``numaopt check`` must be able to say all of them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from numaopt.distances import distance_findings
from numaopt.distances.sched_groups import broken_domain_findings, short_tree_findings
from numaopt.model import CpuShape, GuestLayout, HmatLb, Machine
from numaopt.rules import Finding, RuleSet, Severity
from numaopt.units import KIB, MIB, UINT16_MAX, UINT64_MAX, format_cpulist, format_size

MAX_NODES = 128  # QEMU include/sysemu/numa.h MAX_NODES
RAM_ALIGN = 8 * 1024  # QEMU machine_set_mem rounds -m up to 8 KiB
SMALL_NODE_BYTES = 4 * MIB  # x86 Linux < 6.7 skips smaller nodes (NODE_MIN_SIZE)
MEMORY_GRANULE = 128 * MIB  # x86_64 memory-section size: the recommended node granularity
# QEMU 7.2 machine limits (mc->max_cpus); query-machines reports them as cpu-max.
MAX_CPUS = {Machine.PC: 255, Machine.Q35: 288, Machine.VIRT: 512}
# The names QEMU 7.2 resolves the aliases to, as its messages print them.
MACHINE_TYPE_NAMES = {Machine.PC: "pc-i440fx-7.2", Machine.Q35: "pc-q35-7.2", Machine.VIRT: "virt-7.2"}


# ---------------------------------------------------------------------------------------
# Defaults


def split_memory(total_bytes: int, count: int, page_bytes: int = 4096) -> list[int]:
    """``total_bytes`` over ``count`` nodes as evenly as possible, in valid sizes.

    Uses 128 MiB granules when every node still gets at least one (the x86_64 section
    size, so the guest never trims a node), else the page size; the first nodes take
    the remainder one granule each.
    """
    if count <= 0:
        return []
    granule = MEMORY_GRANULE if total_bytes % MEMORY_GRANULE == 0 and total_bytes >= count * MEMORY_GRANULE else page_bytes
    units, rest = divmod(total_bytes, granule)
    base, extra = divmod(units, count)
    sizes = [(base + (1 if i < extra else 0)) * granule for i in range(count)]
    sizes[0] += rest  # a size that is no multiple of the granule stays whole on node 0
    return sizes


def split_cpus(free_cpus: Sequence[int], count: int, unit: int) -> list[tuple[int, ...]]:
    """Deal ``free_cpus`` (ascending) into ``count`` contiguous shares of whole ``unit``s."""
    units = len(free_cpus) // unit
    base, extra = divmod(units, count)
    shares: list[tuple[int, ...]] = []
    start = 0
    for i in range(count):
        size = (base + (1 if i < extra else 0)) * unit
        shares.append(tuple(free_cpus[start : start + size]))
        start += size
    if start < len(free_cpus):  # a partial unit left over goes to the last node
        shares[-1] = shares[-1] + tuple(free_cpus[start:])
    return shares


def _block_owner(cpu_to_node: dict[int, int], start: int, size: int) -> int | None:
    """The one node owning every CPU in [start, start + size), else None."""
    owners = {cpu_to_node.get(cpu, -1) for cpu in range(start, start + size)}
    return owners.pop() if len(owners) == 1 else None


def choose_shape(vcpus: int, node_cpus: Sequence[Sequence[int]], threads: int = 1) -> CpuShape:
    """The -smp shape with the largest sockets such that every node holds whole sockets.

    Sockets are aligned blocks of vCPU indices; the largest block size (a multiple of
    ``threads`` dividing ``vcpus``) that no node boundary cuts wins. Nodes of 6 and 10
    vCPUs give 2 cores per socket, 3 + 5 sockets. With one core per socket every node
    holds whole sockets as soon as it holds whole cores; ``check_layout`` reports a node
    that splits a core.
    """
    cpu_to_node = {cpu: i for i, cpus in enumerate(node_cpus) for cpu in cpus}
    if vcpus % threads:
        threads = 1
    best = threads
    for size in range(threads, vcpus + 1, threads):
        if vcpus % size:
            continue
        if all(_block_owner(cpu_to_node, start, size) is not None for start in range(0, vcpus, size)):
            best = size
    return CpuShape(sockets=vcpus // best, cores=best // threads, threads=threads)


def complete_shape(vcpus: int, given: dict[str, int], node_cpus: Sequence[Sequence[int]]) -> CpuShape:
    """Fill the levels the user left out; with only ``threads`` given, choose the sockets."""
    threads = given.get("threads", 1)
    if set(given) <= {"threads"}:
        return choose_shape(vcpus, node_cpus, threads)
    dies = given.get("dies", 1)
    clusters = given.get("clusters", 1)
    sockets = given.get("sockets")
    cores = given.get("cores")
    per_core_group = dies * clusters * threads
    if sockets is None and cores is None:
        sockets = 1
    if cores is None:
        cores = max(1, vcpus // max(1, (sockets or 1) * per_core_group))
    if sockets is None:
        sockets = max(1, vcpus // max(1, cores * per_core_group))
    return CpuShape(sockets=sockets, dies=dies, clusters=clusters, cores=cores, threads=threads)


def guest_node_order(layout: GuestLayout) -> list[int]:
    """Positions of ``layout.nodes`` in the order an ACPI guest numbers them.

    Linux numbers proximity domains in first-seen order (acpi_map_pxm_to_node) and QEMU's
    SRAT lists CPUs in index order before memory; nodes with neither are not seen.
    """
    order: list[int] = []
    owner = layout.node_of_cpu()
    for cpu in sorted(owner):
        if owner[cpu] not in order:
            order.append(owner[cpu])
    for position, node in enumerate(layout.nodes):
        if node.memory_bytes and position not in order:
            order.append(position)
    return order


def memory_tier_initiators(layout: GuestLayout) -> GuestLayout:
    """``layout`` with each CPU-less node that has memory (a CXL-like tier) given the
    initiator of the vCPU node nearest to it (lowest distance, then lowest id), and HMAT on
    when any is: the guest then links the tier to that node (access0/initiators)."""
    distances = layout.effective_distances
    with_cpus = [position for position, node in enumerate(layout.nodes) if node.cpus]
    if not with_cpus:
        return layout
    nodes = list(layout.nodes)
    for position, node in enumerate(nodes):
        if node.cpus or not node.memory_bytes or node.initiator is not None:
            continue
        nearest = min(with_cpus, key=lambda cpu_node: (int(distances[cpu_node, position]), nodes[cpu_node].node_id))
        nodes[position] = dataclasses.replace(node, initiator=nodes[nearest].node_id)
    if nodes == list(layout.nodes):
        return layout
    return dataclasses.replace(layout, nodes=tuple(nodes), hmat=True)


# ---------------------------------------------------------------------------------------
# Checks


def check_layout(layout: GuestLayout, rules: RuleSet) -> list[Finding]:
    """Every finding of ``rules`` on ``layout``, QEMU's own rules included for guest targets."""
    if rules is RuleSet.QEMU:
        return _dedup(_all_qemu_findings(layout, with_distances=True))
    # A guest or libvirt only ever sees what QEMU accepted; report QEMU's refusals too.
    found = [f for f in _all_qemu_findings(layout) if f.severity is Severity.ERROR]
    found = [Finding(rules, f.severity, f.code, f.message, f.fix) for f in found]
    if rules is RuleSet.LIBVIRT:
        found += _libvirt_findings(layout) + _hmat_target_findings(layout, rules)
    else:
        found += _guest_findings(layout, rules) + _hmat_target_findings(layout, rules)
    if layout.distances is not None:
        ids = [node.node_id for node in layout.nodes]
        judged = distance_findings(layout.distances, rules, layout.cpu_nodes_mask, ids)
        found += judged
        # The scheduler builds on the table the guest keeps: none when it refuses one.
        if rules in (RuleSet.LINUX_ACPI, RuleSet.LINUX_DT) and not any(f.severity is Severity.ERROR for f in judged):
            node_cpus = [node.cpus for node in layout.nodes]
            found += broken_domain_findings(layout.distances, node_cpus, rules)
            found += short_tree_findings(layout.distances, node_cpus, rules)
    elif layout.num_nodes > 1:
        found.append(
            Finding(rules, Severity.INFO, "default-distances", "no distances given: no SLIT, the guest assumes 10 local and 20 remote")
        )
    return _dedup(found)


def _all_qemu_findings(layout: GuestLayout, with_distances: bool = False) -> list[Finding]:
    """QEMU's verdicts in its order; its distance verdicts only ``with_distances`` (a guest's
    rule set words the table's faults its own way), but they hold back the devices' either way."""
    found = _qemu_findings(layout) + hmat_qemu_findings(layout)
    judged: list[Finding] = []
    if layout.distances is not None:
        ids = [node.node_id for node in layout.nodes]
        judged = distance_findings(layout.distances, RuleSet.QEMU, layout.cpu_nodes_mask, ids)
    found += judged if with_distances else []
    if not any(f.severity is Severity.ERROR for f in found + judged):  # QEMU plugs devices after the machine
        found += hotplug_qemu_findings(layout)
    return found


def _dedup(found: list[Finding]) -> list[Finding]:
    return list(dict.fromkeys(found))


def _qemu_findings(layout: GuestLayout) -> list[Finding]:
    """QEMU 7.2's own verdicts, in the order it reaches them: -smp (hw/core/machine-smp.c),
    then -numa node (hw/core/numa.c): node ids, CPU assignment, memory."""
    return _smp_findings(layout) + _node_id_findings(layout) + _cpu_assignment_findings(layout) + _node_memory_findings(layout)


def _qemu(severity: Severity, code: str, message: str, fix: str | None = None) -> Finding:
    return Finding(RuleSet.QEMU, severity, code, message, fix)


# What QEMU says about -smp (machine_parse_smp_config and the machine's CPU limit): before it
# reads -m, the memory backends and -numa (qemu_findings in numaopt/qemu/args puts them first).
QEMU_SMP_CODES = frozenset({"smp-dies", "smp-clusters", "smp-product", "x2apic", "max-cpus"})
# What QEMU says once it has read every option (numa_complete_configuration and after).
QEMU_COMPLETE_CODES = frozenset({"node-id-missing", "memory-total", "cpus-unassigned"})
# What QEMU says only when it plugs -device pc-dimm, after it built the board.
QEMU_DEVICE_CODES = frozenset({"memory-hotplug"})


def _smp_findings(layout: GuestLayout) -> list[Finding]:
    machine, shape = layout.machine, layout.shape
    found: list[Finding] = []
    if shape.dies > 1 and machine is Machine.VIRT:
        found.append(_qemu(Severity.ERROR, "smp-dies", "dies not supported by this machine's CPU topology"))
    if shape.clusters > 1 and machine is not Machine.VIRT:
        found.append(_qemu(Severity.ERROR, "smp-clusters", "clusters not supported by this machine's CPU topology"))
    if shape.num_cpus != layout.vcpus:
        levels = [f"sockets ({shape.sockets})"]
        levels += [f"dies ({shape.dies})"] if machine is not Machine.VIRT else [f"clusters ({shape.clusters})"]
        levels += [f"cores ({shape.cores})", f"threads ({shape.threads})"]
        found.append(_qemu(
            Severity.ERROR,
            "smp-product",
            "Invalid CPU topology: product of the hierarchy must match maxcpus: "
            f"{' * '.join(levels)} != maxcpus ({layout.vcpus})",
        ))
    if machine is not Machine.VIRT and _last_apic_id(shape) > 254:
        found.append(_qemu(
            Severity.WARNING,
            "x2apic",
            f"the last vCPU's APIC ID is {_last_apic_id(shape)} (> 254): QEMU refuses this -smp shape unless KVM "
            "provides x2APIC ('current -smp configuration requires kernel irqchip and X2APIC API support'); "
            "under TCG it always refuses",
            "fewer sockets, or cores and threads that are powers of two",
        ))
    if layout.vcpus > MAX_CPUS[machine]:
        found.append(_qemu(
            Severity.ERROR,
            "max-cpus",
            f"Invalid SMP CPUs {layout.vcpus}. The max CPUs supported by machine '{MACHINE_TYPE_NAMES[machine]}' is {MAX_CPUS[machine]}",
        ))
    return found


def _node_id_findings(layout: GuestLayout) -> list[Finding]:
    found: list[Finding] = []
    if layout.num_nodes > MAX_NODES:
        found.append(_qemu(Severity.ERROR, "max-nodes", f"Max number of NUMA nodes reached: {MAX_NODES}"))
    ids = [node.node_id for node in layout.nodes]
    seen: set[int] = set()
    for node_id in ids:
        if node_id in seen:
            found.append(_qemu(Severity.ERROR, "duplicate-node", f"Duplicate NUMA nodeid: {node_id}"))
        seen.add(node_id)
    missing = sorted(set(range(max(ids) + 1)) - seen) if ids else []
    if missing:
        found.append(_qemu(Severity.ERROR, "node-id-missing", f"numa: Node ID missing: {missing[-1]}", "number nodes 0..N-1"))
    return found


def _cpu_assignment_findings(layout: GuestLayout) -> list[Finding]:
    found: list[Finding] = []
    owner: dict[int, int] = {}
    for node in layout.nodes:
        for cpu in node.cpus:
            if cpu >= layout.vcpus:
                found.append(_qemu(Severity.ERROR, "cpu-index", f"CPU index ({cpu}) should be smaller than maxcpus ({layout.vcpus})"))
            elif cpu in owner:
                found.append(_qemu(Severity.ERROR, "cpu-assigned-twice", f"CPU is already assigned to node-id: {owner[cpu]}"))
            else:
                owner[cpu] = node.node_id
    unassigned = sorted(set(range(layout.vcpus)) - set(owner))
    if layout.nodes and unassigned:
        found.append(_qemu(
            Severity.WARNING,
            "cpus-unassigned",
            f"CPU(s) not present in any NUMA nodes: CPU {format_cpulist(unassigned)}: QEMU puts them in node 0 "
            "('All CPU(s) up to maxcpus should be described in NUMA config, ability to start up with partial "
            "NUMA mappings is obsoleted and will be removed in future')",
            "list every vCPU in exactly one node",
        ))
    return found


def _node_memory_findings(layout: GuestLayout) -> list[Finding]:
    found: list[Finding] = []
    ram = -(-layout.memory_bytes // RAM_ALIGN) * RAM_ALIGN
    node_total = sum(node.memory_bytes for node in layout.nodes)
    if layout.nodes and node_total != ram:
        fix = None
        if node_total == 0:
            fix = "since QEMU 5.2 every node's memory must be given: one memory-backend object per node and -numa node,memdev=ID"
        found.append(_qemu(
            Severity.ERROR,
            "memory-total",
            f"total memory for NUMA nodes (0x{node_total:x}) should equal RAM size (0x{ram:x})",
            fix,
        ))
    page = layout.backend.page_size_bytes
    if page:
        for node in layout.nodes:
            if node.memory_bytes % page:
                found.append(_qemu(
                    Severity.ERROR,
                    "page-multiple",
                    f"node {node.node_id}: {format_size(node.memory_bytes)} is not a multiple of the page size {format_size(page)}",
                ))
    return found


def _last_apic_id(shape: CpuShape) -> int:
    """x86 APIC ID of the last vCPU: each level takes ceil(log2(count)) bits (QEMU topology.h)."""

    def bits(count: int) -> int:
        return (count - 1).bit_length()

    thread_bits = bits(shape.threads)
    core_bits = bits(shape.cores)
    die_bits = bits(shape.dies)
    return (
        (shape.sockets - 1) << (thread_bits + core_bits + die_bits)
        | (shape.dies - 1) << (thread_bits + core_bits)
        | (shape.cores - 1) << thread_bits
        | (shape.threads - 1)
    )


def _guest_findings(layout: GuestLayout, rules: RuleSet) -> list[Finding]:
    """What a Linux guest makes of the layout (x86 ACPI or arm64 device tree): CPU
    topology units split across nodes, empty or tiny nodes, renumbered nodes."""
    found = _split_unit_findings(layout, rules) + _node_size_findings(layout, rules)
    if rules is RuleSet.LINUX_ACPI:
        found += _renumbering_findings(layout)
    if rules is RuleSet.LINUX_DT:
        found += _virt_smt_findings(layout, rules)
    return found


def _virt_smt_findings(layout: GuestLayout, rules: RuleSet) -> list[Finding]:
    """virt with threads > 1: QEMU 7.2's device tree describes no caches, so arm64 (6.1) takes
    each vCPU's last-level cache as its own and the MC level shrinks below SMT. Every booted
    guest (Debian 6.1, split or not) printed the BUG below once per vCPU
    (tests/data/guest-reports-aarch64/smt.console)."""
    if layout.machine is not Machine.VIRT or layout.shape.threads < 2:
        return []
    return [Finding(
        rules,
        Severity.ERROR,
        "virt-smt",
        f"threads = {layout.shape.threads} on virt: QEMU's device tree describes no caches, so each vCPU's "
        "last-level cache is its own, the MC scheduler level shrinks below the SMT level, and every vCPU prints "
        "'BUG: arch topology borken' then 'the SMT domain not a subset of the MC domain'",
        "threads=1 (give the vCPUs as cores)",
    )]


def _split_unit_findings(layout: GuestLayout, rules: RuleSet) -> list[Finding]:
    """A core, cluster, socket or die whose vCPUs are in different nodes."""
    shape = layout.shape
    node_of = {cpu: layout.nodes[pos].node_id for cpu, pos in layout.node_of_cpu().items()}
    cpus = range(min(layout.vcpus, shape.num_cpus))

    def first_split(block: int) -> tuple[int, int] | None:
        for cpu in cpus:
            head = cpu - cpu % block
            if head in node_of and cpu in node_of and node_of[cpu] != node_of[head]:
                return head, cpu
        return None

    found: list[Finding] = []
    if shape.threads > 1 and (hit := first_split(shape.threads)):
        head, cpu = hit
        found.append(Finding(
            rules,
            Severity.ERROR,
            "core-split",
            f"SMT core of vCPUs {head}-{head + shape.threads - 1} is split across nodes {node_of[head]} and {node_of[cpu]}: "
            f"the guest warns 'sched: CPU #{cpu}'s smt-sibling CPU #{head} is not on the same node! "
            f"[node: {node_of[cpu]} != {node_of[head]}]. Ignoring dependency.'",
            "give each node whole cores (CPU lists aligned to threads)",
        ))
    if layout.machine is Machine.VIRT:
        per_cluster = shape.cores * shape.threads
        if shape.clusters > 1 and (hit := first_split(per_cluster)):
            head, cpu = hit
            found.append(Finding(
                rules,
                Severity.ERROR,
                "cluster-split",
                f"cluster of vCPUs {head}-{head + per_cluster - 1} is split across nodes: arm64 does not clip "
                "cluster masks to the node, so the guest reports 'BUG: arch topology borken'",
                "give each node whole clusters",
            ))
        return found
    # QEMU x86 shares the L3 (the guest's LLC) per die; a die is a socket when dies = 1.
    per_die = shape.cores * shape.threads
    if (hit := first_split(per_die)) and not (shape.threads > 1 and first_split(shape.threads)):
        head, cpu = hit
        unit = "socket" if shape.dies == 1 else "die"
        found.append(Finding(
            rules,
            Severity.WARNING,
            "socket-split",
            f"{unit} of vCPUs {head}-{head + per_die - 1} (one last-level cache) is split across nodes "
            f"{node_of[head]} and {node_of[cpu]}: the guest warns 'sched: CPU #{cpu}'s llc-sibling CPU #{head} "
            f"is not on the same node! [node: {node_of[cpu]} != {node_of[head]}]. Ignoring dependency.'",
            f"give each node whole {unit}s, e.g. -smp {layout.vcpus},sockets=N with N a multiple of the node count",
        ))
    elif shape.dies > 1 and first_split(shape.cpus_per_socket):
        found.append(Finding(
            rules,
            Severity.INFO,
            "package-split",
            "a socket spans nodes along die boundaries: the guest drops its package scheduling level "
            "(x86_has_numa_in_package) and the NUMA levels take over",
        ))
    if rules is RuleSet.LINUX_ACPI and shape.dies > 1 and shape.cores == 1 and shape.threads == 1:
        # Booted: Debian's 6.1 shows each CPU alone in its package; bookworm-security's 6.12.118 as asked.
        found.append(Finding(
            rules,
            Severity.WARNING,
            "die-of-one-core",
            f"{shape.dies} dies per socket of one core and one thread each: Linux 6.1 counts one core per package "
            "(x86_max_cores = 1) and shows every vCPU as a package of its own (its package siblings are only "
            "itself); 6.12 shows the packages as asked",
            "give each die 2 or more cores, or use dies=1",
        ))
    return found


def _node_size_findings(layout: GuestLayout, rules: RuleSet) -> list[Finding]:
    """Nodes the guest does not see (neither CPUs nor memory) or, on x86 before 6.7, ignores."""
    found: list[Finding] = []
    for node in layout.nodes:
        if not node.cpus and not node.memory_bytes:
            found.append(Finding(
                rules,
                Severity.WARNING,
                "empty-node",
                f"node {node.node_id} has neither CPUs nor memory: it gets no SRAT entry, so the guest does not "
                "see it and has fewer nodes than asked",
            ))
        elif 0 < node.memory_bytes < SMALL_NODE_BYTES and rules is RuleSet.LINUX_ACPI:
            found.append(Finding(
                rules,
                Severity.WARNING,
                "small-node",
                f"node {node.node_id} has {format_size(node.memory_bytes)} of memory: x86 kernels before 6.7 "
                "ignore nodes under 4 MiB",
            ))
    return found


def _renumbering_findings(layout: GuestLayout) -> list[Finding]:
    """An ACPI guest numbers nodes in the order it first meets them (vCPUs first)."""
    visible = [layout.nodes[p].node_id for p in guest_node_order(layout)]
    if visible == sorted(visible):
        return []
    mapping = ", ".join(f"node {nid} will be guest node {i}" for i, nid in enumerate(visible) if nid != i)
    return [Finding(
        RuleSet.LINUX_ACPI,
        Severity.WARNING,
        "node-renumbered",
        f"the guest numbers nodes in first-seen order (vCPUs first): {mapping}",
        "put vCPU 0 in node 0 and number nodes in vCPU order",
    )]


def _libvirt_findings(layout: GuestLayout) -> list[Finding]:
    """libvirt's domain-XML rules (src/conf/numa_conf.c)."""
    found: list[Finding] = []
    ids = [node.node_id for node in layout.nodes]
    if ids and sorted(ids) != list(range(len(ids))):
        found.append(
            Finding(
                RuleSet.LIBVIRT,
                Severity.ERROR,
                "cell-ids",
                "Exactly one 'cell' element per guest NUMA cell allowed, non-contiguous ranges or ranges not "
                "starting from 0 are not allowed",
            )
        )
    for i, a in enumerate(layout.nodes):
        for b in layout.nodes[i + 1 :]:
            if set(a.cpus) & set(b.cpus):
                found.append(
                    Finding(
                        RuleSet.LIBVIRT,
                        Severity.ERROR,
                        "cell-overlap",
                        f"NUMA cells {b.node_id} and {a.node_id} have overlapping vCPU ids",
                    )
                )
    return found


# ---------------------------------------------------------------------------------------
# HMAT: initiators, latency/bandwidth and memory-side caches (hw/core/numa.c, QEMU 7.2)

_HMAT_OFF = (
    "ACPI Heterogeneous Memory Attribute Table (HMAT) is disabled, enable it with -machine hmat=on "
    "before using any of hmat specific options"
)


def hmat_qemu_findings(layout: GuestLayout) -> list[Finding]:
    """QEMU 7.2's refusals of a layout's initiators, hmat-lb and hmat-cache, in its words.
    QEMU itself requires no latency or bandwidth pair: a cache needs both for its node."""
    def refuse(code: str, message: str, fix: str | None = None) -> Finding:
        return Finding(RuleSet.QEMU, Severity.ERROR, code, message, fix)

    asked = any(node.initiator is not None for node in layout.nodes) or layout.hmat_lb or layout.hmat_cache
    if not layout.hmat:
        return [refuse("hmat-disabled", _HMAT_OFF, "set guest.hmat = true")] if asked else []
    found = [refuse("hmat-initiator", message) for message in _initiator_refusals(layout)]
    found += [refuse("hmat-lb", message) for message in _lb_refusals(layout)]
    found += [refuse("hmat-cache", message) for message in _cache_refusals(layout)]
    return found[:1]  # QEMU exits at the first


def _initiator_refusals(layout: GuestLayout) -> list[str]:
    ids = {node.node_id for node in layout.nodes}
    with_cpus = {node.node_id for node in layout.nodes if node.cpus}
    found = []
    for node in layout.nodes:  # machine_set_cpu_numa_node, then numa_validate_initiator
        if node.cpus and node.initiator not in (None, node.node_id):
            found.append(f"The initiator of CPU NUMA node {node.node_id} should be itself (got {node.initiator})")
    for node in layout.nodes:
        if node.initiator is None or node.cpus:
            continue
        if node.initiator not in ids:
            found.append(f"NUMA node {node.initiator} is missing, use '-numa node' option to declare it first")
        elif node.initiator not in with_cpus:
            found.append(f"The initiator of NUMA node {node.node_id} is invalid")
    return found




@dataclass(slots=True)
class HmatRange:
    """The values of one HMAT latency or bandwidth table (HMAT_LB_Info) are 16-bit entries
    times one base, so each new value must fit the range of those before it
    (parse_numa_hmat_lb, QEMU 7.2). Shared with the QEMU argument reader."""

    base: int = 0
    range_bitmap: int = 0

    def add_latency(self, latency: int) -> bool:
        """parse_numa_hmat_lb's latency branch, step by step (its quirks included)."""
        base = self.base or UINT64_MAX
        entry, temp_base = latency, 1
        while entry % 10 == 0:
            entry //= 10
            temp_base *= 10
        temp_base = min(base, temp_base)
        entry = max(self.range_bitmap, latency // base)  # QEMU divides by the previous base
        if entry >= UINT16_MAX:
            return False
        self.base, self.range_bitmap = temp_base, entry
        return True

    def add_bandwidth(self, bandwidth: int) -> bool:
        """parse_numa_hmat_lb's bandwidth branch: all values within 16 bits of the lowest set bit."""
        bitmap = self.range_bitmap | bandwidth
        first_bit = (bitmap & -bitmap).bit_length() - 1
        entry = bandwidth >> first_bit
        if bitmap.bit_length() - first_bit > 16 or entry >= UINT16_MAX:
            return False
        self.base, self.range_bitmap = 1 << first_bit, bitmap
        return True


def hmat_range_message(is_latency: bool, value: int, initiator: int, target: int) -> str:
    """QEMU 7.2's words for a value outside its table's 16-bit range."""
    if is_latency:
        return (
            f"Latency {value} between initiator={initiator} and target={target} should not differ from "
            f"previously entered min or max values on more than {UINT16_MAX - 1}"
        )
    return (
        f"Bandwidth {value} between initiator={initiator} and target={target} should not differ "
        f"from previously entered values on more than {UINT16_MAX - 1}"
    )


def _lb_refusals(layout: GuestLayout) -> list[str]:
    """parse_numa_hmat_lb's checks, in its order, the 16-bit range of each table included."""
    count, ids = len(layout.nodes), {node.node_id for node in layout.nodes}
    with_cpus = {node.node_id for node in layout.nodes if node.cpus}
    seen: set[tuple[str, str, int, int]] = set()
    tables: dict[tuple[str, str], HmatRange] = {}
    for lb in layout.hmat_lb:
        kind = "latency" if lb.is_latency else "bandwidth"
        if lb.initiator > count:
            return [f"Invalid initiator={lb.initiator}, it should be less than {count}"]
        if lb.target > count:
            return [f"Invalid target={lb.target}, it should be less than {count}"]
        if lb.initiator not in with_cpus:
            return [f"Invalid initiator={lb.initiator}, it isn't an initiator proximity domain"]
        if lb.target not in ids:
            return [f"The target={lb.target} should point to an existing node"]
        if not lb.is_latency and lb.value % MIB:
            return [f"Bandwidth {lb.value} between initiator={lb.initiator} and target={lb.target} should be 1MB aligned"]
        key = (lb.hierarchy, lb.data_type, lb.initiator, lb.target)
        if key in seen:
            return [f"Duplicate configuration of the {kind} for initiator={lb.initiator} and target={lb.target}"]
        seen.add(key)
        table = tables.setdefault((lb.hierarchy, lb.data_type), HmatRange())
        if lb.value and not (table.add_latency(lb.value) if lb.is_latency else table.add_bandwidth(lb.value)):
            return [hmat_range_message(lb.is_latency, lb.value, lb.initiator, lb.target)]
    return []


def _cache_refusals(layout: GuestLayout) -> list[str]:
    count = len(layout.nodes)
    given: dict[int, set[bool]] = {}  # target -> {is_latency} of its non-zero memory values
    for lb in layout.hmat_lb:
        if lb.value:
            given.setdefault(lb.target, set()).add(lb.is_latency)
    sizes: dict[tuple[int, int], int] = {}
    for cache in layout.hmat_cache:
        node, level, size = cache.node, cache.level, cache.size_bytes
        below, above = sizes.get((node, level - 1)), sizes.get((node, level + 1))
        if node >= count:
            return [f"Invalid node-id={node}, it should be less than {count}"]
        if given.get(node) != {True, False}:
            return [
                f"The latency and bandwidth information of node-id={node} should be provided before memory side "
                "cache attributes"
            ]
        if not 1 <= level <= 3:
            return [f"Invalid level={level}, it should be larger than 0 and less than or equal to 3"]
        if (node, level) in sizes:
            return [f"Duplicate configuration of the side cache for node-id={node} and level={level}"]
        if level > 1 and below is None:
            return [f"Cache level={level - 1} shall be defined first"]
        if below is not None and size <= below:
            return [f"Invalid size={size}, the size of level={level} should be larger than the size({below}) of level={level - 1}"]
        if above is not None and size >= above:
            return [f"Invalid size={size}, the size of level={level} should be less than the size({above}) of level={level + 1}"]
        sizes[node, level] = size
    return []


def _hmat_target_findings(layout: GuestLayout, rules: RuleSet) -> list[Finding]:
    """What a guest or libvirt makes of the HMAT QEMU accepts."""
    if not layout.hmat:
        return []
    if rules is RuleSet.LINUX_DT or layout.machine is Machine.VIRT:
        return [
            Finding(
                rules,
                Severity.WARNING,
                "hmat-device-tree",
                "a guest booted with a device tree reads no ACPI HMAT: its nodes show no initiators, latencies or caches",
                "boot the virt guest with UEFI and ACPI, or drop the HMAT keys",
            )
        ]
    if rules is RuleSet.LIBVIRT:
        return _libvirt_hmat_findings(layout)
    return []


def _libvirt_hmat_findings(layout: GuestLayout) -> list[Finding]:
    """libvirt 9's <interconnects>: a link and its reverse are one link to it, and a CPU-less
    cell's initiator is the one libvirt picks from the links that target it."""
    found = []
    seen: set[tuple[str, str, frozenset[int]]] = set()
    for lb in layout.hmat_lb:
        key = (lb.data_type, lb.hierarchy, frozenset((lb.initiator, lb.target)))
        if key in seen and lb.initiator != lb.target:
            found.append(
                Finding(
                    RuleSet.LIBVIRT,
                    Severity.ERROR,
                    "libvirt-link-twice",
                    f"XML error: Link already defined (libvirt takes {lb.data_type} from node {lb.initiator} to "
                    f"{lb.target} and from {lb.target} to {lb.initiator} for one link)",
                    "give each pair of nodes one direction only in a libvirt domain",
                )
            )
            break
        seen.add(key)
    for node in layout.nodes:
        chosen = libvirt_initiator(node.node_id, layout.hmat_lb)
        if node.cpus or node.initiator is None or chosen == node.initiator:
            continue
        found.append(
            Finding(
                RuleSet.LIBVIRT,
                Severity.WARNING,
                "libvirt-initiator",
                f"libvirt has no initiator attribute: it gives CPU-less node {node.node_id} the initiator with the "
                f"lowest <interconnects> latency to it (else the highest bandwidth), "
                f"{'none' if chosen is None else f'node {chosen}'}, not node {node.initiator}",
                f"give node {node.initiator} the lowest hmat_lb latency to node {node.node_id}",
            )
        )
    return found


def libvirt_initiator(target: int, lbs: Sequence[HmatLb]) -> int | None:
    """The initiator libvirt gives a CPU-less cell (numa_conf.c virDomainNumaGetNodeInitiator):
    that of the lowest latency to it over every type and cache level, the first on a tie;
    without latencies that of the highest bandwidth (compared in KiB/s, as libvirt keeps it,
    above 0); None without either."""
    latencies = [lb for lb in lbs if lb.target == target and lb.is_latency]
    if latencies:
        return min(latencies, key=lambda lb: lb.value).initiator  # min keeps the first of equals
    bandwidths = [lb for lb in lbs if lb.target == target and not lb.is_latency and lb.value // KIB > 0]
    return max(bandwidths, key=lambda lb: lb.value // KIB).initiator if bandwidths else None


# ---------------------------------------------------------------------------------------
# Memory hotplug: -m slots=,maxmem= and pc-dimm devices (QEMU 7.2)

MAX_SLOTS = 256  # ACPI_MAX_RAM_SLOTS
DIMM_ALIGN = 2 * MIB  # x86 pc-dimm backends: QEMU's pc_memory_pre_plug alignment


def hotplug_qemu_findings(layout: GuestLayout) -> list[Finding]:
    """QEMU 7.2's first refusal of the layout's maxmem, slots and DIMMs, in its words."""
    ram, maxmem = -(-layout.memory_bytes // RAM_ALIGN) * RAM_ALIGN, layout.maxmem_bytes
    message = _memory_option_refusal(layout, ram, maxmem)
    if message is not None:
        return [Finding(RuleSet.QEMU, Severity.ERROR, "memory-option", message)]
    message = _device_refusal(layout, ram, maxmem)
    return [] if message is None else [Finding(RuleSet.QEMU, Severity.ERROR, "memory-hotplug", message)]


def _memory_option_refusal(layout: GuestLayout, ram: int, maxmem: int | None) -> str | None:
    """-m itself (machine_set_mem, then the board's slot limit)."""
    if layout.slots and maxmem is None:
        return "slots specified but no max-size"
    if maxmem is not None and maxmem < ram:
        return f"invalid value of maxmem: maximum memory size (0x{maxmem:x}) must be at least the initial memory size (0x{ram:x})"
    if layout.slots > MAX_SLOTS:
        return f"unsupported amount of memory slots: {layout.slots}"
    return None


def _device_refusal(layout: GuestLayout, ram: int, maxmem: int | None) -> str | None:
    """The DIMMs, plugged after the board is built (code "memory-hotplug": QEMU_DEVICE_CODES)."""
    if not layout.dimms:
        return None
    if layout.machine is Machine.VIRT:
        return "memory hotplug is not enabled: missing acpi-ged device"
    return _dimm_refusal(layout, ram, maxmem)


def _dimm_refusal(layout: GuestLayout, ram: int, maxmem: int | None) -> str | None:
    """Each -device pc-dimm in turn: its pre-plug (slots, alignment, the space left), then
    its realize (the node)."""
    used, count = 0, len(layout.nodes) or 1  # pc and q35 make one node for hotplug (auto_enable_numa_with_memhp)
    for index, dimm in enumerate(layout.dimms):
        if not layout.slots:
            return "no slots where allocated, please specify the 'slots' option"  # sic
        if index >= layout.slots:
            return "no free slots available"
        if dimm.size_bytes % DIMM_ALIGN:
            return f"backend memory size must be multiple of 0x{DIMM_ALIGN:x}"
        if used + dimm.size_bytes > (maxmem or ram) - ram:
            return f"not enough space, currently 0x{used:x} in use of total space for memory devices 0x{(maxmem or ram) - ram:x}"
        if dimm.node >= count:
            return f"'DIMM property node has value {dimm.node}' which exceeds the number of numa nodes: {count}"
        used += dimm.size_bytes
    return None

