"""numaopt: search, check and render QEMU guest NUMA layouts.

From Python::

    import numaopt

    plan = numaopt.solve("problems/epyc-db.toml")
    print(numaopt.render_plan(plan, "shell"))

The names below are the public API (docs/api.md); everything else may move. They are
imported on first use, so ``import numaopt`` stays cheap for the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "read_problem": "numaopt.api",
    "solve": "numaopt.api",
    "check": "numaopt.api",
    "render_plan": "numaopt.api",
    "FORMATS": "numaopt.api",
    "Problem": "numaopt.problem",
    "Plan": "numaopt.model",
    "SharedHostPlan": "numaopt.solver.shared_host",
    "PlacementRequest": "numaopt.model",
    "SharedHostRequest": "numaopt.model",
    "Workload": "numaopt.model",
    "Group": "numaopt.model",
    "Traffic": "numaopt.model",
    "SearchSettings": "numaopt.model",
    "SolveStatus": "numaopt.model",
    "Machine": "numaopt.model",
    "RuleSet": "numaopt.rules",
    "Severity": "numaopt.rules",
    "Finding": "numaopt.rules",
    "VmOptions": "numaopt.render.target",
    "NumaoptError": "numaopt.errors",
    "InputError": "numaopt.errors",
    "LayoutError": "numaopt.errors",
    "NoPlanError": "numaopt.solver.place",
}
_ALIASES = {"Host": ("numaopt.model", "HostTopology"), "Layout": ("numaopt.model", "GuestLayout")}

__all__ = [
    "FORMATS",
    "Finding",
    "Group",
    "Host",
    "InputError",
    "Layout",
    "LayoutError",
    "Machine",
    "NoPlanError",
    "NumaoptError",
    "PlacementRequest",
    "Plan",
    "Problem",
    "RuleSet",
    "SearchSettings",
    "Severity",
    "SharedHostPlan",
    "SharedHostRequest",
    "SolveStatus",
    "Traffic",
    "VmOptions",
    "Workload",
    "__version__",
    "check",
    "read_problem",
    "render_plan",
    "solve",
]

if TYPE_CHECKING:
    from numaopt.api import FORMATS, check, read_problem, render_plan, solve
    from numaopt.errors import InputError, LayoutError, NumaoptError
    from numaopt.model import (
        Group,
        Machine,
        PlacementRequest,
        Plan,
        SearchSettings,
        SharedHostRequest,
        SolveStatus,
        Traffic,
        Workload,
    )
    from numaopt.model import GuestLayout as Layout
    from numaopt.model import HostTopology as Host
    from numaopt.problem import Problem
    from numaopt.render.target import VmOptions
    from numaopt.rules import Finding, RuleSet, Severity
    from numaopt.solver import NoPlanError, SharedHostPlan


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    if name in _ALIASES:
        module, attribute = _ALIASES[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'numaopt' has no attribute {name!r}")
