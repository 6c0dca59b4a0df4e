"""Accuracy per supervision step (depth) and with adaptive halting; halting-threshold calibration.

Everything here works on a *solve function*: `solve(tokens int32 (b, seq_len), max_steps, halt,
threshold) -> SolveResult` (trm_edge.runtime.loop). The eager model gives one (`model_solver`);
an exported artifact's session gives another, so `evaluate_solver` scores both the same way.

One pass runs all steps with halt=False (predictions after every step 1..max_steps and q_halt
at every step); adaptive halting is then applied after the fact: a sample's halting answer is its
prediction at the first step with q_halt > threshold (or the last step). That is exactly what
running with halt=True returns, since halted answers are frozen.

Calibration: the authors' q_halt > 0 halts too early on small models (spec: 0.89 instead of 0.95
exact). `calibrate_threshold` picks, on a validation split from the training distribution (never
test), the threshold with the fewest mean steps whose exact accuracy is within `max_drop` of the
full-depth accuracy, and `calibrate_checkpoint` stores it in the checkpoint's config.json.
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Callable

import numpy as np

from .runtime.loop import SolveResult


def model_solver(model, device: str = "cpu") -> Callable:
    """A solve function over an eager TinyRecursiveModel."""
    import torch

    def solve(tokens: np.ndarray, max_steps: int, halt: bool = False, threshold: float = 0.0) -> SolveResult:
        t = torch.as_tensor(np.asarray(tokens, np.int32), device=device)
        return model.solve(t, max_steps=max_steps, halt=halt, threshold=threshold)
    return solve


def run_all_steps(solve: Callable, inputs: np.ndarray, max_steps: int, batch_size: int = 256):
    """-> preds (S, N, seq_len), q_halt (S, N) for every step, in batches."""
    preds, qs = [], []
    for i in range(0, len(inputs), batch_size):
        r = solve(inputs[i:i + batch_size], max_steps, False, 0.0)
        preds.append(r.preds)
        qs.append(r.q_halt)
    return np.concatenate(preds, axis=1), np.concatenate(qs, axis=1)


def halting_outcome(q_halt: np.ndarray, solved: np.ndarray, threshold: float) -> tuple[float, float]:
    """q_halt, solved (S, N) -> (exact accuracy, mean steps) when halting at q_halt > threshold."""
    S, N = q_halt.shape
    fire = q_halt > threshold
    halted_at = np.where(fire.any(0), fire.argmax(0), S - 1)  # 0-based step index
    return float(solved[halted_at, np.arange(N)].mean()), float((halted_at + 1).mean())


def score(preds: np.ndarray, q_halt: np.ndarray, labels: np.ndarray, threshold: float, task: str) -> dict:
    """Per-depth exact/cell accuracy + halting accuracy, as the eval JSON."""
    correct = preds == labels[None]                    # (S, N, L)
    solved = correct.all(-1)                           # (S, N)
    exact_h, steps_h = halting_outcome(q_halt, solved, threshold)
    S, N = solved.shape
    return {"task": task, "n": int(N), "depths": list(range(1, S + 1)),
            "exact": [round(float(v), 4) for v in solved.mean(1)],
            "cell": [round(float(v), 4) for v in correct.mean((1, 2))],
            "halt": {"exact": round(exact_h, 4), "mean_steps": round(steps_h, 3), "threshold": threshold}}


def evaluate_solver(solve: Callable, inputs: np.ndarray, labels: np.ndarray, max_steps: int,
                    threshold: float, task: str, batch_size: int = 256) -> dict:
    """Score any solve function (eager model or exported artifact) on (inputs, labels)."""
    preds, q = run_all_steps(solve, inputs, max_steps, batch_size)
    return score(preds, q, labels, threshold, task)


def calibrate_threshold(q_halt: np.ndarray, solved: np.ndarray, max_drop: float = 0.005) -> dict:
    """Threshold with the fewest mean steps whose exact accuracy >= full-depth accuracy - max_drop.

    Candidates: midpoints between observed q_halt values (at most ~2000 of them), 0 (the authors'
    rule) and +inf (never halt early).
    """
    full = float(solved[-1].mean())
    u = np.unique(q_halt.ravel())
    # midpoints between observed logits: robust to the small drift of exported / int8 runtimes
    cands = np.concatenate([[u[0] - 1.0], (u[:-1] + u[1:]) / 2])
    best = {"threshold": float("inf"), "exact": full, "mean_steps": float(solved.shape[0])}
    for t in cands[::max(1, len(cands) // 2000)].tolist() + [0.0]:
        acc, steps = halting_outcome(q_halt, solved, t)
        if acc >= full - max_drop and (steps < best["mean_steps"] or
                                       (steps == best["mean_steps"] and t > best["threshold"])):
            best = {"threshold": float(t), "exact": acc, "mean_steps": steps}
    best["full_depth_exact"] = full
    best["authors_threshold_0"] = dict(zip(("exact", "mean_steps"), halting_outcome(q_halt, solved, 0.0)))
    return best


def training_data(d: Path) -> tuple[int, int]:
    """(n_train, data_seed) the checkpoint was trained on (from training.json; else the defaults),
    so that val/test puzzles are de-duplicated against exactly those training puzzles."""
    f = Path(d) / "training.json"
    tc = json.loads(f.read_text()).get("train_config", {}) if f.exists() else {}
    return int(tc.get("n_train", 20000)), int(tc.get("data_seed", 0))


def calibrate_checkpoint(path, n: int = 1000, seed: int | None = None, n_train: int | None = None,
                         max_drop: float = 0.005, device: str = "cpu") -> dict:
    """Choose q_halt's threshold on the validation split and write it into config.json."""
    from .checkpoint import save_model, load_model
    from .data import load_split
    from .tasks import get_task

    model, d = load_model(path, device)
    n_train0, seed0 = training_data(d)
    n_train, seed = n_train or n_train0, seed0 if seed is None else seed
    task = get_task(model.cfg.task)
    inputs, labels = load_split(task, "val", n, seed, n_train=n_train)
    preds, q = run_all_steps(model_solver(model, device), inputs, model.cfg.n_sup)
    result = calibrate_threshold(q, (preds == labels[None]).all(-1), max_drop)
    result.update(split="val", n=n, seed=seed, max_drop=max_drop)
    thr = result["threshold"]
    if not np.isfinite(thr):  # JSON has no inf: never halt early = a threshold above any logit
        thr = float(q.max()) + 1.0
        result["threshold"] = thr
    model.cfg = replace(model.cfg, halt_threshold=float(thr))
    extra = {f.name: json.loads(f.read_text()) for f in Path(d).glob("*.json") if f.name != "config.json"}
    extra["calibration.json"] = result
    save_model(model, d, extra_json=extra)
    return result


