"""`trm-edge eval --artifact PATH`: accuracy per depth of an exported artifact, and its drift.

The artifact runs through its runtime Session (trm_edge.runtime.load) step by step on the same test
puzzles as the checkpoint eval (trm_edge.evaluate: same split, seed and de-duplication against the
training puzzles), and the eager fp32 model runs beside it. The result has the checkpoint eval's
JSON schema (task, n, depths, exact, cell, halt) plus:

    drift: {"y": [...], "z": [...], "logits": [...]}  relative error vs eager fp32 after each step,
           ||a - ref|| / ||ref|| per puzzle (Frobenius norm over (L, D) or (S, V)), mean over puzzles
           (y / z are null for unrolled artifacts, whose state never leaves the graph)
    agree: [...]   fraction of cells whose prediction equals eager's, per step
    eager: {exact, cell, halt}  the eager fp32 model on the same puzzles, for comparison

Both run the state forward on their own (the artifact is fed its own y, z), so the drift is the
compounded error a deployed artifact accumulates, not a one-step error.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from .errors import ArtifactError


def _rel_err(a: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """(N, ...) -> (N,) ||a - ref|| / ||ref|| per sample."""
    a = a.reshape(len(a), -1).astype(np.float64)
    ref = ref.reshape(len(ref), -1).astype(np.float64)
    return np.linalg.norm(a - ref, axis=1) / np.maximum(np.linalg.norm(ref, axis=1), 1e-12)


def reference_model(manifest: dict, checkpoint=None):
    """The eager fp32 model an artifact was exported from (its manifest's source checkpoint)."""
    from .checkpoint import load_model
    from .export.common import weights_sha256

    src = checkpoint or manifest.get("source", {}).get("checkpoint")
    if not src:
        raise ArtifactError(f"{manifest.get('name')}: the manifest names no source checkpoint; "
                            "pass --checkpoint for the eager reference")
    model, d = load_model(src)
    want = manifest.get("source", {}).get("weights_sha256")
    if want and weights_sha256(model) != want:
        raise ArtifactError(f"checkpoint {d} is not the one {manifest.get('name')} was exported from "
                            "(weights sha256 differs)")
    return model, d


def run_with_drift(sess, model, inputs: np.ndarray, max_steps: int, batch_size: int = 250) -> dict:
    """Step the artifact and the eager model side by side -> per-step arrays (S, N, ...)."""
    import torch

    preds, q, eager_preds, eager_q = [], [], [], []
    dy, dz, dl = [], [], []
    for i in range(0, len(inputs), batch_size):
        tok = np.ascontiguousarray(inputs[i:i + batch_size], dtype=np.int32)
        state = sess.init(tok)
        with torch.no_grad():
            t = torch.from_numpy(tok)
            x = model.embed(t)
            y, z = model.initial_state(x)
        p, qq, ep, eq, ey, ez, el = ([] for _ in range(7))
        for _ in range(max_steps):
            state, out = sess.step_full(state)
            with torch.no_grad():
                y, z, logits, q_ref = model.step(x, y, z)
            p.append(out.preds)
            qq.append(out.q_halt)
            ep.append(logits.argmax(-1).numpy())
            eq.append(q_ref.numpy())
            el.append(_rel_err(out.logits, logits.numpy()))
            ey.append(None if out.y is None else _rel_err(out.y, y.numpy()))
            ez.append(None if out.z is None else _rel_err(out.z, z.numpy()))
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
                      checkpoint=None, batch_size: int = 250, threads: int | None = None) -> dict:
    """Accuracy per depth + halting + drift vs eager fp32 of one artifact on `n` test puzzles."""
    from .data import load_split
    from .evaluate import score, training_data
    from .runtime import load
    from .tasks import get_task

    sess = load(path, threads=threads)
    model, d = reference_model(sess.manifest, checkpoint)
    n_train0, seed0 = training_data(d)
    n_train, seed = n_train or n_train0, seed0 if seed is None else seed
    task = get_task(model.cfg.task)
    inputs, labels = load_split(task, "test", n, seed, n_train=n_train)
    steps = max_steps or sess.max_steps
    thr = sess.halt_threshold if threshold is None else threshold
    r = run_with_drift(sess, model, inputs, steps, batch_size)

    out = score(r["preds"], r["q_halt"], labels, thr, model.cfg.task)
    eager = score(r["eager_preds"], r["eager_q_halt"], labels, thr, model.cfg.task)
    rnd = lambda a: None if a is None else [round(float(v), 6) for v in a.mean(1)]  # noqa: E731
    out.update(
        artifact=str(Path(path)), name=sess.name, target=sess.manifest.get("target"),
        precision=sess.manifest.get("precision"), mode=sess.mode,
        size_bytes=sum(f["bytes"] for f in sess.manifest.get("files", {}).values()),
        checkpoint=str(d), split="test", seed=seed, n_train=n_train,
        drift={"y": rnd(r["drift_y"]), "z": rnd(r["drift_z"]), "logits": rnd(r["drift_logits"])},
        agree=[round(float(v), 6) for v in (r["preds"] == r["eager_preds"]).mean((1, 2))],
        eager={k: eager[k] for k in ("exact", "cell", "halt")},
    )
    return out


def format_drift(result: dict) -> str:
    """Accuracy + drift per depth as text (the artifact beside eager fp32)."""
    dr = result["drift"]
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
                 f"mean steps {h['mean_steps']:.2f} (eager {eh['mean_steps']:.2f})")
    return "\n".join(lines)
