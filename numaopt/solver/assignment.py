"""Pure assignment instances: scipy's quadratic-assignment heuristics and the Gilmore-Lawler bound.

An instance is a *pure assignment* when it is a quadratic assignment problem in disguise:
no split groups, no rules, every item fits every host node, and no host node can hold two
items. Then any one-to-one map of items to nodes is a plan, and two tools from the QAP
literature apply:

* ``scipy.optimize.quadratic_assignment``: FAQ (Vogelstein et al. 2015) from seeded
  random starts, then 2-opt from the best few. Fast and strong on dense, unstructured
  matrices, where CP-SAT's own search improves slowly; its best plan becomes CP-SAT's hint.
* robust tabu search (Taillard 1991): from FAQ's best plans, the best swap of two items
  every step, a swap that puts both items back where they were recently forbidden for a
  random tenure near n steps unless it beats the best plan. It leaves the local optima FAQ and
  2-opt stop in; with the swap gains of all pairs from two matrix products per step it
  runs thousands of steps a second at n <= 64.
* the Gilmore-Lawler bound (Gilmore 1962, Lawler 1963): pair item i with node k at the
  least scalar product of i's flows and k's distances (largest flow on smallest distance),
  then solve that linear assignment. On dense matrices it is far above CP-SAT's LP bound,
  so the reported gap means something.
"""

from __future__ import annotations

import math
import time

import numpy as np
import numpy.typing as npt

from numaopt.solver.instance import Instance

FAQ_STARTS = 20  # seeded random starts (a count, so a seed gives one answer)
TWO_OPT_POLISHED = 3  # 2-opt from this many of the best FAQ results
TENURE_SPREAD = (0.5, 1.5)  # each step's tabu tenure, drawn in this share of n (wider than Taillard's 0.9-1.1:
# with the two-item rule a fixed tenure let 6-node searches cycle; measured no worse at 18-64)


def is_pure_assignment(instance: Instance) -> bool:
    items = instance.items
    workload = instance.request.workload
    if instance.splits or workload.rules or workload.max_distances or not items or len(items) > instance.num_nodes:
        return False
    if workload.guest_nodes not in (None, len(items)) or (workload.max_guest_nodes or len(items)) < len(items):
        return False
    if any(len(item.allowed) != instance.num_nodes for item in items):
        return False
    cores = sorted(item.cores for item in items)
    memory = sorted(item.memory_units for item in items)
    fits_everywhere = cores[-1] <= int(instance.node_cores.min()) and memory[-1] <= int(instance.node_memory.min())
    if len(items) == 1:
        return fits_everywhere
    never_two = cores[0] + cores[1] > int(instance.node_cores.max()) or memory[0] + memory[1] > int(instance.node_memory.max())
    return fits_everywhere and never_two


def _flow_matrix(instance: Instance) -> npt.NDArray[np.float64]:
    """Scaled item-pair weights as an n x n matrix (items padded with silent ones)."""
    n = instance.num_nodes
    flow = np.zeros((n, n))
    for (i, j), w in instance.pair_weights.items():
        flow[i, j] += w
    return flow


def qap_portfolio(
    instance: Instance,
    seed: int,
    deadline: float,
    starts: int = FAQ_STARTS,
    polished: int = TWO_OPT_POLISHED,
    tabu: tuple[int, int] = (0, 0),
) -> list[int] | None:
    """The best item -> node map FAQ (from ``starts`` random starts), 2-opt (from the
    ``polished`` best of them) and tabu search (``tabu`` = (plans, steps): that many steps
    from each of the best few plans) find; None when not a pure assignment or nothing
    finished before ``deadline`` (a ``time.perf_counter()`` value). Counts, not the clock,
    bound the work, so a seed gives one answer whenever the deadline is not reached."""
    if not is_pure_assignment(instance) or not instance.pair_weights:
        return None
    from scipy.optimize import quadratic_assignment  # here: SciPy's import is a third of numaopt's start-up

    n, count = instance.num_nodes, len(instance.items)
    flow = _flow_matrix(instance)
    distances = instance.distances.astype(float)
    rng = np.random.default_rng(seed)
    found: list[tuple[float, list[int]]] = []
    for _ in range(starts):
        if time.perf_counter() >= deadline:
            break
        result = quadratic_assignment(flow, distances, method="faq", options={"rng": rng, "P0": "randomized"})
        found.append((float(result.fun), [int(v) for v in result.col_ind]))
    found.sort(key=lambda pair: pair[0])
    for _, start in list(found[:polished]):
        if time.perf_counter() >= deadline:
            break
        guess = np.column_stack([np.arange(n), start])
        result = quadratic_assignment(flow, distances, method="2opt", options={"rng": rng, "partial_guess": guess})
        found.append((float(result.fun), [int(v) for v in result.col_ind]))
    if not found:
        return None
    found.sort(key=lambda pair: pair[0])
    distinct = list(dict.fromkeys(tuple(where[:count]) for _, where in found))[: tabu[0]]
    for where in distinct:  # tabu search from different plans: different basins
        if time.perf_counter() >= deadline:
            break
        moved = tabu_search(instance, list(where), tabu[1], rng, deadline)
        found.append((float(instance.item_cost(moved) - instance.constant), moved))  # FAQ's ``fun``: no constant
    best = min(found, key=lambda pair: pair[0])[1]
    return best[:count]


