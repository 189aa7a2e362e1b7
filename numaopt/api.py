"""numaopt from Python: read a problem, solve it, check a layout, render a plan.

The same steps the command line takes, without printing or exiting: every failure is a
``NumaoptError`` (``InputError`` for bad input, ``LayoutError`` for a layout a target
refuses, ``NoPlanError`` when no plan exists or none was found in time).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

from numaopt.errors import InputError, LayoutError
from numaopt.layout import check_layout
from numaopt.model import GuestLayout, PlacementRequest, Plan, SharedHostRequest
from numaopt.problem import Problem, load_problem
from numaopt.render.target import VmOptions
from numaopt.rules import Finding, RuleSet, Severity
from numaopt.solver import SharedHostPlan

FORMATS = ("qemu", "shell", "json", "libvirt", "libvirt-domain", "proxmox", "cloud-hypervisor")


def read_problem(path: str | Path) -> Problem:
    """A problem file (TOML): an explicit layout, a search, or several VMs on one host."""
    return load_problem(path)


def solve(
    problem: Problem | PlacementRequest | SharedHostRequest | str | Path,
    *,
    time_limit_s: float | None = None,
    adjust_distances: bool = False,
) -> Plan | SharedHostPlan:
    """The plan for a problem (or a problem file): an explicit layout checked and kept as
    given, a search placed by CP-SAT within its time limit (``time_limit_s`` overrides the
    file's), several VMs placed together (a ``SharedHostPlan`` with one plan per VM)."""
    from dataclasses import replace

    from numaopt.solver import place, place_vms

    if isinstance(problem, (str, Path)):
        problem = load_problem(problem)
    if isinstance(problem, Problem):
        if problem.layout is not None:
            errors = [f for f in check(problem.layout) if f.severity is Severity.ERROR]
            if errors:
                raise LayoutError(f"{problem.source}: {errors[0]}")
            return Plan(layout=problem.layout)
        target = problem.shared if problem.shared is not None else problem.placement
        assert target is not None, "a problem is a layout, a search or several VMs"
        problem = target
    if time_limit_s is not None:
        problem = replace(problem, settings=replace(problem.settings, time_limit_s=time_limit_s))
    deadline = time.perf_counter() + problem.settings.time_limit_s
    if isinstance(problem, SharedHostRequest):
        return place_vms(problem, deadline=deadline, adjust_distances=adjust_distances)
    return place(problem, deadline=deadline, adjust_distances=adjust_distances)


def check(layout: GuestLayout, rules: Iterable[RuleSet] | None = None) -> list[Finding]:
    """Every finding on ``layout``: by default QEMU's and its guest's own rule set's."""
    chosen = tuple(rules) if rules is not None else tuple(dict.fromkeys((RuleSet.QEMU, layout.rules)))
    found: list[Finding] = []
    for rule_set in chosen:
        found += [f for f in check_layout(layout, rule_set) if f not in found]
    return found


def render_plan(plan: Plan, fmt: str = "qemu", options: VmOptions | None = None) -> str:
    """A plan as text: ``qemu`` (one command line), ``shell`` (one option per line), ``json``
    (the plan), ``libvirt-domain`` (``libvirt`` is the same), ``proxmox`` (a Proxmox VE VM
    config) or ``cloud-hypervisor`` (a command line); ``options`` name the VM, its
    accelerator and a direct kernel boot for the formats that hold them."""
    from numaopt.render.json import plan_to_json
    from numaopt.render.qemu import one_line, shell_text

    options = options or VmOptions()
    if fmt == "qemu":
        return one_line(plan)
    if fmt == "shell":
        return shell_text(plan)
    if fmt == "json":
        return plan_to_json(plan)
    if fmt in ("libvirt", "libvirt-domain"):
        from numaopt.render.libvirt import domain_xml

        return domain_xml(plan, options)
    if fmt == "proxmox":
        from numaopt.render.proxmox import proxmox_config

        return proxmox_config(plan, options)
    if fmt == "cloud-hypervisor":
        from numaopt.render.cloud_hypervisor import cloud_hypervisor_text

        return cloud_hypervisor_text(plan, options)
    raise InputError(f"unknown format {fmt!r} (valid: {', '.join(FORMATS)})", where="format")
