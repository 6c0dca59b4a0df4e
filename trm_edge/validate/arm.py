"""`trm-edge validate ARTIFACT --arch aarch64 --cpu MODEL`: the artifact's answers on an ARM64 core.

The artifact runs in trm_edge's own runtime (Session + host loop, numpy + the aarch64 builds of
onnxruntime / ai-edge-litert, no torch) on an emulated ARM CPU (trm_edge.validate.arm64: qemu user mode, a
pinned `-cpu` model). Eager PyTorch runs here, on x86, as the reference. Two checks:

1. the per-step comparison of `validate` (same puzzles, same table): the emulated run's StepOutputs
   after every supervision step against eager x86;
2. the golden vectors (the packaged trm_edge/golden_vectors/*.json whose weights_sha256 is the artifact's source weights):
   final answers and halting steps of the host loop on ARM must equal the recorded ones (a halting
   step may differ only where a recorded q_halt lies within q_atol of the threshold), fp32 also
   passes the vectors' own tolerance check (trm_edge.validate.vectors.check, run on ARM), ONNX also runs
   loop.onnx; the max |q_halt| difference to the vectors and to the same artifact on x86 is reported.

Timings under emulation say nothing about a real core: none are measured or reported.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import vectors as V
from .. import package_data
from ..errors import TRMEdgeError
from ..runtime.session import StepOutput
from .parity import format_report
from .rule import TOLERANCE, compare, judge

ARM_TARGETS = ("onnx", "tflite")


class _Recorded:
    """The emulated run's StepOutputs, replayed in order so that `validate.compare` can read them."""

    def __init__(self, arrays: dict, rows=slice(None)):
        self.arrays, self.rows = arrays, rows
        self.max_steps = len(arrays["q_halt"])

    def init(self, tokens, puzzle_ids=None):
        return 0

    def step_full(self, k: int):
        a = {key: self.arrays[key][k][self.rows] for key in ("y", "z", "logits", "preds", "q_halt")}
        return k + 1, StepOutput(**a)

    def step_logits(self, k: int):   # the (init, step_logits) pair trm_edge.validate.vectors.check replays
        k, out = self.step_full(k)
        return k, out.logits, out.q_halt


def matching_vectors(manifest: dict, paths=None) -> list[tuple[Path, dict]]:
    """The vectors files recorded from the artifact's source weights (default: the packaged ones)."""
    out = []
    for p in ([V.resolve(p) for p in paths] if paths else package_data.golden_vectors()):
        v = V.load(p)
        if v["weights_sha256"] == manifest["source"]["weights_sha256"]:
            out.append((p, v))
    return out


INT8_HALT_TIE = 1.0   # logits: int8 kernels of two ISAs differ by up to ~0.9 in q_halt (measured, tflite int8-dynamic)


def _int8_tie(halted, xr, thr: float) -> np.ndarray:
    """(B,) True where ARM and x86 halt at different steps but x86's q_halt at the first of the two
    steps lies within INT8_HALT_TIE of the threshold: a near-tie that int8 rounding may flip."""
    k = np.minimum(halted, xr.halted_at) - 1                      # 0-based step where one of them halted
    k = np.clip(k, 0, xr.q_halt.shape[0] - 1)
    q = xr.q_halt[k, np.arange(len(k))]
    return (halted != xr.halted_at) & (np.abs(q - thr) < INT8_HALT_TIE)


def golden_check(vec: dict, arm: _Recorded, final, halted, x86, contract: bool, loop=None) -> dict:
    """The ARM host loop's answers / halting / q_halt on one vectors file against the recorded ones
    (and against the same artifact on x86). `arm` replays the vectors' rows of the emulated run."""
    cases = vec["cases"]
    S = arm.max_steps   # steps the ARM loop ran (it stops once every puzzle halted)
    want_final = np.asarray([c["final_preds"] for c in cases])
    want_halt = np.asarray([c["halted_at"] for c in cases])
    want_q = np.asarray([[s["q_halt"] for s in c["steps"][:S]] for c in cases]).T   # (S, B)
    q_atol, thr = vec["tolerance"]["q_atol"], vec["halt_threshold"]
    near = (np.abs(want_q - thr) < q_atol).any(0)   # (B,) halting may flip on a near-tie
    q = np.stack([arm.step_full(k)[1].q_halt for k in range(S)]).astype(np.float64)
    tokens = np.asarray([c["tokens"] for c in cases], np.int32)
    xr = x86.solve(tokens, max_steps=vec["max_steps"], halt=True)   # the same artifact on x86
    s = min(S, xr.steps_run)
    g = {"n": len(cases), "steps_run": S,
         "answers": int((final == want_final).all(-1).sum()),
         "halting": int(((halted == want_halt) | near).sum()),
         "q_halt_err": float(np.abs(q - want_q).max()),
         "x86_answers_agree": int((final == xr.final).all(-1).sum()),
         "x86_halting_agree": int(((halted == xr.halted_at) | _int8_tie(halted, xr, thr)).sum()),
         "x86_q_halt_diff": float(np.abs(q[:s] - xr.q_halt[:s]).max()),
         "halted_at": halted.tolist(), "expected_halted_at": want_halt.tolist()}
    if contract:   # fp32: the vectors' own tolerance check over the steps that ran
        short = dict(vec, max_steps=S, cases=[dict(c, steps=c["steps"][:S]) for c in cases])
        g["contract_problems"] = V.check(short, arm.init, arm.step_logits)
    if loop is not None:
        g["loop_answers"] = int((loop[0] == want_final).all(-1).sum())
        g["loop_halting"] = int(((loop[1] == want_halt) | near).sum())
    if contract:   # fp32: the golden answers and halting steps themselves
        g["passed"] = (g["answers"] == g["n"] and g["halting"] == g["n"] and not g.get("contract_problems")
                       and g.get("loop_answers", g["n"]) == g["n"] and g.get("loop_halting", g["n"]) == g["n"])
    else:   # int8: quantization itself may change an answer (x86 too); ARM must answer as x86 does
        g["passed"] = g["x86_answers_agree"] == g["n"] and g["x86_halting_agree"] == g["n"]
    return g


