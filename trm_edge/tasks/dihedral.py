"""The 8 symmetries of a square grid (the dihedral group D4), shared by Maze and ARC.

Transform ids follow the authors' data code: 0 identity, 1-3 rotate by 90/180/270 degrees
(numpy's rot90, counter-clockwise), 4 flip left-right, 5 flip up-down, 6 transpose,
7 anti-transpose. `INVERSE[k]` undoes k. Everything acts on the last two axes, so a batch
(N, H, W) is transformed in one call.
"""
from __future__ import annotations

import numpy as np

N_DIHEDRAL = 8
INVERSE = (0, 3, 2, 1, 4, 5, 6, 7)


def dihedral(grid: np.ndarray, k: int) -> np.ndarray:
    """Apply transform k (0..7) to the last two axes of `grid`."""
    a = (-2, -1)
    if k == 0:
        return grid
    if k in (1, 2, 3):
        return np.rot90(grid, k=k, axes=a)
    if k == 4:
        return np.flip(grid, axis=-1)
    if k == 5:
        return np.flip(grid, axis=-2)
    if k == 6:
        return np.swapaxes(grid, -2, -1)
    if k == 7:
        return np.flip(np.rot90(grid, k=1, axes=a), axis=-1)
    raise ValueError(f"dihedral transform id must be 0..7, got {k}")


def inverse_dihedral(grid: np.ndarray, k: int) -> np.ndarray:
    return dihedral(grid, INVERSE[k])
