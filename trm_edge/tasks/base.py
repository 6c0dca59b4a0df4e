"""The task interface every puzzle family implements (Sudoku, Maze, ARC).

A task turns puzzles into fixed-length int32 token rows and back. Token 0 is padding everywhere;
the rest of the vocabulary is the task's own. Arrays, not objects, cross this boundary:
`inputs` and `labels` are int32 (N, seq_len).
"""
from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class PuzzleError(ValueError):
    """Bad user input (a malformed or contradictory puzzle); the CLI prints it as one line."""


class Task(ABC):
    name: str          # registry name, e.g. "sudoku6"
    vocab_size: int    # including pad (0)
    seq_len: int       # tokens per puzzle

    @abstractmethod
    def generate(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """n fresh (inputs, labels) pairs, deterministic in `seed`."""

    @abstractmethod
    def augment(self, inputs: np.ndarray, labels: np.ndarray,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A random symmetry of each (inputs, labels) pair; the result is still a valid puzzle."""

    @abstractmethod
    def verify(self, inputs: np.ndarray, preds: np.ndarray) -> np.ndarray:
        """(N,) bool: is each predicted answer a correct solution of its puzzle?"""

    @abstractmethod
    def parse(self, text: str) -> np.ndarray:
        """A puzzle in the task's text form -> int32 (seq_len,) tokens; PuzzleError if invalid."""

    @abstractmethod
    def render(self, tokens: np.ndarray, given: np.ndarray | None = None) -> str:
        """Tokens (seq_len,) -> a human-readable board (optionally marking the givens)."""


class EpochSampler:
    """Indices 0..n-1 in a fresh shuffle every epoch; the state (epoch, cursor) resumes it exactly.
    Each draw also gets an RNG derived from (seed, rank, epoch, cursor), so the samples a resumed
    stream augments are the same bit for bit. `salt` keeps different streams' shuffles apart."""

    def __init__(self, n: int, seed: int, rank: int, salt: int):
        self.n, self.seed, self.rank, self.salt = n, seed, rank, salt
        self.load_state({"epoch": 0, "cursor": 0})

    def _perm(self, epoch: int) -> np.ndarray:
        return np.random.default_rng([self.seed, self.rank, epoch, self.salt]).permutation(self.n)

    def draw(self, k: int) -> tuple[list[int], np.random.Generator]:
        """The next k indices (crossing into the next epoch's shuffle as needed) and their RNG."""
        rng = np.random.default_rng([self.seed, self.rank, self.epoch, self.cursor])
        idx: list[int] = []
        while len(idx) < k:
            if self.cursor >= len(self._order):
                self.epoch, self.cursor = self.epoch + 1, 0
                self._order = self._perm(self.epoch)
            m = min(k - len(idx), len(self._order) - self.cursor)
            idx.extend(self._order[self.cursor:self.cursor + m])
            self.cursor += m
        return idx, rng

    def state(self) -> dict:
        return {"epoch": self.epoch, "cursor": self.cursor}

    def load_state(self, s: dict) -> None:
        self.epoch, self.cursor = int(s["epoch"]), int(s["cursor"])
        self._order = self._perm(self.epoch)
