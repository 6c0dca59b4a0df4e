"""A task for any data set built with the authors' tools: tokens in, tokens out.

`generic-<seq_len>-<vocab>` (e.g. generic-100-6) is what `trm-edge import` names a checkpoint whose
shape no trm-edge task has. It knows the shape and nothing of the puzzle: no generator, no rule to
check an answer, no symmetry. Its puzzles come from the authors' built data set
(docs/model.md#authors-file-formats): `<dir>/<split>/dataset.json` and per set name `<set>__inputs.npy`,
`<set>__labels.npy`, `<set>__puzzle_identifiers.npy` (one per puzzle) and `<set>__puzzle_indices.npy`
(the example boundaries of each puzzle), read here by `read_built`; scored against their labels
(`trm-edge eval --data DIR`), cells whose label is the data set's `ignore_label_id` excluded, as the
authors' loss and accuracy do.
Text form (`solve`): seq_len integers in [0, vocab), separated by spaces, commas or new lines.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..errors import TRMEdgeError
from .base import PuzzleError, Task

PATTERN = re.compile(r"generic-([0-9]+)-([0-9]+)", re.ASCII)
MAX_SEQ_LEN, MAX_VOCAB = 1 << 16, 1 << 16


def generic_name(seq_len: int, vocab: int) -> str:
    return f"generic-{seq_len}-{vocab}"


class GenericTask(Task):
    def __init__(self, seq_len: int, vocab_size: int):
        if not (1 <= seq_len <= MAX_SEQ_LEN and 2 <= vocab_size <= MAX_VOCAB):
            raise ValueError(f"generic task: seq_len must be in 1..{MAX_SEQ_LEN} and vocab in 2..{MAX_VOCAB}, "
                             f"got {seq_len}, {vocab_size}")
        self.seq_len, self.vocab_size = seq_len, vocab_size
        self.name = generic_name(seq_len, vocab_size)

    def _no(self, what: str) -> PuzzleError:
        return PuzzleError(f"task {self.name} (tokens in, tokens out) has no {what}: evaluate it on the "
                           "authors' built data set with `trm-edge eval --data DIR`")

    def generate(self, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        raise self._no("puzzle generator")

    def augment(self, inputs, labels, rng):
        return inputs, labels   # no known symmetry: the authors' builder has augmented the data already

    def verify(self, inputs: np.ndarray, preds: np.ndarray) -> np.ndarray:
        raise self._no("rule to check an answer")

    def parse(self, text: str) -> np.ndarray:
        parts = [p for p in re.split(r"[\s,]+", text.strip()) if p]
        if len(parts) != self.seq_len or not all(p.isascii() and p.isdigit() for p in parts):
            raise PuzzleError(f"{self.name}: expected {self.seq_len} integers, got {len(parts)} fields")
        tokens = np.array([int(p) for p in parts], np.int64)
        if tokens.max() >= self.vocab_size:
            raise PuzzleError(f"{self.name}: tokens must be in 0..{self.vocab_size - 1}")
        return tokens.astype(np.int32)

    def render(self, tokens: np.ndarray, given: np.ndarray | None = None) -> str:
        side = int(round(self.seq_len ** 0.5))
        width = side if side * side == self.seq_len else self.seq_len
        t = [str(int(v)) for v in np.asarray(tokens).reshape(-1)]
        return "\n".join(" ".join(t[i:i + width]) for i in range(0, len(t), width))


def _load(path: Path, what: str, ndims=(1, 2), max_cols: int = MAX_SEQ_LEN) -> np.ndarray:
    """A plain integer array (never pickled), its header checked before any allocation."""
    from ..spec import read_npy

    return read_npy(path, what, ndims=ndims, max_cols=max_cols)


def split_dir(data: str | Path, split: str) -> Path:
    """The directory of `split` in an authors' built data set (`<dir>/<split>/`, or `<dir>` itself)."""
    p = Path(data)
    for d in (p / split, p):
        if (d / "dataset.json").is_file():
            return d
    raise TRMEdgeError(f"no {split}/dataset.json in {p} (the authors' built data set directory)")


