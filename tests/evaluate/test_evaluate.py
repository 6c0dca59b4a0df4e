"""evaluate: eval JSON schema per depth, halting outcome, threshold calibration stored in the checkpoint."""
from __future__ import annotations

import json

import numpy as np
import pytest

from trm_edge.checkpoint import load_model
from trm_edge.evaluate import (evaluate_checkpoint, fit_halt_threshold, halting_outcome, halting_steps, score,
                               tune_halt_threshold)


def test_eval_json_schema_has_one_entry_per_depth(tiny_ckpt):
    res = evaluate_checkpoint(tiny_ckpt, n=24, device="cpu", batch_size=10)  # 3 batches, the last partial
    n_sup = load_model(tiny_ckpt)[0].cfg.n_sup
    for k in ("task", "n", "depths", "exact", "cell", "halt"):
        assert k in res
    assert res["task"] == "sudoku4" and res["n"] == 24
    assert res["depths"] == list(range(1, n_sup + 1))
    assert len(res["exact"]) == len(res["cell"]) == n_sup
    assert all(0.0 <= v <= 1.0 for v in res["exact"] + res["cell"])
    assert all(e <= c for e, c in zip(res["exact"], res["cell"]))  # a solved puzzle has every cell right
    assert {"exact", "mean_steps"} <= set(res["halt"])
    assert 1.0 <= res["halt"]["mean_steps"] <= n_sup
    json.dumps(res)  # serialisable as written by `eval --json`
    # --max-steps truncates the per-depth arrays
    assert len(evaluate_checkpoint(tiny_ckpt, n=8, max_steps=2, device="cpu")["exact"]) == 2


def test_halting_outcome_picks_first_firing_step():
    q = np.array([[-1.0, 2.0, -1.0], [3.0, 2.0, -1.0], [4.0, 2.0, -1.0]])  # (S=3, N=3)
    solved = np.array([[0, 1, 0], [1, 1, 0], [1, 1, 1]], bool)
    # sample 0 halts at step 2 (solved), sample 1 at step 1 (solved), sample 2 never fires -> step 3
    assert halting_outcome(q, solved, 0.0) == (1.0, 2.0)
    # threshold 2.5: sample 1 never fires before... it fires at none (2.0 < 2.5) -> last step
    acc, steps = halting_outcome(q, solved, 2.5)
    assert acc == 1.0 and steps == pytest.approx((2 + 3 + 3) / 3)
    # the halting step of each sample, counted from 1 (what eval --artifact compares with eager's)
    assert halting_steps(q, 0.0).tolist() == [2, 1, 3] and halting_steps(q, 2.5).tolist() == [2, 3, 3]
    # the host loop applies the same rule (trm_edge.runtime.loop owns it), with and without halting
    from trm_edge.runtime.loop import host_loop
    for halt in (False, True):
        steps = iter(q)
        r = host_loop(lambda t: None, lambda s: (s, np.zeros((3, 1)), next(steps)), np.zeros((3, 1)), 3, halt=halt)
        assert r.halted_at.tolist() == halting_steps(q, 0.0).tolist()


def test_calibrate_threshold_trades_steps_for_accuracy():
    # 4 samples, 3 steps; q_halt rises with the step; sample 3 is only right at step 3
    q = np.array([[0.1, 0.1, 0.1, 0.1], [1.0, 1.0, 1.0, 0.5], [2.0, 2.0, 2.0, 2.0]])
    solved = np.array([[1, 1, 1, 0], [1, 1, 1, 0], [1, 1, 1, 1]], bool)
    exact = fit_halt_threshold(q, solved, max_drop=0.0)
    assert exact["exact"] == 1.0 and exact["full_depth_exact"] == 1.0
    # halting at step 1 would lose sample 3: with no allowed drop, it must wait for q > 0.5 on sample 3
    assert halting_outcome(q, solved, exact["threshold"])[0] == 1.0
    loose = fit_halt_threshold(q, solved, max_drop=0.25)
    assert loose["mean_steps"] == 1.0 and loose["exact"] == 0.75


def test_score_counts_exact_and_cells():
    labels = np.array([[2, 3], [3, 2]])
    preds = np.array([[[2, 3], [3, 3]], [[2, 3], [3, 2]]])  # (S=2, N=2, L=2)
    q = np.full((2, 2), -5.0)
    r = score(preds, q, labels, 0.0, "t")
    assert r["exact"] == [0.5, 1.0] and r["cell"] == [0.75, 1.0]
    assert r["halt"]["exact"] == 1.0 and r["halt"]["mean_steps"] == 2.0


def test_calibrate_checkpoint_stores_threshold(tiny_ckpt, tmp_path):
    import shutil

    ck = tmp_path / "ck"
    shutil.copytree(tiny_ckpt, ck)
    res = tune_halt_threshold(ck, n=32, device="cpu")
    assert np.isfinite(res["threshold"]) and res["split"] == "val" and res["n"] == 32
    cfg = json.loads((ck / "config.json").read_text())
    assert cfg["halt_threshold"] == pytest.approx(res["threshold"])
    assert load_model(ck)[0].cfg.halt_threshold == pytest.approx(res["threshold"])
    assert json.loads((ck / "calibration.json").read_text())["threshold"] == pytest.approx(res["threshold"])
    assert (ck / "training.json").exists()  # the other JSON files survive the rewrite
    # eval uses the stored threshold by default
    assert evaluate_checkpoint(ck, n=8, device="cpu")["halt"]["threshold"] == pytest.approx(res["threshold"])
