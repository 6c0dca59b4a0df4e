"""ExecuTorch: one `model.pte`, lowered to XNNPACK.

looped   -> methods `init` and `step` in the same program (to_edge_transform_and_lower with a dict
            of exported programs); ExecuTorch rejects torch's while_loop, so there is no in-graph loop.
unrolled -> method `forward` at a fixed depth K.
Runtime: executorch.runtime.Runtime.get().load_program(path).load_method(name).execute([...]).
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from ..errors import require
from .common import (ExportContext, Init, Step, Unrolled, example_inputs, io_spec, quantize,
                     source_of, write_artifact, write_manifest)

FILE = "model.pte"


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


def available() -> str | None:
    try:
        require("executorch.exir", "executorch")
        require("executorch.backends.xnnpack.partition.xnnpack_partitioner", "executorch")
    except Exception as e:  # MissingExtraError
        return str(e)
    return None


def supports(recipe) -> str | None:
    return None  # looped (init + step methods) and unrolled; no in-graph loop (see module doc)


def export(model, recipe, out_dir: Path):
    exir = require("executorch.exir", "executorch")
    xnn = require("executorch.backends.xnnpack.partition.xnnpack_partitioner", "executorch")
    cfg = model.cfg
    t0 = time.perf_counter()
    if recipe.mode == "looped":
        spec = io_spec(cfg, "looped", recipe.batch)
        jobs = [("init", Init(model)), ("step", Step(model))]
    else:
        spec = io_spec(cfg, "unrolled", recipe.batch, recipe.depth)
        jobs = [("forward", Unrolled(model, recipe.depth))]

    def write(tmp: Path):
        ctx = ExportContext(model, recipe, spec, tmp)
        programs = {}
        for entry, module in jobs:
            args = example_inputs(spec[entry])
            if recipe.precision == "fp32":
                with torch.no_grad():
                    gm = torch.export.export(module, args, strict=False).module()
                    # fresh export of the rewritten graph: node metadata the lowering needs
                    programs[entry] = torch.export.export(xnnpack_friendly(gm), args, strict=False)
            else:  # the quantizer exports (PT2E prepare / calibrate / convert) and returns the program
                programs[entry] = quantize("executorch", (module, args), entry, ctx)
        edge = exir.to_edge_transform_and_lower(programs, partitioner=[xnn.XnnpackPartitioner()])
        (tmp / FILE).write_bytes(edge.to_executorch().buffer)
        entries = {e: {"file": FILE, "method": e, **spec[e]} for e, _ in jobs}
        return write_manifest(tmp, model, recipe, entries, source=source_of(model),
                              seconds=time.perf_counter() - t0, tools=("executorch",))

    return write_artifact(out_dir, recipe, write)
