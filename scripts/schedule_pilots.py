"""CPU pilots for the schedule of a short GPU run (docs/gpu_training.md): the same 300 steps of
sudoku4-tiny (batch 64, 2000 puzzles, ACT halting) with different warm-up, decay and EMA horizon;
exact accuracy on 500 held-out puzzles per depth. ~1 min per run on one core.

    PYTHONPATH=$PWD python scripts/schedule_pilots.py OUT_DIR > pilots.jsonl
"""
from __future__ import annotations

import json
import sys
import time

import torch

from trm_edge.evaluate import evaluate_checkpoint
from trm_edge.train import TrainConfig, train

S = 300
RUNS = {  # name: TrainConfig overrides (lr 1e-3 unless given)
    "P1 paper-shaped chunk: warmup 2000 > run, constant, ema .999": dict(warmup=2000, ema=0.999),
    "P2 warmup 5%, constant, ema .999": dict(warmup=15, ema=0.999),
    "P3 warmup 5%, constant, ema horizon S/20": dict(warmup=15, ema=1 - 20 / S),
    "P4 warmup 5%, cosine to 0.1, ema horizon S/20": dict(warmup=15, lr_min_ratio=0.1, ema=1 - 20 / S),
    "P5 warmup 5%, cosine to 0, ema horizon S/20": dict(warmup=15, lr_min_ratio=0.0, ema=1 - 20 / S),
    "P6 lr 3e-3, warmup 5%, constant, ema horizon S/20": dict(lr=3e-3, warmup=15, ema=1 - 20 / S),
    "P7 lr 3e-3, warmup 5%, cosine to 0.1, ema horizon S/20": dict(lr=3e-3, warmup=15, lr_min_ratio=0.1,
                                                                  ema=1 - 20 / S),
}


def main(out_dir: str) -> None:
    torch.set_num_threads(1)
    for name, kw in RUNS.items():
        out = f"{out_dir}/{name.split()[0]}"
        cfg = TrainConfig.from_dict(dict(preset="sudoku4-tiny", n_train=2000, steps=S, batch_size=64, halt=True,
                                         checkpoint_every=0, log_every=0, val_n=0, **{"lr": 1e-3, **kw}))
        t0 = time.perf_counter()
        s = train(cfg, out, device="cpu", progress=False)
        res = evaluate_checkpoint(f"{out}/model", n=500, device="cpu")
        print(json.dumps({"run": name, **kw, "steps": S, "train_loss": round(s["loss"], 4),
                          "test_exact_by_depth": [round(e, 3) for e in res["exact"]],
                          "s": round(time.perf_counter() - t0)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "out/schedule-pilots")
