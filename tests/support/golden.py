"""Golden files under tests/golden/: compare, or rewrite with NUMAOPT_UPDATE_GOLDEN=1."""

from __future__ import annotations

import os
from pathlib import Path

GOLDEN = Path(__file__).resolve().parents[1] / "golden"


def assert_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("NUMAOPT_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"missing golden file {path}; run with NUMAOPT_UPDATE_GOLDEN=1 once"
    assert text == path.read_text()
