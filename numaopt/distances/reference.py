"""Plain-numpy references the compiled kernels (``numaopt.distances.compiled``) must equal.

Nothing here imports the rest of ``numaopt.distances``: the compiled module falls back to
these, and the checks in ``numaopt.distances`` dispatch to either, without a circle.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def triangle_ok_numpy(work: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Triangle inequality per matrix of ``work`` (diagonal zeroed): loop over the middle
    node j, vectorised over batch, i and k."""
    ok = np.ones(work.shape[0], dtype=bool)
    for j in range(work.shape[1]):
        via_j = work[:, :, j, None] + work[:, None, j, :]
        ok &= ~np.any(work > via_j, axis=(1, 2))
    return ok
