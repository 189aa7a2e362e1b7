"""An independent check of a placement plan: every requirement again, in plain Python.

Nothing here uses the solver or its instance: the verifier reads the request and the
plan as a user would, so a bug in the model cannot hide behind the same bug here.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from numaopt.layout import check_layout
from numaopt.model import Group, HostNode, HostTopology, PlacementRequest, Plan, Rule, SharedHostRequest
from numaopt.rules import RuleSet, Severity
from numaopt.units import format_cpulist


def group_vcpus_per_host_node(request: PlacementRequest, plan: Plan) -> dict[str, Counter[int]]:
    """Group name -> host node id -> how many of its vCPUs are pinned there."""
    node_of_cpu = request.host.cpu_to_node()
    host_cpu = dict(plan.vcpu_to_host_cpu)
    counts: dict[str, Counter[int]] = defaultdict(Counter)
    for vcpu, group in enumerate(plan.vcpu_groups):
        if vcpu in host_cpu and host_cpu[vcpu] in node_of_cpu:
            counts[group][node_of_cpu[host_cpu[vcpu]]] += 1
    return counts


def group_shares(request: PlacementRequest, plan: Plan) -> dict[str, Counter[int]]:
    """Group -> host node -> its weight there: vCPUs, or bytes for a memory-only group."""
    counts = group_vcpus_per_host_node(request, plan)
    for group, node, num_bytes in plan.memory_placement:
        if request.workload.group(group).vcpus == 0:
            counts[group][node] += num_bytes
    return counts


def locality_cost(request: PlacementRequest, plan: Plan) -> float:
    """sum over priced traffic (a -> b, w) of w * sum_{n,m} share_a(n) * share_b(m) * d(n, m);
    priced traffic is the declared flows plus each split group's implicit self-flow."""
    host = request.host
    counts = group_shares(request, plan)
    total = 0.0
    for flow in request.workload.priced_traffic:
        a, b = counts[flow.a], counts[flow.b]
        size_a, size_b = sum(a.values()), sum(b.values())
        if not size_a or not size_b:
            continue
        for n, ca in a.items():
            for m, cb in b.items():
                d = int(host.distances[host.node_position(n), host.node_position(m)])
                total += flow.weight * (ca / size_a) * (cb / size_b) * d
    return total


def verify_plan(request: PlacementRequest, plan: Plan) -> list[str]:
    """Every way ``plan`` fails ``request``, one line each; empty when it is right.

    One check per family of requirements, in a fixed order (the lines come out in it).
    """
    bound = _bound_host_nodes(plan)
    return [
        *_pinning_problems(request, plan),
        *_group_problems(request, plan),
        *_binding_problems(request, plan),
        *_guest_distance_problems(request, plan, bound),
        *_memory_balance_problems(plan, bound),
        *_group_memory_problems(request, plan),
        *_memory_capacity_problems(request, plan, bound),
        *_rule_problems(request, plan),
        *_distance_limit_problems(request, plan),
        *_guest_node_count_problems(request, plan),
        *_layout_problems(plan),
        *_objective_problems(request, plan),
    ]


def _pinning_problems(request: PlacementRequest, plan: Plan) -> list[str]:
    """Every vCPU once, on a free host CPU, no host CPU twice, guest cores on host cores."""
    problems: list[str] = []
    layout, host = plan.layout, request.host
    threads = request.workload.threads_per_core
    node_of_cpu = host.cpu_to_node()
    siblings = host.siblings()
    reserved = set(request.reserved_cpus)
    host_cpu = dict(plan.vcpu_to_host_cpu)
    if sorted(host_cpu) != list(range(layout.vcpus)) or len(plan.vcpu_to_host_cpu) != layout.vcpus:
        problems.append(f"pinning covers vCPUs {format_cpulist(host_cpu)}, expected 0-{layout.vcpus - 1} once each")
    for cpu, uses in Counter(host_cpu.values()).items():
        if uses > 1:
            problems.append(f"host CPU {cpu} is pinned to {uses} vCPUs")
    for vcpu, cpu in sorted(host_cpu.items()):
        if cpu not in node_of_cpu:
            problems.append(f"vCPU {vcpu} is pinned to host CPU {cpu}, which the host does not have")
        elif cpu in reserved:
            problems.append(f"vCPU {vcpu} is pinned to reserved host CPU {cpu}")
    for first in range(0, layout.vcpus, threads):
        cores = {siblings.get(host_cpu.get(v, -1), (-1,)) for v in range(first, first + threads)}
        if len(cores) != 1:
            problems.append(f"guest core of vCPUs {first}-{first + threads - 1} spans host cores {sorted(cores)}")
    return problems


