"""Golden test vectors: the contract between the Python toolkit and the demo apps.

`trm-edge vectors` runs the bundled model in eager PyTorch (the reference) on a few fixed puzzles
and writes `trm_edge/golden_vectors/<checkpoint>.json` (package data): for every puzzle its tokens and, after every
supervision step, the logits, the decoded predictions, the per-cell confidence and q_halt, plus the
step at which adaptive halting stops. Three consumers check themselves against that file:

- `tests/validate/test_vectors.py` runs every Linux runtime (eager, onnx, executorch, tflite) on the same
  tokens and compares;
- the Android app's JUnit test (`android_demo/core/src/test/java/dev/trmedge/core/GoldenVectorsTest.kt`)
  and the iOS app's XCTest (`ios_demo/TRMCore/Tests/TRMCoreTests/GoldenVectorsTests.swift`) feed the
  recorded step outputs to their own host loop through a fake `step` and check tokenizer, decoder
  and halting against the recorded answers; their instrumented tests run the real artifact.

The apps' logic is deliberately thin and is mirrored here in Python (`encode_puzzle`,
`decode_step`, `app_solve`) so it is tested on this machine too; the loop itself is
`trm_edge.runtime.loop.host_loop`, the one host loop. Semantics (identical in Kotlin and Swift):

    tokens = encode_puzzle(text, manifest.task.tokens)          # '.'/'0' -> blank, digit -> token
    state  = init(tokens)                                        # (x, y, z) stay in the runtime
    for s in 1..max_steps:
        state, logits, q_halt = step(state)                      # logits (B, L, V), q_halt (B,)
        preds, conf = argmax(logits), max(softmax(logits))       # per cell
        a sample whose q_halt > threshold halts at s: its answer is frozen from then on
        stop when every sample halted (halting on) or at max_steps
    text = decode(preds)                                         # token -> digit, blank -> '.'

Tolerance: exported runtimes reproduce eager logits to ~1e-5 (fp32) at the first step; the recursion
amplifies rounding, so `logit_atol` / `q_atol` are 1e-3, or twice eager fp32's own largest distance
from an fp64 run on the recorded puzzles if larger (`_tolerance`). Predictions are compared
exactly except in cells whose eager top-2 logit margin is below `logit_atol` (a near-tie may flip),
q_halt within `q_atol`, and the halting step exactly unless some q_halt lies within `q_atol` of the
threshold. int8 artifacts are not expected to match these vectors.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import package_data
from ..errors import TRMEdgeError
from .rule import ATOL, FLOOR_FACTOR, fp32_noise_floor

FORMAT = "trm-edge-vectors/1"


@dataclass
class VectorsConfig:
    checkpoint: str | None = None   # bundled name or checkpoint dir (None -> the default bundled model)
    n_puzzles: int = 8              # puzzles to record (each: L*V logits per step; keeps the file small)
    seed: int = 5                   # puzzle seed; 5 gives the bundled model halting at steps 1, 2 and 3
    max_steps: int | None = None    # supervision steps to record (None -> the model's n_sup)
    decimals: int = 5               # rounding of floats in the JSON


# ---- the apps' thin logic, mirrored ------------------------------------------------------------
# Text conventions of the apps' puzzle field (not part of the token encoding): these characters
# mean an empty cell, and these are layout characters that are skipped (as Sudoku.parse does).
BLANK_CHARS = ".0"
IGNORE_CHARS = " \t\r\n|-+"


def encode_puzzle(text: str, tokens: dict) -> list[int]:
    """Puzzle text -> tokens using only the manifest's `task.tokens` (what the apps do; no solver).

    `tokens` = {"pad": 0, "blank": 1, "symbols": {"1": 2, ...}} as written by trm_edge.export.
    """
    syms = tokens["symbols"]
    out = []
    for ch in text:
        if ch in IGNORE_CHARS:
            continue
        if ch in BLANK_CHARS and ch not in syms:
            out.append(tokens["blank"])
        elif ch in syms:
            out.append(int(syms[ch]))
        else:
            raise TRMEdgeError(f"invalid character {ch!r} in puzzle")
    return out


def decode_tokens(toks, tokens: dict) -> str:
    """Tokens -> puzzle text ('.' for blank, pad or any token that is not a symbol)."""
    inv = {int(t): s for s, t in tokens["symbols"].items()}
    return "".join(inv.get(int(t), ".") for t in toks)


def decode_step(logits: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """logits (..., L, V) -> predictions (..., L) int and confidence (..., L) = max softmax prob."""
    logits = np.asarray(logits, np.float64)
    preds = logits.argmax(-1)
    m = logits.max(-1, keepdims=True)
    conf = 1.0 / np.exp(logits - m).sum(-1)  # softmax at the argmax = exp(0) / sum
    return preds, conf


def app_solve(init, step_logits, tokens: np.ndarray, max_steps: int, threshold: float, halt: bool = True):
    """The apps' loop: `step_logits(state) -> (state, logits (B, L, V), q_halt (B,))`.

    Decoding happens outside the runtime, as in the apps; the loop is the shared host_loop.
    Returns (SolveResult, confidences (S, B, L)).
    """
    from ..runtime.loop import host_loop, to_numpy

    confs = []

    def step(state):
        state, logits, q = step_logits(state)
        preds, conf = decode_step(to_numpy(logits))
        confs.append(conf)
        return state, preds, q

    res = host_loop(init, step, tokens, max_steps, halt, threshold)
    return res, np.stack(confs)


# ---- generation (eager PyTorch reference) ------------------------------------------------------
def _eager_fns(model):
    import torch

    def init(tokens):
        x = model.embed(torch.as_tensor(np.asarray(tokens), dtype=torch.int32))
        return (x, *model.initial_state(x))

    def step(state):
        x, y, z = state
        y, z, logits, q = model.step(x, y, z)
        return (x, y, z), logits.float(), q.float()

    return init, step


def _tolerance(model, inputs, max_steps: int) -> tuple[float, float]:
    """(logit_atol, q_atol): ATOL, or FLOOR_FACTOR x eager fp32's own largest distance from an fp64
    run of the same weights on these puzzles when that is larger (the pass rule: rule.py)."""
    from ..runtime import EagerSession

    rows = fp32_noise_floor(EagerSession(model), inputs, None, max_steps)
    floor_l, floor_q = max(r["logits_err"] for r in rows), max(r["q_halt_err"] for r in rows)
    up = lambda v: float(f"{v:.2g}") if v == float(f"{v:.2g}") else float(f"{v * 1.05:.2g}")  # noqa: E731
    return max(ATOL, up(FLOOR_FACTOR * floor_l)), max(ATOL, up(FLOOR_FACTOR * floor_q))


def generate(cfg: VectorsConfig = VectorsConfig()) -> dict:
    import torch

    from ..checkpoint import file_sha256, load_model
    from ..runtime.loop import halt_probability
    from ..tasks import get_task

    model, ckpt_dir = load_model(cfg.checkpoint)
    mc = model.cfg
    task = get_task(mc.task)
    inputs, labels = task.generate(cfg.n_puzzles, seed=cfg.seed)  # int32 (N, L)
    max_steps = cfg.max_steps or mc.n_sup
    init, step = _eager_fns(model)
    logits_per_step = []

    def step_rec(state):
        state, logits, q = step(state)
        logits_per_step.append(logits.numpy())
        return state, logits, q

    with torch.no_grad():  # all steps recorded (halt off); halting is applied per sample below
        res, confs = app_solve(init, step_rec, inputs, max_steps, mc.halt_threshold, halt=False)
    logits = np.stack(logits_per_step)  # (S, N, L, V)
    logit_atol, q_atol = _tolerance(model, inputs, max_steps)
    r = cfg.decimals
    top2 = np.sort(logits, -1)[..., -2:]
    margin = top2[..., 1] - top2[..., 0]  # (S, N, L)
    from ..artifact import task_info
    from ..checkpoint import weights_sha256

    info = task_info(mc)  # exactly the manifest's "task" block
    enc = info["tokens"]
    if "symbols" in enc:   # the apps' text form (Sudoku digits)
        text = lambda t: decode_tokens(t, enc)  # noqa: E731
    else:                  # a task without a symbol table (maze, ARC, generic): the task's own text
        text = lambda t: task.render(np.asarray(t))  # noqa: E731
    cases = []
    for i in range(len(inputs)):
        steps = []
        for s in range(res.steps_run):
            steps.append({
                "step": s + 1,
                "preds": res.preds[s, i].tolist(),
                "q_halt": round(float(res.q_halt[s, i]), r),
                "halt_prob": round(halt_probability(float(res.q_halt[s, i])), r),
                "confidence": np.round(confs[s, i], 4).tolist(),
                "min_margin": round(float(margin[s, i].min()), r),
                "logits": np.round(logits[s, i], r).tolist(),  # (L, V)
            })
        final = res.final[i]
        cases.append({
            "name": f"{mc.task}-seed{cfg.seed}-{i}",
            "puzzle": text(inputs[i]),
            "tokens": inputs[i].tolist(),
            "labels": labels[i].tolist(),
            "halted_at": int(res.halted_at[i]),
            "final_preds": final.tolist(),
            "final_text": text(final),
            "final_correct": bool(task.verify(inputs[i:i + 1], final[None])[0]),
            "steps": steps,
        })
    return {
        "format": FORMAT,
        "generator": "trm-edge vectors (eager PyTorch, fp32, CPU)",
        "checkpoint": ckpt_dir.name,
        "checkpoint_sha256": file_sha256(ckpt_dir / "model.safetensors"),
        "weights_sha256": weights_sha256(model),  # = an artifact manifest's source.weights_sha256
        "task": mc.task,
        "vocab_size": mc.vocab_size,
        "seq_len": mc.seq_len,
        "n_sup": mc.n_sup,
        "max_steps": max_steps,
        "halt_threshold": mc.halt_threshold,
        "task_info": info,
        "tolerance": {
            "logit_atol": logit_atol,
            "q_atol": q_atol,
            "note": ("fp32 artifacts: |logits - eager| <= logit_atol, |q_halt - eager| <= q_atol; "
                     "predictions equal except cells with eager top-2 margin < logit_atol; halting step "
                     "equal unless a q_halt lies within q_atol of halt_threshold. Confidence is rounded "
                     "to 4 decimals. Not valid for int8 artifacts."),
        },
        "cases": cases,
    }


def write(vectors: dict, out: str | os.PathLike) -> Path:
    """Write atomically (temp file + rename): a kill never leaves a truncated vectors file."""
    from ..safe_io import write_text

    return write_text(out, json.dumps(vectors, separators=(",", ":")) + "\n")


def summary(vectors: dict, path: Path) -> str:
    """One line on a written vectors file (what `trm-edge vectors` prints)."""
    halted = [c["halted_at"] for c in vectors["cases"]]
    correct = sum(c["final_correct"] for c in vectors["cases"])
    return (f"wrote {path}: {len(halted)} puzzles x {vectors['max_steps']} steps, halted at {halted}, "
            f"{correct}/{len(halted)} correct at the halting step ({Path(path).stat().st_size // 1024} KiB)")


def resolve(name_or_path: str | os.PathLike) -> Path:
    """A vectors file: a path, or a bundled model's name (its packaged golden vectors)."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    bundled = {f.stem: f for f in package_data.golden_vectors()}
    if str(name_or_path) in bundled:
        return bundled[str(name_or_path)]
    raise TRMEdgeError(f"no vectors file {str(name_or_path)!r} (bundled: {', '.join(bundled) or 'none'})")


