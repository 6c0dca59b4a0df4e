"""Calibration data for int8 quantization, drawn from real recursion states (one module, every target).

Why not random tensors or just step-1 inputs: in TRM the `step` entry point sees (x, y, z) where y
and z have been fed back through the network up to n_sup times. Their distribution at step 1 (the
fixed init vectors broadcast over positions) looks nothing like step n_sup (a converged answer
embedding), so activation ranges calibrated on one depth clip or waste range at another. We run
the eager model's own host loop (`model.embed` -> `model.initial_state` -> `model.step` ... ) over
TRAINING-split puzzles and record the step inputs at every depth 1..n_sup, plus the init inputs
(tokens) for the `init` entry point and the unrolled graph.

Test puzzles are never used: `calibration_set` draws from the training split and asserts that no
calibration puzzle (nor its augmented variant) equals a test-split puzzle.

Usage (every quantizer in trm_edge.export.quantize reads this):

    cal = calibration_set(model, CalibConfig(n_puzzles=128))
    for tokens in cal.init_batches(batch=1): ...          # int32 (B, seq_len)
    for x, y, z in cal.step_batches(batch=1): ...         # float32 (B, L, D) each
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from ..errors import TRMEdgeError


@dataclass(frozen=True)
class CalibConfig:
    n_puzzles: int = 128          # training-split puzzles run through the host loop
    augment: bool = True          # apply one random task symmetry per puzzle (more varied states)
    per_depth: int | None = None  # keep at most this many step samples per depth (None: all)
    seed: int = 0                 # sampling / augmentation RNG (not the split seed)
    data_seed: int = 0            # the checkpoint's dataset seed (training.json): the splits' seed
    n_train: int | None = None    # the checkpoint's n_train: the test split is de-duplicated against
                                  # it exactly as `trm-edge eval` does (None: n_test_check)
    n_test_check: int = 2000      # test-split puzzles generated to assert disjointness


class CalibrationLeakError(TRMEdgeError):
    """A calibration puzzle equals a test puzzle: calibration must never see the test split."""


@dataclass
class CalibrationSet:
    tokens: np.ndarray     # int32 (N, seq_len): init / unrolled inputs
    x: np.ndarray          # float32 (M, L, D): step inputs, every depth
    y: np.ndarray          # float32 (M, L, D)
    z: np.ndarray          # float32 (M, L, D)
    depth: np.ndarray      # int (M,): the supervision step (1..n_sup) each step sample feeds

    def init_batches(self, batch: int = 1) -> Iterator[np.ndarray]:
        for i in range(0, len(self.tokens) - batch + 1, batch):
            yield self.tokens[i:i + batch]

    def step_batches(self, batch: int = 1) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Batches mixing depths (samples are interleaved by depth, so any prefix covers all)."""
        for i in range(0, len(self.depth) - batch + 1, batch):
            yield self.x[i:i + batch], self.y[i:i + batch], self.z[i:i + batch]

    def summary(self) -> dict:
        """RMS of y and z per depth: shows how much the step inputs move with depth."""
        out = {}
        for d in np.unique(self.depth):
            m = self.depth == d
            out[int(d)] = {"n": int(m.sum()),
                           "y_rms": float(np.sqrt((self.y[m] ** 2).mean())),
                           "z_rms": float(np.sqrt((self.z[m] ** 2).mean()))}
        return out


# ---- the splits -----------------------------------------------------------------------------
def _split(task_name: str, split: str, n: int, seed: int = 0, n_train: int | None = None) -> np.ndarray:
    """Inputs (n, seq_len) int32 of a split, from the same generator and seeds training uses."""
    from .. import data

    inputs, _ = data.load_split(task_name, split, n, seed, n_train=n_train)
    return np.asarray(inputs, dtype=np.int32)


def assert_disjoint(calib_inputs: np.ndarray, test_inputs: np.ndarray) -> None:
    """Raise CalibrationLeakError if any calibration row equals a test row."""
    test_rows = {row.tobytes() for row in np.ascontiguousarray(test_inputs, dtype=np.int32)}
    leaked = sum(row.tobytes() in test_rows for row in np.ascontiguousarray(calib_inputs, dtype=np.int32))
    if leaked:
        raise CalibrationLeakError(f"{leaked} calibration puzzle(s) are test puzzles; calibration "
                                   "must use the training split only")