def _group_problems(request: PlacementRequest, plan: Plan) -> list[str]:
    """Each group's vCPUs: all placed, on nodes it may use, on one node unless it may split."""
    problems: list[str] = []
    vcpus = plan.layout.vcpus
    counts = group_vcpus_per_host_node(request, plan)
    if len(plan.vcpu_groups) != vcpus:
        problems.append(f"{len(plan.vcpu_groups)} vCPUs have a group, the guest has {vcpus}")
    for group in request.workload.groups:
        placed = counts.get(group.name, Counter())
        if sum(placed.values()) != group.vcpus:
            problems.append(f"group {group.name} has {sum(placed.values())} vCPUs placed, needs {group.vcpus}")
        if group.allowed_nodes and set(placed) - set(group.allowed_nodes):
            problems.append(f"group {group.name} uses host nodes {sorted(set(placed) - set(group.allowed_nodes))} it may not use")
        if not group.split and len(placed) > 1:
            problems.append(f"group {group.name} may not split but uses host nodes {sorted(placed)}")
        if group.vcpus == 0 and placed:
            problems.append(f"memory-only group {group.name} has vCPUs")
    return problems


def _bound_host_nodes(plan: Plan) -> list[int]:
    """The host node each guest node is bound to, -1 where it is not bound to exactly one."""
    return [node.host_nodes[0] if len(node.host_nodes) == 1 else -1 for node in plan.layout.nodes]


def _binding_problems(request: PlacementRequest, plan: Plan) -> list[str]:
    """Each guest node bound to one host node, its vCPUs pinned there; vCPU 0 in node 0."""
    problems: list[str] = []
    layout = plan.layout
    node_of_cpu = request.host.cpu_to_node()
    host_cpu = dict(plan.vcpu_to_host_cpu)
    for node in layout.nodes:
        if len(node.host_nodes) != 1:
            problems.append(f"guest node {node.node_id} is bound to host nodes {node.host_nodes}, expected one")
            continue
        target = node.host_nodes[0]
        elsewhere = [v for v in node.cpus if node_of_cpu.get(host_cpu.get(v, -1)) != target]
        if elsewhere:
            problems.append(f"guest node {node.node_id} is bound to host node {target} but vCPUs {format_cpulist(elsewhere)} run elsewhere")
    if layout.nodes and 0 not in layout.nodes[0].cpus and layout.vcpus:
        problems.append("vCPU 0 is not in guest node 0")
    return problems


def _guest_distance_problems(request: PlacementRequest, plan: Plan, bound: list[int]) -> list[str]:
    """The guest's distances are its host nodes' (or the reported adjusted values);
    judged only when every guest node is bound to one host node."""
    layout, host = plan.layout, request.host
    if -1 in bound or layout.distances is None:
        return []
    problems: list[str] = []
    shown = {(i, j): value for i, j, _, value in plan.adjusted_distances}
    for i, a in enumerate(bound):
        for j, b in enumerate(bound):
            expected = int(host.distances[host.node_position(a), host.node_position(b)])
            if (i, j) in shown and shown[i, j] != expected:
                expected = shown[i, j]  # changed on purpose so the guest keeps the table (reported)
            if int(layout.distances[i, j]) != expected:
                problems.append(f"guest distance[{i}][{j}] = {int(layout.distances[i, j])}, host distance[{a}][{b}] = {expected}")
    return problems


def _guest_memory_on(plan: Plan, bound: list[int]) -> Counter[int]:
    """Host node -> bytes of guest memory bound to it (-1 collects the unbound nodes)."""
    memory_on: Counter[int] = Counter()
    for node, target in zip(plan.layout.nodes, bound, strict=True):
        memory_on[target] += node.memory_bytes
    return memory_on


def _memory_balance_problems(plan: Plan, bound: list[int]) -> list[str]:
    """The groups' memory per host node adds up to the guest nodes' memory there."""
    if not plan.memory_placement:
        return []
    placed_on: Counter[int] = Counter()
    for _, target, num_bytes in plan.memory_placement:
        placed_on[target] += num_bytes
    memory_on = _guest_memory_on(plan, bound)
    if placed_on != memory_on:
        return [f"group memory per host node {dict(placed_on)} differs from the guest nodes' {dict(memory_on)}"]
    return []


