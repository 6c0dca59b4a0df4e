"""Accuracy per supervision step (depth) and with adaptive halting, of a checkpoint or of an
exported artifact (one module: both run through a runtime Session); halting-threshold calibration.

`trm_edge.runtime.load(path)` gives the session: eager PyTorch for a checkpoint, the artifact's
runtime for an artifact. Both are scored on the same test puzzles (same split, seed and
de-duplication against the training puzzles of the source checkpoint).

One pass runs all steps with halt=False (predictions after every step 1..max_steps and q_halt
at every step); adaptive halting is then applied after the fact: a sample's halting answer is its
prediction at the first step with q_halt > threshold (or the last step). That is exactly what
running with halt=True returns, since halted answers are frozen.

An artifact's result adds, when PyTorch is installed, its drift from the eager fp32 model:

    drift: {"y": [...], "z": [...], "logits": [...]}  relative error vs eager fp32 after each step,
           ||a - ref|| / ||ref|| per puzzle (Frobenius norm over (L, D) or (S, V)), mean over puzzles
           (y / z are null for unrolled artifacts, whose state never leaves the graph)
    agree: [...]   fraction of cells whose prediction equals eager's, per step
    halt_agree     fraction of puzzles that halt at the same step as eager (same threshold): int8
                   that moves q_halt across the threshold changes when the model stops, i.e. latency
    halt_answer_agree  fraction of puzzles whose halted answer equals eager's halted answer
    eager: {exact, cell, halt}  the eager fp32 model on the same puzzles, for comparison

Both run the state forward on their own (the artifact is fed its own y, z), so the drift is the
compounded error a deployed artifact accumulates, not a one-step error. Without PyTorch the
artifact is scored alone (drift null).

The halting threshold: the authors' q_halt > 0 halts too early on small models
(docs/model.md#cpu-prototype: 0.89 instead of 0.95 exact). `fit_halt_threshold` picks, on a
validation split from the training distribution (never test), the threshold with the fewest mean steps whose exact accuracy is within `max_drop` of the
full-depth accuracy, and `tune_halt_threshold` stores it in the checkpoint's config.json.
"""
from __future__ import annotations

import importlib.util
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..artifact import files_bytes
from ..errors import ArtifactError, TRMEdgeError
from ..runtime.loop import halting_steps   # the halting rule (steps counted from 1)
from ..safe_io import check_writable, write_text


def run_all_steps(sess, inputs: np.ndarray, max_steps: int, batch_size: int = 256,
                  puzzle_ids: np.ndarray | None = None):
    """-> preds (S, N, seq_len), q_halt (S, N) for every step of a Session, in batches."""
    preds, qs = [], []
    for i in range(0, len(inputs), batch_size):
        pid = None if puzzle_ids is None else puzzle_ids[i:i + batch_size]
        r = sess.solve(inputs[i:i + batch_size], max_steps, halt=False, threshold=0.0, puzzle_ids=pid)
        preds.append(r.preds)
        qs.append(r.q_halt)
    return np.concatenate(preds, axis=1), np.concatenate(qs, axis=1)


def halting_outcome(q_halt: np.ndarray, solved: np.ndarray, threshold: float) -> tuple[float, float]:
    """q_halt, solved (S, N) -> (exact accuracy, mean steps) when halting at q_halt > threshold."""
    halted_at = halting_steps(q_halt, threshold)   # 1..S (trm_edge.runtime.loop: the rule)
    return float(solved[halted_at - 1, np.arange(q_halt.shape[1])].mean()), float(halted_at.mean())


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


def evaluate_session(sess, inputs: np.ndarray, labels: np.ndarray, max_steps: int,
                     threshold: float, task: str, batch_size: int = 256) -> dict:
    """Score any Session (eager model or exported artifact) on (inputs, labels)."""
    preds, q = run_all_steps(sess, inputs, max_steps, batch_size)
    return score(preds, q, labels, threshold, task)


def fit_halt_threshold(q_halt: np.ndarray, solved: np.ndarray, max_drop: float = 0.005) -> dict:
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


