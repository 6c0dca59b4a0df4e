"""The fp32 pass rule and eager fp32's fp64 noise floor, written once: `trm-edge validate`, its ARM64
path (arm.py) and the golden vectors' recorded tolerance (vectors.py) all use these.

fp32 passes when predictions are identical at every step and max|logits - eager| at that step is
below TOLERANCE[precision] x max|eager logits|, or at most FLOOR_FACTOR x eager fp32's own distance from an fp64
run of the same weights (the model's fp32 noise floor). fp32 rounding compounds through the
recursion: on the bundled 6x6 model eager fp32 is 1.3e-2 from fp64 at step 8 (1.3e-4 of max|logits|),
on the 9x9 `sudoku9` 0.23 at step 7 (1.6e-3: above any fixed 1e-3), so a runtime that rounds
differently than eager, but no worse, lands within twice that floor of eager. Other precisions are
reported, not judged.
"""
from __future__ import annotations

import numpy as np

TOLERANCE = {"fp32": 1e-3}   # precision -> max |logits - eager| / max|eager logits|
ATOL = 1e-3                  # the golden vectors' absolute bar for logits and q_halt (docs/export.md#parity)
FLOOR_FACTOR = 2.0           # or up to this many times eager fp32's own distance from fp64


def _maxabs(a, b):
    return None if a is None or b is None else float(np.abs(a.astype(np.float64) - b).max())


def compare(sess, ref, tokens, labels=None, puzzle_ids=None, steps: int | None = None) -> list[dict]:
    """Per-step comparison rows of two sessions on the same puzzles."""
    steps = steps or sess.max_steps
    s_art, s_ref = sess.init(tokens, puzzle_ids), ref.init(tokens, puzzle_ids)
    rows = []
    for k in range(1, steps + 1):
        s_art, a = sess.step_full(s_art)
        s_ref, r = ref.step_full(s_ref)
        scale = float(np.abs(r.logits).max())
        row = {"step": k,
               "logits_err": _maxabs(a.logits, r.logits),
               "logits_rel_err": _maxabs(a.logits, r.logits) / max(scale, 1e-12),
               "y_err": _maxabs(a.y, r.y), "z_err": _maxabs(a.z, r.z),
               "q_halt_err": _maxabs(a.q_halt, r.q_halt),
               "cell_agreement": float((a.preds == r.preds).mean()),
               "puzzle_agreement": float((a.preds == r.preds).all(-1).mean())}
        if labels is not None:
            row["exact_artifact"] = float((a.preds == labels).all(-1).mean())
            row["exact_eager"] = float((r.preds == labels).all(-1).mean())
        rows.append(row)
    return rows


def fp32_noise_floor(ref, tokens, puzzle_ids, steps: int) -> list[dict]:
    """Per step: the eager fp32 reference against the same weights in fp64 (compare() rows)."""
    import copy

    from ..runtime import EagerSession

    ref64 = EagerSession(copy.deepcopy(ref.model).double(), device=ref.device)
    return compare(ref, ref64, tokens, None, puzzle_ids, steps=steps)


def judge(rows: list[dict], precision: str, ref, tokens, puzzle_ids) -> bool | None:
    """The pass rule: None for precisions without a tolerance; for fp32 every step's predictions
    identical and its logits within TOLERANCE or FLOOR_FACTOR x the noise floor (recorded per row)."""
    tol = TOLERANCE.get(precision)
    if tol is None:
        return None
    for r, f in zip(rows, fp32_noise_floor(ref, tokens, puzzle_ids, len(rows))):
        r["eager_fp64_err"] = f["logits_err"]
    return all(r["puzzle_agreement"] == 1.0 and
               (r["logits_rel_err"] < tol or r["logits_err"] <= FLOOR_FACTOR * r["eager_fp64_err"])
               for r in rows)


def describe(precision: str) -> str:
    tol = TOLERANCE.get(precision)
    return (f"predictions identical, logits err < {tol:g} x max|logits| or <= {FLOOR_FACTOR:g} x eager fp32's "
            "own error vs fp64" if tol else "")
