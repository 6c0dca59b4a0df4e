"""Sudoku-hard: the generator (uniqueness, minimality, rating) and the paper recipe at tiny size on CPU."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from trm_edge.tasks import get_task
from trm_edge.tasks import sudoku_hard as H
from trm_edge.tasks.sudoku import SudokuSolver

INKALA = "800000000003600000070090200050007000000045700000100030001000068008500010090000400"  # needs guessing
EASY = "530070000600195000098000060800060003400803001700020006060000280000419005000080079"  # singles suffice


def singles_only(grid) -> bool:
    """Independent reference: do naked + hidden singles alone fill the grid? (sets, not bitmasks)"""
    cand = [{v} if v else set(range(1, 10)) for v in grid]
    units = [list(u) for u in H.UNITS]
    changed = True
    while changed:
        changed = False
        for i in range(81):
            if len(cand[i]) == 1:
                for p in H.PEERS[i]:
                    if cand[i] & cand[p]:
                        cand[p] = cand[p] - cand[i]
                        changed = True
        for u in units:
            for d in range(1, 10):
                where = [i for i in u if d in cand[i]]
                if len(where) == 1 and len(cand[where[0]]) > 1:
                    cand[where[0]] = {d}
                    changed = True
        if any(not c for c in cand):
            return False
    return all(len(c) == 1 for c in cand)


def _grid(text):
    return np.array([int(ch) for ch in text], np.int64)


def test_rating_of_known_puzzles():
    counts, backs = H.rate(np.stack([_grid(EASY), _grid(INKALA)]))
    assert counts.tolist() == [1, 1]
    assert backs[0] == 0 and backs[1] > 0
    bad = _grid(EASY)
    bad[1] = 5  # two 5s in the first row
    assert H.rate(bad)[0][0] == 0


def test_candidates_are_unique_minimal_and_rated():
    grids, sols, ratings = H.candidates(seed=11, start=0, count=6)
    lead = SudokuSolver(9)  # an independent solver (naked singles only) checks uniqueness
    task = get_task("sudoku9-hard")
    for g, s, r in zip(grids, sols, ratings):
        n, first, _ = lead.solve(list(g), limit=2)
        assert n == 1 and first == list(s)
        assert task.verify(g + 1, s + 1)
        assert 17 <= (g > 0).sum() <= 35
        assert (r == 0) == singles_only(list(g))
        for c in np.flatnonzero(g)[:8]:  # minimal: dropping a clue breaks uniqueness
            h = g.copy()
            h[c] = 0
            assert H.rate(h)[0][0] == 2


def test_generate_filters_and_is_deterministic():
    task = get_task("sudoku9-hard")
    assert (task.name, task.vocab_size, task.seq_len) == ("sudoku9-hard", 11, 81)
    x, y = task.generate(8, seed=5)
    assert x.dtype == np.int32 and x.shape == (8, 81)
    assert (task.rating(x) >= task.min_backtracks).all()
    assert task.verify(x, y).all()
    x2, y2 = task.generate(8, seed=5)
    assert (x == x2).all() and (y == y2).all()
    g, s, r = H.generate_hard(8, seed=5, chunk=3)  # chunking never changes the stream
    assert (g + 1 == x).all() and (r >= 1).all()
    assert not (task.generate(8, seed=6)[0] == x).all(axis=1).any()
    ax, ay = task.augment(x, y, np.random.default_rng(0))
    assert task.verify(ax, ay).all() and ((ax > 1).sum(1) == (x > 1).sum(1)).all()


@pytest.mark.skipif(not H.HAVE_NUMBA, reason="numba not installed: both paths are the Python one")
def test_pure_python_fallback_gives_identical_puzzles():
    code = ("import numpy as np; from trm_edge.tasks import sudoku_hard as H; assert not H.HAVE_NUMBA; "
            "g, s, r = H.candidates(3, 7, 1); print(''.join(map(str, g[0])), ''.join(map(str, s[0])), r[0])")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TRM_EDGE_NO_NUMBA": "1"},
                         capture_output=True, text=True, check=True, timeout=120).stdout.split()
    g, s, r = H.candidates(3, 7, 1)
    assert out == ["".join(map(str, g[0])), "".join(map(str, s[0])), str(r[0])]
