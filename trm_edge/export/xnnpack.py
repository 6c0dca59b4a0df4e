"""A graph rewrite for ExecuTorch's XNNPACK delegate, shared by the fp32 exporter (executorch.py)
and its int8 quantization hook (both in executorch.py)."""
from __future__ import annotations

import math

NORM_MEAN = "_rms_mean_w"   # buffers that replace mean(x^2, -1) by a linear (xnnpack_friendly)
ATTN_SCALE = "_attn_scale"  # buffers holding 1/sqrt(head_dim) of the explicit attention (xnnpack_friendly)


def xnnpack_friendly(gm):
    """Rewrite two ops XNNPACK cannot delegate, so the step lowers to ~2 XNNPACK partitions, not ~50:

        chunk(h, 2, dim)              -> two slices                    (SwiGLU gate / up split)
        mean(x, [-1], keepdim=True)   -> linear(x, full((1, D), 1/D))  (the RMSNorm mean of squares)
        scaled_dot_product_attention(q, k, v), unmasked
                                      -> softmax(q k^T * 1/sqrt(hd)) v  (to_edge decomposes SDPA into a
                                         "safe" softmax whose all-masked-row guard, eq / any / where,
                                         XNNPACK rejects: 7 portable ops and a partition break per call)

    Same math (eager max error ~1e-6). Each partition break costs a delegate blob plus portable-kernel
    instructions and values in the .pte: ~100 KB of structure that int8 does not shrink, which on a
    small TRM (the net unrolled T*(n+1) times inside `step`) is as large as its int8 weights."""
    import torch

    g, n_mean, n_scale = gm.graph, 0, 0
    for n in list(g.nodes):
        if n.op != "call_function":
            continue
        if n.target == torch.ops.aten.chunk.default and n.args[1] == 2 and "val" in n.args[0].meta:
            x = n.args[0]
            dim = n.args[2] if len(n.args) > 2 else n.kwargs.get("dim", 0)
            size = x.meta["val"].shape[dim]
            if size % 2:
                continue
            with g.inserting_after(n):
                halves = [g.call_function(torch.ops.aten.slice.Tensor, (x, dim, 0, size // 2)),
                          g.call_function(torch.ops.aten.slice.Tensor, (x, dim, size // 2, size))]
            for u in list(n.users):   # getitem(chunk, i)
                u.replace_all_uses_with(halves[u.args[1]])
                g.erase_node(u)
            g.erase_node(n)
        elif (n.target == torch.ops.aten.scaled_dot_product_attention.default and len(n.args) == 3
              and not n.kwargs and all("val" in a.meta for a in n.args)):
            q, k, v = n.args
            hd = q.meta["val"].shape[-1]
            name = f"{ATTN_SCALE}{n_scale}"
            n_scale += 1
            gm.register_buffer(name, torch.full((1,), hd ** -0.5, dtype=q.meta["val"].dtype))
            *lead, L, _ = q.meta["val"].shape
            Lk, BH = k.meta["val"].shape[-2], math.prod(lead)
            with g.inserting_before(n):   # 3-d bmm: a 4-d matmul lowers with expand_copy, which XNNPACK rejects
                q3, k3, v3 = (g.call_function(torch.ops.aten.reshape.default, (a, [BH, a.meta["val"].shape[-2], -1]))
                              for a in (q, k, v))
                s = g.call_function(torch.ops.aten.bmm.default, (q3, g.call_function(torch.ops.aten.transpose.int,
                                                                                     (k3, 1, 2))))
                s = g.call_function(torch.ops.aten.mul.Tensor, (s, g.get_attr(name)))
                p = g.call_function(torch.ops.aten.softmax.int, (s, -1))
                o = g.call_function(torch.ops.aten.reshape.default,
                                    (g.call_function(torch.ops.aten.bmm.default, (p, v3)), [*lead, L, -1]))
            n.replace_all_uses_with(o)
            g.erase_node(n)
        elif (n.target == torch.ops.aten.mean.dim and list(n.args[1]) == [-1]
              and (n.args[2] if len(n.args) > 2 else n.kwargs.get("keepdim", False))
              and "val" in n.args[0].meta):
            x = n.args[0]
            D = x.meta["val"].shape[-1]
            name = f"{NORM_MEAN}{n_mean}"
            n_mean += 1
            gm.register_buffer(name, torch.full((1, D), 1.0 / D, dtype=x.meta["val"].dtype))
            with g.inserting_before(n):
                lin = g.call_function(torch.ops.aten.linear.default, (x, g.get_attr(name)))
            n.replace_all_uses_with(lin)
            g.erase_node(n)
    g.lint()
    gm.recompile()
    return gm
