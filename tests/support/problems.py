"""Every problem in problems/ as a Plan: explicit layouts as given, searches solved."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from numaopt.model import Plan
from numaopt.problem import load_problem
from numaopt.solver.place import place

ROOT = Path(__file__).resolve().parents[2]
INFEASIBLE = [ROOT / "problems" / "infeasible.toml"]  # shipped to show exit 3; no plan
# Several VMs on one host give one plan per VM: tests/solver/test_shared_host.py covers them.
SHARED = sorted(p for p in (ROOT / "problems").glob("*.toml") if load_problem(p).shared is not None)
PROBLEMS = sorted(p for p in (ROOT / "problems").glob("*.toml") if p not in INFEASIBLE and p not in SHARED)
EXPLICIT = [p for p in PROBLEMS if load_problem(p).layout is not None]
SEARCHES = [p for p in PROBLEMS if load_problem(p).placement is not None]


@cache
def plan_for(path: Path) -> Plan:
    problem = load_problem(path)
    if problem.layout is not None:
        return Plan(problem.layout)
    assert problem.placement is not None
    return place(problem.placement)