def _drop_test_puzzles(train: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Drop the rare row that coincides with a test puzzle; refuse if most of them do."""
    test_rows = {row.tobytes() for row in test}
    kept = [row for row in train if row.tobytes() not in test_rows]
    if len(kept) < max(1, len(train) // 2):
        # a coincidence is rare (a few % on 4x4 boards); most of the "training" puzzles being test
        # puzzles means the split itself is wrong: refuse rather than calibrate on what is left
        raise CalibrationLeakError(f"{len(train) - len(kept)} of {len(train)} calibration puzzles are test "
                                   "puzzles: the training split is not disjoint from the test split")
    return np.stack(kept)


def training_tokens(task_name: str, cfg: CalibConfig = CalibConfig()) -> np.ndarray:
    """int32 (n_puzzles, seq_len) calibration inputs from the training split, checked against test."""
    from ..tasks import get_task

    # the test split exactly as `trm-edge eval` / `eval --artifact` draw it (same seed and n_train)
    test = _split(task_name, "test", cfg.n_test_check, cfg.data_seed, cfg.n_train)
    # checked before augmenting (an augmented test puzzle is still a test puzzle) and after (a
    # symmetry of a training puzzle can land on a test puzzle): such rows are dropped
    train = _drop_test_puzzles(_split(task_name, "train", cfg.n_puzzles, cfg.data_seed), test)
    if cfg.augment:
        rng = np.random.default_rng(cfg.seed)
        train, _ = get_task(task_name).augment(train, train, rng)
        train = _drop_test_puzzles(train, test)
    assert_disjoint(train, test)   # the calibration set that leaves this function has no test puzzle
    return train


# ---- recording the recursion ----------------------------------------------------------------
def record_states(model, tokens: np.ndarray, n_steps: int | None = None,
                  batch: int = 64) -> CalibrationSet:
    """Run the eager host loop on `tokens` and record the step inputs (x, y, z) at every depth."""
    import torch

    n_steps = n_steps or model.cfg.n_sup
    xs, ys, zs, ds = [], [], [], []
    model = model.eval()
    with torch.no_grad():
        for i in range(0, len(tokens), batch):
            tok = torch.from_numpy(np.ascontiguousarray(tokens[i:i + batch], dtype=np.int32))
            x = model.embed(tok)                 # (B, L, D)
            y, z = model.initial_state(x)        # (B, L, D) each
            for s in range(1, n_steps + 1):
                xs.append(x.numpy())
                ys.append(y.numpy())
                zs.append(z.numpy())
                ds.append(np.full(len(tok), s))
                y, z, _, _ = model.step(x, y, z)
    x, y, z, d = (np.concatenate(a) for a in (xs, ys, zs, ds))
    # interleave depths so that any prefix of the batches covers every depth
    order = np.argsort(_rank_within_depth(d), kind="stable")
    return CalibrationSet(np.ascontiguousarray(tokens, dtype=np.int32),
                          x[order].astype(np.float32), y[order].astype(np.float32),
                          z[order].astype(np.float32), d[order])


def _rank_within_depth(depth: np.ndarray) -> np.ndarray:
    """k for the k-th sample of its depth: sorting by it interleaves depths round-robin."""
    rank = np.empty(len(depth), dtype=np.int64)
    for d in np.unique(depth):
        m = np.flatnonzero(depth == d)
        rank[m] = np.arange(len(m))
    return rank


def calibration_set(model, cfg: CalibConfig = CalibConfig()) -> CalibrationSet:
    """Training-split puzzles -> recursion states at every depth 1..n_sup (test split excluded)."""
    tokens = training_tokens(model.cfg.task, cfg)
    cal = record_states(model, tokens)
    if cfg.per_depth is not None:
        keep = _rank_within_depth(cal.depth) < cfg.per_depth
        cal = CalibrationSet(cal.tokens, cal.x[keep], cal.y[keep], cal.z[keep], cal.depth[keep])
    return cal
