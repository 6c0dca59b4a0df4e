"""What `trm-edge solve` and `trm-edge demo` print: a board refining step by step, and the
accuracy-per-depth table on fresh puzzles."""
from __future__ import annotations

import math
import time

import numpy as np


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v)) if v > -60 else 0.0


def solve_steps(model, task, tokens: np.ndarray, max_steps: int | None = None, all_steps: bool = False,
                threshold: float | None = None, echo=print) -> tuple[np.ndarray, int, bool]:
    """Solve one puzzle, echoing the board after each supervision step with the halting confidence
    sigmoid(q_halt). Stops at the halting step unless `all_steps`. -> (answer, steps, valid)."""
    import torch

    steps = max_steps or model.cfg.n_sup
    thr = model.cfg.halt_threshold if threshold is None else threshold
    r = model.solve(torch.as_tensor(tokens[None], dtype=torch.int32), max_steps=steps, halt=False, threshold=thr)
    last = int(r.halted_at[0]) if not all_steps else r.steps_run
    echo(f"puzzle ({int((tokens >= 2).sum())} givens):")
    echo(task.render(tokens))
    prev = tokens
    for s in range(last):
        pred = r.preds[s, 0]
        changed = int((pred != prev).sum()) if s else int((pred != tokens).sum())
        halt = " -> halt" if s + 1 == int(r.halted_at[0]) and r.q_halt[s, 0] > thr else ""
        echo(f"\nstep {s + 1}/{steps}: halting confidence {_sigmoid(float(r.q_halt[s, 0])):.3f}"
             f" (threshold {_sigmoid(thr):.3f}), {changed} cells changed{halt}")
        echo(task.render(pred))
        prev = pred
    answer = r.preds[last - 1, 0]
    valid = bool(task.verify(tokens[None], answer[None])[0])
    echo(f"\n{'solved' if valid else 'NOT solved'} after {last} step(s)")
    return answer, last, valid


def run_demo(checkpoint=None, n_show: int = 2, n_table: int = 300, seed: int | None = None,
             device: str = "cpu", echo=print) -> dict:
    """Bundled model: solve a few fresh puzzles live, then the accuracy-per-depth table."""
    from .checkpoint import load_model
    from .evaluate import evaluate_solver, format_table, model_solver
    from .model import count_params
    from .tasks import get_task

    t0 = time.perf_counter()
    model, d = load_model(checkpoint, device)
    task = get_task(model.cfg.task)
    seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else seed
    echo(f"model {d.name}: {model.cfg.task}, {count_params(model):,} params, D={model.cfg.d_model}, "
         f"n={model.cfg.n_latent}, T={model.cfg.T}, up to {model.cfg.n_sup} supervision steps")
    echo(f"fresh puzzles from seed {seed} (not in the training set with overwhelming probability)\n")
    inputs, labels = task.generate(n_show + n_table, seed)
    for i in range(n_show):
        echo(f"=== puzzle {i + 1}/{n_show} ===")
        solve_steps(model, task, inputs[i], echo=echo)
        echo("")
    res = evaluate_solver(model_solver(model, device), inputs[n_show:], labels[n_show:], model.cfg.n_sup,
                          model.cfg.halt_threshold, model.cfg.task)
    echo("accuracy per depth (supervision steps) on fresh puzzles:")
    echo(format_table(res))
    echo(f"\ndemo took {time.perf_counter() - t0:.1f} s")
    return res
