"""CP-SAT solves that leave the process's Ctrl-C handling as they found it.

With ``catch_sigint_signal`` (its default) CP-SAT installs a SIGINT handler of its own
for the solve, so that Ctrl-C stops the search as a time limit would, and afterwards
sets SIGINT to SIG_DFL whatever it was before (OR-Tools 9.15, ``SigintHandler``). Python
does not know: its KeyboardInterrupt handler is gone, so a later Ctrl-C kills numaopt on
the spot with no cleanup, and a SIGINT that was ignored (a background job of a shell
script, ``nohup``) now kills it. That is how a test that interrupts itself killed whole
test runs started in the background.

``solve`` lets CP-SAT catch Ctrl-C only where Python would have handled it (the main
thread, Python's own handler in place) and puts that handler back afterwards.
"""

from __future__ import annotations

import signal
import threading

from ortools.sat.python import cp_model

__all__ = ["solve"]


def solve(
    solver: cp_model.CpSolver, model: cp_model.CpModel, callback: cp_model.CpSolverSolutionCallback | None = None
) -> cp_model.CpSolverStatus:
    """``solver.solve(model, callback)``, SIGINT's handler the same before and after."""
    catch = threading.current_thread() is threading.main_thread() and (
        signal.getsignal(signal.SIGINT) is signal.default_int_handler
    )
    solver.parameters.catch_sigint_signal = catch
    try:
        return solver.solve(model) if callback is None else solver.solve(model, callback)
    finally:
        if catch:
            signal.signal(signal.SIGINT, signal.default_int_handler)
