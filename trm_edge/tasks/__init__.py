"""Puzzle tasks by name. Each returns a `Task` (see base.py)."""
from __future__ import annotations

from .base import PuzzleError, Task
from .sudoku import Sudoku

_FACTORIES = {
    "sudoku4": lambda: Sudoku(4),
    "sudoku6": lambda: Sudoku(6),
    "sudoku9": lambda: Sudoku(9),
}


def get_task(name: str) -> Task:
    if name not in _FACTORIES:
        raise ValueError(f"unknown task {name!r}; choose from {', '.join(sorted(_FACTORIES))}")
    return _FACTORIES[name]()


def task_names() -> list[str]:
    return sorted(_FACTORIES)


__all__ = ["PuzzleError", "Task", "Sudoku", "get_task", "task_names"]