def default_out(checkpoint: str) -> Path:
    """Where `trm-edge vectors` writes without --out: the package's golden vectors, in the checkout only."""
    root = package_data.checkout()
    if root is None:
        raise TRMEdgeError("give --out: outside the trm-edge checkout the golden vectors are read-only package data")
    return root / "trm_edge" / package_data.GOLDEN_VECTORS / f"{checkpoint}.json"


def load(path: str | os.PathLike) -> dict:
    from ..schema import read_json, vectors

    p = resolve(path)
    return vectors(read_json(p, "vectors file"), str(p), FORMAT)


# ---- checking a runtime against the vectors -----------------------------------------------------
def session_fns(sess):
    """A trm_edge.runtime Session as (init, step_logits) for `check`."""
    def step(state):
        state, out = sess.step_full(state)
        return state, out.logits, out.q_halt
    return sess.init, step


def check(vectors: dict, init, step_logits) -> list[str]:
    """Run `init`/`step_logits` (see app_solve) on the recorded tokens, batch = all cases.

    Returns a list of mismatch descriptions (empty = the runtime honours the contract).
    """
    tol = vectors["tolerance"]
    cases = vectors["cases"]
    tokens = np.asarray([c["tokens"] for c in cases], np.int32)
    S = vectors["max_steps"]
    got = []

    def rec(state):
        state, logits, q = step_logits(state)
        from ..runtime.loop import to_numpy

        got.append(to_numpy(logits).astype(np.float64))
        return state, logits, q

    res, _ = app_solve(init, rec, tokens, S, vectors["halt_threshold"], halt=False)
    problems = []
    for i, c in enumerate(cases):
        near_threshold = False
        for s, rec_s in enumerate(c["steps"]):
            want_logits = np.asarray(rec_s["logits"])
            err = float(np.abs(got[s][i] - want_logits).max())
            if err > tol["logit_atol"]:
                problems.append(f"{c['name']} step {s + 1}: logits max abs err {err:.2e}")
            qerr = abs(float(res.q_halt[s, i]) - rec_s["q_halt"])
            if qerr > tol["q_atol"]:
                problems.append(f"{c['name']} step {s + 1}: q_halt err {qerr:.2e}")
            if abs(rec_s["q_halt"] - vectors["halt_threshold"]) < tol["q_atol"]:
                near_threshold = True
            want = np.asarray(rec_s["preds"])
            # cells where eager's top-2 margin is a near-tie may legitimately flip
            top2 = np.sort(want_logits, -1)[:, -2:]
            firm = (top2[:, 1] - top2[:, 0]) >= tol["logit_atol"]
            diff = (res.preds[s, i] != want) & firm
            if diff.any():
                problems.append(f"{c['name']} step {s + 1}: {int(diff.sum())} firm cell(s) predicted differently")
        if not near_threshold and int(res.halted_at[i]) != c["halted_at"]:
            problems.append(f"{c['name']}: halted at {int(res.halted_at[i])}, expected {c['halted_at']}")
    return problems
