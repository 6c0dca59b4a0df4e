"""The host recursion loop, written once: eager PyTorch and every exported artifact use it.

`init(tokens) -> state` and `step(state) -> (state, preds, q_halt)` are the two entry points of a
looped artifact (or of the eager model). The state is opaque here (it stays in the runtime's own
tensors); only predictions (B, L) and q_halt (B,) come back to the host, as numpy.

Per-sample halting inside a batch: a sample halts at the first step whose q_halt > threshold;
from then on its answer is frozen (later steps still compute it as part of the batch, but its
recorded predictions no longer change). With `halt=False` all `max_steps` steps run and
`halted_at` still records when each sample *would* have halted.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


def halt_probability(q_halt: float) -> float:
    """The halting head's logit as a probability: sigmoid(q_halt), what the apps and the demo show."""
    return 1.0 / (1.0 + math.exp(-q_halt)) if q_halt > -700 else 0.0   # exp overflows below -709


def halts(q_halt, threshold: float) -> np.ndarray:
    """The halting rule, the one place it is written: a sample halts at a step whose q_halt > threshold."""
    return np.asarray(q_halt) > threshold


def halting_steps(q_halt: np.ndarray, threshold: float, max_steps: int | None = None) -> np.ndarray:
    """q_halt (S, N) of every step -> (N,) the step each sample halts at, counted from 1 like the host
    loop: the first whose q_halt > threshold, else `max_steps` (default S, the last step)."""
    fire = halts(q_halt, threshold)
    return np.where(fire.any(0), fire.argmax(0) + 1, q_halt.shape[0] if max_steps is None else max_steps)


def to_numpy(t: Any) -> np.ndarray:
    if hasattr(t, "detach"):  # torch tensor, without importing torch here
        return t.detach().cpu().numpy()
    return np.asarray(t)


@dataclass
class SolveResult:
    preds: np.ndarray      # (S, B, L) int: answer after each step (frozen once a sample halted)
    q_halt: np.ndarray     # (S, B) float: halting logit after each step (raw, not frozen)
    halted_at: np.ndarray  # (B,) int in 1..max_steps: step whose answer is final (max_steps if never)
    max_steps: int

    @property
    def steps_run(self) -> int:
        return self.preds.shape[0]

    @property
    def final(self) -> np.ndarray:
        """(B, L) answer at each sample's halting step (with halt=False: the halting decision
        is applied after the fact, so this is the answer adaptive halting would have returned)."""
        idx = np.minimum(self.halted_at, self.steps_run) - 1
        return self.preds[idx, np.arange(self.preds.shape[1])]

    @property
    def last(self) -> np.ndarray:
        """(B, L) answer after the last step that ran."""
        return self.preds[-1]


def host_loop(init: Callable, step: Callable, tokens, max_steps: int, halt: bool = True,
              threshold: float = 0.0) -> SolveResult:
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1, got {max_steps}")
    state = init(tokens)
    B = tokens.shape[0]
    done = np.zeros(B, dtype=bool)
    preds, qs = [], []
    for s in range(1, max_steps + 1):
        state, pred, q = step(state)
        pred, q = to_numpy(pred).astype(np.int64), to_numpy(q).astype(np.float32).reshape(B)
        if halt and preds:  # frozen answers for samples that halted at an earlier step
            pred = np.where(done[:, None], preds[-1], pred)
        preds.append(pred)
        qs.append(q)
        done |= halts(q, threshold)
        if halt and done.all():
            break
    qs = np.stack(qs)
    return SolveResult(np.stack(preds), qs, halting_steps(qs, threshold, max_steps).astype(np.int64), max_steps)
