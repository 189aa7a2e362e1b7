"""Several VMs on one host: one search, one plan per VM, each verified on its own and together."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from numaopt.audit import verify_shared
from numaopt.cli import app
from numaopt.errors import InputError, ProblemError
from numaopt.hosts.shapes import GIB, block_host
from numaopt.model import Group, SearchSettings, SharedHostRequest, SolveStatus, Traffic, VmRequest, Workload
from numaopt.problem import load_problem, parse_problem
from numaopt.solver import NoPlanError
from numaopt.solver.instance import Placement, build_instance
from numaopt.solver.shared_host import combine, place_vms
from tests.support.brute import brute_force_optimum
from tests.support.problems import ROOT, SHARED

SETTINGS = SearchSettings(time_limit_s=20, seed=0, workers=1)


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "numaopt", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
EXAMPLE = ROOT / "problems" / "shared-host.toml"


def checked(request: SharedHostRequest):  # type: ignore[no-untyped-def]
    shared = place_vms(request)
    assert verify_shared(request, dict(shared.plans), shared.objective) == []
    return shared


def test_the_example_places_every_vm_on_disjoint_cpus_and_keeps_db_and_web_apart() -> None:
    assert SHARED == [EXAMPLE]
    problem = load_problem(EXAMPLE)
    assert problem.shared is not None
    shared = checked(problem.shared)
    assert shared.status is SolveStatus.OPTIMAL
    assert [name for name, _ in shared.plans] == ["db", "web", "batch"]
    sockets = {name: {node.host_nodes[0] // 2 for node in plan.layout.nodes} for name, plan in shared.plans}
    assert not sockets["db"] & sockets["web"]
    # The database's two groups talk: one socket, two nodes (6 + 6 vCPUs do not fit one node of 8).
    assert len(sockets["db"]) == 1 and shared.plan("db").layout.num_nodes == 2
    # The guest names its groups without the VM prefix.
    assert set(shared.plan("db").vcpu_groups) == {"primary", "replica"}


@st.composite
def smt_requests(draw: st.DrawFn) -> SharedHostRequest:
    """Two to four VMs, odd sizes often, filling most threads of 2-3 nodes of 2-3
    two-thread cores: tight enough that keeping VMs off each other's cores often decides
    where they go, or whether they fit at all."""
    host = block_host(1, draw(st.integers(2, 3)), cpus_per_node=draw(st.sampled_from([4, 6])), smt=True, memory_gib=8)
    threads = sum(len(node.cpus) for node in host.nodes)
    sizes = draw(st.lists(st.integers(1, 5), min_size=2, max_size=4).filter(lambda v: threads - 3 <= sum(v) <= threads))
    vms = []
    for k, size in enumerate(sizes):
        cut = draw(st.integers(0, size - 1))  # vCPUs of a second group (0: one group only)
        groups = [Group("a", size - cut, GIB // 2, split=draw(st.booleans()))] + ([Group("b", cut, GIB // 2)] if cut else [])
        flows = (Traffic("a", "b", draw(st.integers(1, 9))),) if cut else ()
        vms.append(VmRequest(f"vm{k}", Workload(tuple(groups), traffic=flows), priority=draw(st.integers(1, 3))))
    return SharedHostRequest(host, tuple(vms), settings=SETTINGS)


def whole_cores_apart(request: SharedHostRequest) -> Callable[[Placement], bool]:
    """Brute force's own test that no physical core holds two VMs' vCPUs: on each node every
    VM needs ceil(its vCPUs there / 2) of the node's two-thread cores (all free here)."""
    instance = build_instance(combine(request))
    vm_of = [g.name.split("/")[0] for g in instance.request.workload.groups]

    def fits(placement: Placement) -> bool:
        vcpus: dict[tuple[str, int], int] = {}
        for item, node in zip(instance.items, placement.items, strict=True):
            vcpus[vm_of[item.group], node] = vcpus.get((vm_of[item.group], node), 0) + item.cores
        for split, cores in zip(instance.splits, placement.split_cores, strict=True):
            for node, count in enumerate(cores):
                vcpus[vm_of[split.group], node] = vcpus.get((vm_of[split.group], node), 0) + count
        needed = [0] * instance.num_nodes
        for (_, node), count in vcpus.items():
            needed[node] += -(-count // 2)
        return all(needed[n] <= instance.node_cores[n] // 2 for n in range(instance.num_nodes))

    return fits


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(smt_requests())
def test_joint_optimum_on_an_smt_host_equals_brute_force(request: SharedHostRequest) -> None:
    best = brute_force_optimum(combine(request), check_rules=True, accept=whole_cores_apart(request))
    try:
        shared = checked(request)
    except NoPlanError as error:
        assert best is None, f"{error!r} but brute force found {best}"
        return
    assert best is not None, "a plan, but brute force finds none that keeps VMs off each other's cores"
    if shared.status is SolveStatus.OPTIMAL:
        assert shared.objective == pytest.approx(best)


def test_priority_decides_who_gets_the_near_nodes() -> None:
    # One socket of two 4-CPU nodes, a far third node: two VMs of two talking groups each;
    # only one VM can stay within the socket, and the one with the higher priority does.
    host = block_host(1, 2, cpus_per_node=4)
    far = np.array([[10, 12, 40], [12, 10, 40], [40, 40, 10]])
    host = type(host)((*host.nodes, type(host.nodes[0])(2, (8, 9, 10, 11), 64 * GIB, 60 * GIB)), far)

    def vm(name: str, priority: int) -> VmRequest:
        groups = (Group("a", 2, GIB), Group("b", 2, GIB))
        return VmRequest(name, Workload(groups, traffic=(Traffic("a", "b", 10),), rules=((Rule.APART, ("a", "b")),)), priority=priority)

    from numaopt.model import Rule

    for first, second in ((1, 5), (5, 1)):
        request = SharedHostRequest(host, (vm("x", first), vm("y", second)), settings=SETTINGS)
        shared = checked(request)
        winner = "y" if second > first else "x"
        assert {node.host_nodes[0] for node in shared.plan(winner).layout.nodes} == {0, 1}


@st.composite
def shared_requests(draw: st.DrawFn) -> SharedHostRequest:
    host = block_host(1, draw(st.integers(2, 3)), cpus_per_node=draw(st.integers(3, 5)), memory_gib=8)
    vms = []
    for k in range(2):
        groups = [Group("a", draw(st.integers(1, 3)), GIB, split=draw(st.booleans()))]
        if draw(st.booleans()):
            groups.append(Group("b", draw(st.integers(1, 2)), GIB))
        names = [g.name for g in groups]
        flows = tuple(Traffic(a, b, draw(st.integers(1, 9))) for a in names for b in names if a < b)
        vms.append(VmRequest(f"vm{k}", Workload(tuple(groups), traffic=flows), priority=draw(st.integers(1, 3))))
    return SharedHostRequest(host, tuple(vms), settings=SETTINGS)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(shared_requests())
def test_joint_optimum_equals_brute_force(request: SharedHostRequest) -> None:
    best = brute_force_optimum(combine(request))
    try:
        shared = checked(request)
    except Exception as error:
        assert best is None, f"{error!r} but brute force found {best}"
        return
    assert best is not None
    if shared.status is SolveStatus.OPTIMAL:
        assert shared.objective == pytest.approx(best)


def test_vms_must_agree_on_threads_and_page_size() -> None:
    host = block_host(1, 2, cpus_per_node=8, smt=True)
    vms = (
        VmRequest("a", Workload((Group("vm", 2, GIB),), threads_per_core=2)),
        VmRequest("b", Workload((Group("vm", 2, GIB),))),
    )
    with pytest.raises(InputError, match=r"vm\[1\].threads_per_core: every VM on one host needs the same threads_per_core"):
        place_vms(SharedHostRequest(host, vms, settings=SETTINGS))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[vm]]\nname = "a"\nvcpus = 2\nmemory = "1GiB"\n[[vm]]\nname = "a"\nvcpus = 2\nmemory = "1GiB"\n',
         "vm[1].name: expected a unique VM name without '/', got 'a'"),
        ('sockets_apart = [["a", "zz"]]\n[[vm]]\nname = "a"\nvcpus = 2\nmemory = "1GiB"\n',
         "sockets_apart[0]: expected two different VM names (VMs: a), got ['a', 'zz']"),
        ('[[vm]]\nname = "a"\npriority = 0\nvcpus = 2\nmemory = "1GiB"\n', "vm[0].priority: expected a whole number 1..1000000, got 0"),
        ('[[vm]]\nname = "a"\nvcpus = 2\nmemory = "1GiB"\ncolour = "red"\n', "vm[0]"),
    ],
)
def test_several_vm_schema_errors_name_the_key(text: str, message: str) -> None:
    host = '[host]\nsynthetic = "pack:1 numa:2 core:4 pu:1"\ndistances = "12,32"\n'
    head, _, rest = text.partition("[[vm]]")
    with pytest.raises(ProblemError) as info:
        parse_problem(head + host + "[[vm]]" + rest, source="x.toml")
    assert str(info.value).startswith("x.toml: ") and message in str(info.value)
    assert "\n" not in str(info.value)


