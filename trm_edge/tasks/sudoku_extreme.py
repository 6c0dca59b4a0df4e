"""Sudoku-Extreme (the paper's Sudoku benchmark) and the authors' built data sets, from local files.

Two layouts are read (docs/model.md#authors-file-formats); nothing is downloaded:
  - the public data set `sapientinc/sudoku-extreme`: `train.csv` / `test.csv` with a header and rows
    `source,question,answer,rating` (81 characters each, '.' blank, digits 1-9; rating = backtracks
    of a fast solver, the hardness);
  - a directory built by the authors' `dataset/build_sudoku_dataset.py`: `<dir>/<split>/dataset.json`
    and `all__inputs.npy` / `all__labels.npy` (already tokenised; no ratings stored).
Tokens are trm-edge's 9x9 Sudoku tokens, which are the authors': 0 pad, 1 blank, digit d -> d + 1.

Training (`trm-edge train --task sudoku-extreme --data PATH`) streams the training puzzles with the
authors' augmentation, which `trm_edge.tasks.sudoku.Sudoku.augment` already implements (digit
permutation, transpose, band and row-in-band shuffles, stack and column-in-stack shuffles).
Evaluation (trm_edge/evaluate/sudoku_extreme.py) reports exact accuracy per depth overall and per rating bucket.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..errors import TRMEdgeError

SEQ_LEN, VOCAB = 81, 11
# rating (solver backtracks) buckets: [lo, hi)
BUCKETS = [(0, 1), (1, 3), (3, 10), (10, 30), (30, 100), (100, None)]


def bucket_name(lo: int, hi: int | None) -> str:
    return f"{lo}+" if hi is None else (str(lo) if hi == lo + 1 else f"{lo}-{hi - 1}")


def _grid_tokens(strings: list[str], path: Path, what: str) -> np.ndarray:
    raw = np.frombuffer("".join(strings).encode("ascii", "replace"), np.uint8).reshape(len(strings), SEQ_LEN)
    digits = raw.astype(np.int32) - ord("0")
    blank = (raw == ord(".")) | (raw == ord("0"))
    if not ((digits >= 1) & (digits <= 9) | blank).all():
        row = int(np.flatnonzero(~(((digits >= 1) & (digits <= 9)) | blank).all(1))[0])
        raise TRMEdgeError(f"{path}: row {row + 2}: {what} must be 81 characters of '.' or 1-9")
    return np.where(blank, 1, digits + 1).astype(np.int32)


def read_csv(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """train.csv / test.csv -> inputs, labels int32 (N, 81), rating int64 (N,)."""
    path = Path(path)
    questions, answers, ratings = [], [], []
    try:
        with open(path, newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None or [h.strip() for h in header[:4]] != ["source", "question", "answer", "rating"]:
                raise TRMEdgeError(f"{path}: expected the header source,question,answer,rating, got {header}")
            for i, row in enumerate(reader):
                if len(row) < 4 or len(row[1]) != SEQ_LEN or len(row[2]) != SEQ_LEN:
                    raise TRMEdgeError(f"{path}: row {i + 2} is not source,question(81),answer(81),rating")
                questions.append(row[1])
                answers.append(row[2])
                ratings.append(row[3])
    except OSError as e:
        raise TRMEdgeError(f"cannot read {path}: {e.strerror}") from None
    if not questions:
        raise TRMEdgeError(f"{path} has no puzzles")
    inputs, labels = _grid_tokens(questions, path, "question"), _grid_tokens(answers, path, "answer")
    if (labels == 1).any():
        raise TRMEdgeError(f"{path}: an answer has blanks")
    try:
        rating = np.array([int(float(r)) for r in ratings], np.int64)
    except ValueError:
        raise TRMEdgeError(f"{path}: the rating column must be numbers") from None
    return inputs, labels, rating


def read_built(split_dir: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """An authors' built split directory (dataset.json + all__*.npy) -> inputs, labels int32 (N, 81)."""
    from ..tasks.generic import read_built as read_any

    built = read_any(split_dir, SEQ_LEN, VOCAB, what="9x9 Sudoku")   # the authors' layout
    return built["inputs"], built["labels"]


def load(path: str | Path, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """`path`: a .csv file, a directory with <split>.csv, or an authors' built directory (with
    <split>/dataset.json). -> inputs, labels (N, 81) and ratings (None for built data)."""
    p = Path(path)
    if p.is_file():
        return read_csv(p)
    if (p / f"{split}.csv").is_file():
        return read_csv(p / f"{split}.csv")
    if (p / split / "dataset.json").is_file():
        return (*read_built(p / split), None)
    if (p / "dataset.json").is_file():
        return (*read_built(p), None)
    raise TRMEdgeError(f"no Sudoku-Extreme {split} data at {p}: expected {split}.csv (sapientinc/sudoku-extreme) "
                       f"or {split}/dataset.json (the authors' built directory)")


def train_stream(task, path, seed: int = 0, rank: int = 0, world: int = 1, augment: bool = True):
    """The training split as a TrainStream over `task` (a 9x9 Sudoku: its augment is the authors')."""
    from ..data import TrainStream

    if (task.seq_len, task.vocab_size) != (SEQ_LEN, VOCAB):
        raise TRMEdgeError(f"Sudoku-Extreme needs a 9x9 Sudoku model (seq_len 81, vocab 11); task {task.name} "
                           f"has seq_len {task.seq_len}")
    inputs, labels, _ = load(path, "train")
    return TrainStream(task, inputs, labels, seed=seed, rank=rank, world=world, augment=augment)
