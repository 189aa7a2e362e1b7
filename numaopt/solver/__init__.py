"""The search: the only package that imports OR-Tools, and its one door.

Code outside ``numaopt.solver`` asks for a plan through the names below and nothing else:
``place`` (one VM: request -> instance -> CP-SAT and assignment heuristics -> Plan),
``place_vms`` (several VMs on one host, one search), ``synthesize`` (distance matrices
with required properties, for ``numaopt generate``). The modules behind the door:

* ``instance``  the request as integer data (items, split groups, capacities, prices)
* ``placement`` the CP-SAT model and the search portfolio; ``assignment`` and
  ``heuristic`` the QAP starts and local search it races against
* ``plan``      a decision -> Plan (guest nodes, pinning, binding)
* ``explain``   no plan -> the smallest set of requirements that conflict
* ``place``, ``shared_host``  the end-to-end drivers behind ``place`` and ``place_vms``
* ``synthesis`` CP-SAT search for distance matrices
"""

from numaopt.solver.place import NoPlanError, place
from numaopt.solver.placement import Progress
from numaopt.solver.shared_host import SharedHostPlan, place_vms
from numaopt.solver.synthesis import MatrixSpec, SynthesisResult, synthesize

__all__ = ["MatrixSpec", "NoPlanError", "Progress", "SharedHostPlan", "SynthesisResult", "place", "place_vms", "synthesize"]
