"""Fast paths for the hot batch checks; results identical to the numpy references."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def triangle_ok(work: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    """Triangle inequality per matrix of ``work`` (diagonal already zeroed)."""
    from numaopt.distances import _triangle_ok_numpy

    return _triangle_ok_numpy(work)
