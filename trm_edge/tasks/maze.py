"""Mazes on an S x S grid: find the shortest path from S to G (the paper's Maze-Hard at S = 30, docs/model.md#tokens).

Characters "# SGo" (wall, open, start, goal, path) -> tokens 1..5, 0 pad; vocab 6, seq_len S*S.
The input shows walls, open cells, S and G; the label is the input with the shortest path's
cells (between S and G) marked 'o'.

Generation (deterministic in the seed, numpy only):
  1. a recursive-backtracker maze on the cells at even coordinates (walls between them),
  2. a fraction `loop_frac` of the remaining inner walls knocked out, so there are loops and
     the shortest path is a real search problem, not the only path,
  3. S drawn at random, BFS from S counts shortest paths (capped at 2); G is drawn among the
     cells whose distance exceeds `min_len` and which have exactly ONE shortest path, so the
     label is unique and exact match equals "valid and optimal".
Maze-Hard uses a shortest path length > 110 at 30x30; `min_len` is the number of moves S -> G.
`verify` does not rely on uniqueness: a prediction is correct if its 'o' cells form a path of
open cells from S to G (no walls, no branches) whose length equals the BFS shortest length.
"""
from __future__ import annotations

from collections import deque

import numpy as np

from .base import PuzzleError, Task
from .dihedral import N_DIHEDRAL, dihedral

CHARS = "# SGo"
WALL, OPEN, START, GOAL, PATH = 1, 2, 3, 4, 5
_MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1))

# default minimum shortest-path length (moves) per size: Maze-Hard's > 110 at 30x30; the small
# sizes use a similarly high quantile of what the generator can reach (measured, see README)
DEFAULT_MIN_LEN = {8: 12, 12: 28, 16: 48, 20: 64, 30: 110}