def read_built(d: str | Path, seq_len: int | None = None, vocab: int | None = None,
               what: str = "the model's shape") -> dict:
    """An authors' built split directory -> {"inputs", "labels": int32 (N, seq_len), "puzzle_ids":
    int32 (N,) (zeros without the identifier files), "ignore_label_id": int | None, "meta"}.
    seq_len / vocab: what the model expects (checked against dataset.json and the arrays)."""
    from ..spec import authors_dataset, obj, read_json

    d = Path(d)
    f = d / "dataset.json"
    meta = authors_dataset(obj(read_json(f, "dataset.json"), str(f)), str(f))
    if seq_len is not None and (meta.get("seq_len"), meta.get("vocab_size")) != (seq_len, vocab):
        raise TRMEdgeError(f"{d}/dataset.json: seq_len {meta.get('seq_len')}, vocab {meta.get('vocab_size')} "
                           f"is not {what} ({seq_len}, {vocab})")
    sets = meta.get("sets", ["all"])
    S = seq_len if seq_len is not None else meta.get("seq_len")
    if S is None:
        raise TRMEdgeError(f"{d}/dataset.json: field 'seq_len' is missing")
    inputs, labels, ids = [], [], []
    for s in sets:
        x = _load(d / f"{s}__inputs.npy", "inputs (N, seq_len)", ndims=(2,))
        y = _load(d / f"{s}__labels.npy", "labels (N, seq_len)", ndims=(2,))
        if x.shape != y.shape or x.shape[1] != S:
            raise TRMEdgeError(f"{d}: {s} inputs {x.shape} / labels {y.shape} are not both (N, seq_len={S})")
        pid_file, idx_file = d / f"{s}__puzzle_identifiers.npy", d / f"{s}__puzzle_indices.npy"
        if pid_file.is_file() and idx_file.is_file():   # one id per puzzle; puzzle i = examples idx[i]:idx[i+1]
            pid = _load(pid_file, "puzzle identifiers (one per puzzle)", ndims=(1,))
            idx = _load(idx_file, "puzzle indices (example boundaries)", ndims=(1,))
            counts = np.diff(idx)
            if len(idx) != len(pid) + 1 or idx[0] != 0 or idx[-1] != len(x) or (counts < 0).any():
                raise TRMEdgeError(f"{d}: {s}__puzzle_indices.npy does not cover the {len(x)} examples")
            if len(pid) and (pid.min() < 0 or pid.max() > 2**31 - 1):
                raise TRMEdgeError(f"{d}: {s}__puzzle_identifiers.npy has ids outside 0..2^31-1")
            ids.append(np.repeat(pid, counts))
        else:
            ids.append(np.zeros(len(x), np.int64))
        inputs.append(x)
        labels.append(y)
    x, y, pid = np.concatenate(inputs), np.concatenate(labels), np.concatenate(ids)
    V = vocab if vocab is not None else meta.get("vocab_size")
    ignore = meta.get("ignore_label_id")
    for key, v, lo, hi in (("seq_len", S, 1, MAX_SEQ_LEN), ("vocab_size", V, 2, MAX_VOCAB),
                           ("ignore_label_id", ignore, -100, MAX_VOCAB)):
        if not ((isinstance(v, int) and lo <= v <= hi) or (key == "ignore_label_id" and v is None)):
            raise TRMEdgeError(f"{d}/dataset.json: {key} must be an integer in {lo}..{hi}, got {v!r}")
    if len(x) == 0 or x.shape[1] != S:
        raise TRMEdgeError(f"{d}: the arrays have {x.shape} tokens, dataset.json says (N >= 1, {S})")
    for name, a in (("inputs", x), ("labels", y)):
        bad = (a < 0) | (a >= V)
        if name == "labels" and ignore is not None:
            bad &= a != ignore
        if bad.any():
            raise TRMEdgeError(f"{d}: {name} has tokens outside 0..{V - 1}")
    return {"inputs": x.astype(np.int32), "labels": y.astype(np.int32), "puzzle_ids": pid.astype(np.int32),
            "ignore_label_id": None if ignore is None else int(ignore), "meta": meta}