def _symmetric_pair(instance: Instance) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]] | None:
    """Flows and distances as two symmetric matrices with the same cost (sum over all
    i, j of f(i, j) d(p_i, p_j)); None when both are asymmetric (no tabu search then)."""
    flow = _flow_matrix(instance)
    d = instance.distances.astype(float)
    if instance.symmetric:
        return (flow + flow.T) / 2, d
    if np.array_equal(flow, flow.T):
        return flow, (d + d.T) / 2
    return None


def _swap_gains(a: npt.NDArray[np.float64], b: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """delta[r, s]: the cost change of swapping items r and s, for symmetric ``a`` with a
    zero diagonal and ``b`` the distances between the items' current nodes (symmetric)."""
    m = a @ b
    diag = np.diag(m)
    bd = np.diag(b)
    delta = m + m.T - diag[:, None] - diag[None, :] - a * (bd[:, None] + bd[None, :] - 2 * b)
    return 2 * delta


def tabu_search(instance: Instance, start: list[int], steps: int, rng: np.random.Generator, deadline: float) -> list[int]:
    """The best item -> node map robust tabu search finds in ``steps`` swaps from ``start``
    (a pure assignment's map; fewer steps when ``deadline`` passes first). A count bounds
    the work, so a seed gives one answer whenever the deadline is not reached."""
    pair = _symmetric_pair(instance)
    n, count = instance.num_nodes, len(instance.items)
    if pair is None or n < 2:
        return list(start)
    a, d = pair
    np.fill_diagonal(a, 0.0)  # an item's traffic with itself is the instance's constant
    where = np.array(list(start) + sorted(set(range(n)) - set(start)))  # silent items on the free nodes
    cost = float((a * d[np.ix_(where, where)]).sum())
    best, best_cost = where.copy(), cost
    forbidden = np.zeros((n, n), dtype=np.int64)  # item x node -> the step until which it may not return
    upper = np.triu(np.ones((n, n), dtype=bool), 1)
    for step in range(1, steps + 1):
        if step % 64 == 0 and time.perf_counter() >= deadline:
            break
        tenure = max(2, int(rng.integers(int(TENURE_SPREAD[0] * n), int(TENURE_SPREAD[1] * n) + 1)))
        delta = _swap_gains(a, d[np.ix_(where, where)])
        tabu = (forbidden[np.arange(n)[:, None], where[None, :]] > step) & (forbidden[np.arange(n)[None, :], where[:, None]] > step)
        allowed = upper & (~tabu | (cost + delta < best_cost - 1e-9))
        if not allowed.any():
            continue
        scores = np.where(allowed, delta + rng.random((n, n)) * 1e-6, np.inf)  # ties broken at random
        r, s = divmod(int(np.argmin(scores)), n)
        forbidden[r, where[r]] = forbidden[s, where[s]] = step + tenure
        where[r], where[s] = where[s], where[r]
        cost += float(delta[r, s])
        if cost < best_cost - 1e-9:
            best, best_cost = where.copy(), cost
    return [int(v) for v in best[:count]]


def gilmore_lawler_bound(instance: Instance) -> float | None:
    """A lower bound on the scaled objective of a pure assignment (None otherwise)."""
    if not is_pure_assignment(instance):
        return None
    from scipy.optimize import linear_sum_assignment

    n = instance.num_nodes
    flow = _flow_matrix(instance)
    d = instance.distances.astype(float)
    off = ~np.eye(n, dtype=bool)
    if instance.symmetric:
        # cost = 1/2 sum_i sum_j f(i, j) d(p_i, p_j) with f symmetric: each item sees all its partners.
        flow = (flow + flow.T) / 2
    flows = -np.sort(-flow[off].reshape(n, n - 1), axis=1)  # each item's flows, largest first
    dists = np.sort(d[off].reshape(n, n - 1), axis=1)  # each node's distances, smallest first
    cost = flows @ dists.T  # least scalar product of item i's flows with node k's distances
    rows, cols = linear_sum_assignment(cost)
    return math.ceil(float(cost[rows, cols].sum()) - 1e-6) + instance.constant