class Maze(Task):
    def __init__(self, size: int = 30, min_len: int | None = None, loop_frac: float = 0.03):
        if size < 5:
            raise ValueError(f"maze size must be >= 5, got {size}")
        self.size = size
        self.name = f"maze{size}"
        self.vocab_size = 6
        self.seq_len = size * size
        self.min_len = DEFAULT_MIN_LEN.get(size, size) if min_len is None else min_len
        self.loop_frac = loop_frac

    # -- generation ------------------------------------------------------------------------
    def carve(self, rng: np.random.Generator) -> np.ndarray:
        """(S, S) bool open-cell map: a backtracker maze with some walls knocked out."""
        S = self.size
        n = (S + 1) // 2  # cells per axis at coordinates 0, 2, ..., 2(n-1)
        open_ = np.zeros((S, S), bool)
        visited = np.zeros((n, n), bool)
        order = rng.random((n * n, 4)).argsort(1)  # a random neighbour order per cell, drawn at once
        r, c = divmod(int(rng.integers(n * n)), n)
        stack = [(r, c)]
        visited[r, c] = True
        open_[2 * r, 2 * c] = True
        while stack:
            r, c = stack[-1]
            for m in order[r * n + c]:
                dr, dc = _MOVES[m]
                nr, nc = r + dr, c + dc
                if 0 <= nr < n and 0 <= nc < n and not visited[nr, nc]:
                    visited[nr, nc] = True
                    open_[2 * r + dr, 2 * c + dc] = open_[2 * nr, 2 * nc] = True
                    stack.append((nr, nc))
                    break
            else:
                stack.pop()
        # knock out inner walls that separate two cells (odd coordinate on exactly one axis)
        ii, jj = np.indices((S, S))
        between = ((ii % 2) != (jj % 2)) & (ii < 2 * n - 1) & (jj < 2 * n - 1) & ~open_
        cand = np.flatnonzero(between)
        k = min(len(cand), max(1, int(round(self.loop_frac * len(cand)))))  # at least one loop
        open_.flat[rng.choice(cand, size=k, replace=False)] = True
        return open_

    @staticmethod
    def bfs(open_: np.ndarray, start: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """Distances from `start` (-1 unreachable) and shortest-path counts (capped at 2)."""
        S0, S1 = open_.shape
        dist = np.full(open_.shape, -1, np.int64)
        count = np.zeros(open_.shape, np.int64)
        dist[start], count[start] = 0, 1
        q = deque([start])
        while q:
            r, c = q.popleft()
            for dr, dc in _MOVES:
                nr, nc = r + dr, c + dc
                if 0 <= nr < S0 and 0 <= nc < S1 and open_[nr, nc]:
                    if dist[nr, nc] < 0:
                        dist[nr, nc] = dist[r, c] + 1
                        q.append((nr, nc))
                    if dist[nr, nc] == dist[r, c] + 1:
                        count[nr, nc] = min(2, count[nr, nc] + count[r, c])
        return dist, count

    def make_maze(self, rng: np.random.Generator, tries: int = 8) -> tuple[np.ndarray, np.ndarray]:
        """One (input, label) pair as (S, S) token grids."""
        while True:
            open_ = self.carve(rng)
            cells = np.argwhere(open_)
            for _ in range(tries):
                s = tuple(cells[rng.integers(len(cells))])
                dist, count = self.bfs(open_, s)
                ok = np.argwhere((dist > self.min_len) & (count == 1))
                if len(ok):
                    g = tuple(ok[rng.integers(len(ok))])
                    break
            else:
                continue  # no far goal with a unique shortest path: a new maze
            grid = np.where(open_, OPEN, WALL).astype(np.int32)
            label = grid.copy()
            cur = g
            while dist[cur] > 1:  # walk back along the (unique) decreasing-distance chain
                r, c = cur
                cur = next((r + dr, c + dc) for dr, dc in _MOVES
                           if 0 <= r + dr < self.size and 0 <= c + dc < self.size
                           and dist[r + dr, c + dc] == dist[cur] - 1)
                label[cur] = PATH
            grid[s] = label[s] = START
            grid[g] = label[g] = GOAL
            return grid, label

    def generate(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        inputs = np.empty((n, self.seq_len), np.int32)
        labels = np.empty((n, self.seq_len), np.int32)
        for k in range(n):
            grid, label = self.make_maze(rng)
            inputs[k], labels[k] = grid.reshape(-1), label.reshape(-1)
        return inputs, labels

    # -- augmentation: the 8 dihedral transforms -----------------------------------------
    def augment(self, inputs, labels, rng):
        S = self.size
        ks = rng.integers(N_DIHEDRAL, size=len(inputs))
        out_i, out_l = np.empty_like(inputs), np.empty_like(labels)
        for k in range(N_DIHEDRAL):
            sel = ks == k
            if sel.any():
                out_i[sel] = dihedral(inputs[sel].reshape(-1, S, S), k).reshape(-1, S * S)
                out_l[sel] = dihedral(labels[sel].reshape(-1, S, S), k).reshape(-1, S * S)
        return out_i, out_l

    # -- checking ----------------------------------------------------------------------------
    def shortest_lengths(self, inputs: np.ndarray) -> np.ndarray:
        """(N,) BFS shortest number of moves S -> G of each maze (-1 if G is unreachable).

        A batched BFS on boolean maps (one numpy dilation per distance), so checking 1000
        predictions costs a few hundred array ops instead of 1000 Python searches."""
        S = self.size
        g = np.atleast_2d(inputs).reshape(-1, S, S)
        free = g != WALL
        reached, goal = g == START, g == GOAL
        out = np.full(len(g), -1, np.int64)
        out[(reached & goal).any((1, 2))] = 0
        d = 0
        while True:
            d += 1
            grow = reached.copy()
            grow[:, 1:] |= reached[:, :-1]
            grow[:, :-1] |= reached[:, 1:]
            grow[:, :, 1:] |= reached[:, :, :-1]
            grow[:, :, :-1] |= reached[:, :, 1:]
            grow &= free
            hit = (grow & goal).any((1, 2)) & (out < 0)
            out[hit] = d
            if (grow == reached).all() or (out >= 0).all():
                return out
            reached = grow

    def verify(self, inputs: np.ndarray, preds: np.ndarray) -> np.ndarray:
        """(N,) bool: the 'o' cells form a simple S -> G path through open cells of minimal length.

        Walls, S and G must be reproduced; every other cell is open or path. With S and G of
        path-degree 1 and every 'o' of degree 2, the path cells are one S-G path plus possibly
        cycles; #o == shortest - 1 rules out the cycles and any detour."""
        S = self.size
        inputs, preds = np.atleast_2d(inputs), np.atleast_2d(preds)
        gi, gp = inputs.reshape(-1, S, S), preds.reshape(-1, S, S)
        fixed = (gi == WALL) | (gi == START) | (gi == GOAL)
        keeps = np.where(fixed, gp == gi, (gp == OPEN) | (gp == PATH)).all((1, 2))
        on = (gp == PATH) | (gp == START) | (gp == GOAL)
        deg = np.zeros(gp.shape, np.int64)
        deg[:, 1:] += on[:, :-1]
        deg[:, :-1] += on[:, 1:]
        deg[:, :, 1:] += on[:, :, :-1]
        deg[:, :, :-1] += on[:, :, 1:]
        ends = (gp == START) | (gp == GOAL)
        deg_ok = (np.where(ends, deg == 1, True) & np.where(gp == PATH, deg == 2, True)).all((1, 2))
        shortest = self.shortest_lengths(inputs)
        n_path = (gp == PATH).sum((1, 2))
        return keeps & deg_ok & (shortest > 0) & (n_path == shortest - 1)

    # -- text form ---------------------------------------------------------------------------
    def parse(self, text: str) -> np.ndarray:
        """S lines of S characters from "# SGo" ('.' also means open; 'o' is read as open), or
        one line of S*S characters. Exactly one S and one G, and G reachable from S."""
        lines = text.replace("\r", "").split("\n")
        while lines and not lines[-1]:
            lines.pop()
        while lines and not lines[0]:
            lines.pop(0)
        S = self.size
        if len(lines) == 1 and len(lines[0]) == S * S:
            lines = [lines[0][i * S:(i + 1) * S] for i in range(S)]
        lines = [ln.ljust(S) for ln in lines]  # editors strip trailing spaces (open cells)
        if len(lines) != S or any(len(ln) != S for ln in lines):
            raise PuzzleError(f"a {S}x{S} maze needs {S} lines of {S} characters "
                              f"(got {len(lines)} lines of lengths {sorted({len(ln) for ln in lines})})")
        s = "".join(lines).replace(".", " ").replace("o", " ")
        bad = sorted(set(s) - set(CHARS))
        if bad:
            raise PuzzleError(f"invalid character(s) {''.join(bad)!r}: use '#' wall, ' ' or '.' open, 'S' start, 'G' goal")
        if s.count("S") != 1 or s.count("G") != 1:
            raise PuzzleError(f"a maze needs exactly one S and one G (got {s.count('S')} and {s.count('G')})")
        tokens = np.array([CHARS.index(ch) + 1 for ch in s], np.int32)
        if self.shortest_lengths(tokens)[0] < 0:
            raise PuzzleError("G cannot be reached from S")
        return tokens

    def render(self, tokens: np.ndarray, given: np.ndarray | None = None) -> str:
        S = self.size
        t = np.asarray(tokens).reshape(S, S)
        return "\n".join("".join(CHARS[v - 1] if 1 <= v <= 5 else "?" for v in row) for row in t)
