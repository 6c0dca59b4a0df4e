"""CPU roofline: FLOPs of one supervision step (counted from the config) and a measured peak.

`flops_per_step(cfg, batch)` counts the matrix-multiply FLOPs (2 * M * N * K per matmul) of one
supervision step: T recursions x (n_latent + 1) calls of the network, plus the two heads. Norms,
activations and adds are left out (they are O(B*L*D) against O(B*L*D^2) and a FLOP counter leaves
them out too); `tests/test_bench.py` checks the count against `torch.utils.flop_counter`.

`measure_peak_gflops(threads)` times a large fp32 matmul in this process with the same thread
count the runtimes get, so "% of roofline" is a ratio taken under the same machine load.
"""
from __future__ import annotations

import time
from dataclasses import dataclass


def _hidden(dim: int, expansion: float) -> int:
    from trm_edge.model import _round_up  # the model's own rounding: counts must match it

    return _round_up(expansion * dim * 2 / 3, 256)


def net_call_flops(cfg, batch: int = 1) -> int:
    """Matmul FLOPs of one call of the recursed network on (batch, total_len, d_model)."""
    B, L, D = batch, cfg.total_len, cfg.d_model
    per_block = 0
    if cfg.mixer == "mlp":  # SwiGLU over the sequence axis: (B*D, L) @ (L, 2H) then (B*D, H) @ (H, L)
        H = _hidden(L, cfg.expansion)
        per_block += 2 * B * D * L * 2 * H + 2 * B * D * H * L
    else:  # qkv + out projections, Q K^T and attn @ V
        per_block += 2 * B * L * D * 3 * D + 2 * B * L * D * D + 2 * 2 * B * L * L * D
    H = _hidden(D, cfg.expansion)  # channel SwiGLU: (B*L, D) @ (D, 2H) then (B*L, H) @ (H, D)
    per_block += 2 * B * L * D * 2 * H + 2 * B * L * H * D
    return cfg.n_layers * per_block


def flops_per_step(cfg, batch: int = 1) -> int:
    """Matmul FLOPs of one supervision step (T recursions of n_latent + 1 net calls, + heads)."""
    calls = cfg.T * (cfg.n_latent + 1)
    heads = 2 * batch * cfg.seq_len * cfg.d_model * cfg.vocab_size + 2 * batch * cfg.d_model  # lm_head + q_head
    return calls * net_call_flops(cfg, batch) + heads


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


def measure_peak_gflops(threads: int | None = None, n: int = 1024, repeats: int = 10) -> Peak:
    """Best-of-`repeats` fp32 (n x n) @ (n x n) matmul throughput on `threads` threads."""
    import torch

    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(0)
        a, b = torch.randn(n, n, generator=g), torch.randn(n, n, generator=g)
        out = torch.empty(n, n)
        for _ in range(2):  # warm-up: thread pool, caches, page faults
            torch.matmul(a, b, out=out)
        best = float("inf")
        for _ in range(repeats):
            t0 = time.perf_counter()
            torch.matmul(a, b, out=out)
            best = min(best, time.perf_counter() - t0)
        used = torch.get_num_threads()
    finally:
        torch.set_num_threads(old)
    return Peak(2 * n ** 3 / best / 1e9, f"torch.matmul fp32 {n}x{n}, {used} threads, best of {repeats}")
