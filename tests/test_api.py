"""The public API: what docs/api.md shows runs as written, and the names it lists exist."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import numaopt

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "api.md").read_text(), flags=re.S)


@pytest.mark.parametrize("code", EXAMPLES, ids=lambda code: code.splitlines()[2][:40])
def test_docs_examples_run(code: str) -> None:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr


def test_every_public_name_resolves() -> None:
    for name in numaopt.__all__:
        assert getattr(numaopt, name) is not None
    with pytest.raises(AttributeError):
        numaopt.no_such_name  # noqa: B018


def test_import_numaopt_does_not_load_the_solver() -> None:
    code = "import sys, numaopt; print('ortools' in sys.modules, 'numaopt.api' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False False\n"


def test_solve_refuses_an_explicit_layout_qemu_refuses(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[guest]\nvcpus = 4\nmemory = "1GiB"\nnodes = [ { cpus = "0-3" }, { cpus = "0-1" } ]\n')
    with pytest.raises(numaopt.NumaoptError):
        numaopt.solve(bad)
    assert (ROOT / "numaopt" / "py.typed").exists()
