"""Deterministic puzzle datasets, generated from a seed and cached on disk as .npz.

Nothing is ever downloaded: `load_split(task, "train", n, seed)` generates (or reads from the cache)
`n` puzzles. Splits use disjoint seed streams (`SeedSequence([seed, split_id, chunk])`), and the
`val` and `test` splits are de-duplicated against the training puzzles (exact input match), so a test
puzzle is never one the model trained on. `val` comes from the training distribution and is what
halting-threshold calibration uses; `test` is for reporting only.

Cache: $TRM_EDGE_CACHE, default ~/.cache/trm-edge. Generation runs in fixed-size chunks (each with
its own seed), so the result does not depend on how many worker processes produced it.

`TrainStream` draws fresh, augmented training samples one refill at a time. Its position
(epoch, cursor) is the whole data state, so a resumed run draws exactly the same samples.
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .tasks import get_task
from .tasks.base import EpochSampler, Task

DATA_VERSION = 1     # bump when generation changes, so stale caches are not reused
CHUNK = 500          # puzzles per generation chunk (one seed each)
SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
N_TRAIN = 20000      # generated training puzzles by default (val/test are de-duplicated against them)


def cache_dir() -> Path:
    return Path(os.environ.get("TRM_EDGE_CACHE") or Path.home() / ".cache" / "trm-edge")


def _task_key(task: Task) -> str:
    """A short hash of the task's scalar settings (size, clue range, hard mode, ...)."""
    params = {k: v for k, v in sorted(vars(task).items()) if isinstance(v, (int, float, str, bool))}
    return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:10]


def _gen_chunk(args) -> tuple[np.ndarray, np.ndarray]:
    task, n, seed_words = args
    seed = int(np.random.SeedSequence(seed_words).generate_state(1)[0])
    return task.generate(n, seed)


def generate(task: Task, split: str, n: int, seed: int, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """n puzzles of `split`, deterministic in (task settings, split, n, seed); no cache, no dedup."""
    sid = SPLIT_IDS[split]
    jobs = [(task, min(CHUNK, n - start), [seed, sid, start // CHUNK]) for start in range(0, n, CHUNK)]
    if workers > 1 and len(jobs) > 1:
        with ProcessPoolExecutor(workers) as pool:
            parts = list(pool.map(_gen_chunk, jobs))
    else:
        parts = [_gen_chunk(j) for j in jobs]
    if not parts:
        return np.empty((0, task.seq_len), np.int32), np.empty((0, task.seq_len), np.int32)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def _cached(path: Path, make) -> tuple[np.ndarray, np.ndarray]:
    if path.exists():
        try:
            with np.load(path) as f:
                return f["inputs"], f["labels"]
        except (OSError, KeyError, ValueError):
            pass  # a damaged cache file is regenerated
    inputs, labels = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez_compressed(tmp, inputs=inputs, labels=labels)
    os.replace(tmp, path)  # atomic: concurrent runs never read half a file
    return inputs, labels


def load_split(task: Task | str, split: str, n: int, seed: int = 0, n_train: int | None = None,
               workers: int = 1, train_task: Task | str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, labels) int32 (n, seq_len) for split "train", "val" or "test".

    For "val"/"test", puzzles whose input also occurs in the training set (`n_train` puzzles of
    `train_task`, default: this task, from the same seed; n_train default: the same n) are dropped
    and replaced, so exactly n puzzles come back.
    """
    task = get_task(task) if isinstance(task, str) else task
    train_task = task if train_task is None else get_task(train_task) if isinstance(train_task, str) else train_task
    if split not in SPLIT_IDS:
        raise ValueError(f"split must be one of {sorted(SPLIT_IDS)}, got {split!r}")
    root = cache_dir() / f"v{DATA_VERSION}"
    base = f"{task.name}-{_task_key(task)}"
    if split == "train":
        return _cached(root / f"{base}-train-n{n}-s{seed}.npz",
                       lambda: generate(task, "train", n, seed, workers))
    n_train = n if n_train is None else n_train
    train_inputs, _ = load_split(train_task, "train", n_train, seed, workers=workers)
    vs = "" if train_task.name == task.name else f"-vs-{train_task.name}-{_task_key(train_task)}"

    def make():
        seen = {row.tobytes() for row in train_inputs}
        extra = max(8, n // 20)
        while True:  # over-generate a little; collisions with training puzzles are rare
            inputs, labels = generate(task, split, n + extra, seed, workers)
            keep = np.array([row.tobytes() not in seen for row in inputs], bool)
            _, first = np.unique(inputs, axis=0, return_index=True)  # and no duplicates inside
            unique = np.zeros(len(inputs), bool)
            unique[first] = True
            idx = np.flatnonzero(keep & unique)
            if len(idx) >= n:
                return inputs[idx[:n]], labels[idx[:n]]
            extra *= 4

    return _cached(root / f"{base}-{split}-n{n}-s{seed}-t{n_train}{vs}.npz", make)


def eval_puzzles(task: Task | str, n: int, seed: int = 0, n_train: int | None = None,
                 givens: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """n held-out test-split puzzles (inputs, labels) as int32: what eval, validate and bench score.

    givens=(lo, hi): a Sudoku task's board with lo..hi givens instead of the training range (e.g. the
    30-36 of newspaper puzzles), still de-duplicated against the model's training puzzles."""
    test_task = task
    if givens is not None:
        task = get_task(task) if isinstance(task, str) else task
        if not task.name.startswith("sudoku") or not hasattr(task, "size"):
            raise ValueError(f"--givens applies to Sudoku models; this one is {task.name}")
        test_task = f"sudoku{task.size}-{givens[0]}-{givens[1]}"
    inputs, labels = load_split(test_task, "test", n, seed, n_train=n_train, train_task=task)
    if givens is not None:   # the generator keeps a unique solution: it may not reach the range asked for
        count = (np.asarray(inputs) > 1).sum(1)   # tokens 0 pad, 1 blank, then digits
        if count.min() < givens[0] or count.max() > givens[1]:
            raise ValueError(f"--givens {givens[0]}-{givens[1]}: the generated {test_task} puzzles have "
                             f"{count.min()}-{count.max()} givens (a unique solution needs more); choose a "
                             "range the generator can reach")
    return np.asarray(inputs, np.int32), np.asarray(labels, np.int32)


class TrainStream(EpochSampler):
    """Endless stream of augmented training samples; DDP ranks read disjoint shards.

    State = (epoch, cursor): every `take` derives its augmentation RNG from (seed, rank, epoch,
    cursor), so resuming from a saved state reproduces the same samples bit for bit.
    """

    def __init__(self, task: Task, inputs: np.ndarray, labels: np.ndarray, seed: int = 0,
                 rank: int = 0, world: int = 1, augment: bool = True):
        self.task, self.augment = task, augment
        self.inputs, self.labels = inputs[rank::world], labels[rank::world]
        if len(self.inputs) == 0:
            raise ValueError("empty training set for this rank")
        super().__init__(len(self.inputs), seed, rank, salt=7)

    def take(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """k fresh (inputs, labels) int32 (k, seq_len)."""
        idx, rng = self.draw(k)
        x, y = self.inputs[idx], self.labels[idx]
        if self.augment and k:
            x, y = self.task.augment(x, y, rng)
        return x, y
