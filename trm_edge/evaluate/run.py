"""`trm-edge eval` end to end: pick the evaluator for what was given, run it, report, write JSON.

  --data DIR (no --task)      any model on the authors' built data set (evaluate_data)
  --task sudoku-extreme       Sudoku-Extreme files, per rating bucket (sudoku_extreme.py)
  --task arc1-eval|arc2-eval  ARC voting over augmented variants, pass@1 / pass@2 (arc.py)
  --artifact DIR              an exported artifact + drift vs eager fp32 (evaluate_artifact)
  otherwise                   a checkpoint on generated test puzzles (evaluate_checkpoint)
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..errors import TRMEdgeError
from ..safe_io import check_writable, write_text

ARC_TASKS = ("arc1-eval", "arc2-eval")


@dataclass
class EvalRequest:
    checkpoint: str | None = None    # checkpoint dir or bundled name (None: the bundled default)
    artifact: str | None = None      # an exported artifact instead
    task: str | None = None          # sudoku-extreme | arc1-eval | arc2-eval | None (the model's own)
    data: str | None = None          # the authors' built data set / Sudoku-Extreme files
    n: int = 1000                    # test puzzles (a subsample of --data)
    seed: int | None = None          # data seed (None: the checkpoint's training seed; 0 for --data)
    max_steps: int | None = None     # supervision steps (None: n_sup)
    threshold: float | None = None   # q_halt threshold (None: the model's)
    batch_size: int = 256
    device: str = "auto"             # eager PyTorch's device: cpu, cuda, mps or auto (only a checkpoint needs one)
    subset: int | None = None        # ARC: the first N evaluation puzzles
    givens: tuple[int, int] | None = None   # Sudoku: test puzzles with lo..hi givens
    json_out: str | None = None


def _device(req: EvalRequest) -> str:
    from ..runtime import pick_device   # imports torch: only for a checkpoint (an artifact runs without it)

    return pick_device(req.device)


def run_eval(req: EvalRequest) -> tuple[dict, str]:
    """-> (result, its text report); the result JSON is written to req.json_out when given."""
    if req.task == "sudoku-extreme" and not req.data:
        raise TRMEdgeError("--task sudoku-extreme and --data PATH go together")
    if req.data and req.task not in (None, "sudoku-extreme"):
        raise TRMEdgeError("--data goes without --task (the authors' built data set) or with --task sudoku-extreme")
    if req.givens is not None and (req.task or req.data):
        raise TRMEdgeError("--givens picks Sudoku test puzzles of the checkpoint's own task; not with --task or --data")
    if req.task is not None and req.task != "sudoku-extreme" and req.task not in ARC_TASKS:
        raise TRMEdgeError(f"--task: choose sudoku-extreme, {' or '.join(ARC_TASKS)}, got {req.task!r} "
                           "(other tasks come from the checkpoint)")
    if req.json_out:
        check_writable(req.json_out)   # before the work, not after it
    if req.task in ARC_TASKS:
        from .arc import format_report, run_arc_eval

        res = run_arc_eval(req.checkpoint, req.task, req.subset, device=_device(req),
                           batch_size=min(req.batch_size, 32), max_steps=req.max_steps, json_out=req.json_out)
        return res, format_report(res)   # (run_arc_eval writes its own JSON)
    common = dict(max_steps=req.max_steps, threshold=req.threshold, batch_size=req.batch_size)
    if req.data and req.task is None:
        from . import evaluate_data, format_table

        res = evaluate_data(req.artifact or req.checkpoint, req.data, n=req.n, seed=req.seed or 0,
                            device="cpu" if req.artifact else _device(req), **common)
        text = format_table(res)
    elif req.data:
        from .sudoku_extreme import evaluate, format_report

        res = evaluate(req.checkpoint, req.data, n=req.n, seed=req.seed or 0, device=_device(req), **common)
        text = format_report(res)
    else:
        from . import evaluate_artifact, evaluate_checkpoint, format_drift, format_table

        try:
            if req.artifact:
                res = evaluate_artifact(req.artifact, n=req.n, seed=req.seed, checkpoint=req.checkpoint,
                                        givens=req.givens, **common)
                text = format_drift(res)
            else:
                res = evaluate_checkpoint(req.checkpoint, n=req.n, seed=req.seed, device=_device(req),
                                          givens=req.givens, **common)
                text = format_table(res)
        except ValueError as e:  # e.g. --givens on a non-Sudoku model, or givens the board cannot have
            raise TRMEdgeError(str(e)) from None
    if req.json_out:
        write_text(req.json_out, json.dumps(res, indent=2) + "\n")
        text += f"\nwrote {req.json_out}"
    return res, text
