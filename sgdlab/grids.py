"""Log grids: the iteration numbers t ∈ [0, T] at which quantities are recorded."""

from __future__ import annotations

import numpy as np


def log_grid(horizon: int, *, every: int, geometric: bool, num: int) -> np.ndarray:
    """Sorted unique steps in [0, T], always holding 0 and T.

    ``every`` = k > 0 gives 0, k, 2k, … and T (it takes precedence over ``geometric``);
    otherwise ``geometric`` gives 0 plus ``num`` steps spaced geometrically in [1, T]
    (rounded, deduplicated), and with neither only 0 and T are logged."""
    if every > 0:
        inner = np.arange(0, horizon + 1, every, dtype=np.int64)
    elif geometric:
        inner = np.rint(np.geomspace(1, max(horizon, 1), max(num, 1))).astype(np.int64)
    else:
        inner = np.zeros(0, dtype=np.int64)
    return np.unique(np.concatenate([[0, horizon], inner]).astype(np.int64))
