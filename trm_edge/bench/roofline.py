"""CPU roofline: FLOPs of one supervision step (counted from the config) and a measured peak.

`flops_per_step(cfg, batch)` counts the matrix-multiply FLOPs (2 * M * N * K per matmul) of one
supervision step: T recursions x (n_latent + 1) calls of the network, plus the two heads. Norms,
activations and adds are left out (they are O(B*L*D) against O(B*L*D^2) and a FLOP counter leaves
them out too); `tests/bench/test_bench.py` checks the count against `torch.utils.flop_counter`.

`measure_peak_gflops(threads)` times a large fp32 GEMM (the best of torch and onnxruntime) in this
process with the same thread count the runtimes get, so "% of roofline" is a ratio taken under the
same machine load. It is a measured peak, a lower bound of the hardware's: a runtime whose kernels
beat both GEMMs shows above 100 %. `dtype="int8"` times the integer GEMM (int8 x int8 -> int32:
onnxruntime's MatMulInteger, torch._int_mm) in GOP/s: the ceiling of an artifact that does its
matmuls in int8 (dynamically quantized activations); a weight-only int8 artifact computes in fp32.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np


def _hidden(dim: int, expansion: float) -> int:
    # trm_edge.model._round_up, restated so the bench needs no torch (tests/bench/test_bench.py checks the
    # counts against torch's flop counter on the real model)
    return int(math.ceil(round(expansion * dim * 2 / 3) / 256) * 256)


def net_call_flops(cfg, batch: int = 1, n_layers: int | None = None) -> int:
    """Matmul FLOPs of one call of the recursed network (n_layers blocks, default cfg.n_layers) on
    (batch, total_len, d_model)."""
    B, L, D = batch, cfg.total_len, cfg.d_model
    per_block = 0
    if cfg.mixer == "mlp":  # SwiGLU over the sequence axis: (B*D, L) @ (L, 2H) then (B*D, H) @ (H, L)
        H = _hidden(L, cfg.expansion)
        per_block += 2 * B * D * L * 2 * H + 2 * B * D * H * L
    else:  # qkv + out projections, Q K^T and attn @ V
        per_block += 2 * B * L * D * 3 * D + 2 * B * L * D * D + 2 * 2 * B * L * L * D
    H = _hidden(D, cfg.expansion)  # channel SwiGLU: (B*L, D) @ (D, 2H) then (B*L, H) @ (H, D)
    per_block += 2 * B * L * D * 2 * H + 2 * B * L * H * D
    return (cfg.n_layers if n_layers is None else n_layers) * per_block


def flops_per_step(cfg, batch: int = 1) -> int:
    """Matmul FLOPs of one supervision step (T recursions of n_latent + 1 net calls, + heads); the
    answer call runs HRM's separate answer network when the config has one (n_layers_H > 0)."""
    answer = net_call_flops(cfg, batch, getattr(cfg, "n_layers_H", 0) or None)
    heads = 2 * batch * cfg.seq_len * cfg.d_model * cfg.vocab_size + 2 * batch * cfg.d_model  # lm_head + q_head
    return cfg.T * (cfg.n_latent * net_call_flops(cfg, batch) + answer) + heads


