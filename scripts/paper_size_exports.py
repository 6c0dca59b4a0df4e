"""Export the paper's models (random weights: sizes and graphs only) and print, per preset x target x
precision: artifact bytes / weight bytes at that precision, export seconds, peak RSS, and for ONNX
onnxruntime's mobile checker (trm_edge.export.portable.mobile_partitions) on init and step:
partitions and node coverage for NNAPI and Core ML MLProgram; for ExecuTorch the compute ops its step
leaves outside the XNNPACK delegate, counted from the .pte. One export at a time, each in its
own process under /usr/bin/time -v (peak RSS is that process's); a shared machine makes the seconds
upper bounds.

    python scripts/paper_size_exports.py --presets sudoku-mlp,maze-att --targets onnx --precisions fp32,int8

With --validate N, each artifact is then checked by `trm-edge validate ARTIFACT --n N --max-steps K`
against eager PyTorch (every supervision step up to K compared; Core ML's prediction is macOS only).
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from trm_edge.checkpoint import save_model
from trm_edge.model import TRMConfig, build_model

BYTES_PER_WEIGHT = {"fp32": 4, "fp16": 2, "int8": 1, "int8-dynamic": 1, "int4": 0.5}


def export_one(ckpt: Path, target: str, precision: str, out: Path, mode: str) -> dict:
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "trm_edge.cli", "export", "--checkpoint", str(ckpt),
           "--target", target, "--precision", precision, "--mode", mode, "--out", str(out)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd[2:])} failed:\n{r.stderr[-3000:]}")
    rss_kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", r.stderr).group(1)
    secs = sum(float(x) * 60 ** i for i, x in enumerate(reversed(wall.split(":"))))
    art = next(p for p in out.iterdir() if (p / "manifest.json").is_file() and p.name.startswith(f"{target}-{precision}-"))
    return {"dir": art, "manifest": json.loads((art / "manifest.json").read_text()), "seconds": secs,
            "rss_gb": rss_kb / 2**20}


def validate_one(art: Path, ckpt: Path, n: int, max_steps: int) -> str:
    """`trm-edge validate` on one artifact: PASS or FAIL, and its seconds."""
    cmd = [sys.executable, "-m", "trm_edge.cli", "validate", str(art), "--checkpoint", str(ckpt), "--n", str(n),
           "--max-steps", str(max_steps)]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    failed = "validation failed" in r.stderr
    if r.returncode and not failed:
        raise SystemExit(f"{' '.join(cmd[2:])} failed:\n{r.stderr[-3000:]}")
    verdict = "FAIL" if failed else "PASS"
    if "Core ML prediction needs macOS" in r.stdout:
        verdict += " (package spec only: prediction is macOS only)"
    return f"{verdict} ({secs:.0f} s)"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", default="sudoku-mlp,maze-att")
    ap.add_argument("--targets", default="onnx")
    ap.add_argument("--precisions", default="fp32,int8")
    ap.add_argument("--mode", default="looped")
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    ap.add_argument("--validate", type=int, default=0, metavar="N",
                    help="then `trm-edge validate` each artifact on N test puzzles (default 0: not run)")
    ap.add_argument("--max-steps", type=int, default=2, help="--validate: supervision steps compared")
    a = ap.parse_args(argv)
    work = Path(a.work or tempfile.mkdtemp(prefix="paper-size-"))
    print("| preset | target | precision | artifact / weight bytes | export s | peak RSS GB | "
          "init NNAPI | init MLProgram | step NNAPI | step MLProgram | ExecuTorch step outside XNNPACK | validate |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for preset in a.presets.split(","):
        torch.manual_seed(0)
        model = build_model(TRMConfig.preset(preset)).eval()
        params = sum(p.numel() for p in model.parameters())
        ckpt = save_model(model, work / preset / "ckpt")
        for target in a.targets.split(","):
            for precision in a.precisions.split(","):
                r = export_one(ckpt, target, precision, work / preset / f"{target}-{precision}", a.mode)
                size = sum(f["bytes"] for f in r["manifest"]["files"].values())
                weights = params * BYTES_PER_WEIGHT[precision]
                cells = []
                if target == "onnx":
                    from trm_edge.export.portable import mobile_partitions
                    for entry in ("init", "step"):
                        c = mobile_partitions(r["dir"] / r["manifest"]["entry_points"][entry]["file"])
                        cells += [f"{c[ep]['partitions']} ({100 * c[ep]['supported'] / c[ep]['nodes']:.1f} % "
                                  f"of {c[ep]['nodes']})" for ep in ("NNAPI", "MLProgram")]
                    cells.append("-")
                elif target == "executorch":
                    from trm_edge.export.executorch import compute_outside, outside_delegates
                    step = outside_delegates(r["dir"] / "model.pte")["step"]
                    outside = ", ".join(f"{k} x{v}" for k, v in compute_outside(step).items()) or "nothing"
                    cells = ["-"] * 4 + [f"{step.get('delegate:XnnpackBackend', 0)} partitions; outside: {outside}"]
                else:
                    cells = ["-"] * 5
                cells.append(validate_one(r["dir"], ckpt, a.validate, a.max_steps) if a.validate else "-")
                print(f"| {preset} ({params / 1e6:.2f}M) | {target} | {precision} | {size / 1e6:.1f} MB / "
                      f"{weights / 1e6:.1f} MB = {size / weights:.2f}x | {r['seconds']:.0f} | {r['rss_gb']:.2f} | "
                      + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