def validate_arm(artifacts, cpu: str, n: int = 0, checkpoint=None, seed: int = 0, vectors=None,
                 env_dir=None, site: str | None = None) -> list[dict]:
    """One emulated run on `cpu` for all `artifacts` -> per artifact: validate's report dict (per-step
    table over the golden vectors' puzzles + `n` test puzzles) plus "arch", "cpu", "golden".
    `site`: run with other aarch64 wheels (trm_edge.validate.arm64.EXTRA_SITES: tflite-runtime, executorch)."""
    from . import arm64
    from .. import artifact as artifact_mod
    from ..evaluate import reference_for, source_checkpoint, held_out_puzzles
    from ..runtime import load

    if cpu not in arm64.CPUS:
        raise TRMEdgeError(f"unknown ARM CPU model {cpu!r}; emulated models: {', '.join(arm64.CPUS)} "
                           "(-cpu max is refused: its int8 results are wrong in LiteRT)")
    arrays, jobs, plans = {}, [], []
    for i, artifact in enumerate(artifacts):
        path = Path(artifact).resolve()
        manifest = artifact_mod.read(path).manifest   # schema + sha256 of every file
        if manifest["target"] not in ARM_TARGETS + ((site,) if site == "executorch" else ()):
            raise TRMEdgeError(f"--arch aarch64 runs {' and '.join(ARM_TARGETS)} artifacts; {manifest['name']} is "
                               f"{manifest['target']} (ExecuTorch on aarch64 needs torch's ~2.6 GB aarch64 wheel: "
                               "pytest -m arm_slow)")
        if manifest["mode"] != "looped":
            raise TRMEdgeError(f"--arch aarch64 checks looped artifacts (the host loop runs on ARM); "
                               f"{manifest['name']} is {manifest['mode']}")
        vecs = matching_vectors(manifest, vectors)
        if vectors and not vecs:
            raise TRMEdgeError(f"none of {', '.join(map(str, vectors))} was recorded from {manifest['name']}'s "
                               "source weights (weights_sha256 differs)")
        if not vecs and n < 1:
            raise TRMEdgeError(f"no golden vectors match {manifest['name']}'s weights: pass --n N test puzzles")
        m = manifest["model"]
        toks = [np.asarray([c["tokens"] for c in v["cases"]], np.int32) for _, v in vecs]
        labs = [np.asarray([c["labels"] for c in v["cases"]], np.int32) for _, v in vecs]
        # the eager reference: the manifest's checkpoint, else the vectors' (reference_for checks the weights)
        ckpt = checkpoint or manifest["source"].get("checkpoint") or (vecs[0][1]["checkpoint"] if vecs else None)
        if n:
            t, lab, _, _ = held_out_puzzles(manifest["task"]["name"], n, seed, source_checkpoint(manifest, ckpt))
            toks.append(t)
            labs.append(lab)
        tokens, labels = np.concatenate(toks), np.concatenate(labs)
        pid = None
        if m["puzzle_emb_len"] > 0:   # the vectors' puzzles use id 0, test puzzles cycle through the ids
            pid = np.concatenate([np.zeros(len(tokens) - n, np.int32), np.arange(n, dtype=np.int32) % m["n_puzzle_ids"]])
            arrays[f"a{i}_pid"] = pid
        arrays[f"a{i}_tokens"] = tokens
        jobs.append({"path": str(path), "max_steps": m["n_sup"], "loop_rows": len(tokens) - n})
        plans.append((artifact, path, manifest, vecs, tokens, labels, pid, ckpt))
    out = arm64.run_worker({"threads": 1, "arrays": arrays, "artifacts": jobs}, cpu, env_dir=env_dir, site=site)
    reports = []
    for (artifact, path, manifest, vecs, tokens, labels, pid, ckpt), res in zip(plans, out["results"]):
        arr = res["arrays"]
        arm = _Recorded(arr)
        ref = reference_for(manifest, ckpt)
        rows = compare(arm, ref, tokens, labels, pid, arm.max_steps)
        tol = TOLERANCE.get(manifest["precision"])
        passed = judge(rows, manifest["precision"], ref, tokens, pid)
        x86 = load(path, threads=1, verify=False)   # verified above
        golden, off = [], 0
        for p, v in vecs:
            rs = slice(off, off + len(v["cases"]))
            loop = (arr["loop_final"][rs], arr["loop_halted_at"][rs]) if "loop_final" in arr else None
            g = golden_check(v, _Recorded(arr, rs), arr["final"][rs], arr["halted_at"][rs], x86,
                             contract=manifest["precision"] == "fp32", loop=loop)
            golden.append(dict(vectors=str(p), **g))
            off = rs.stop
        if golden:
            passed = (passed is not False) and all(g["passed"] for g in golden)
        reports.append({"artifact": str(artifact), "name": manifest["name"], "target": manifest["target"],
                        "mode": manifest["mode"], "precision": manifest["precision"], "n": len(tokens),
                        "steps": rows, "tolerance": tol, "passed": passed, "arch": res["machine"], "cpu": cpu,
                        "backend": res["backend"],
                        "emulator": f"{arm64.QEMU} -cpu {cpu}", "golden": golden})
    return reports


