"""`trm-edge validate`: an artifact against eager PyTorch after every supervision step, or
(`--vectors`, no PyTorch needed) against the golden vectors recorded from it (trm_edge.validate.vectors).

Both run the same real puzzles (the task's test split) side by side through `Session.step_full`,
with no halting, for every step the artifact has (n_sup looped, K unrolled). Per step: max abs
error of logits, of y and z (looped), of q_halt, prediction agreement (cells and whole puzzles) and
each side's exact accuracy. ONNX artifacts with loop.onnx also check the in-graph loop (final
answers and halting steps) against the host loop. Core ML off macOS: the package's functions,
input/output names and shapes are checked against the manifest instead (no prediction on Linux).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import TRMEdgeError
from .rule import TOLERANCE, compare, describe, judge

def _coreml_spec_check(path: Path, manifest: dict) -> dict:
    from ..export.coreml import spec_summary

    entries = manifest["entry_points"]
    summary = spec_summary(path / next(iter(entries.values()))["file"])
    problems = []
    for entry, spec in entries.items():
        fn = summary.get(spec.get("method", entry))
        if fn is None:
            problems.append(f"function {spec.get('method', entry)!r} missing")
            continue
        for key in ("inputs", "outputs"):
            want = {t["name"]: t["shape"] for t in spec[key]}
            if fn[key] != want:
                problems.append(f"{entry} {key}: package {fn[key]} != manifest {want}")
    return {"functions": sorted(summary), "problems": problems}


def validate(artifact, n: int = 64, checkpoint=None, seed: int = 0, max_steps: int | None = None) -> dict:
    """-> report dict: {"artifact", "target", "mode", "precision", "n", "steps": [rows], "passed", ...}.

    `max_steps` limits the depth compared (default: every step the artifact has). A model whose
    recursion is chaotic in fp32 (e.g. random weights: eager fp32 itself leaves an fp64 run after a
    few steps) can only be validated up to the depth where fp32 still agrees with itself."""
    from .. import artifact as artifact_mod
    from ..evaluate import reference_for, source_checkpoint, held_out_puzzles
    from ..runtime import load

    path = Path(artifact)
    manifest = artifact_mod.read(path).manifest
    report = {"artifact": str(path), "name": manifest["name"], "target": manifest["target"],
              "mode": manifest["mode"], "precision": manifest["precision"], "n": n}
    if manifest["target"] == "coreml" and sys.platform != "darwin":
        check = _coreml_spec_check(path, manifest)
        report.update(steps=[], spec_check=check, passed=not check["problems"],
                      note="Core ML prediction needs macOS: checked the package's functions, "
                           "input/output names and shapes against the manifest instead")
        return report
    sess = load(path)
    ref = reference_for(manifest, checkpoint)
    m = manifest["model"]
    tokens, labels, _, _ = held_out_puzzles(manifest["task"]["name"], n, seed, source_checkpoint(manifest, checkpoint))
    pid = (np.arange(n) % m["n_puzzle_ids"]).astype(np.int32) if m["puzzle_emb_len"] > 0 else None
    if max_steps is not None:
        if max_steps > sess.max_steps:
            raise TRMEdgeError(f"--max-steps {max_steps}: {sess.name} has {sess.max_steps} supervision steps "
                               f"(choose 1..{sess.max_steps})")
        report["max_steps"] = max_steps
    rows = compare(sess, ref, tokens, labels, pid, steps=max_steps)
    report["steps"] = rows
    report["tolerance"] = TOLERANCE.get(manifest["precision"])
    passed = judge(rows, manifest["precision"], ref, tokens, pid)
    if "loop" in manifest["entry_points"]:
        got = sess.solve_in_graph(tokens, max_steps=max_steps, puzzle_ids=pid, halt=True)
        want = ref.solve(tokens, max_steps=max_steps, halt=True, puzzle_ids=pid)
        loop = {"answer_agreement": float((got["preds"] == want.final).all(-1).mean()),
                "halting_agreement": float((got["halted_at"] == want.halted_at).mean()),
                "mean_steps": float(want.halted_at.mean())}
        report["in_graph_loop"] = loop
        if passed is not None:
            passed = passed and loop["answer_agreement"] == 1.0 and loop["halting_agreement"] == 1.0
    report["passed"] = passed
    return report


def validate_vectors(artifact, vectors_path) -> dict:
    """The artifact against golden vectors (a file or a bundled model's name; recorded from eager fp32): every
    step's logits, q_halt and firm predictions within the recorded tolerance (fp32), and the final
    answers and halting steps with adaptive halting. Needs only the artifact's runtime (no torch)."""
    from . import vectors as V
    from ..errors import ArtifactError
    from ..runtime import load

    vectors_path = V.resolve(vectors_path)
    sess = load(artifact)
    v = V.load(vectors_path)
    man = sess.manifest
    if man["source"].get("weights_sha256") != v["weights_sha256"]:
        raise ArtifactError(f"{man['name']} was exported from other weights than the ones {vectors_path} "
                            f"was recorded from ({v['checkpoint']}): weights_sha256 differs")
    cases = v["cases"]
    steps = min(v["max_steps"], sess.max_steps)
    res = sess.solve(np.asarray([c["tokens"] for c in cases], np.int32), steps, halt=True,
                     threshold=v["halt_threshold"])
    answers = float(np.mean([np.array_equal(res.final[i], c["final_preds"]) for i, c in enumerate(cases)]))
    halting = float(np.mean([int(res.halted_at[i]) == c["halted_at"] for i, c in enumerate(cases)]))
    rep = {"artifact": str(artifact), "name": man["name"], "precision": man["precision"], "backend": sess.backend,
           "vectors": str(vectors_path), "n": len(cases), "answer_agreement": answers,
           "halting_agreement": halting, "problems": None, "passed": None}
    if man["precision"] == "fp32" and steps == v["max_steps"]:
        rep["problems"] = V.check(v, *V.session_fns(sess))
        rep["passed"] = not rep["problems"]
    return rep


def format_vectors_report(rep: dict) -> str:
    lines = [f"{rep['name']} on {rep['backend']} vs {rep['vectors']} ({rep['n']} puzzles)",
             f"  final answers {rep['answer_agreement']:.4f}, halting steps {rep['halting_agreement']:.4f}"]
    if rep["problems"] is not None:
        lines += [f"  {p}" for p in rep["problems"][:20]]
        lines.append("  PASS (logits, q_halt, predictions and halting within the vectors' tolerance)"
                     if rep["passed"] else f"  FAIL ({len(rep['problems'])} mismatches)")
    else:
        lines.append(f"  reported (the vectors' tolerance holds for fp32 artifacts, not {rep['precision']})")
    return "\n".join(lines)


def format_report(rep: dict) -> str:
    lines = [f"{rep['name']}  ({rep['artifact']}, {rep['n']} puzzles)"]
    if rep.get("spec_check") is not None:
        c = rep["spec_check"]
        lines.append(f"  functions: {', '.join(c['functions'])}; spec vs manifest: "
                     + ("ok" if not c["problems"] else "; ".join(c["problems"])))
        lines.append(f"  note: {rep['note']}")
    else:
        fmt = lambda v: "   -    " if v is None else f"{v:.1e}"  # noqa: E731
        lines.append("  step  logits_err  (relative)  eager-fp64  y_err    z_err    q_err    cells   puzzles  "
                     "exact(art/eager)")
        for r in rep["steps"]:
            lines.append(f"  {r['step']:>4}  {fmt(r['logits_err']):>10}  ({fmt(r['logits_rel_err'])})  "
                         f"{fmt(r.get('eager_fp64_err')):>10}  "
                         f"{fmt(r['y_err'])}  {fmt(r['z_err'])}  "
                         f"{fmt(r['q_halt_err'])}  {r['cell_agreement']:.4f}  {r['puzzle_agreement']:.4f}   "
                         f"{r.get('exact_artifact', 0):.3f}/{r.get('exact_eager', 0):.3f}")
        if "in_graph_loop" in rep:
            lp = rep["in_graph_loop"]
            lines.append(f"  in-graph loop (loop.onnx, halting on): answers {lp['answer_agreement']:.4f}, "
                         f"halting step {lp['halting_agreement']:.4f}, mean steps {lp['mean_steps']:.2f}")
    verdict = {True: "PASS", False: "FAIL", None: "reported (no tolerance for this precision)"}[rep["passed"]]
    rule = describe(rep["precision"])
    lines.append(f"  {verdict}{f' ({rule})' if rule and rep['passed'] is not None else ''}")
    return "\n".join(lines)


def check_passed(rep: dict) -> None:
    if rep["passed"] is False:
        where = f" on {rep['arch']} {rep['cpu']} (emulated)" if rep.get("cpu") else ""
        raise TRMEdgeError(f"validation failed for {rep['name']}{where}")