def _group_memory_problems(request: PlacementRequest, plan: Plan) -> list[str]:
    """Each group's memory: all placed, on nodes it may use, following its vCPUs when it
    splits, on the one node of its vCPUs when it may not."""
    problems: list[str] = []
    vcpus_on = group_vcpus_per_host_node(request, plan)
    memory_of: Counter[str] = Counter()
    memory_nodes: dict[str, set[int]] = defaultdict(set)
    for group_name, target, num_bytes in plan.memory_placement:
        memory_of[group_name] += num_bytes
        memory_nodes[group_name].add(target)
    for group in request.workload.groups:
        if plan.memory_placement and memory_of[group.name] < group.memory_bytes:
            problems.append(f"group {group.name} has {memory_of[group.name]} bytes placed, needs {group.memory_bytes}")
        if group.allowed_nodes and memory_nodes[group.name] - set(group.allowed_nodes):
            problems.append(f"group {group.name} puts memory on host nodes it may not use: {sorted(memory_nodes[group.name] - set(group.allowed_nodes))}")
        if group.split and plan.memory_placement:
            problems += _memory_follows_vcpus(group, vcpus_on.get(group.name, Counter()), plan, request)
        if not group.split and len(memory_nodes[group.name] | set(vcpus_on.get(group.name, {}))) > 1:
            problems.append(f"group {group.name} may not split but its vCPUs and memory use host nodes {sorted(memory_nodes[group.name] | set(vcpus_on.get(group.name, {})))}")
    return problems


def _memory_capacity_problems(request: PlacementRequest, plan: Plan, bound: list[int]) -> list[str]:
    """No host node gives more guest memory than it has free; the guest has the workload's."""
    problems: list[str] = []
    host, workload, layout = request.host, request.workload, plan.layout
    for target, used in _guest_memory_on(plan, bound).items():
        if target < 0:
            continue
        free = free_guest_memory(host.nodes[host.node_position(target)], workload.page_size_bytes)
        if used > free:
            problems.append(f"host node {target} gets {used} bytes of guest memory but has {free} free")
    if layout.memory_bytes < workload.memory_bytes:
        problems.append(f"the guest has {layout.memory_bytes} bytes of memory, the workload needs {workload.memory_bytes}")
    return problems


def _rule_problems(request: PlacementRequest, plan: Plan) -> list[str]:
    """Together and apart rules (a memory-only group is where its memory is)."""
    problems: list[str] = []
    shares = group_shares(request, plan)
    for kind, names in request.workload.rules:
        nodes_of: dict[str, set[int]] = {name: set(shares.get(name, Counter())) for name in names}
        together: set[int] = set().union(*nodes_of.values())
        if kind is Rule.TOGETHER and len(together) > 1:
            problems.append(f"together {', '.join(names)}: they use host nodes {sorted(together)}")
        if kind is Rule.APART:
            for k, name_a in enumerate(names):
                for name_b in names[k + 1 :]:
                    if nodes_of[name_a] & nodes_of[name_b]:
                        shared = sorted(nodes_of[name_a] & nodes_of[name_b])
                        problems.append(f"apart {name_a}, {name_b}: both use host node(s) {shared}")
    return problems


def _distance_limit_problems(request: PlacementRequest, plan: Plan) -> list[str]:
    """Every host node pair two groups use is within their max_distance."""
    problems: list[str] = []
    host = request.host
    shares = group_shares(request, plan)
    for name_a, name_b, limit in request.workload.max_distances:
        for n in shares.get(name_a, Counter()):
            for m in shares.get(name_b, Counter()):
                d = int(host.distances[host.node_position(n), host.node_position(m)])
                if d > limit:
                    problems.append(f"distance between {name_a} (host node {n}) and {name_b} (host node {m}) is {d} > {limit}")
    return problems


def _guest_node_count_problems(request: PlacementRequest, plan: Plan) -> list[str]:
    """As many guest nodes as asked, no more than allowed."""
    problems: list[str] = []
    workload, num_nodes = request.workload, plan.layout.num_nodes
    if workload.guest_nodes is not None and num_nodes != workload.guest_nodes:
        problems.append(f"the guest has {num_nodes} nodes, {workload.guest_nodes} were asked")
    if workload.max_guest_nodes is not None and num_nodes > workload.max_guest_nodes:
        problems.append(f"the guest has {num_nodes} nodes, at most {workload.max_guest_nodes} were allowed")
    return problems


def _layout_problems(plan: Plan) -> list[str]:
    """The layout itself must be one QEMU and the guest accept."""
    layout = plan.layout
    return [
        f"layout: {f}"
        for rules in dict.fromkeys((RuleSet.QEMU, layout.rules))
        for f in check_layout(layout, rules)
        if f.severity is Severity.ERROR
    ]


def _objective_problems(request: PlacementRequest, plan: Plan) -> list[str]:
    """The objective the plan reports is the one its placement has."""
    if plan.objective is None:
        return []
    recomputed = locality_cost(request, plan)
    if abs(recomputed - plan.objective) > 1e-6 * max(1.0, abs(recomputed)):
        return [f"the plan reports locality {plan.objective}, its placement costs {recomputed}"]
    return []