def count_step_flops(model, batch: int = 1) -> int:
    """FLOPs of one `model.step` counted by torch's FlopCounterMode (the cross-check)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    cfg = model.cfg
    tokens = torch.ones(batch, cfg.seq_len, dtype=torch.int32)
    with torch.no_grad():
        x = model.embed(tokens)
        y, z = model.initial_state(x)
        counter = FlopCounterMode(display=False)
        with counter:
            model.step(x, y, z)
    return int(counter.get_total_flops())


@dataclass
class Peak:
    gflops: float     # best FLOP/s of the matmul, in GFLOP/s
    method: str       # what was timed, for the report


def _best_seconds(fn, repeats: int) -> float:
    for _ in range(2):  # warm-up: thread pool, caches, page faults
        fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _onnxruntime_matmul(n: int, threads: int | None, dtype: str = "fp32"):
    """A one-MatMul ONNX graph on onnxruntime's CPU provider (MLAS): fp32 MatMul, or int8
    MatMulInteger (uint8 x int8 -> int32, what onnxruntime's dynamic quantization runs); None
    without onnxruntime."""
    try:
        import onnxruntime as ort
        from onnx import TensorProto, helper
    except ImportError:
        return None
    T = TensorProto
    types, op = ((T.FLOAT, T.FLOAT, T.FLOAT), "MatMul") if dtype == "fp32" else ((T.UINT8, T.INT8, T.INT32), "MatMulInteger")
    io = [helper.make_tensor_value_info(k, t, [n, n]) for k, t in zip("ABC", types)]
    graph = helper.make_graph([helper.make_node(op, ["A", "B"], ["C"])], "matmul", io[:2], io[2:])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def measure_peak_gflops(threads: int | None = None, n: int = 2048, repeats: int = 5, dtype: str = "fp32") -> Peak:
    """Best (n x n) @ (n x n) GEMM throughput on `threads` threads, over the GEMM libraries at
    hand: torch (MKL / oneDNN) and onnxruntime (MLAS) when installed. One library's GEMM is not the
    machine's peak (at 1024x1024 torch reached less than XNNPACK did inside a TRM step here), so the
    best of several, at a size large enough to amortise threading, is the yardstick. Without torch
    (a runtime-only install) numpy's BLAS stands in for it (fp32 only). dtype "int8": the integer
    GEMM, in GOP/s (module doc)."""
    if dtype not in ("fp32", "int8"):
        raise ValueError(f"dtype must be fp32 or int8, got {dtype!r}")
    rng = np.random.default_rng(0)
    if dtype == "fp32":
        a, b = rng.standard_normal((n, n), np.float32), rng.standard_normal((n, n), np.float32)
    else:
        a, b = rng.integers(0, 256, (n, n), np.uint8), rng.integers(-128, 128, (n, n), np.int8)
    results = {}
    try:
        import torch
    except ImportError:
        if dtype == "fp32":
            out = np.empty((n, n), np.float32)
            results["numpy.matmul (BLAS, its default threads)"] = _best_seconds(lambda: np.matmul(a, b, out=out), repeats)
    else:
        old = torch.get_num_threads()
        if threads:
            torch.set_num_threads(threads)
        try:
            if dtype == "fp32":
                ta, tb, tout = torch.from_numpy(a), torch.from_numpy(b), torch.empty(n, n)
                results[f"torch.matmul ({torch.get_num_threads()} threads)"] = \
                    _best_seconds(lambda: torch.matmul(ta, tb, out=tout), repeats)
            elif hasattr(torch, "_int_mm"):   # int8 x int8 -> int32 (oneDNN on CPU)
                ta, tb = torch.from_numpy((a.astype(np.int16) - 128).astype(np.int8)), torch.from_numpy(b)
                results[f"torch._int_mm ({torch.get_num_threads()} threads)"] = _best_seconds(lambda: torch._int_mm(ta, tb), repeats)
        finally:
            torch.set_num_threads(old)
    sess = _onnxruntime_matmul(n, threads, dtype)
    if sess is not None:
        feeds = {"A": a, "B": b}
        op = "MatMul" if dtype == "fp32" else "MatMulInteger"
        results[f"onnxruntime {op} ({threads or 'default'} threads)"] = _best_seconds(lambda: sess.run(None, feeds), repeats)
    if not results:
        raise RuntimeError(f"no {dtype} GEMM to time here (install torch or onnxruntime)")
    gflops = {k: 2 * n ** 3 / sec / 1e9 for k, sec in results.items()}
    best = max(gflops, key=gflops.get)
    unit = "GFLOP/s" if dtype == "fp32" else "GOP/s"
    others = ", ".join(f"{k} {v:.1f}" for k, v in gflops.items() if k != best)
    return Peak(gflops[best], f"{best}, {dtype} {n}x{n}, best of {repeats}" + (f"; also {others} {unit}" if others else ""))
