"""Sudoku on 4x4 (2x2 boxes), 6x6 (2x3 boxes) and 9x9 (3x3 boxes) boards.

Tokens (as in the paper, docs/model.md#tokens): 0 pad, 1 blank, digit d -> d + 1; vocab N + 2, seq_len N * N.
Puzzles are generated with a *unique* solution: a random full grid, then clues are removed in random
order as long as the solution stays unique (a bitmask DFS solver counts solutions up to 2), down to
a target clue count. Difficulty: fewer clues is harder; `hard=True` keeps only puzzles whose rating
(dead ends met by the solver, the paper's "backtracks") reaches `min_backtracks`.
"""
from __future__ import annotations

import numpy as np

from .base import PuzzleError, Task

BOXES = {4: (2, 2), 6: (2, 3), 9: (3, 3)}  # board size -> (box rows, box cols)


class SudokuSolver:
    """Bitmask DFS with the minimum-remaining-values heuristic.

    Written by hand (not a library) because generation needs exactly two things no Sudoku package
    gives together: counting solutions up to a limit, and a backtrack count to rate difficulty.
    """

    def __init__(self, size: int):
        self.N = size
        br, bc = BOXES[size]
        self.box = [(r // br) * (size // bc) + c // bc for r in range(size) for c in range(size)]
        self.full = (1 << size) - 1

    def solve(self, grid, limit: int = 2, rng: np.random.Generator | None = None):
        """grid: N*N ints (0 blank, 1..N digit). Returns (n_solutions<=limit, first solution or None,
        backtracks). Raises PuzzleError if the givens contradict each other."""
        N, box = self.N, self.box
        g = list(int(v) for v in grid)
        rows, cols, boxes = [0] * N, [0] * N, [0] * N
        for i, v in enumerate(g):
            if v:
                bit = 1 << (v - 1)
                r, c, b = divmod(i, N)[0], i % N, box[i]
                if rows[r] & bit or cols[c] & bit or boxes[b] & bit:
                    raise PuzzleError(f"contradictory givens: digit {v} repeats in a row, column or box")
                rows[r] |= bit
                cols[c] |= bit
                boxes[b] |= bit
        empties = [i for i, v in enumerate(g) if v == 0]
        state = {"count": 0, "first": None, "backtracks": 0}

        def dfs():
            best, best_mask, best_n = -1, 0, N + 1
            for i in empties:
                if g[i]:
                    continue
                mask = self.full & ~(rows[i // N] | cols[i % N] | boxes[box[i]])
                n = bin(mask).count("1")
                if n < best_n:
                    best, best_mask, best_n = i, mask, n
                    if n <= 1:
                        break
            if best < 0:  # solved
                state["count"] += 1
                if state["first"] is None:
                    state["first"] = list(g)
                return state["count"] >= limit
            if best_n == 0:
                state["backtracks"] += 1
                return False
            digits = [d for d in range(N) if best_mask >> d & 1]
            if rng is not None:
                rng.shuffle(digits)
            r, c, b = best // N, best % N, box[best]
            for d in digits:
                bit = 1 << d
                g[best] = d + 1
                rows[r] |= bit
                cols[c] |= bit
                boxes[b] |= bit
                stop = dfs()
                rows[r] &= ~bit
                cols[c] &= ~bit
                boxes[b] &= ~bit
                g[best] = 0
                if stop:
                    return True
            return False

        dfs()
        return state["count"], state["first"], state["backtracks"]


class Sudoku(Task):
    def __init__(self, size: int = 6, min_clues: int | None = None, max_clues: int | None = None,
                 hard: bool = False, min_backtracks: int = 10):
        if size not in BOXES:
            raise ValueError(f"Sudoku size must be one of {sorted(BOXES)}, got {size}")
        self.size = size
        self.box_rows, self.box_cols = BOXES[size]
        self.vocab_size = size + 2
        self.seq_len = size * size
        default_clues = {4: (4, 6), 6: (8, 12), 9: (22, 30)}[size]
        self.min_clues = min_clues if min_clues is not None else default_clues[0]
        self.max_clues = max_clues if max_clues is not None else default_clues[1]
        clues = (self.min_clues, self.max_clues)
        # the registry name that rebuilds this task (tasks.get_task): "sudoku9", "sudoku9-30-36"
        self.name = f"sudoku{size}" + ("" if clues == default_clues else f"-{clues[0]}-{clues[1]}") + \
            ("-hard" if hard else "")
        self.hard, self.min_backtracks = hard, min_backtracks
        self.solver = SudokuSolver(size)

    # -- generation ------------------------------------------------------------------------
    def random_solution(self, rng: np.random.Generator) -> list[int]:
        _, sol, _ = self.solver.solve([0] * self.seq_len, limit=1, rng=rng)
        return sol

    def make_puzzle(self, rng: np.random.Generator) -> tuple[list[int], list[int], int]:
        """One puzzle with a unique solution: (grid with 0 blanks, solution, backtracks)."""
        sol = self.random_solution(rng)
        grid = list(sol)
        target = int(rng.integers(self.min_clues, self.max_clues + 1))
        clues = self.seq_len
        for i in rng.permutation(self.seq_len):
            if clues <= target:
                break
            v, grid[i] = grid[i], 0
            if self.solver.solve(grid, limit=2)[0] != 1:
                grid[i] = v
            else:
                clues -= 1
        return grid, sol, self.solver.solve(grid, limit=2)[2]

    def generate(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        inputs = np.empty((n, self.seq_len), np.int32)
        labels = np.empty((n, self.seq_len), np.int32)
        k = 0
        while k < n:
            grid, sol, backtracks = self.make_puzzle(rng)
            if self.hard and backtracks < self.min_backtracks:
                continue
            inputs[k] = np.asarray(grid) + 1  # blank 0 -> token 1, digit d -> d + 1
            labels[k] = np.asarray(sol) + 1
            k += 1
        return inputs, labels

    def rating(self, inputs: np.ndarray) -> np.ndarray:
        """(N,) solver backtracks of each puzzle (the difficulty rating)."""
        return np.array([self.solver.solve(row - 1, limit=2)[2] for row in inputs])

    # -- augmentation: digit relabelling, band/row and stack/column permutations, transpose --
    @staticmethod
    def _perms(rng, k: int, n: int) -> np.ndarray:
        """(k, n): k independent uniform permutations of 0..n-1 (argsort of iid uniforms)."""
        return np.argsort(rng.random((k, n)), axis=1)

    def _perm_axis(self, rng, k: int, n_groups: int, group: int) -> np.ndarray:
        """(k, n_groups * group) line orders that keep bands (stacks) together: the bands in a random
        order, the lines inside each band in their own random order."""
        bands = self._perms(rng, k, n_groups)                                        # (k, G)
        inside = self._perms(rng, k * n_groups, group).reshape(k, n_groups, group)   # (k, G, g)
        return (bands[:, :, None] * group + inside).reshape(k, -1)

    def augment(self, inputs, labels, rng):
        """A random symmetry of every row at once (vectorised over the batch)."""
        N, k = self.size, len(inputs)
        digit_map = np.concatenate([np.tile([0, 1], (k, 1)), self._perms(rng, k, N) + 2], 1)  # (k, N+2)
        rows = self._perm_axis(rng, k, N // self.box_rows, self.box_rows)                      # (k, N)
        cols = self._perm_axis(rng, k, N // self.box_cols, self.box_cols)                      # (k, N)
        # transposing swaps box shape, so it is a symmetry only for square boxes (4x4, 9x9)
        transpose = (rng.random(k) < 0.5) & (self.box_rows == self.box_cols)                   # (k,)
        out = []
        for src in (inputs, labels):
            b = np.take_along_axis(digit_map, src.astype(np.int64), 1).reshape(k, N, N)       # (k, N, N)
            b = b[np.arange(k)[:, None, None], rows[:, :, None], cols[:, None, :]]
            b = np.where(transpose[:, None, None], b.transpose(0, 2, 1), b)
            out.append(b.reshape(k, N * N).astype(src.dtype))
        return out[0], out[1]

    # -- checking ----------------------------------------------------------------------------
    def verify(self, inputs: np.ndarray, preds: np.ndarray) -> np.ndarray:
        """A prediction is correct if it is a complete valid grid that keeps every given."""
        N, br, bc = self.size, self.box_rows, self.box_cols
        inputs, preds = np.atleast_2d(inputs), np.atleast_2d(preds)
        d = preds.reshape(-1, N, N).astype(np.int64) - 2  # digits 0..N-1 (invalid otherwise)
        ok = ((d >= 0) & (d < N)).all(axis=(1, 2))
        d = np.clip(d, 0, N - 1)
        want = (1 << N) - 1
        onehot = 1 << d
        rows_ok = (np.bitwise_or.reduce(onehot, axis=2) == want).all(1)
        cols_ok = (np.bitwise_or.reduce(onehot, axis=1) == want).all(1)
        boxes = onehot.reshape(-1, N // br, br, N // bc, bc).transpose(0, 1, 3, 2, 4).reshape(-1, N, N)
        boxes_ok = (np.bitwise_or.reduce(boxes, axis=2) == want).all(1)
        given = inputs >= 2
        keeps = ((preds == inputs) | ~given).all(1)
        return ok & rows_ok & cols_ok & boxes_ok & keeps

    # -- text form ---------------------------------------------------------------------------
    def parse(self, text: str) -> np.ndarray:
        """'.' or '0' for blanks, digits 1..N; whitespace and the grid characters |-+ ignored."""
        s = "".join(ch for ch in text if not ch.isspace() and ch not in "|-+")
        N = self.size
        if len(s) != N * N:
            raise PuzzleError(f"a {N}x{N} Sudoku needs {N * N} cells, got {len(s)}")
        digits = "0123456789"[:N + 1]   # ASCII only: str.isdigit() also accepts '²', '٣', '𝟑'
        bad = sorted({ch for ch in s if ch != "." and ch not in digits})
        if bad:
            raise PuzzleError(f"invalid character(s) {''.join(bad)!r}: use digits 1-{N} and '.' or '0' for blanks")
        grid = [0 if ch == "." else int(ch) for ch in s]
        count = self.solver.solve(grid, limit=2)[0]  # raises on contradictory givens
        if count == 0:
            raise PuzzleError("this puzzle has no solution")
        return np.asarray(grid, np.int32) + 1

    def to_text(self, tokens: np.ndarray) -> str:
        return "".join("." if t <= 1 else str(int(t) - 1) for t in tokens)

    def render(self, tokens: np.ndarray, given: np.ndarray | None = None) -> str:
        N, br, bc = self.size, self.box_rows, self.box_cols
        lines = []
        for r in range(N):
            if r and r % br == 0:
                lines.append("+".join(["-" * (2 * bc + 1)] * (N // bc)))
            cells = []
            for c in range(N):
                t = int(tokens[r * N + c])
                ch = "." if t <= 1 else str(t - 1)
                cells.append(ch)
                if c % bc == bc - 1 and c != N - 1:
                    cells.append("|")
            lines.append(" " + " ".join(cells))
        return "\n".join(lines)
