"""ONNX: `torch.onnx.export(..., dynamo=True)`, one .onnx file per entry point.

looped   -> init.onnx + step.onnx (host loop), and loop.onnx: the whole recursion with per-sample
            halting inside one graph (torch's while_loop -> ONNX Loop); onnxruntime runs all three.
unrolled -> forward.onnx at a fixed depth K.
Weights are stored inside each .onnx (no external-data files; the models are small).
graph = "web" (`--graph web`): every graph shaped for onnxruntime-web (trm_edge.export.web), fp32,
            no loop.onnx; the manifest says "graph": "web".
"""
from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn

from ..errors import missing, require
from .common import ExportContext, _supervision_step, entry_modules, example_inputs, io_spec, source_of, write_artifact, write_manifest
from .quantize import quantize, supported
from .web import web_model, web_shape


def available() -> str | None:
    return missing("onnx", "onnx", "onnxscript")


def supports(recipe) -> str | None:
    """Every mode and batch; precisions other than fp32 as trm_edge.export.quantize supports them;
    the web graph in fp32 (the quantizers expect the plain graph)."""
    if recipe.graph == "web" and recipe.precision != "fp32":
        return f"graph 'web' is fp32 only (the {recipe.precision} quantizer works on the plain graph)"
    return supported("onnx", recipe.precision)


class Loop(nn.Module):
    """The whole recursion in one graph: supervision steps run while some sample has not halted
    and fewer than max_steps ran. A sample halts at its first step with q_halt > threshold; its
    answer (preds, logits, q_halt) is frozen from then on — the same rule as runtime.loop.host_loop.
    Pass threshold = +inf to run max_steps steps with no halting."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.eval()

    def forward(self, tokens, *rest):
        from torch._higher_order_ops import while_loop

        *pid, max_steps, threshold = rest
        m = self.model
        x = m.embed(tokens, *pid)                                    # (B, L, D)
        y, z = m.initial_state(x)
        B, S, V = tokens.shape[0], m.cfg.seq_len, m.cfg.vocab_size
        logits = torch.zeros(B, S, V, dtype=x.dtype)
        q = torch.zeros(B, dtype=x.dtype)
        halted_at = torch.zeros(B, dtype=torch.int32)                # 0 = not halted yet
        step = torch.zeros((), dtype=torch.int32)

        def cond(step, y, z, logits, q, halted_at):
            return (step < max_steps) & (halted_at == 0).any()

        def body(step, y, z, logits, q, halted_at):
            y, z, lg, qn = _supervision_step(m, x, y, z)
            step = step + 1
            live = halted_at == 0                                    # (B,) answers still moving
            logits = torch.where(live[:, None, None], lg, logits)
            q = torch.where(live, qn, q)
            newly = live & (qn > threshold)
            halted_at = torch.where(newly, step.expand(B), halted_at)
            return step.clone(), y.clone(), z.clone(), logits.clone(), q.clone(), halted_at.clone()

        step, y, z, logits, q, halted_at = while_loop(cond, body, (step, y, z, logits, q, halted_at))
        halted_at = torch.where(halted_at == 0, step.expand(B), halted_at)
        return logits.argmax(-1).to(torch.int32), halted_at, q, logits, step


def _export_one(module, args, path: Path, spec: dict, recipe) -> None:
    names_in = [i["name"] for i in spec["inputs"]]
    names_out = [o["name"] for o in spec["outputs"]]
    with torch.no_grad():
        torch.onnx.export(module, args, str(path), dynamo=True, input_names=names_in,
                          output_names=names_out, opset_version=recipe.opset, external_data=False,
                          optimize=False, verbose=False)  # optimize=True folds a transposed copy of every weight per use: 4x the size


def export(model, recipe, out_dir: Path):
    require("onnx", "onnx")
    require("onnxscript", "onnx")
    cfg = model.cfg
    t0 = time.perf_counter()
    web = recipe.graph == "web"
    spec, jobs = entry_modules(web_model(model) if web else model, recipe)
    if recipe.mode == "looped" and recipe.in_graph_loop:
        spec.update(io_spec(cfg, "loop", recipe.batch))
        jobs.append(("loop", Loop(model)))

    def write(tmp: Path):
        ctx = ExportContext(model, recipe, spec, tmp)
        entries = {}
        for entry, module in jobs:
            args = example_inputs(spec[entry])
            if entry == "loop":  # max_steps, threshold as 0-d tensors
                args = args[:-2] + (torch.tensor(cfg.n_sup, dtype=torch.int32), torch.tensor(0.0))
            path = tmp / f"{entry}.onnx"
            _export_one(module, args, path, spec[entry], recipe)
            if web:
                web_shape(path)
            path = quantize("onnx", path, entry, ctx)
            entries[entry] = {"file": path.name, **spec[entry]}
        return write_manifest(tmp, model, recipe, entries, source=source_of(model),
                              seconds=time.perf_counter() - t0, tools=("onnx", "onnxscript", "onnxruntime"),
                              extra={"graph": "web"} if web else None)

    return write_artifact(out_dir, recipe, write)
