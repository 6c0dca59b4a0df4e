"""ONNX: `torch.onnx.export(..., dynamo=True)`, one .onnx file per entry point.

looped   -> init.onnx + step.onnx (host loop), and loop.onnx: the whole recursion with per-sample
            halting inside one graph (torch's while_loop -> ONNX Loop); onnxruntime runs all three.
unrolled -> forward.onnx at a fixed depth K.
The graphs are traced from trm_edge.export.portable's copy of the model and rewritten there: static
shapes and only ops ORT Mobile's NNAPI / Core ML execution providers take. init.onnx and step.onnx
hold their weights inside; loop.onnx holds none of its own: its tensors are ONNX external data
pointing at the same bytes in step.onnx / init.onnx (portable.share_weights), one copy per artifact.
graph = "web" (`--graph web`): every graph shaped for onnxruntime-web (trm_edge.export.web), fp32,
            no loop.onnx; the manifest says "graph": "web".
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import torch
from torch import nn

from ..errors import missing, require
from .common import ExportContext, _supervision_step, entry_modules, example_inputs, io_spec, source_of, write_artifact, write_manifest
from .portable import portable_graph, portable_model, share_weights, strip_debug
from .quantize import HEADS, calibration_feeds
from .web import web_model, web_shape


def available() -> str | None:
    return missing("onnx", "onnx", "onnxscript")


def supports(recipe) -> str | None:
    """Every mode and batch (precisions: its registration, trm_edge.targets); the web graph in fp32
    (the quantizers expect the plain graph)."""
    if recipe.graph == "web" and recipe.precision != "fp32":
        return f"graph 'web' is fp32 only (the {recipe.precision} quantizer works on the plain graph)"
    return None


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
                          optimize=False, verbose=False)  # trm_edge.export.portable folds (at onnxscript's default size limits)


def export(model, recipe, out_dir: Path):
    require("onnx", "onnx")
    require("onnxscript", "onnx")
    cfg = model.cfg
    t0 = time.perf_counter()
    web = recipe.graph == "web"
    traced = portable_model(model)
    spec, jobs = entry_modules(web_model(traced) if web else traced, recipe)
    if recipe.mode == "looped" and recipe.in_graph_loop:
        spec.update(io_spec(cfg, "loop", recipe.batch))
        jobs.append(("loop", Loop(traced)))

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
            elif entry != "loop":
                portable_graph(path)
            if recipe.precision != "fp32":
                path = quantize(path, entry, ctx)
            elif entry == "loop":
                _strip_file(path)
            entries[entry] = {"file": path.name, **spec[entry]}
        if "loop" in entries:   # after every graph is final: the offsets point into their bytes
            share_weights(tmp / "loop.onnx", [tmp / entries[e]["file"] for e in ("step", "init")])
        return write_manifest(tmp, model, recipe, entries, source=source_of(model),
                              seconds=time.perf_counter() - t0, tools=("onnx", "onnxscript", "onnxruntime"),
                              extra={"graph": "web"} if web else None)

    return write_artifact(out_dir, recipe, write)


def _strip_file(path: Path) -> None:
    onnx_ = require("onnx", "onnx")
    model = onnx_.load(str(path))
    strip_debug(model)
    onnx_.save(model, str(path))


# ---- the quantization hook (int8, int8-dynamic, int4) ------------------------------------------------


def _int4_algorithm(cfg, entry: str, ctx):
    """MatMulNBits' rounding for int4 (options.algorithm): None = its default round-to-nearest;
    gptq: onnxruntime's GPTQ, calibrated on the recursion states; hqq: half-quadratic (no data)."""
    if cfg.bits != 4 or cfg.algorithm == "rtn":
        return None
    from onnxruntime.quantization import matmul_nbits_quantizer as mnb

    if cfg.algorithm == "hqq":
        return mnb.HQQWeightOnlyQuantConfig(block_size=32, bits=4, op_types_to_quantize=("MatMul",))
    names = [i["name"] for i in ctx.spec[entry]["inputs"]]
    rows = [dict(zip(names, row)) for row in calibration_feeds(entry, ctx)]

    class Reader(mnb.CalibrationDataReader):   # deep-copied per use by the quantizer: restartable
        def __init__(self):
            self.i = 0

        def get_next(self):
            self.i += 1
            return rows[self.i - 1] if self.i <= len(rows) else None

        def __iter__(self):
            return iter(rows)

    return mnb.GPTQWeightOnlyQuantConfig(Reader(), block_size=128, op_types_to_quantize=("MatMul",))