def evaluate_checkpoint(path=None, n: int = 1000, seed: int | None = None, n_train: int | None = None,
                        max_steps: int | None = None, threshold: float | None = None,
                        device: str = "cpu", batch_size: int = 256) -> dict:
    """`trm-edge eval`: the checkpoint on `n` fresh test puzzles (de-duplicated against training)."""
    from .checkpoint import load_model
    from .data import load_split
    from .tasks import get_task

    model, d = load_model(path, device)
    n_train0, seed0 = training_data(d)
    n_train, seed = n_train or n_train0, seed0 if seed is None else seed
    task = get_task(model.cfg.task)
    inputs, labels = load_split(task, "test", n, seed, n_train=n_train)
    thr = model.cfg.halt_threshold if threshold is None else threshold
    out = evaluate_solver(model_solver(model, device), inputs, labels, max_steps or model.cfg.n_sup,
                          thr, model.cfg.task, batch_size)
    out.update(checkpoint=str(d), split="test", seed=seed, n_train=n_train)
    return out


def format_table(result: dict) -> str:
    """The accuracy-per-depth table as text."""
    lines = [f"{result['task']}: {result['n']} puzzles", "depth  exact   cell"]
    for s, e, c in zip(result["depths"], result["exact"], result["cell"]):
        lines.append(f"{s:>5}  {e:.3f}  {c:.3f}")
    h = result["halt"]
    lines.append(f"halting (q_halt > {h['threshold']:.3g}): exact {h['exact']:.3f}, mean steps {h['mean_steps']:.2f}")
    return "\n".join(lines)