def format_arm_report(rep: dict) -> str:
    head = f"  {rep['backend']} on {rep['arch']} ({rep['emulator']}, emulated: no timings)"
    lines = format_report(rep).split("\n")
    lines.insert(1, head)
    verdict = lines.pop()
    for g in rep["golden"]:
        s = (f"  golden {Path(g['vectors']).name}: answers {g['answers']}/{g['n']}, halting {g['halting']}/{g['n']}, "
             f"max |q_halt - vectors| {g['q_halt_err']:.1e}; same artifact on x86: answers "
             f"{g['x86_answers_agree']}/{g['n']}, halting {g['x86_halting_agree']}/{g['n']}, "
             f"max |q_halt diff| {g['x86_q_halt_diff']:.1e}")
        if "loop_answers" in g:
            s += f"; loop.onnx answers {g['loop_answers']}/{g['n']}, halting {g['loop_halting']}/{g['n']}"
        lines.append(s)
        if g.get("contract_problems"):
            lines.append("  vectors contract (fp32): " + "; ".join(g["contract_problems"][:5]))
        if g["halting"] != g["n"]:   # (int8: reported; the pass rule is agreement with x86)
            lines.append(f"  halted at {g['halted_at']}, vectors say {g['expected_halted_at']}")
    if not rep["golden"]:
        lines.append("  golden vectors: none recorded from this artifact's weights")
    if rep["passed"] is None:
        verdict = "  reported (no tolerance for this precision, no golden vectors)"
    elif rep["golden"]:
        rule = ("golden answers and halting steps on ARM" if rep["precision"] == "fp32" else
                "the same answers and halting steps as this artifact on x86 (int8 may differ from the fp32 vectors)")
        verdict = ("  PASS" if rep["passed"] else "  FAIL") + f" ({rule}" + \
            (f"; per-step predictions identical, logits err < {rep['tolerance']:g} x max|logits|)"
             if rep["tolerance"] else ")")
    lines.append(verdict)
    return "\n".join(lines)


def parity_table(reports: list[dict]) -> str:
    """artifact x runtime x CPU model: answers, halting, max q_halt difference (vs vectors / vs x86)."""
    hdr = ("artifact", "runtime", "cpu", "answers", "halting", "vs x86 (ans / halt)", "max|dq| vectors",
           "max|dq| x86", "result")
    rows = []
    for r in reports:
        rt = {"litert": "ai-edge-litert"}.get(r["backend"], r["backend"])
        for g in r["golden"]:
            ans = f"{g['answers']}/{g['n']}" + (f" (loop {g['loop_answers']}/{g['n']})" if "loop_answers" in g else "")
            rows.append((r["name"], rt, r["cpu"], ans, f"{g['halting']}/{g['n']}",
                         f"{g['x86_answers_agree']}/{g['n']} / {g['x86_halting_agree']}/{g['n']}", f"{g['q_halt_err']:.1e}",
                         f"{g['x86_q_halt_diff']:.1e}", "PASS" if r["passed"] else "FAIL"))
    w = [max(len(str(x[i])) for x in [hdr, *rows]) for i in range(len(hdr))]
    fmt = lambda row: "| " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(row)) + " |"  # noqa: E731
    return "\n".join([fmt(hdr), "|" + "|".join("-" * (x + 2) for x in w) + "|", *map(fmt, rows)])
