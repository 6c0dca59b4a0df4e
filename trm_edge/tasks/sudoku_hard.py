"""Sudoku-hard: minimal 9x9 puzzles that need search, rated by solver backtracks (no downloads).

Our stand-in for Sudoku-Extreme (docs/model.md#tokens: 1000 training puzzles augmented on the fly, a large hard
test set, hardness = backtracks of a fast solver). A candidate puzzle is made in three moves:

  1. a random full grid (the solver below, trying digits in random order);
  2. clues removed one at a time in a random cell order, each removal kept only if the solution
     stays unique -> a *minimal* puzzle (no clue can be dropped; typically 21-27 clues);
  3. its rating = dead ends ("backtracks") met by a DFS that propagates naked and hidden singles
     after every guess and explores the whole tree (it proves uniqueness, so the count does not
     depend on the order digits are tried). Rating 0 means singles alone solve it; the kept
     puzzles have rating >= `min_backtracks` (default 1: every puzzle needs search).

Speed: the solver is written once as plain Python over numpy arrays and compiled with numba when it
is installed (`pip install 'trm-edge[data]'`); with TRM_EDGE_NO_NUMBA=1 the very same functions run
as Python, ~300x slower, with identical output. Without numba, more than PURE_PYTHON_MAX puzzles is
an error unless TRM_EDGE_NO_NUMBA=1 asks for pure Python (~0.3 puzzles/s: 1000 take ~1 h). All
randomness is a tiny integer PRNG of our own (not numpy's) so that both paths give the same puzzles
bit for bit, and every candidate k of a seed is seeded by hash(seed, k), so chunking never changes
a stream.
`trm_edge.data.load_split` caches the splits and can generate them in parallel processes.

The solver is hand-written rather than taken from a package because generation needs solution
counting with a limit, a backtrack count and a seeded random fill in one compiled loop.
"""
from __future__ import annotations

import os

import numpy as np

from .sudoku import Sudoku

try:
    if os.environ.get("TRM_EDGE_NO_NUMBA"):
        raise ImportError
    import numba

    _jit = numba.njit(cache=True, nogil=True)
    HAVE_NUMBA = True
except ImportError:  # same code, interpreted
    def _jit(f):
        return f
    HAVE_NUMBA = False

PURE_PYTHON_MAX = 20  # puzzles generated without numba unless TRM_EDGE_NO_NUMBA=1 asks for pure Python
M32 = 0xFFFFFFFF
ALL = 0x1FF  # 9 candidate bits


def _tables() -> tuple[np.ndarray, np.ndarray]:
    """peers (81, 20): the cells sharing a row, column or box; units (27, 9): rows, cols, boxes."""
    units = [[r * 9 + c for c in range(9)] for r in range(9)]
    units += [[r * 9 + c for r in range(9)] for c in range(9)]
    units += [[(br * 3 + r) * 9 + bc * 3 + c for r in range(3) for c in range(3)]
              for br in range(3) for bc in range(3)]
    peers = [sorted({p for u in units if i in u for p in u} - {i}) for i in range(81)]
    return np.array(peers, np.int64), np.array(units, np.int64)


PEERS, UNITS = _tables()


# ---- PRNG: integer-only so numba and Python agree exactly (products stay below 2**63) ------------
@_jit
def _hash32(x):
    x = x & M32
    x = (((x >> 16) ^ x) * 0x45D9F3B) & M32
    x = (((x >> 16) ^ x) * 0x45D9F3B) & M32
    return (x >> 16) ^ x


@_jit
def _next(state):
    """xorshift32 step on state[0]; returns the new 32-bit value."""
    x = state[0]
    x ^= (x << 13) & M32
    x ^= x >> 17
    x ^= (x << 5) & M32
    state[0] = x
    return x


@_jit
def _popcount(m):
    n = 0
    while m:
        m &= m - 1
        n += 1
    return n


