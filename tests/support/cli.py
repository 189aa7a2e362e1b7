"""``numaopt ARGS`` in-process through the real entry point, with what it printed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from numaopt.cli import main

RUNNER = CliRunner()


@dataclass(frozen=True)
class Outcome:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, stdin: bytes | None = None) -> Outcome:
    """``numaopt ARGS`` through ``main`` (exit code as the shell sees it), streams captured."""
    with RUNNER.isolation(input=stdin) as (out, err, _):
        try:
            main(list(args))
            code: Any = 0
        except SystemExit as exc:
            code = exc.code
        stdout, stderr = out.getvalue().decode(errors="replace"), err.getvalue().decode(errors="replace")
    return Outcome(code if isinstance(code, int) else 1, stdout, stderr)