def quantize(path: Path, entry: str, ctx) -> Path:
    """The int8 / int4 hook (registered precisions: trm_edge.targets): quant_pre_process, then
    MatMulNBits weight-only (8 bits, or 4 for int4) | quantize_static (QDQ, per-channel, QInt8) |
    quantize_dynamic; `init` kept float."""
    cfg = ctx.recipe.quant
    onnx_ = require("onnx", "onnx")
    if entry == "init":                               # kept float (docs/quantization.md), debug text dropped
        _strip_file(path)
        return path
    q = require("onnxruntime.quantization", "onnx")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    pre = path.with_name(f"{path.stem}.pre.onnx")
    out = path.with_name(f"{path.stem}.int8.onnx")
    try:
        # the exporter writes nn.Linear as MatMul(x, Transpose(W)) at each of the T*(n+1) call sites;
        # quant_pre_process's ORT optimizer folds those Transposes and shares the folded weight (measured:
        # one int8 copy per parameter), so MatMul's B is an initializer that gets per-channel weights
        quant_pre_process(str(path), str(pre), skip_symbolic_shape=True)  # ORT symbolic shape inference breaks on SplitToSequence
        model = onnx_.load(str(pre))
        # kept float: a node whose name, or the name of a weight it reads (e.g. "q_head.wt"), matches;
        # at int4 also the heads (quantize.HEADS)
        keep = (*cfg.keep_float, *(rf"(^|\.){h}\." for h in HEADS if cfg.bits == 4))
        exclude = [n.name for n in model.graph.node
                   if any(re.search(rx, name) for rx in keep for name in [n.name, *n.input])]
        linear_ops = ["MatMul", "Gemm"]
        if cfg.bits == 4 or (cfg.weight_only and not cfg.dynamic):
            # int8 weights (symmetric, one scale per output channel and block of 32 inputs), float
            # activations and compute: onnxruntime's MatMulNBits (com.microsoft; runs in onnxruntime
            # and onnxruntime-web). Block 32: K is padded to whole blocks, so 32 wastes least on
            # K = 36 / 64 / 81 / 256 (measured: sudoku9 step 303 KB at 32, 323 KB at 64, 383 KB at 128)
            from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

            # int4: the same operator with bits=4 (the only width onnxruntime-web's WebGPU kernel has)
            wq = MatMulNBitsQuantizer(model, bits=cfg.bits, block_size=32, is_symmetric=True,
                                      nodes_to_exclude=exclude, op_types_to_quantize=("MatMul",),
                                      algo_config=_int4_algorithm(cfg, entry, ctx))
            wq.process()
            wq.model.save_model_to_file(str(out), use_external_data_format=False)
        elif cfg.dynamic or entry == "loop":
            # the in-graph Loop: calibration cannot see tensors inside a Loop body, so its weights
            # are quantized dynamically even in a static recipe (recorded in the manifest recipe)
            q.quantize_dynamic(str(pre), str(out), weight_type=q.QuantType.QInt8, per_channel=True,
                               reduce_range=True,   # 7-bit weights: see the static call below
                               op_types_to_quantize=linear_ops if cfg.ops == "linear" else None,
                               nodes_to_exclude=exclude, extra_options={"EnableSubgraph": True})
        else:
            names = [i["name"] for i in ctx.spec[entry]["inputs"]]
            feeds = iter([dict(zip(names, row)) for row in calibration_feeds(entry, ctx)])

            class Reader(q.CalibrationDataReader):
                def get_next(self):
                    return next(feeds, None)

            method = {"minmax": q.CalibrationMethod.MinMax, "percentile": q.CalibrationMethod.Percentile,
                      "entropy": q.CalibrationMethod.Entropy}[cfg.calib_method]
            q.quantize_static(str(pre), str(out), Reader(), quant_format=q.QuantFormat.QDQ,
                              # reduce_range (7-bit weights): onnxruntime's x86 AVX2/AVX-512 int8
                              # kernels (VPMADDUBSW) saturate on full-range weights; measured on the
                              # bundled model: 0/8 golden answers on x86 vs 8/8 on aarch64 without it
                              per_channel=True, reduce_range=True, activation_type=q.QuantType.QInt8,
                              weight_type=q.QuantType.QInt8, calibrate_method=method,
                              op_types_to_quantize=linear_ops if cfg.ops == "linear" else None,
                              nodes_to_exclude=exclude)
        model = onnx_.load(str(out))
        strip_debug(model)
        onnx_.save(model, str(path))                  # same file name as the fp32 artifact
    finally:
        for p in (pre, out, path.with_name(f"{path.stem}.pre.onnx.data")):
            p.unlink(missing_ok=True)
        for p in ctx.work_dir.glob("*-augmented*.onnx"):  # calibrator scratch files
            p.unlink(missing_ok=True)
    return path