def _memory_follows_vcpus(group: Group, vcpus_on: Counter[int], plan: Plan, request: PlacementRequest) -> list[str]:
    """A split group's memory on each host node is its vCPU share of the group's memory,
    rounded to whole pages (MiB without huge pages) one way or the other."""
    page = request.workload.page_size_bytes or (1 << 20)
    total_pages = -(-group.memory_bytes // page)
    placed = {node: num_bytes for name, node, num_bytes in plan.memory_placement if name == group.name}
    problems = []
    for node in sorted(set(placed) | set(vcpus_on)):
        exact = total_pages * vcpus_on.get(node, 0) / group.vcpus
        pages = placed.get(node, 0) / page
        if pages != int(pages) or abs(pages - exact) >= 1:
            problems.append(
                f"group {group.name} has {vcpus_on.get(node, 0)} of its {group.vcpus} vCPUs on host node {node} "
                f"but {placed.get(node, 0)} bytes of memory there (its share is {exact:g} pages of {page} bytes)"
            )
    return problems


def verify_shared(request: SharedHostRequest, plans: dict[str, Plan], objective: float | None = None) -> list[str]:
    """Several VMs on one host: each VM's plan on its own, then what they share — no host
    CPU twice, no physical core (SMT siblings) holding two VMs' vCPUs, memory per host node
    within what is free, VMs kept off each other's sockets, and (if given) the
    priority-weighted objective."""
    problems: list[str] = []
    host = request.host
    owner: dict[int, str] = {}
    memory_on: Counter[int] = Counter()
    nodes_of: dict[str, set[int]] = {}
    siblings = host.siblings()
    core_owner: dict[tuple[int, ...], str] = {}
    reported: set[tuple[tuple[int, ...], str]] = set()
    for vm in request.vms:
        plan = plans.get(vm.name)
        if plan is None:
            problems.append(f"VM {vm.name} has no plan")
            continue
        problems += [f"VM {vm.name}: {line}" for line in verify_plan(request.vm_request(vm), plan)]
        for _, cpu in plan.vcpu_to_host_cpu:
            if cpu in owner:
                problems.append(f"host CPU {cpu} is pinned by VM {owner[cpu]} and VM {vm.name}")
            owner[cpu] = vm.name
            core = siblings.get(cpu, (cpu,))  # no noisy neighbour on an SMT sibling
            first = core_owner.setdefault(core, vm.name)
            if first != vm.name and (core, vm.name) not in reported:
                reported.add((core, vm.name))
                problems.append(f"host core {format_cpulist(core)} holds vCPUs of VM {first} and VM {vm.name}")
        # An unbound node is verify_plan's finding above; here it shares nothing.
        bound = [node for node in plan.layout.nodes if node.host_nodes]
        for node in bound:
            memory_on[node.host_nodes[0]] += node.memory_bytes
        nodes_of[vm.name] = {node.host_nodes[0] for node in bound}
    page = request.vms[0].workload.page_size_bytes if request.vms else None
    for node_id, used in sorted(memory_on.items()):
        free = free_guest_memory(host.nodes[host.node_position(node_id)], page)
        if used > free:
            problems.append(f"host node {node_id} gets {used} bytes of guest memory from all VMs but has {free} free")
    socket_of = _socket_of_node(host)
    for a, b in request.sockets_apart:
        shared = {socket_of[n] for n in nodes_of.get(a, set())} & {socket_of[n] for n in nodes_of.get(b, set())}
        if shared:
            problems.append(f"VMs {a} and {b} share host socket(s) {sorted(shared)}")
    if objective is not None:
        weighted = sum(vm.priority * locality_cost(request.vm_request(vm), plans[vm.name]) for vm in request.vms if vm.name in plans)
        if abs(weighted - objective) > 1e-6 * max(1.0, abs(weighted)):
            problems.append(f"the plans report a weighted objective of {objective}, their placements cost {weighted}")
    return problems


def _socket_of_node(host: HostTopology) -> dict[int, int]:
    """Host node id -> socket: from the host's cores, else the nodes within the first
    remote distance level of each other (what numaopt calls a socket without core data)."""
    if host.cores:
        socket_of_cpu = {cpu: core.socket for core in host.cores for cpu in core.cpus}
        return {node.node_id: min((socket_of_cpu[c] for c in node.cpus), default=-1 - node.node_id) for node in host.nodes}
    d = host.distances
    values = sorted({int(v) for v in d.flatten()})
    near = values[1] if len(values) > 2 else values[0]
    result: dict[int, int] = {}
    for p, node in enumerate(host.nodes):
        if node.node_id not in result:
            for q, other in enumerate(host.nodes):
                if d[p, q] <= near and other.node_id not in result:
                    result[other.node_id] = p
    return result


def free_guest_memory(node: HostNode, page_size_bytes: int | None) -> int:
    """Bytes a host node can give guests: its free huge pages of that size, else its free
    memory (its total when free is unknown)."""
    if page_size_bytes:
        return next((h.free * h.page_size_bytes for h in node.hugepages if h.page_size_bytes == page_size_bytes), 0)
    return node.free_bytes if node.free_bytes is not None else node.memory_bytes
