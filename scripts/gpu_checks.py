"""The measurements of a GPU session (scripts/gpu_session.sh runs this before training), as JSON.

1. versions: python, torch, CUDA, GPU, numba;
2. parity: 3 steps of a small model on DEVICE (bf16 autocast) against the CPU (fp32), from the same
   weights and samples: losses within bf16 tolerance (relative 3e-2);
3. throughput of the run's model at its batch (default the paper's: sudoku-mlp, D=512, batch 768):
   ms per step, samples/s, peak memory, host syncs per step (torch.cuda.set_sync_debug_mode), eager,
   and compiled (inductor) when --compile-steps > 0;
4. the timed run's schedule: the steps that fit --train-seconds at the measured step time, with the
   warm-up, lr decay and EMA horizon chosen on CPU pilots (docs/gpu_training.md).

    python scripts/gpu_checks.py --device cuda --out $OUT/gpu_checks.json [--train-seconds 330]
    CPU dry run: --device cpu --model d_model=16 --batch 8 --steps 2 --compile-steps 0
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from the checkout (PYTHONPATH also works)

from trm_edge.model import count_params  # noqa: E402
from trm_edge.train import Trainer, preset_config  # noqa: E402
from trm_edge.train.device import dist_setup  # noqa: E402

# the short run's schedule, from the CPU pilots (scripts/schedule_pilots.py, docs/gpu_training.md): 5 % warm-up,
# then the lr stays (a cosine decay cost accuracy at the paper-like lr), EMA horizon steps/20 (0.999 kept the
# weights near their initialisation in a short run)
WARMUP_FRACTION, LR_MIN_RATIO, EMA_HORIZON_FRACTION = 0.05, 1.0, 0.05


def versions(device: str) -> dict:
    try:
        import numba
        nb = numba.__version__
    except ImportError:
        nb = None
    out = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda, "numba": nb}
    if device.startswith("cuda"):
        p = torch.cuda.get_device_properties(device)
        out |= {"gpu": p.name, "gpu_mem_gib": round(p.total_memory / 2**30, 1), "bf16": torch.cuda.is_bf16_supported()}
    return out


def parity(device: str, model: dict) -> dict:
    cfg = preset_config("sudoku-mlp", model={"d_model": 128, **model}, n_train=1000, batch_size=32, halt=False,
                        val_n=0, lr=1e-4, warmup=1)
    ref, dev = Trainer(cfg, "cpu"), Trainer(cfg, device)
    losses = [(ref.train_step()["loss"], dev.train_step()["loss"]) for _ in range(3)]
    rel = max(abs(a - b) / abs(a) for a, b in losses)
    return {"losses_cpu_vs_device": [[round(a, 5), round(b, 5)] for a, b in losses], "max_rel_diff": round(rel, 5),
            "ok": rel < 3e-2}


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)


def throughput(device: str, model: dict, batch: int, steps: int, backend: str | None) -> dict:
    cfg = preset_config("sudoku-mlp", model=model, batch_size=batch, val_n=0)
    t = Trainer(cfg, device, compile_backend=backend)
    t0 = time.perf_counter()
    t.train_step(host=False)  # the first step fills the whole batch (and compiles)
    _sync(device)
    first = time.perf_counter() - t0
    for _ in range(2):
        t.train_step(host=False)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats(device)
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        t.train_step(host=False)
    _sync(device)
    dt = (time.perf_counter() - t0) / steps
    out = {"compile": backend, "d_model": t.mcfg.d_model, "params": count_params(t.model), "batch": batch,
           "first_step_s": round(first, 2), "ms_per_step": round(dt * 1e3, 2), "samples_per_s": round(batch / dt, 1)}
    if device.startswith("cuda"):
        out["peak_mem_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
        torch.cuda.set_sync_debug_mode("warn")
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            t.train_step(host=False)
        torch.cuda.set_sync_debug_mode("default")
        out["host_syncs_per_step"] = sum("synchroniz" in str(x.message) for x in w)
    return out


def schedule(step_s: float, train_seconds: float) -> dict:
    steps = max(10, int(train_seconds / step_s * 0.95))  # 5 % margin: log lines, checkpoints, refill jitter
    return {"steps": steps, "warmup": max(1, round(steps * WARMUP_FRACTION)), "lr_min_ratio": LR_MIN_RATIO,
            "ema": round(1 - 1 / max(10, steps * EMA_HORIZON_FRACTION), 5), "step_s": round(step_s, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--out", required=True)
    ap.add_argument("--batch", type=int, default=768)
    ap.add_argument("--steps", type=int, default=20, help="timed steps per throughput measurement")
    ap.add_argument("--compile-steps", type=int, default=20, help="0: skip the compiled measurement")
    ap.add_argument("--train-seconds", type=float, default=330.0)
    ap.add_argument("--model", action="append", default=[], metavar="KEY=VALUE", help="model override (dry runs)")
    a = ap.parse_args()
    _, _, device = dist_setup(a.device)  # an absent explicit device: one error line (TRMEdgeError)
    model = {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in a.model)}
    res = {"versions": versions(device)}
    print(json.dumps(res), flush=True)
    phases = [("parity", lambda: parity(device, model)),
              ("eager", lambda: throughput(device, model, a.batch, a.steps, None))]
    if a.compile_steps:  # last: if a slow compile runs into the caller's timeout, the file has the rest
        phases.append(("compiled", lambda: throughput(device, model, a.batch, a.compile_steps, "inductor")))
    for name, run in phases:
        try:
            res[name] = run()
        except Exception as e:  # report and go on: the session must still train and bring the rest back
            res[name] = {"error": f"{type(e).__name__}: {e}"[:500]}
        print(json.dumps({name: res[name]}), flush=True)
        timed = [r for r in (res.get("eager"), res.get("compiled")) if r and "ms_per_step" in r]
        if timed:  # the faster path; a compiled run pays its compile again (cached: faster) in its budget
            best = min(timed, key=lambda r: r["ms_per_step"])
            seconds = a.train_seconds - (best["first_step_s"] if best["compile"] else 0.0)
            res["schedule"] = schedule(best["ms_per_step"] / 1e3, seconds) | {"compile": best["compile"]}
        Path(a.out).write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps({"schedule": res.get("schedule")}), flush=True)

if __name__ == "__main__":
    main()