def test_solve_writes_one_file_per_vm_and_launch_takes_one(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "plans"
    result = runner.invoke(app, ["solve", str(EXAMPLE), "--format", "json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["batch.json", "db.json", "plans.json", "web.json"]
    joint = json.loads((out / "plans.json").read_text())
    assert [vm["name"] for vm in joint["vms"]] == ["db", "web", "batch"]
    stdout = runner.invoke(app, ["solve", str(EXAMPLE), "--format", "shell", "-q"])
    assert stdout.exit_code == 0 and stdout.stdout.count("# vm ") == 3
    domains = run("solve", str(EXAMPLE), "--format", "libvirt", "-q")  # on stdout: one domain per # vm section
    assert domains.returncode == 0 and domains.stdout.count("# vm ") == 3 and domains.stdout.count("<domain ") == 3
    xml = runner.invoke(app, ["solve", str(EXAMPLE), "--format", "libvirt", "-q", "--out", str(tmp_path / "xml")])
    assert xml.exit_code == 0 and "<name>web</name>" in (tmp_path / "xml" / "web.xml").read_text()
    ambiguous = run("launch", str(out / "plans.json"))
    assert ambiguous.returncode == 1 and "choose one with --vm NAME" in ambiguous.stderr


@pytest.mark.qemu
def test_launch_starts_the_chosen_vm_of_a_joint_plan(tmp_path: Path) -> None:
    # Two one-vCPU VMs on this machine's own CPUs: the second VM's vCPU must land on the
    # CPU the first one does not use.
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        pytest.skip("needs two CPUs")
    problem = tmp_path / "two.toml"
    problem.write_text(
        "[host]\n"
        f'nodes = [ {{ id = 0, cpus = "{cpus[0]},{cpus[1]}", memory = "4GiB" }} ]\n'
        "distances = [[10]]\n"
        '[[vm]]\nname = "first"\nvcpus = 1\nmemory = "128MiB"\n'
        '[[vm]]\nname = "second"\nvcpus = 1\nmemory = "128MiB"\n'
    )
    out = tmp_path / "plans"
    assert run("solve", str(problem), "--format", "json", "--out", str(out), "-q").returncode == 0
    first = json.loads((out / "first.json").read_text())["vcpu_to_host_cpu"]["0"]
    second = json.loads((out / "second.json").read_text())["vcpu_to_host_cpu"]["0"]
    assert {first, second} == {cpus[0], cpus[1]}
    process = subprocess.Popen(
        [sys.executable, "-m", "numaopt", "launch", str(out / "plans.json"), "--vm", "second", "--",
         "-S", "-display", "none", "-nodefaults", "-accel", "tcg"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        words = process.stderr.readline().split()
        # pinned vCPU 0 (thread 6951) to host CPU 1
        assert words[:3] == ["pinned", "vCPU", "0"] and int(words[-1]) == second
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)


def test_no_plan_for_several_vms_names_the_file(tmp_path: Path) -> None:
    problem = tmp_path / "crowded.toml"
    problem.write_text(
        '[host]\nsynthetic = "pack:1 numa:2 core:2 pu:1"\ndistances = "12,32"\n'
        '[[vm]]\nname = "a"\nvcpus = 4\nmemory = "128MiB"\n[[vm]]\nname = "b"\nvcpus = 2\nmemory = "128MiB"\n'
    )
    result = run("solve", str(problem), "-q")
    assert result.returncode == 3
    assert result.stderr == f"numaopt: error: {problem}: no plan: the workload needs 6 vCPUs; the host has 4 free CPUs\n"


def test_a_plan_with_an_unbound_guest_node_is_a_finding_not_a_crash() -> None:
    from dataclasses import replace

    problem = load_problem(EXAMPLE)
    assert problem.shared is not None
    shared = place_vms(problem.shared)
    db = shared.plan("db")
    first = replace(db.layout.nodes[0], host_nodes=())
    broken = replace(db, layout=replace(db.layout, nodes=(first, *db.layout.nodes[1:])))
    found = verify_shared(problem.shared, {**dict(shared.plans), "db": broken})
    assert "VM db: guest node 0 is bound to host nodes (), expected one" in found


def _two_small_vms_apart(time_limit_s: float) -> SharedHostRequest:
    host = block_host(2, 2, cpus_per_node=8)
    vms = tuple(VmRequest(name, Workload((Group("g0", 2, GIB),))) for name in ("a", "b"))
    settings = SearchSettings(time_limit_s=time_limit_s, seed=0, workers=1)
    return SharedHostRequest(host, vms, settings=settings, sockets_apart=(("a", "b"),))


def test_a_time_limit_too_short_for_any_search_still_gives_a_plan_that_keeps_sockets_apart() -> None:
    # With no time for CP-SAT, the search's answer is the greedy first plan, which knows
    # nothing of sockets_apart (it put both VMs on node 0 and came out as FEASIBLE, broken).
    request = _two_small_vms_apart(0.001)
    for deadline in (None, 0.0):  # the limit from now; a deadline already past
        shared = place_vms(request, deadline=deadline)
        assert verify_shared(request, dict(shared.plans), shared.objective) == []
        sockets = [{node.host_nodes[0] // 2 for node in plan.layout.nodes} for _, plan in shared.plans]
        assert not sockets[0] & sockets[1]


def test_a_placement_that_breaks_a_requirement_is_caught_and_repaired() -> None:
    # Whichever way the search ends, what it hands back is checked against the model and
    # repaired: both VMs on host node 0 breaks sockets_apart.
    from numaopt.solver.instance import Placement, build_instance
    from numaopt.solver.repair import keeps_every_requirement, repaired

    instance = build_instance(combine(_two_small_vms_apart(10)))
    both_on_0 = Placement((0, 0), (), ())
    assert not keeps_every_requirement(instance, both_on_0, deadline=0.0)
    fixed = repaired(instance, both_on_0, deadline=0.0)
    assert fixed.items[0] // 2 != fixed.items[1] // 2
    assert keeps_every_requirement(instance, fixed, deadline=0.0)


def test_every_cp_sat_call_gets_what_is_left_of_the_one_deadline(monkeypatch: pytest.MonkeyPatch) -> None:
    # The problem says 10 s; the caller's deadline is 3 s away (the CLI's deadline counts from
    # the process start). No stage may start its own clock from the time limit.
    import time

    from numaopt.solver import sigint

    calls: list[tuple[float, float]] = []
    real = sigint.solve

    def spy(solver, model, callback=None):  # type: ignore[no-untyped-def]
        calls.append((time.perf_counter(), solver.parameters.max_time_in_seconds))
        return real(solver, model, callback)

    monkeypatch.setattr(sigint, "solve", spy)
    problem = load_problem(EXAMPLE)
    assert problem.shared is not None and problem.shared.settings.time_limit_s == 10
    deadline = time.perf_counter() + 3.0
    checked_plan = place_vms(problem.shared, deadline=deadline)
    assert verify_shared(problem.shared, dict(checked_plan.plans), checked_plan.objective) == []
    assert calls  # every CP-SAT pass of the search (a repair runs only when no pass found a plan)
    for started, limit in calls:  # set a moment before the call: that moment is the slack
        assert limit <= deadline - started + 0.05


def _smt_request(*sizes: int) -> SharedHostRequest:
    host = block_host(1, 2, cpus_per_node=8, smt=True)  # 2 nodes of 4 cores x 2 threads: CPU c and c + 8
    vms = tuple(VmRequest(f"v{k}", Workload((Group("g", size, GIB),))) for k, size in enumerate(sizes))
    return SharedHostRequest(host, vms, settings=SETTINGS)


def _cores_of(request: SharedHostRequest, plan) -> set[tuple[int, ...]]:  # type: ignore[no-untyped-def]
    siblings = request.host.siblings()
    return {siblings[cpu] for _, cpu in plan.vcpu_to_host_cpu}


def test_vms_never_share_a_physical_core_and_spread_over_their_own() -> None:
    # 3 + 3 + 2 one-thread vCPUs on 8 cores: pinned one VM after another, the third VM used
    # to get the sibling of the second VM's first core (one VM on each hyperthread).
    request = _smt_request(3, 3, 2)
    shared = checked(request)
    cores = {name: _cores_of(request, plan) for name, plan in shared.plans}
    assert not cores["v0"] & cores["v1"] and not cores["v0"] & cores["v2"] and not cores["v1"] & cores["v2"]
    # Each VM on one node (4 cores); node 1's spare core goes to v1, one thread on each of
    # 3 cores, and v2 takes both threads of the last one.
    assert [len(cores[name]) for name in ("v0", "v1", "v2")] == [3, 3, 1]


def test_whole_cores_per_vm_can_make_a_host_too_small_and_the_reason_says_so() -> None:
    # 15 threads of 16 fit, but VMs of 3, 5, 4 and 3 vCPUs need 2 + 3 + 2 + 2 = 9 of the 8 cores.
    with pytest.raises(NoPlanError, match="no two VMs on one physical core of host node"):
        place_vms(_smt_request(3, 5, 4, 3))
    assert checked(_smt_request(3, 3, 4, 4)).status is SolveStatus.OPTIMAL  # 2 + 2 + 2 + 2 cores


def test_verify_shared_finds_two_vms_on_one_core() -> None:
    from dataclasses import replace

    request = _smt_request(3, 3, 2)
    shared = place_vms(request)
    v1_cpu = min(cpu for _, cpu in shared.plan("v1").vcpu_to_host_cpu)
    sibling = next(cpu for cpu in request.host.siblings()[v1_cpu] if cpu != v1_cpu)
    v2 = shared.plan("v2")
    moved = replace(v2, vcpu_to_host_cpu=((0, sibling), *v2.vcpu_to_host_cpu[1:]))
    found = verify_shared(request, {**dict(shared.plans), "v2": moved})
    assert f"host core {v1_cpu},{sibling} holds vCPUs of VM v1 and VM v2" in found
