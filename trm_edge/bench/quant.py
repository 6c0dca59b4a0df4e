"""`trm-edge report quant`: per target x precision — size, exact accuracy per depth, halting, drift.

For each target and precision it exports the checkpoint (trm_edge.export, int8 through
trm_edge.export.quantize with calibration on training puzzles), runs the artifact through its
runtime on `n` test puzzles beside eager fp32 (trm_edge.evaluate) and collects:

    size (bytes) and size / fp32 size of the same target
    exact accuracy at depths 1, 2, 4, 8, 16 (those <= n_sup) and at full depth n_sup
    with halting: exact accuracy and mean steps, and the fraction of puzzles that halt at the same
    step as eager (halt_agree)
    drift at full depth: relative error of y and z vs eager fp32
    delta: exact at full depth minus eager fp32's (points); max_delta_points: the largest |delta|
    over every depth 1..n_sup
    goal (int8 / int4 rows): size <= 0.30 x fp32 (int4: 0.17), |delta| <= 1 point at every depth,
    and the same halting step as eager on >= 95 % of puzzles

Core ML artifacts are exported and sized on every host, but evaluated only on macOS (coremltools
cannot predict on Linux): their accuracy cells say so. Writes quant_report.json and
quant_report.md into the output directory (artifacts under <out>/artifacts/).
"""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..artifact import PRECISIONS, TARGETS
from ..safe_io import check_outputs, write_text

SIZE_GOAL, ACC_GOAL_POINTS, HALT_AGREE_GOAL = 0.30, 1.0, 0.95
SIZE_GOALS = {"int8": SIZE_GOAL, "int8-dynamic": SIZE_GOAL, "int4": 0.17}   # precision -> size / fp32 at most


@dataclass(frozen=True)
class QuantReportConfig:
    targets: tuple = TARGETS
    precisions: tuple = PRECISIONS     # unsupported pairs are listed as such
    mode: str = "looped"               # looped | unrolled (unrolled at depth n_sup)
    n: int = 1000                      # test puzzles
    depths: tuple = (1, 2, 4, 8, 16)   # reported depths (clipped to n_sup; n_sup is always added)
    options: dict = field(default_factory=dict)   # quantizer options (trm_edge.export.quantize)
    batch: int = 1                     # static batch of the exported artifacts


def _row(res: dict, depths: list[int]) -> dict:
    ex = dict(zip(res["depths"], res["exact"]))
    full = res["depths"][-1]
    d = res["drift"]
    deltas = [100 * (a - e) for a, e in zip(res["exact"], res["eager"]["exact"])]   # every depth
    return {"exact": {str(k): ex[k] for k in depths if k in ex}, "exact_full": ex[full],
            "halt_exact": res["halt"]["exact"], "halt_mean_steps": res["halt"]["mean_steps"],
            "halt_agree": res["halt_agree"], "halt_answer_agree": res["halt_answer_agree"],
            "max_delta_points": round(max(abs(v) for v in deltas), 2),
            "delta_points_per_depth": [round(v, 2) for v in deltas],
            "drift_y": None if d["y"] is None else d["y"][-1],
            "drift_z": None if d["z"] is None else d["z"][-1],
            "drift_logits": d["logits"][-1], "agree_full": res["agree"][-1],
            # per depth 1..n_sup: where the drift grows (the compounding the recursion risks)
            "drift_y_per_depth": d["y"], "drift_z_per_depth": d["z"], "agree_per_depth": res["agree"]}


def command_of(checkpoint, out_dir, cfg: "QuantReportConfig") -> str:
    """The CLI line that reproduces a report (written into it)."""
    import shlex

    parts = ["trm-edge", "report", "quant"]
    if checkpoint:
        parts += ["--checkpoint", str(checkpoint)]
    parts += ["--targets", ",".join(cfg.targets), "--precisions", ",".join(cfg.precisions), "--mode", cfg.mode,
              "--n", str(cfg.n)]
    for k, v in sorted(cfg.options.items()):
        parts += ["--option", f"{k}={v if isinstance(v, str) else json.dumps(v)}"]
    return shlex.join(parts + ["--out", str(out_dir)])   # every word quoted: a copy-paste runs nothing else