# ---- solver ----------------------------------------------------------------------------------
@_jit
def _propagate(cand, peers, units):
    """Naked + hidden singles to a fixed point on cand (81,) bitmasks, in place. False on contradiction."""
    changed = True
    while changed:
        changed = False
        for c in range(81):
            m = cand[c]
            if m == 0:
                return False
            if m & (m - 1) == 0:  # single candidate: remove it from the peers
                for k in range(20):
                    p = peers[c, k]
                    if cand[p] & m:
                        cand[p] &= ~m
                        if cand[p] == 0:
                            return False
                        changed = True
        for u in range(27):
            for d in range(9):
                bit = 1 << d
                count = 0
                where = -1
                for k in range(9):
                    c = units[u, k]
                    if cand[c] & bit:
                        count += 1
                        where = c
                if count == 0:
                    return False
                if count == 1 and cand[where] != bit:  # hidden single
                    cand[where] = bit
                    changed = True
    return True


@_jit
def _search(cand0, limit, randomize, state, sol, peers, units):
    """DFS over cand0 (81,) with MRV cell choice and singles propagation after every guess.

    Returns (solutions found, capped at limit; backtracks = dead ends met). The first solution's
    digits (1..9) go to sol. With randomize, digits are tried in an order drawn from state.
    """
    stack = np.empty((82, 81), np.int64)  # candidates at each depth (each guess fixes >= 1 cell)
    cell_at = np.zeros(82, np.int64)
    remaining = np.zeros(82, np.int64)    # digits still to try at each depth
    stack[0, :] = cand0
    if not _propagate(stack[0], peers, units):
        return 0, 1
    count = 0
    back = 0
    depth = 0
    while True:
        best = -1
        best_n = 10
        for c in range(81):
            n = _popcount(stack[depth, c])
            if 1 < n < best_n:
                best, best_n = c, n
                if n == 2:
                    break
        if best < 0:  # solved
            count += 1
            if count == 1:
                for c in range(81):
                    m = stack[depth, c]
                    d = 0
                    while m > 1:
                        m >>= 1
                        d += 1
                    sol[c] = d + 1
            if count >= limit:
                return count, back
            remaining[depth] = 0
        else:
            cell_at[depth] = best
            remaining[depth] = stack[depth, best]
        while True:  # next untried guess, popping exhausted depths
            while depth >= 0 and remaining[depth] == 0:
                depth -= 1
            if depth < 0:
                return count, back
            m = remaining[depth]
            mm = m
            if randomize:  # drop a random number of the lowest set bits
                for _ in range(_next(state) % _popcount(m)):
                    mm &= mm - 1
            bit = mm & -mm
            remaining[depth] = m & ~bit
            stack[depth + 1, :] = stack[depth, :]
            stack[depth + 1, cell_at[depth]] = bit
            if _propagate(stack[depth + 1], peers, units):
                depth += 1
                break
            back += 1


@_jit
def _grid_cand(grid):
    cand = np.empty(81, np.int64)
    for c in range(81):
        cand[c] = (1 << (grid[c] - 1)) if grid[c] > 0 else ALL
    return cand


@_jit
def _rate(grid, sol, peers, units):
    """(number of solutions capped at 2, backtracks) of one grid (81,) with 0 for blanks."""
    state = np.zeros(1, np.int64)
    return _search(_grid_cand(grid), 2, False, state, sol, peers, units)


@_jit
def _candidate(seed, index, grid, sol, peers, units):
    """Candidate `index` of stream `seed`: a minimal unique puzzle into grid, its solution into sol.
    Returns its rating (backtracks)."""
    state = np.zeros(1, np.int64)
    state[0] = _hash32(_hash32(seed) ^ (index & M32)) | 1  # xorshift state must be non-zero
    full = np.full(81, ALL, np.int64)
    _search(full, 1, True, state, sol, peers, units)
    grid[:] = sol
    order = np.arange(81)
    for i in range(80, 0, -1):  # Fisher-Yates
        j = _next(state) % (i + 1)
        order[i], order[j] = order[j], order[i]
    scratch = np.empty(81, np.int64)
    for i in range(81):
        c = order[i]
        v = grid[c]
        grid[c] = 0
        if _rate(grid, scratch, peers, units)[0] != 1:
            grid[c] = v
    return _rate(grid, scratch, peers, units)[1]


@_jit
def _candidates(seed, start, count, peers, units):
    """Candidates start..start+count-1 -> grids (count, 81), solutions (count, 81), ratings (count,)."""
    grids = np.zeros((count, 81), np.int64)
    sols = np.zeros((count, 81), np.int64)
    ratings = np.zeros(count, np.int64)
    for k in range(count):
        ratings[k] = _candidate(seed, start + k, grids[k], sols[k], peers, units)
    return grids, sols, ratings


