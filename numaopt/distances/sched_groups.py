"""Which NUMA scheduler domains of a Linux 6.1 guest end up with groups that do not cover them.

With sched_verbose the guest then prints ``ERROR: groups don't span domain->span`` under the
domain, and the load balancer never sees the CPUs left out from that level. This module
predicts it from the distance table and the vCPUs of each node, by following what
kernel/sched/topology.c (6.1) does, at node granularity (every level below NODE stays inside
a node: x86 clips its LLC to the node, arm64 the cluster):

1. ``sched_init_numa``: the levels are the distinct distances among CPU nodes, ascending;
   at level ``l`` the mask of node ``j`` holds every CPU node ``k`` with
   ``distance[j][k] <= levels[l]`` (row ``j``: an asymmetric table gives masks that are not
   mutually consistent).
2. ``build_sched_domains``: each CPU climbs NODE (level 0) and the NUMA levels and *stops at
   the first level that spans every CPU*: on an asymmetric or irregular table some CPUs
   stop lower than others (the tree has unequal depth), and their domains above that level
   are never built (empty spans).
3. ``build_overlap_sched_groups`` for a NUMA domain of CPU ``c`` at level ``l``: walking the
   domain's CPUs from ``c`` on (wrapping), each CPU ``i`` not yet covered contributes the
   span of its own level ``l - 1`` domain (descending further while that span reaches out of
   the domain, ``find_descended_sibling``), *unless its level-``l`` domain was never built*,
   in which case it is skipped. A CPU that only such skipped CPUs' groups would have covered
   stays uncovered: that is the error.
4. ``cpu_attach_domain`` drops a domain whose span equals its child's, or which has one group
   and no wake-affine flag (a level above node_reclaim_distance, 30): a dropped domain is
   not printed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from numaopt.rules import Finding, RuleSet, Severity

RECLAIM_DISTANCE = 30  # node_reclaim_distance (distances/__init__.py has the same)


@dataclass(frozen=True, slots=True)
class BrokenDomain:
    """One attached NUMA domain whose groups leave CPUs out."""

    cpus: tuple[int, ...]  # the CPUs whose domain it is (the guest prints the error under each)
    level: int  # index into the NUMA levels (0 = NODE)
    distance: int  # the level's distance
    span: tuple[int, ...]  # CPUs of the domain
    covered: tuple[int, ...]  # CPUs its groups cover


def broken_domains(matrix: npt.ArrayLike, node_cpus: Sequence[Sequence[int]]) -> list[BrokenDomain]:
    """Every attached NUMA domain whose groups do not span it: one per distinct (level,
    span, covered), with the CPUs that have it, the lowest CPU first."""
    tree = _Tree.of(matrix, node_cpus)
    if tree is None:
        return []
    spans, levels = tree.spans, tree.levels
    found: dict[tuple[int, frozenset[int], frozenset[int]], list[int]] = {}
    for start, run in _runs(tree.all_cpus, tree.node_of):
        n = tree.node_of[start]
        for level in range(1, tree.depth[n] + 1):
            span = spans[n][level]
            if span == spans[n][level - 1]:
                continue  # degenerate: dropped before sched_verbose prints the tree
            covered, groups = tree.overlap_groups(start, span, level)
            if covered == span or (groups == 1 and levels[level] > RECLAIM_DISTANCE):
                continue
            found.setdefault((level, span, covered), []).extend(run)
    broken = [
        BrokenDomain(
            cpus=tuple(sorted(cpus)),
            level=level,
            distance=levels[level],
            span=tuple(sorted(c for k in span for c in node_cpus[k])),
            covered=tuple(sorted(c for k in covered for c in node_cpus[k])),
        )
        for (level, span, covered), cpus in found.items()
    ]
    return sorted(broken, key=lambda b: (b.cpus[0], b.level))


@dataclass(frozen=True, slots=True)
class ShortTree:
    """CPUs whose highest attached domain does not span every CPU: the guest drops their
    domain that would (one group, and beyond RECLAIM_DISTANCE no wake-affine flag to keep it)."""

    cpus: tuple[int, ...]  # one node's CPUs
    distance: int  # the dropped level's distance
    top: tuple[int, ...]  # CPUs of the highest domain left; () when none is (a one-CPU node)
    unreached: tuple[int, ...]  # CPUs they never balance with


def short_trees(matrix: npt.ArrayLike, node_cpus: Sequence[Sequence[int]]) -> list[ShortTree]:
    """Per CPU node, in node order, whose CPUs lose the domain that spans every CPU. Booted
    (Debian 6.1, x86 and arm64 alike): 2 nodes at 221 (or 40) one way and 213 (or 13) back;
    node 0's CPUs keep only their node-wide domain, and a lone CPU keeps none, so the guest
    prints 'CPU0 attaching NULL sched-domain.'."""
    tree = _Tree.of(matrix, node_cpus)
    if tree is None:
        return []
    spans, levels = tree.spans, tree.levels
    everything = frozenset(spans)
    short: list[ShortTree] = []
    for n in spans:
        top_level = tree.depth[n]
        if top_level == 0 or levels[top_level] <= RECLAIM_DISTANCE:
            continue
        start = min(node_cpus[n])
        if tree.overlap_groups(start, everything, top_level)[1] > 1:
            continue
        kept = [
            lv for lv in range(1, top_level)
            if spans[n][lv] != spans[n][lv - 1]
            and (levels[lv] <= RECLAIM_DISTANCE or tree.overlap_groups(start, spans[n][lv], lv)[1] > 1)
        ]
        top_nodes = spans[n][kept[-1]] if kept else frozenset({n})
        top = tuple(sorted(c for k in top_nodes for c in node_cpus[k]))
        short.append(ShortTree(
            cpus=tuple(sorted(node_cpus[n])),
            distance=levels[top_level],
            top=top if len(top) > 1 else (),
            unreached=tuple(c for c in tree.all_cpus if c not in top),
        ))
    return short


def _runs(all_cpus: list[int], node_of: dict[int, int]) -> list[tuple[int, list[int]]]:
    """The runs of consecutive CPUs of one node, each with its first CPU: a walk from c and
    one from c + 1 in the same node meet the nodes in the same order, so a run walks once."""
    runs: list[tuple[int, list[int]]] = []
    for i, cpu in enumerate(all_cpus):
        if i and node_of[all_cpus[i - 1]] == node_of[cpu]:
            runs[-1][1].append(cpu)
        else:
            runs.append((cpu, [cpu]))
    return runs


@dataclass(frozen=True, slots=True)
class _Tree:
    """The guest's NUMA domain tree at node granularity (steps 1 and 2 of the module's doc)."""

    levels: list[int]  # the distinct distances among CPU nodes, ascending
    spans: dict[int, list[frozenset[int]]]  # spans[n][l]: CPU nodes in node n's domain at level l
    depth: dict[int, int]  # node -> the first level that spans every CPU node
    node_of: dict[int, int]  # CPU -> its node
    all_cpus: list[int]

    @staticmethod
    def of(matrix: npt.ArrayLike, node_cpus: Sequence[Sequence[int]]) -> _Tree | None:
        """The tree, or None with fewer than two nodes that have CPUs (no NUMA levels)."""
        d = np.asarray(matrix, dtype=np.int64)
        cpu_nodes = [n for n, cpus in enumerate(node_cpus) if cpus]
        if len(cpu_nodes) < 2:
            return None
        levels = sorted({int(d[j, k]) for j in cpu_nodes for k in cpu_nodes})
        # A child is always a subset: row n's mask only grows with the distance.
        spans = {n: [frozenset(k for k in cpu_nodes if d[n, k] <= dist) for dist in levels] for n in cpu_nodes}
        everything = frozenset(cpu_nodes)
        depth = {n: next(lv for lv, span in enumerate(spans[n]) if span == everything) for n in cpu_nodes}
        node_of = {cpu: n for n in cpu_nodes for cpu in node_cpus[n]}
        return _Tree(levels, spans, depth, node_of, sorted(node_of))

    def overlap_groups(self, start: int, span: frozenset[int], level: int) -> tuple[frozenset[int], int]:
        """build_overlap_sched_groups at node granularity: the nodes covered, and the group count."""
        spans = self.spans
        covered: set[int] = set()
        groups = 0
        at = self.all_cpus.index(start)
        for cpu in self.all_cpus[at:] + self.all_cpus[:at]:
            i = self.node_of[cpu]
            if i not in span or i in covered:
                continue
            if self.depth[i] < level:
                continue  # its domain at this level was never built: empty span, skipped
            sibling = level
            # find_descended_sibling: down while the child reaches out of the domain ...
            if not spans[i][sibling - 1] <= span:
                while sibling > 0 and not spans[i][sibling - 1] <= span:
                    sibling -= 1
                # ... then past children the guest drops as degenerate (same span).
                while sibling > 0 and spans[i][sibling - 1] == spans[i][sibling]:
                    sibling -= 1
            group = spans[i][sibling - 1] if sibling > 0 else frozenset({i})
            covered |= group
            groups += 1
        return frozenset(covered), groups


def broken_domain_findings(matrix: npt.ArrayLike, node_cpus: Sequence[Sequence[int]], rules: RuleSet) -> list[Finding]:
    """A guest rule set's warning for the first broken domain, in the guest's words."""
    broken = broken_domains(matrix, node_cpus)
    if not broken:
        return []
    first = broken[0]
    missing = sorted(set(first.span) - set(first.covered))
    others = f" (and {len(broken) - 1} more such domain(s))" if len(broken) > 1 else ""
    message = (
        f"broken scheduler domains: with sched_verbose the guest prints 'ERROR: groups don't span domain->span' "
        f"for CPU(s) {_cpulist(first.cpus)}: their domain at distance {first.distance} spans CPUs "
        f"{_cpulist(first.span)}, but its groups cover only {_cpulist(first.covered)}, so load "
        f"balancing at that level never reaches CPUs {_cpulist(missing)}{others}. Cause: the CPUs of the "
        "other nodes reach every node at a lower distance, so their domain trees stop lower (unequal depth)"
    )
    fix = "make the table symmetric among CPU nodes (distance[i][j] = distance[j][i])"
    return [Finding(rules, Severity.WARNING, "sched-groups-span", message, fix)]


def short_tree_findings(matrix: npt.ArrayLike, node_cpus: Sequence[Sequence[int]], rules: RuleSet) -> list[Finding]:
    """A guest rule set's warnings for CPUs left without a domain spanning every CPU: the
    first lone CPU left with no domain at all (the guest's words), then the first node's CPUs
    left with a shorter tree (the guest prints nothing for those)."""
    short = short_trees(matrix, node_cpus)
    lone = [t for t in short if not t.top]
    shorter = [t for t in short if t.top]
    fix = "make the table symmetric among CPU nodes (distance[i][j] = distance[j][i])"
    found: list[Finding] = []
    if lone:
        first, cpu = lone[0], lone[0].cpus[0]
        found.append(Finding(rules, Severity.WARNING, "sched-null-domain", (
            f"CPU {cpu} gets no scheduler domain at all: with sched_verbose the guest prints 'CPU{cpu} attaching NULL "
            f"sched-domain.'{_more(lone)}, and the load balancer never balances it with any other CPU. Cause: it is its node's "
            f"only CPU, and its domain at distance {first.distance}, the one reaching CPUs {_cpulist(first.unreached)}, "
            f"has a single group and (beyond distance {RECLAIM_DISTANCE}) no wake-affine flag, so the guest drops it"
        ), fix))
    if shorter:
        first = shorter[0]
        found.append(Finding(rules, Severity.WARNING, "sched-short-tree", (
            f"CPU(s) {_cpulist(first.cpus)} get no scheduler domain spanning every CPU: their top domain spans CPUs "
            f"{_cpulist(first.top)}, so the load balancer never moves their tasks to or from CPUs "
            f"{_cpulist(first.unreached)}{_more(shorter)}; the guest prints no error for it (with sched_verbose, no "
            f"domain of theirs spans every CPU). Cause: their domain at distance {first.distance} has a single group "
            f"and (beyond distance {RECLAIM_DISTANCE}) no wake-affine flag, so the guest drops it"
        ), fix))
    return found


def _more(trees: list[ShortTree]) -> str:
    return f" (and {len(trees) - 1} more node(s) so)" if len(trees) > 1 else ""


def _cpulist(cpus: Iterable[int]) -> str:
    """(0, 1, 2, 3, 8) -> "0-3,8", as sysfs writes CPU lists (units.format_cpulist's format;
    distances sits below units in the layering)."""
    runs = itertools.groupby(enumerate(sorted(set(cpus))), key=lambda pair: pair[1] - pair[0])
    spans = [[cpu for _, cpu in run] for _, run in runs]
    return ",".join(f"{span[0]}" if len(span) == 1 else f"{span[0]}-{span[-1]}" for span in spans)
