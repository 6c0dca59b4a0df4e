"""A graph rewrite for ExecuTorch's XNNPACK delegate, shared by the fp32 exporter (executorch.py)
and its int8 quantization hook (both in executorch.py)."""
from __future__ import annotations

NORM_MEAN = "_rms_mean_w"   # buffers that replace mean(x^2, -1) by a linear (xnnpack_friendly)


def xnnpack_friendly(gm):
    """Rewrite two ops XNNPACK cannot delegate, so the step lowers to ~2 XNNPACK partitions, not ~50:

        chunk(h, 2, dim)              -> two slices                    (SwiGLU gate / up split)
        mean(x, [-1], keepdim=True)   -> linear(x, full((1, D), 1/D))  (the RMSNorm mean of squares)

    Same math (eager max error ~1e-6). Each partition break costs a delegate blob plus portable-kernel
    instructions and values in the .pte: ~100 KB of structure that int8 does not shrink, which on a
    small TRM (the net unrolled T*(n+1) times inside `step`) is as large as its int8 weights."""
    import torch

    g, n_mean = gm.graph, 0
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