def tune_halt_threshold(path, n: int = 1000, seed: int | None = None, n_train: int | None = None,
                         max_drop: float = 0.005, device: str = "cpu") -> dict:
    """Choose q_halt's threshold on the validation split and write it into config.json.

    Writes only calibration.json and config.json's halt_threshold (each atomically); every other
    file of the checkpoint stays as it is. A model bundled in the installed package is refused."""
    from ..checkpoint import is_bundled, load_model, resolve, training_data
    from ..data import load_split
    from ..runtime import EagerSession
    from ..tasks import get_task

    d = resolve(path)
    if is_bundled(d):
        raise TRMEdgeError(f"{d.name} is bundled with the installed trm-edge and is not modified: copy it "
                           f"(cp -r {d} my-{d.name}) and calibrate the copy (--checkpoint my-{d.name})")
    for f in ("config.json", "calibration.json"):
        check_writable(d / f)
    model, d = load_model(d, device)
    n_train0, seed0 = training_data(d)
    n_train, seed = n_train or n_train0, seed0 if seed is None else seed
    task = get_task(model.cfg.task)
    inputs, labels = load_split(task, "val", n, seed, n_train=n_train)
    preds, q = run_all_steps(EagerSession(model, device=device), inputs, model.cfg.n_sup)
    result = fit_halt_threshold(q, (preds == labels[None]).all(-1), max_drop)
    result.update(split="val", n=n, seed=seed, max_drop=max_drop)
    thr = result["threshold"]
    if not np.isfinite(thr):  # JSON has no inf: never halt early = a threshold above any logit
        thr = float(q.max()) + 1.0
        result["threshold"] = thr
    model.cfg = replace(model.cfg, halt_threshold=float(thr))
    write_text(Path(d) / "calibration.json", json.dumps(result, indent=2) + "\n")
    write_text(Path(d) / "config.json", model.cfg.to_json() + "\n")
    return result


def held_out_puzzles(task: str, n: int, seed: int | None, checkpoint_dir=None, n_train: int | None = None,
               givens: tuple[int, int] | None = None) -> tuple[np.ndarray, np.ndarray, int, int]:
    """n test puzzles of `task`, de-duplicated against the training puzzles of `checkpoint_dir`
    (its training.json; the defaults without one) -> (inputs, labels, seed, n_train). What eval,
    validate and bench all score; `seed` None: the checkpoint's data seed."""
    from ..checkpoint import training_data
    from ..data import eval_puzzles

    n_train0, seed0 = training_data(Path(checkpoint_dir) if checkpoint_dir else None)
    n_train, seed = n_train or n_train0, seed0 if seed is None else seed
    inputs, labels = eval_puzzles(task, n, seed, n_train=n_train, givens=givens)
    return inputs, labels, seed, n_train


def evaluate_checkpoint(path=None, n: int = 1000, seed: int | None = None, n_train: int | None = None,
                        max_steps: int | None = None, threshold: float | None = None,
                        device: str = "cpu", batch_size: int = 256,
                        givens: tuple[int, int] | None = None) -> dict:
    """`trm-edge eval`: the checkpoint on `n` fresh test puzzles (de-duplicated against training)."""
    from ..checkpoint import resolve
    from ..runtime import load

    d = resolve(path)
    sess = load(d, device=device)
    task = sess.manifest["task"]["name"]
    inputs, labels, seed, n_train = held_out_puzzles(task, n, seed, d, n_train, givens)
    thr = sess.halt_threshold if threshold is None else threshold
    out = evaluate_session(sess, inputs, labels, max_steps or sess.max_steps, thr, task, batch_size)
    out.update(checkpoint=str(d), split="test", seed=seed, n_train=n_train, givens=givens and list(givens))
    return out


def evaluate_data(path, data, n: int | None = None, seed: int = 0, max_steps: int | None = None,
                  threshold: float | None = None, device: str = "cpu", batch_size: int = 256) -> dict:
    """`trm-edge eval --data DIR`: a checkpoint or an artifact on the test split of a data set built
    with the authors' tools (trm_edge.tasks.generic.read_built), with its puzzle ids; `n`: a random
    subsample drawn with `seed`. Cells labelled `ignore_label_id` are not scored (the authors' rule):
    they count as correct in exact and cell accuracy."""
    from ..checkpoint import resolve
    from ..runtime import load
    from ..tasks.generic import read_built, split_dir

    test_dir = split_dir(data, "test")               # a missing data set fails before the model loads
    path = path if path is not None else resolve(None)
    sess = load(path, device=device)
    built = read_built(test_dir, sess.seq_len, sess.vocab_size)
    inputs, labels, pid = built["inputs"], built["labels"], built["puzzle_ids"]
    total = len(inputs)
    if n is not None and n < total:
        idx = np.sort(np.random.default_rng(seed).choice(total, n, replace=False))
        inputs, labels, pid = inputs[idx], labels[idx], pid[idx]
    rows = sess.manifest["model"].get("puzzle_rows")
    skipped = 0
    if rows is not None:   # an artifact keeping some rows of the table: its input is the row number
        row_of = {int(r): i for i, r in enumerate(rows)}
        keep = np.array([int(v) in row_of for v in pid], bool)
        skipped = int((~keep).sum())
        if not keep.any():
            raise ArtifactError(f"none of the data set's puzzle ids is among the {len(rows)} rows this artifact "
                                "keeps (export --puzzles)")
        inputs, labels = inputs[keep], labels[keep]
        pid = np.array([row_of[int(v)] for v in pid[keep]], np.int32)
    if sess.puzzle_emb_len == 0:
        pid = None
    preds, q = run_all_steps(sess, inputs, max_steps or sess.max_steps, batch_size, puzzle_ids=pid)
    if built["ignore_label_id"] is not None:
        preds = np.where(labels[None] == built["ignore_label_id"], labels[None], preds)
    thr = sess.halt_threshold if threshold is None else threshold
    out = score(preds, q, labels, thr, sess.manifest["task"]["name"])
    out.update(model=str(path), data=str(test_dir), split="test", test_size=total, seed=seed,
               skipped_puzzles_not_in_artifact=skipped)
    return out


