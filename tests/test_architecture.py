"""The layering docs/architecture.md draws, held by reading every import in the tree.

Each area of numaopt/ (a top-level module or a package) may import only the areas listed
for it below; only the search imports OR-Tools and only the command line imports typer or
prints; no module imports itself back through others; tests share code through
tests/support and conftest.py, never by importing another test module; benchmarks import
numaopt only. The table is the one in docs/architecture.md (a test checks they agree).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "numaopt"

FOUNDATION = {"errors", "inputs", "units", "rules", "files", "clock", "processes", "tables", "xml_input"}
DOMAIN = FOUNDATION | {"distances", "model", "layout"}
# Which areas each area may import (its own modules always).
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "rules": set(),
    "clock": set(),
    "processes": set(),
    "inputs": {"errors"},
    "files": {"errors"},
    "units": {"inputs"},
    "tables": {"errors", "inputs"},
    "xml_input": {"errors"},
    "distances": {"rules"},
    "model": {"distances", "rules"},
    "layout": {"distances", "model", "rules", "units"},
    "hosts": DOMAIN | {"render"},
    "problem": DOMAIN | {"hosts"},
    "solver": DOMAIN,
    "audit": DOMAIN,
    "render": DOMAIN,
    "qemu": DOMAIN | {"render"},
    "guest": DOMAIN | {"render", "qemu"},
    "generate": DOMAIN | {"render", "solver"},
    "fuzz": DOMAIN | {"render", "qemu", "guest", "generate"},
    "api": DOMAIN | {"problem", "solver", "render"},
    "cli": DOMAIN | {"hosts", "problem", "solver", "audit", "render", "qemu", "guest", "generate", "fuzz", "api", "numaopt"},
    "numaopt": DOMAIN | {"api", "problem", "solver", "render"},  # the package's __init__: the public API
    "__main__": {"cli"},
}
# Third-party packages that belong to one area.
OWNED_IMPORTS = {"ortools": {"solver"}, "typer": {"cli"}, "click": {"cli"}, "rich": {"cli"}}


def _module_name(path: Path) -> str:
    parts = path.resolve().relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "numaopt"


def _imports(path: Path) -> Iterator[tuple[str, int]]:
    """(imported module or module.name, line) for every absolute import in the file."""
    for name, _, line in _imports_from(path):
        yield name, line


def _imports_from(path: Path) -> Iterator[tuple[str, str, int]]:
    """(imported module or module.name, the module it is imported from, line); relative
    imports (``from .state import X``) are made absolute."""
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from ((alias.name, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
            source = ".".join(part for part in (base, node.module or "") if part)
            yield from ((f"{source}.{alias.name}", source, node.lineno) for alias in node.names)


MODULES = {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str:
    """The numaopt module an import names (``numaopt.model.Plan`` -> ``numaopt.model``)."""
    while name not in MODULES:
        name = name.rpartition(".")[0]
    return name


def test_every_area_is_in_the_table() -> None:
    assert {_area(module) for module in MODULES} == set(ALLOWED)


def test_areas_import_only_what_the_layering_allows() -> None:
    wrong = []
    for module, path in MODULES.items():
        area = _area(module)
        for name, source, line in _imports_from(path):
            top = name.split(".")[0]
            if name.startswith("numaopt."):
                target = _area(_resolve(name))
                if target != area and target not in ALLOWED[area]:
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: {area} imports {target}")
                elif target == "solver" != area and source != "numaopt.solver":
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: {name} past the solver's door (numaopt.solver)")
            elif top in OWNED_IMPORTS and area not in OWNED_IMPORTS[top]:
                wrong.append(f"{path.relative_to(ROOT)}:{line}: {area} imports {top} (only {OWNED_IMPORTS[top]})")
    assert wrong == []


def test_only_the_command_line_prints() -> None:
    printing = []
    for module, path in MODULES.items():
        if _area(module) == "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                printing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert printing == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for nxt in successors:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def test_no_import_cycle() -> None:
    """Module to module, lazy imports inside functions included (they are cycles all the
    same, only deferred); the package's own __init__ (the public API) is left out."""
    graph: dict[str, set[str]] = {module: set() for module in MODULES}
    for module, path in MODULES.items():
        for name, _ in _imports(path):
            if name.startswith("numaopt."):
                target = _resolve(name)
                if target not in (module, "numaopt"):
                    graph[module].add(target)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_tests_share_code_through_support_only_and_benchmarks_import_numaopt_only() -> None:
    wrong = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for name, line in _imports(path):
            if re.match(r"tests(\.\w+)*\.test_\w+", name) or (name.startswith("tests.") and not name.startswith("tests.support")):
                wrong.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    for path in sorted((ROOT / "benchmarks").glob("*.py")):
        for name, line in _imports(path):
            if name.split(".")[0] == "tests":
                wrong.append(f"{path.relative_to(ROOT)}:{line}: imports {name}")
    assert wrong == []


def test_docs_architecture_states_the_same_table() -> None:
    """docs/architecture.md lists each area and what it may import, one row per area."""
    text = (ROOT / "docs" / "architecture.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| ([^|]*) \|", text, flags=re.MULTILINE))
    documented = {area: set(re.findall(r"`(\w+)`", allowed)) for area, allowed in rows.items()}
    expanded = {area: {a for a in allowed if a != area} for area, allowed in ALLOWED.items()}

    def shown(area: str) -> set[str]:
        names = documented.get(area, set())
        return (names - {"DOMAIN"}) | (DOMAIN - {area} if "DOMAIN" in names else set())

    assert {area: shown(area) for area in documented} == expanded
