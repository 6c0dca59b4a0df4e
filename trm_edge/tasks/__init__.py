"""Puzzle tasks by name. Each returns a `Task` (see base.py)."""
from __future__ import annotations

import re

from .arc import ArcTask
from .base import PuzzleError, Task
from .generic import PATTERN as _GENERIC, GenericTask, generic_name
from .maze import Maze
from .sudoku import Sudoku

_FACTORIES = {
    "sudoku4": lambda: Sudoku(4),
    "sudoku6": lambda: Sudoku(6),
    "sudoku9": lambda: Sudoku(9),
    "sudoku9-hard": lambda: _sudoku9_hard(),
    "maze8": lambda: Maze(8),
    "maze12": lambda: Maze(12),
    "maze30": lambda: Maze(30),
    "arc1": lambda: ArcTask("arc1"),
    "arc2": lambda: ArcTask("arc2"),
}


def _sudoku9_hard() -> Task:
    from .sudoku_hard import SudokuHard  # imported on demand: it loads numba when installed

    return SudokuHard()


# "sudoku9-30-36": 9x9 Sudoku with 30..36 givens (the plain name uses the size's default range)
_SUDOKU_GIVENS = re.compile(r"sudoku(4|6|9)-([0-9]+)-([0-9]+)", re.ASCII)


def get_task(name: str) -> Task:
    m = _SUDOKU_GIVENS.fullmatch(name)
    if m:
        size, lo, hi = map(int, m.groups())
        if not 1 <= lo <= hi < size * size:
            raise ValueError(f"task {name!r}: givens must satisfy 1 <= LO <= HI < {size * size}")
        return Sudoku(size, lo, hi)
    m = _GENERIC.fullmatch(name)
    if m:
        return GenericTask(*map(int, m.groups()))
    if name not in _FACTORIES:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(sorted(_FACTORIES))} "
                         "or sudokuN-LO-HI (N x N Sudoku with LO..HI givens) or generic-SEQLEN-VOCAB (tokens in, "
                         "tokens out, for an authors' data set)")
    return _FACTORIES[name]()


def task_names() -> list[str]:
    return sorted(_FACTORIES)


__all__ = ["PuzzleError", "Task", "Sudoku", "Maze", "GenericTask", "generic_name", "get_task", "task_names"]