def candidates(seed: int, start: int, count: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidate puzzles start..start+count-1 of stream `seed` (all minimal and unique, any rating):
    grids (count, 81) with 0 blanks, solutions (count, 81) digits 1..9, ratings (count,)."""
    return _candidates(int(seed) & M32, int(start), int(count), PEERS, UNITS)


def generate_hard(n: int, seed: int, min_backtracks: int = 1, chunk: int = 64,
                  progress: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The first n candidates of stream `seed` rated >= min_backtracks.

    -> grids (n, 81) 0 blanks, solutions (n, 81) digits 1..9, ratings (n,). The result depends only
    on (n, seed, min_backtracks), never on `chunk`. For parallel generation use
    `trm_edge.data.load_split(..., workers=k)`: it splits a split into independently seeded chunks.
    """
    if not HAVE_NUMBA and n > PURE_PYTHON_MAX and not os.environ.get("TRM_EDGE_NO_NUMBA"):
        from ..errors import MissingExtraError

        raise MissingExtraError(
            f"numba is not installed: {n} Sudoku-hard puzzles in pure Python take ~{n * 3.4 / 60:.0f} min "
            "(~0.3 puzzles/s); pip install 'trm-edge[data]', or carry a cache made elsewhere "
            "(trm-edge train --prepare-data, $TRM_EDGE_CACHE), or set TRM_EDGE_NO_NUMBA=1 to run it anyway")
    grids, sols, ratings = [], [], []
    found, start = 0, 0
    from tqdm import tqdm

    with tqdm(total=n, desc=f"sudoku9-hard seed {seed}", unit="puzzle", disable=not progress) as bar:
        while found < n:
            g, s, r = candidates(seed, start, chunk)
            start += chunk
            keep = r >= min_backtracks
            grids.append(g[keep])
            sols.append(s[keep])
            ratings.append(r[keep])
            found += int(keep.sum())
            bar.update(min(int(keep.sum()), n - bar.n))
    return np.concatenate(grids)[:n], np.concatenate(sols)[:n], np.concatenate(ratings)[:n]


def rate(grids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 81) grids, 0 blanks -> (solution counts capped at 2, backtracks), each (N,)."""
    grids = np.atleast_2d(np.asarray(grids, np.int64))
    counts, backs = np.empty(len(grids), np.int64), np.empty(len(grids), np.int64)
    sol = np.empty(81, np.int64)
    for k, g in enumerate(grids):
        counts[k], backs[k] = _rate(np.ascontiguousarray(g), sol, PEERS, UNITS)
    return counts, backs


# ---- the task ----------------------------------------------------------------------------------
TRAIN_SIZE = 1000   # training puzzles (the paper's Sudoku-Extreme has 1000, augmented on the fly)
TEST_SIZE = 5000    # test puzzles (Sudoku-Extreme has 423k; 5000 gives +-0.5 % at 87 %)


class SudokuHard(Sudoku):
    """9x9 Sudoku-hard: minimal unique puzzles rated >= `min_backtracks` (default 1: all need search).

    Same tokens, augmentation, verify, parse and render as `Sudoku(9)`; only generation and rating
    differ. Use `trm_edge.data.load_split("sudoku9-hard", "train", TRAIN_SIZE)` (and "test" with
    n_train=TRAIN_SIZE) for the cached, de-duplicated splits.
    """

    def __init__(self, min_backtracks: int = 1):
        super().__init__(9, hard=True, min_backtracks=min_backtracks)
        self.name = "sudoku9-hard"
        self.min_clues, self.max_clues = 17, 81  # clue count is whatever minimality gives

    def generate(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        grids, sols, _ = generate_hard(n, seed, self.min_backtracks)
        return (grids + 1).astype(np.int32), (sols + 1).astype(np.int32)  # blank -> 1, digit d -> d + 1

    def rating(self, inputs: np.ndarray) -> np.ndarray:
        """(N,) backtracks of each puzzle under this module's solver (the generation rating)."""
        return rate(np.atleast_2d(inputs).astype(np.int64) - 1)[1]
