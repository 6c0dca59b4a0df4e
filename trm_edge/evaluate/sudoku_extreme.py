"""Sudoku-Extreme evaluation: exact accuracy per depth, overall and per rating bucket (the data set's
readers are trm_edge/tasks/sudoku_extreme.py)."""
from __future__ import annotations

import numpy as np

from ..errors import TRMEdgeError
from ..tasks.sudoku_extreme import BUCKETS, SEQ_LEN, VOCAB, bucket_name, load


def evaluate(checkpoint, data, n: int | None = None, seed: int = 0, max_steps: int | None = None,
             threshold: float | None = None, batch_size: int = 256, device: str = "cpu") -> dict:
    """Exact accuracy per depth, overall and per rating bucket, on the test split (`n`: a random
    subsample of that many puzzles, drawn with `seed`)."""
    from ..checkpoint import resolve
    from . import run_all_steps, score
    from ..runtime import load as load_session

    inputs, labels, rating = load(data, "test")   # bad files fail before the model loads
    d = resolve(checkpoint)
    sess = load_session(d, device=device)
    m = sess.manifest["model"]
    if (m["seq_len"], m["vocab_size"]) != (SEQ_LEN, VOCAB):
        raise TRMEdgeError(f"{d} is not a 9x9 Sudoku model (seq_len {m['seq_len']}, vocab {m['vocab_size']})")
    total = len(inputs)
    if n is not None and n < total:
        idx = np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
        inputs, labels = inputs[idx], labels[idx]
        rating = rating[idx] if rating is not None else None
    steps = max_steps or sess.max_steps
    thr = sess.halt_threshold if threshold is None else threshold
    preds, q = run_all_steps(sess, inputs, steps, batch_size)
    res = {**score(preds, q, labels, thr, "sudoku-extreme"), "checkpoint": str(d), "data": str(data),
           "test_size": total, "seed": seed, "buckets": []}
    if rating is not None:
        for lo, hi in BUCKETS:
            m = (rating >= lo) & ((rating < hi) if hi is not None else True)
            if m.any():
                b = score(preds[:, m], q[:, m], labels[m], thr, "sudoku-extreme")
                res["buckets"].append({"rating": bucket_name(lo, hi), "n": b["n"], "exact": b["exact"],
                                       "halt": b["halt"]})
    return res


def format_report(res: dict) -> str:
    depths = res["depths"]
    head = f"{'rating':<8} {'n':>7} " + " ".join(f"{'@' + str(k):>6}" for k in depths) + "   halting (exact, steps)"
    rows = [("all", res["n"], res["exact"], res["halt"])] + [(b["rating"], b["n"], b["exact"], b["halt"])
                                                           for b in res["buckets"]]
    lines = [f"Sudoku-Extreme test: {res['n']} of {res['test_size']} puzzles, exact accuracy per depth "
             f"(halting at q_halt > {res['halt']['threshold']:.3g})", head]
    for name, n, exact, h in rows:
        lines.append(f"{name:<8} {n:>7} " + " ".join(f"{v:>6.3f}" for v in exact)
                     + f"   {h['exact']:.3f}, {h['mean_steps']:.2f}")
    return "\n".join(lines)
