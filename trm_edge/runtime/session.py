"""One Session type over every artifact and over eager PyTorch (the reference); the backends
(eager, onnxruntime, executorch, LiteRT / tflite-runtime, Core ML) are in backends.py.

    sess = trm_edge.runtime.load("artifacts/onnx-fp32-looped")   # or a checkpoint dir / bundled name
    state = sess.init(tokens)                          # int (N, seq_len) [+ puzzle_ids (N,)]
    state, preds, q_halt = sess.step(state)            # (N, seq_len) int32, (N,) float32
    state, out = sess.step_full(state)                 # out.y / out.z / out.logits / out.preds / out.q_halt
    result = sess.solve(tokens, max_steps=8, halt=True)   # SolveResult via runtime.loop.host_loop

Any number of puzzles works: a static-batch artifact is fed in chunks of its batch (the last chunk
padded with copies of its last row, and the padding dropped from every output). A backend only
implements `_init` / `_step` (looped) or `_forward` (unrolled) on one chunk of numpy arrays.
An unrolled artifact runs its whole graph in `init` and `step` hands out one supervision step at a
time, so both modes go through the same host loop.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import TRMEdgeError
from ..tasks.base import PuzzleError
from .loop import SolveResult, host_loop



def padded_chunks(rows: np.ndarray, batch: int):
    """Chunks of exactly `batch` rows and how many of each are real: a static batch's last chunk is
    padded with copies of its last row (the caller drops the padding from the outputs)."""
    for i in range(0, len(rows), batch):
        chunk = rows[i:i + batch]
        real = len(chunk)
        if real < batch:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], batch - real, 0)])
        yield chunk, real

@dataclass
class StepOutput:
    """Everything one supervision step produced, as numpy, for N puzzles."""
    y: np.ndarray | None        # float32 (N, L, D): answer state after the step (None: unrolled)
    z: np.ndarray | None        # float32 (N, L, D): latent state (None: unrolled)
    logits: np.ndarray          # float32 (N, S, V)
    preds: np.ndarray           # int32 (N, S): argmax of logits
    q_halt: np.ndarray          # float32 (N,): halting logit (halt when > threshold)


@dataclass
class State:
    """Opaque to callers: backend-native state per chunk, the number of real rows, steps taken."""
    chunks: list
    n: int
    steps: int = 0
    extra: Any = field(default=None, repr=False)


class Session:
    backend = "base"

    def __init__(self, manifest: dict, path: Path | None):
        self.manifest, self.path = manifest, path
        m = manifest["model"]
        self.mode: str = manifest["mode"]
        self.batch: int | None = manifest.get("batch")      # None: any batch (eager)
        self.depth: int | None = manifest.get("depth")
        self.seq_len, self.vocab_size = m["seq_len"], m["vocab_size"]
        self.puzzle_emb_len, self.n_puzzle_ids = m["puzzle_emb_len"], m["n_puzzle_ids"]
        self.n_sup, self.halt_threshold = m["n_sup"], m["halt_threshold"]

    @property
    def name(self) -> str:
        return self.manifest.get("name", self.backend)

    @property
    def max_steps(self) -> int:
        return self.depth if self.mode == "unrolled" else self.n_sup

    # ---- backend interface (one chunk, numpy) ------------------------------------------------
    def _init(self, tokens: np.ndarray, puzzle_ids: np.ndarray | None):
        raise NotImplementedError

    def _step(self, native) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """native state -> (native state, y, z, logits, preds, q_halt)."""
        raise NotImplementedError

    def _forward(self, tokens: np.ndarray, puzzle_ids: np.ndarray | None):
        """Unrolled: -> (preds (K, B, S), logits (K, B, S, V), q_halt (K, B))."""
        raise NotImplementedError

    # ---- public API ------------------------------------------------------------------------
    def _check_inputs(self, tokens, puzzle_ids):
        tokens = np.asarray(tokens)
        if tokens.ndim == 1:
            tokens = tokens[None]
        if tokens.ndim != 2 or tokens.shape[1] != self.seq_len or tokens.shape[0] == 0:
            raise PuzzleError(f"tokens must have shape (N, {self.seq_len}), got {tokens.shape}")
        if not np.issubdtype(tokens.dtype, np.integer):
            raise PuzzleError(f"tokens must be integers, got {tokens.dtype}")
        if tokens.min() < 0 or tokens.max() >= self.vocab_size:
            raise PuzzleError(f"tokens must lie in [0, {self.vocab_size}), got [{tokens.min()}, {tokens.max()}]")
        tokens = np.ascontiguousarray(tokens, dtype=np.int32)
        if self.puzzle_emb_len > 0:
            pid = np.zeros(len(tokens), np.int32) if puzzle_ids is None else np.asarray(puzzle_ids).reshape(-1)
            if pid.shape != (len(tokens),) or pid.min() < 0 or pid.max() >= self.n_puzzle_ids:
                raise PuzzleError(f"puzzle_ids must be (N,) = ({len(tokens)},) in [0, {self.n_puzzle_ids})")
            return tokens, np.ascontiguousarray(pid, dtype=np.int32)
        if puzzle_ids is not None and np.any(np.asarray(puzzle_ids) != 0):
            raise PuzzleError("this model has no puzzle-id embedding (puzzle_emb_len = 0)")
        return tokens, None

    def _chunks(self, tokens, pid):
        B = self.batch or len(tokens)
        pids = (p for p, _ in padded_chunks(pid, B)) if pid is not None else itertools.repeat(None)
        for (t, _), p in zip(padded_chunks(tokens, B), pids):
            yield t, p

    def init(self, tokens, puzzle_ids=None) -> State:
        tokens, pid = self._check_inputs(tokens, puzzle_ids)
        if self.mode == "unrolled":
            outs = [self._forward(t, p) for t, p in self._chunks(tokens, pid)]
            preds, logits, q = (np.concatenate([o[i] for o in outs], axis=1)[:, :len(tokens)] for i in range(3))
            return State([], len(tokens), 0, (preds, logits, q))
        return State([self._init(t, p) for t, p in self._chunks(tokens, pid)], len(tokens))

    def step_full(self, state: State) -> tuple[State, StepOutput]:
        if self.mode == "unrolled":
            k = state.steps
            preds, logits, q = state.extra
            if k >= len(preds):
                raise TRMEdgeError(f"{self.name} is unrolled to {len(preds)} steps; step {k + 1} does not exist")
            out = StepOutput(None, None, logits[k].astype(np.float32), preds[k].astype(np.int32),
                             q[k].astype(np.float32).reshape(-1))
            return State([], state.n, k + 1, state.extra), out
        chunks, parts = [], []
        for native in state.chunks:
            native, *arrays = self._step(native)
            chunks.append(native)
            parts.append(arrays)
        y, z, logits, preds, q = (np.concatenate([np.asarray(p[i]) for p in parts])[:state.n] for i in range(5))
        out = StepOutput(y.astype(np.float32), z.astype(np.float32), logits.astype(np.float32),
                         preds.astype(np.int32), q.astype(np.float32).reshape(-1))
        return State(chunks, state.n, state.steps + 1), out

    def step(self, state: State):
        state, out = self.step_full(state)
        return state, out.preds, out.q_halt

    def solve(self, tokens, max_steps: int | None = None, halt: bool = True, puzzle_ids=None,
              threshold: float | None = None) -> SolveResult:
        max_steps = max_steps or self.max_steps
        if max_steps > self.n_sup:
            raise TRMEdgeError(f"max_steps={max_steps}: {self.name} was trained for n_sup={self.n_sup} supervision "
                               f"steps; choose 1..{self.n_sup}")
        if self.mode == "unrolled" and max_steps > self.depth:
            raise TRMEdgeError(f"{self.name} is unrolled to {self.depth} steps; max_steps={max_steps} needs a "
                               "looped artifact or a deeper export")
        tokens = np.asarray(tokens)
        tokens = tokens[None] if tokens.ndim == 1 else tokens   # one puzzle -> a batch of one
        return host_loop(lambda tok: self.init(tok, puzzle_ids), self.step, tokens, max_steps, halt,
                         self.halt_threshold if threshold is None else threshold)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} mode={self.mode} batch={self.batch}>"