def format_table(result: dict) -> str:
    """The accuracy-per-depth table as text."""
    givens = result.get("givens")
    split = f" with {givens[0]}-{givens[1]} givens" if givens else ""
    lines = [f"{result['task']}: {result['n']} puzzles{split}", "depth  exact   cell"]
    for s, e, c in zip(result["depths"], result["exact"], result["cell"]):
        lines.append(f"{s:>5}  {e:.3f}  {c:.3f}")
    h = result["halt"]
    lines.append(f"halting (q_halt > {h['threshold']:.3g}): exact {h['exact']:.3f}, mean steps {h['mean_steps']:.2f}")
    if result.get("skipped_puzzles_not_in_artifact"):   # eval --artifact A --data DIR: never silently fewer
        lines.append(f"note: {result['skipped_puzzles_not_in_artifact']} of the data set's puzzles not scored: their "
                     "puzzle ids are not among the rows this artifact keeps (export --puzzles)")
    return "\n".join(lines)


# ---- artifacts: drift vs the eager fp32 model -------------------------------------------------
def _rel_err(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(N, ...) -> (N,) ||a - ref|| / ||ref|| per sample."""
    a = a.reshape(len(a), -1).astype(np.float64)
    ref = ref.reshape(len(ref), -1).astype(np.float64)
    return np.linalg.norm(a - ref, axis=1) / np.maximum(np.linalg.norm(ref, axis=1), 1e-12)


def source_checkpoint(manifest: dict, checkpoint=None) -> Path:
    """The checkpoint directory an artifact was exported from (--checkpoint overrides the manifest)."""
    from ..checkpoint import resolve

    src = checkpoint or manifest["source"].get("checkpoint")
    if not src:
        raise ArtifactError(f"{manifest['name']}: the manifest names no source checkpoint; "
                            "pass --checkpoint for the eager reference")
    return resolve(src)


def reference_for(manifest: dict, checkpoint=None):
    """The eager session for the artifact's source weights (verified by their sha256)."""
    from ..checkpoint import load_model
    from ..checkpoint import weights_sha256
    from ..runtime import EagerSession

    model, d = load_model(source_checkpoint(manifest, checkpoint))
    if manifest["model"].get("puzzle_rows") is not None:   # exported with --puzzles: the same rows
        from ..model import keep_puzzle_rows
        model = keep_puzzle_rows(model, manifest["model"]["puzzle_rows"]).eval()
    if weights_sha256(model) != manifest["source"]["weights_sha256"]:
        raise ArtifactError(f"checkpoint {d} has different weights than the ones {manifest['name']} "
                            "was exported from (weights_sha256 mismatch)")
    return EagerSession(model, source=str(d))


def run_with_drift(sess, ref, inputs: np.ndarray, max_steps: int, batch_size: int = 250) -> dict:
    """Step the artifact and the eager reference session side by side -> per-step arrays (S, N, ...)."""
    preds, q, eager_preds, eager_q = [], [], [], []
    dy, dz, dl = [], [], []
    for i in range(0, len(inputs), batch_size):
        tok = np.ascontiguousarray(inputs[i:i + batch_size], dtype=np.int32)
        state, s_ref = sess.init(tok), ref.init(tok)
        p, qq, ep, eq, ey, ez, el = ([] for _ in range(7))
        for _ in range(max_steps):
            state, out = sess.step_full(state)
            s_ref, r = ref.step_full(s_ref)
            p.append(out.preds)
            qq.append(out.q_halt)
            ep.append(r.preds)
            eq.append(r.q_halt)
            el.append(_rel_err(out.logits, r.logits))
            ey.append(None if out.y is None else _rel_err(out.y, r.y))
            ez.append(None if out.z is None else _rel_err(out.z, r.z))
        preds.append(np.stack(p))
        q.append(np.stack(qq))
        eager_preds.append(np.stack(ep))
        eager_q.append(np.stack(eq))
        dl.append(np.stack(el))
        dy.append(None if ey[0] is None else np.stack(ey))
        dz.append(None if ez[0] is None else np.stack(ez))
    cat = lambda parts: None if parts[0] is None else np.concatenate(parts, axis=1)  # noqa: E731
    return {"preds": cat(preds), "q_halt": cat(q), "eager_preds": cat(eager_preds),
            "eager_q_halt": cat(eager_q), "drift_y": cat(dy), "drift_z": cat(dz), "drift_logits": cat(dl)}


def evaluate_artifact(path, n: int = 1000, seed: int | None = None, n_train: int | None = None,
                      max_steps: int | None = None, threshold: float | None = None,
                      checkpoint=None, batch_size: int = 250, threads: int | None = None,
                      drift: bool | None = None, givens: tuple[int, int] | None = None) -> dict:
    """Accuracy per depth + halting of one artifact on `n` test puzzles, + drift vs eager fp32
    (drift=None: when PyTorch is installed; the test split follows the source checkpoint's
    training data when that checkpoint is here, else the defaults)."""
    from ..runtime import load

    sess = load(path, threads=threads)
    man = sess.manifest
    try:
        d = source_checkpoint(man, checkpoint)
    except ArtifactError:
        if checkpoint:
            raise
        d = None
    task = man["task"]["name"]
    inputs, labels, seed, n_train = held_out_puzzles(task, n, seed, d, n_train, givens)
    steps = max_steps or sess.max_steps
    thr = sess.halt_threshold if threshold is None else threshold
    if drift is None:
        drift = importlib.util.find_spec("torch") is not None and d is not None
    out_common = dict(artifact=str(Path(path)), name=sess.name, target=man["target"],
                      precision=man["precision"], mode=sess.mode,
                      size_bytes=files_bytes(man),
                      checkpoint=None if d is None else str(d), split="test", seed=seed, n_train=n_train,
                      givens=givens and list(givens))
    if not drift:
        out = evaluate_session(sess, inputs, labels, steps, thr, task, batch_size)
        out.update(out_common, drift=None)
        return out
    r = run_with_drift(sess, reference_for(man, checkpoint), inputs, steps, batch_size)
    out = score(r["preds"], r["q_halt"], labels, thr, task)
    eager = score(r["eager_preds"], r["eager_q_halt"], labels, thr, task)
    h, eh = halting_steps(r["q_halt"], thr), halting_steps(r["eager_q_halt"], thr)   # (N,) each
    idx = np.arange(len(h))
    halted, eager_halted = r["preds"][h - 1, idx], r["eager_preds"][eh - 1, idx]   # (N, L) each
    rnd = lambda a: None if a is None else [round(float(v), 6) for v in a.mean(1)]  # noqa: E731
    out.update(
        out_common,
        drift={"y": rnd(r["drift_y"]), "z": rnd(r["drift_z"]), "logits": rnd(r["drift_logits"])},
        agree=[round(float(v), 6) for v in (r["preds"] == r["eager_preds"]).mean((1, 2))],
        halt_agree=round(float((h == eh).mean()), 4),
        halt_answer_agree=round(float((halted == eager_halted).all(-1).mean()), 4),
        eager={k: eager[k] for k in ("exact", "cell", "halt")},
    )
    return out


def format_drift(result: dict) -> str:
    """Accuracy + drift per depth as text (the artifact beside eager fp32)."""
    dr = result["drift"]
    if dr is None:
        why = ("that needs PyTorch, pip install 'trm-edge[torch]'" if importlib.util.find_spec("torch") is None
               else "the source checkpoint is not here; pass --checkpoint DIR")
        return f"{result['name']}: " + format_table(result) + f"\n(no drift vs eager fp32: {why})"
    lines = [f"{result['name']} ({result['task']}, {result['n']} test puzzles) vs eager fp32",
             "depth  exact  eager   cell  agree   drift_y   drift_z  drift_logits"]
    for i, s in enumerate(result["depths"]):
        fy = "-" if dr["y"] is None else f"{dr['y'][i]:.2e}"
        fz = "-" if dr["z"] is None else f"{dr['z'][i]:.2e}"
        lines.append(f"{s:>5}  {result['exact'][i]:.3f}  {result['eager']['exact'][i]:.3f}  "
                     f"{result['cell'][i]:.3f}  {result['agree'][i]:.3f}  {fy:>8}  {fz:>8}  "
                     f"{dr['logits'][i]:.2e}")
    h, eh = result["halt"], result["eager"]["halt"]
    lines.append(f"halting (q_halt > {h['threshold']:.3g}): exact {h['exact']:.3f} (eager {eh['exact']:.3f}), "
                 f"mean steps {h['mean_steps']:.2f} (eager {eh['mean_steps']:.2f}); "
                 f"same halting step as eager on {result['halt_agree']:.1%} of puzzles, "
                 f"same halted answer on {result['halt_answer_agree']:.1%}")
    return "\n".join(lines)
