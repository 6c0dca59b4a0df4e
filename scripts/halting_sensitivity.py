"""How much weight rounding a model's halting step tolerates, independent of any exporter.

Rounds the recursed net's weights in eager PyTorch (fp16, bf16, and k-bit symmetric per-channel
with torch.fake_quantize_per_channel_affine: the grid every int8 target's weight quantizer uses),
runs the host loop on the checkpoint's test puzzles and prints, per rounding, the exact-accuracy
change at every depth and the fraction of puzzles that halt at the same step as the unrounded
model. This separates what 8-bit weights cost the recursion from what a runtime or a quantizer
adds (docs/quantization.md):

    python scripts/halting_sensitivity.py sudoku9 --n 1000 --bits 8,9,10
    python scripts/halting_sensitivity.py sudoku9 --n 1000 --bits 8 --fp16 mixer.mlp.gate_up mixer.mlp.down
                                          # int8 except the named weight groups at fp16 (mixed precision)
"""
from __future__ import annotations

import argparse
import copy

import numpy as np
import torch

from trm_edge.checkpoint import load_model, resolve, training_data
from trm_edge.data import eval_puzzles
from trm_edge.evaluate import run_all_steps
from trm_edge.runtime.loop import halting_steps
from trm_edge.runtime import EagerSession


def per_channel(w: torch.Tensor, bits: int) -> torch.Tensor:
    """Symmetric per-output-channel rounding of a (out, in) weight to `bits` bits."""
    qmax = 2 ** (bits - 1) - 1
    scale = (w.abs().amax(1) / qmax).clamp_min(1e-12)
    return torch.fake_quantize_per_channel_affine(w, scale, torch.zeros_like(scale, dtype=torch.int32),
                                                  0, -qmax, qmax)


def rounded(model, fn, fp16=()):
    """The model with its recursed net's weights rounded by `fn`, those whose module name ends with
    one of `fp16` rounded to fp16 instead."""
    m = copy.deepcopy(model)
    with torch.no_grad():
        for name, mod in m.named_modules():
            if isinstance(mod, torch.nn.Linear) and name.startswith("net."):   # the recursed net
                keep = any(name.endswith(k) for k in fp16)
                mod.weight.copy_(mod.weight.half().float() if keep else fn(mod.weight))
    return m


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", help="checkpoint dir or bundled name")
    ap.add_argument("--n", type=int, default=1000, help="test puzzles")
    ap.add_argument("--bits", default="8,10", help="per-channel weight bit widths to try")
    ap.add_argument("--fp16", nargs="*", default=(), metavar="SUFFIX",
                    help="also try: int8 everywhere except the weights whose module name ends with SUFFIX "
                         "(one run per SUFFIX; comma-join suffixes to keep several at fp16 together)")
    args = ap.parse_args()
    model, d = load_model(resolve(args.checkpoint))
    n_train, seed = training_data(d)
    inputs, labels = eval_puzzles(model.cfg.task, args.n, seed, n_train=n_train)
    thr = model.cfg.halt_threshold

    def run(m):
        preds, q = run_all_steps(EagerSession(m), inputs, m.cfg.n_sup)
        return (preds == labels[None]).all(-1).mean(1), halting_steps(q, thr)

    exact0, halt0 = run(model)
    print(f"{args.checkpoint}, {args.n} test puzzles; eager exact per depth {np.round(exact0, 3).tolist()}")
    variants = [("fp16", lambda w: w.half().float()), ("bf16", lambda w: w.bfloat16().float())]
    variants += [(f"int{b} per-channel", lambda w, b=b: per_channel(w, b)) for b in map(int, args.bits.split(","))]
    variants = [(tag, fn, ()) for tag, fn in variants]
    variants += [(f"int8, fp16 {k}", lambda w: per_channel(w, 8), tuple(k.split(","))) for k in args.fp16]
    for tag, fn, fp16 in variants:
        exact, halt = run(rounded(model, fn, fp16))
        delta = 100 * (exact - exact0)
        print(f"{tag:30s} exact change per depth (points) {np.round(delta, 1).tolist()}  "
              f"max {np.abs(delta).max():.1f}  same halting step {np.mean(halt == halt0):.3f}")


if __name__ == "__main__":
    main()
