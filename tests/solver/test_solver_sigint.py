"""A CP-SAT solve leaves SIGINT's handling as it found it (numaopt.solver.sigint).

OR-Tools sets SIGINT to SIG_DFL after every solve, so before the fix a Ctrl-C after a
solve killed the process outright (no KeyboardInterrupt, no cleanup) and an ignored
SIGINT stopped being ignored. Each case runs in a child process, which interrupts
itself after solving a placement, an infeasible placement (its explanation solves
again) and a distance matrix.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = textwrap.dedent(
    """
    import os, signal, sys, time
    from numaopt.errors import NumaoptError
    from numaopt.solver.place import place
    from numaopt.problem import load_problem
    from numaopt.solver.synthesis import MatrixSpec, synthesize
    if sys.argv[1] == "ignored":
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # as in a background job of a script
    for name in ("snc2-pipeline.toml", "infeasible.toml"):
        try:
            place(load_problem(os.path.join("problems", name)).placement)
        except NumaoptError:
            pass
    synthesize(MatrixSpec(num_nodes=3, cpu_nodes=(True, True, True)), seed=1)
    try:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(5)
    except KeyboardInterrupt:
        sys.exit(42)
    sys.exit(0)
    """
)


@pytest.mark.parametrize(("start", "returncode"), [("handled", 42), ("ignored", 0)])
def test_ctrl_c_after_a_solve_is_what_it_was_before(start: str, returncode: int) -> None:
    # A default_int_handler child even when the suite runs with SIGINT ignored.
    result = subprocess.run(
        [sys.executable, "-c", "import signal; signal.signal(signal.SIGINT, signal.default_int_handler)\n" + SCRIPT, start],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )
    assert result.returncode == returncode, result.stderr[-2000:]  # -2: killed by the SIGINT