def quant_report(checkpoint=None, out_dir="quant_report", cfg: QuantReportConfig = QuantReportConfig(),
                 log=print, force: bool = False) -> dict:
    """The report (see the module doc) into out_dir; existing report files there are refused unless force."""
    from ..export import Recipe, UnsupportedError, export, load_source
    from ..export.quantize import check_options
    from ..targets import supported
    from ..evaluate import evaluate_artifact

    check_options(cfg.options, "--option")   # a typo is an error, not a "not supported" row
    out = Path(out_dir)
    check_outputs([(out / f, False) for f in ("quant_report.json", "quant_report.md")], force)   # before the work
    art_dir = out / "artifacts"
    model = load_source(checkpoint)
    n_sup = model.cfg.n_sup
    depths = sorted({k for k in cfg.depths if k <= n_sup} | {n_sup})
    rows, eager = [], None
    for target in cfg.targets:
        fp32_size = None
        for prec in cfg.precisions:
            row = {"target": target, "precision": prec, "mode": cfg.mode}
            why = supported(target, prec)
            if why:  # known before exporting: no time spent on a conversion that cannot be quantized
                log(f"{target} {prec}: not supported ({why})")
                continue
            recipe = Recipe(target=target, mode=cfg.mode, precision=prec, batch=cfg.batch,
                            options=dict(cfg.options) if prec != "fp32" else {}, in_graph_loop=False)
            t0 = time.perf_counter()
            try:
                art = export(model, recipe, art_dir)
            except UnsupportedError as e:
                log(f"{target} {prec}: not supported ({e})")
                continue
            except Exception as e:  # one broken exporter must not cost the other rows: record it
                row["error"] = f"export failed: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
                rows.append(row)
                log(f"{target} {prec}: {row['error']}")
                continue
            row.update(artifact=str(art.path), size_bytes=art.size_bytes,
                       export_seconds=round(time.perf_counter() - t0, 1))
            if prec == "fp32":
                fp32_size = art.size_bytes
            row["size_ratio"] = round(art.size_bytes / fp32_size, 4) if fp32_size else None
            if target == "coreml":  # the spec says what the weights became (Linux and macOS)
                from ..export.coreml import FILE, coreml_weights
                w = coreml_weights(art.path / FILE).get("step", {})
                row["coreml_step_weights"] = {k: w.get(k) for k in ("int8_params", "int4_params", "fp16_params", "float_params")}
            if target == "coreml" and sys.platform != "darwin":
                row["note"] = "accuracy: macOS only (coremltools cannot predict on Linux)"
                if prec in SIZE_GOALS and row["size_ratio"] is not None:
                    row["size_goal_met"] = bool(row["size_ratio"] <= SIZE_GOALS[prec])
                rows.append(row)
                log(f"{target} {prec}: {art.size_bytes} bytes (accuracy: macOS only)")
                continue
            t1 = time.perf_counter()
            res = evaluate_artifact(art.path, n=cfg.n)
            row["eval_seconds"] = round(time.perf_counter() - t1, 1)
            row.update(_row(res, depths))
            if eager is None:
                eager = {"exact": {str(k): v for k, v in zip(res["depths"], res["eager"]["exact"]) if k in depths},
                         "exact_full": res["eager"]["exact"][-1], "halt_exact": res["eager"]["halt"]["exact"],
                         "halt_mean_steps": res["eager"]["halt"]["mean_steps"]}
            row["delta_points"] = round(100 * (row["exact_full"] - eager["exact_full"]), 2)
            if prec in SIZE_GOALS and row["size_ratio"] is not None:
                row["goal_met"] = bool(row["size_ratio"] <= SIZE_GOALS[prec] and row["max_delta_points"] <= ACC_GOAL_POINTS
                                       and row["halt_agree"] >= HALT_AGREE_GOAL)
            rows.append(row)
            log(f"{target} {prec}: {art.size_bytes} bytes, exact@{n_sup} {row['exact_full']:.3f} "
                f"(eager {eager['exact_full']:.3f}), max |delta| {row['max_delta_points']} pts, "
                f"halt agree {row['halt_agree']:.3f}, drift_y {row['drift_y']}")
    from ..artifact import tool_versions

    report = {"checkpoint": getattr(model, "source_checkpoint", None), "task": model.cfg.task,
              "n": cfg.n, "n_sup": n_sup, "depths": depths, "config": asdict(cfg), "eager_fp32": eager,
              "rows": rows, "goal": {"size_ratio_max": SIZE_GOAL, "size_ratio_max_by_precision": SIZE_GOALS,
                       "accuracy_drop_max_points": ACC_GOAL_POINTS,
                       "halt_agree_min": HALT_AGREE_GOAL},
              "command": command_of(checkpoint, out_dir, cfg),
              "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
              "host": f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores",
              "tools": tool_versions("onnxruntime", "executorch", "ai-edge-litert", "ai-edge-quantizer",
                                     "coremltools", "torchao")}
    write_text(out / "quant_report.json", json.dumps(report, indent=2) + "\n")
    write_text(out / "quant_report.md", to_markdown(report) + "\n")
    return report


def to_markdown(report: dict) -> str:
    """The table (one row per target x precision, eager fp32 first) with the command above it."""
    depths = report["depths"]
    head = (["target", "precision", "size (KiB)", "x fp32"] + [f"exact@{k}" for k in depths]
            + ["halting exact / steps", "halt agree", "drift y@full", "drift z@full", "Δ pts vs eager",
               "max abs Δ pts", "goal"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    e = report.get("eager_fp32")
    if e:
        lines.append("| eager PyTorch | fp32 | | | " + " | ".join(f"{e['exact'].get(str(k), float('nan')):.3f}" for k in depths)
                     + f" | {e['halt_exact']:.3f} / {e['halt_mean_steps']:.2f} | 1 | 0 | 0 | 0 | 0 | |")
    fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
    for r in report["rows"]:
        if "error" in r:
            lines.append("| " + " | ".join([r["target"], r["precision"], r["error"]] + [""] * (len(head) - 3)) + " |")
            continue
        cells = [r["target"], r["precision"], f"{r['size_bytes'] / 1024:.1f}", fmt(r.get("size_ratio"), ".3f")]
        if "exact" in r:
            cells += [f"{r['exact'].get(str(k), float('nan')):.3f}" for k in depths]
            cells += [f"{r['halt_exact']:.3f} / {r['halt_mean_steps']:.2f}", f"{r['halt_agree']:.3f}",
                      fmt(r["drift_y"], ".2e"), fmt(r["drift_z"], ".2e"), f"{r['delta_points']:+.1f}",
                      f"{r['max_delta_points']:.1f}"]
        else:
            cells += ["macOS only"] * len(depths) + ["macOS only", "macOS only", "-", "-", "-", "-"]
        goal = {True: "yes", False: "no"}.get(r.get("goal_met"), "")
        if "size_goal_met" in r:
            goal = "size " + {True: "yes", False: "no"}[r["size_goal_met"]] + ", accuracy: macOS"
        cells.append(goal)
        lines.append("| " + " | ".join(cells) + " |")
    head = [f"`{report['command']}`" if report.get("command") else "",
            f"{report['task']}, {report['n']} test puzzles, n_sup={report['n_sup']}, "
            f"{report.get('host', '')}, {report.get('created_at', '')}", ""]
    return "\n".join(head + lines)
