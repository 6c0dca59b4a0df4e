"""Core ML via coremltools: `ct.convert(exported_program.run_decompositions({}))` per entry point.

looped   -> one multifunction `model.mlpackage` with functions `init` and `step`
            (ct.utils.MultiFunctionDescriptor + save_multifunction; iOS 18 / macOS 15); Core ML's
            converter rejects torch's while_loop, so there is no in-graph loop.
unrolled -> `model.mlpackage` with the single (default) function `main`, entry point `forward`.
Conversion and saving work on Linux; prediction needs macOS (runtime.backends.CoreMLSession says so).
`spec_summary(path)` reads functions and their input/output names and shapes without predicting.
"""
from __future__ import annotations

import logging
import re
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from .. import targets
from ..errors import TRMEdgeError, missing, require
from .common import ExportContext, entry_modules, example_inputs, source_of, write_artifact, write_manifest
from .quantize import HEADS, calibration_feeds

FILE = "model" + targets.get("coreml").suffix   # model.mlpackage


def available() -> str | None:
    return missing("coreml", "coremltools")


def _not_a_skipped_fold(record) -> bool:
    return "is skipped in const elimination pass" not in record.getMessage()


def _convert(ct, module, spec: dict, recipe, entry: str):
    args = example_inputs(spec)
    pipeline = ct.PassPipeline()   # the default passes
    if entry == "init":
        # const elimination would fold the fixed init vectors' broadcast into two (B, L, D) weight blobs
        # (3.75 MB at maze-att, 916 x 512): nothing larger than a D-vector is folded in init, the
        # broadcast runs at call time
        pipeline.set_options("common::const_elimination", {"skip_const_by_size": str(module.model.cfg.d_model)})
    with torch.no_grad():
        ep = torch.export.export(module, args, strict=False).run_decompositions({})
    dtypes = {"int32": np.int32, "float32": np.float32}
    precision = ct.precision.FLOAT16 if recipe.precision == "fp16" else ct.precision.FLOAT32
    log = logging.getLogger("coremltools")
    log.addFilter(_not_a_skipped_fold)   # one warning per skipped fold and pass run, for this conversion only
    try:
        return ct.convert(
            ep,
            inputs=[ct.TensorType(name=i["name"], shape=tuple(i["shape"]), dtype=dtypes[i["dtype"]])
                    for i in spec["inputs"]],
            outputs=[ct.TensorType(name=o["name"]) for o in spec["outputs"]],
            convert_to="mlprogram",
            minimum_deployment_target=ct.target.iOS18,
            compute_precision=precision,
            pass_pipeline=pipeline,
        )
    finally:
        log.removeFilter(_not_a_skipped_fold)


def export(model, recipe, out_dir: Path):
    ct = require("coremltools", "coreml")
    t0 = time.perf_counter()
    spec, jobs = entry_modules(model, recipe)

    def write(tmp: Path):
        ctx = ExportContext(model, recipe, spec, tmp)
        parts = tmp / ".parts"
        parts.mkdir()
        for entry, module in jobs:
            mlmodel = _convert(ct, module, spec[entry], recipe, entry)
            if recipe.precision != "fp32":
                mlmodel = quantize(mlmodel, entry, ctx)
            mlmodel.save(str(parts / f"{entry}.mlpackage"))
        if recipe.mode == "looped":
            desc = ct.utils.MultiFunctionDescriptor()
            for entry, _ in jobs:
                desc.add_function(str(parts / f"{entry}.mlpackage"), src_function_name="main",
                                  target_function_name=entry)
            desc.default_function_name = "step"
            ct.utils.save_multifunction(desc, str(tmp / FILE))
            entries = {e: {"file": FILE, "method": e, **spec[e]} for e, _ in jobs}
        else:
            shutil.move(str(parts / "forward.mlpackage"), str(tmp / FILE))
            entries = {"forward": {"file": FILE, "method": "main", **spec["forward"]}}
        shutil.rmtree(parts)
        return write_manifest(tmp, model, recipe, entries, source=source_of(model),
                              seconds=time.perf_counter() - t0, tools=("coremltools",))

    return write_artifact(out_dir, recipe, write)


def spec_summary(path: str | Path) -> dict:
    """{function: {"inputs": {name: shape}, "outputs": {name: shape}}} from a saved .mlpackage,
    without loading it for prediction (works on Linux). Single-function packages report "main"."""
    ct = require("coremltools", "coreml")
    spec = ct.utils.load_spec(str(path))
    desc = spec.description

    def shapes(features):
        out = {}
        for f in features:
            arr = f.type.multiArrayType
            out[f.name] = [int(d) for d in arr.shape]
        return out

    if len(desc.functions):
        return {f.name: {"inputs": shapes(f.input), "outputs": shapes(f.output)} for f in desc.functions}
    return {"main": {"inputs": shapes(desc.input), "outputs": shapes(desc.output)}}


# ---- the quantization hook (fp16, int8, int4) --------------------------------------------------
def quantize(mlmodel, entry: str, ctx):
    """The fp16 / int8 hook on one function's MLModel: fp16 is the conversion's (nothing to do),
    int8 (per channel) / int4 (per block of 32) linear_quantize_weights (runs on Linux), W8A8 activations with options.activations (macOS)."""
    cfg = ctx.recipe.quant
    require("coremltools", "coreml")
    if cfg.precision == "fp16":
        # trm_edge.export.coreml already converted with compute_precision=FLOAT16 (fp16 weights and
        # compute, fp32 inputs/outputs with casts at the boundary): nothing left to do here
        return mlmodel
    if entry == "init":
        return mlmodel                                # kept float (docs/quantization.md)
    opt = require("coremltools.optimize.coreml", "coreml")
    keep = kept_float(mlmodel, ctx.model, cfg)
    wconfig = opt.OptimizationConfig(global_config=opt.OpLinearQuantizerConfig(
        mode="linear_symmetric", dtype="int8", granularity="per_channel"), op_name_configs=keep)
    if cfg.bits == 4:
        # int4 weights, one scale per output channel and block of 32 inputs (iOS 18); coremltools skips
        # a weight whose K is not a multiple of 32 (the token mixer's first linear, K = seq_len): the
        # int8 per-channel pass after it takes those
        mlmodel = opt.linear_quantize_weights(mlmodel, opt.OptimizationConfig(global_config=opt.OpLinearQuantizerConfig(
            mode="linear_symmetric", dtype="int4", granularity="per_block", block_size=32), op_name_configs=keep))
    if cfg.activations == "int8":
        import platform
        if platform.system() != "Darwin":
            raise TRMEdgeError("Core ML W8A8 (options.activations = 'int8') calibrates activations with "
                               "Core ML predictions, which only run on macOS; on Linux use weight-only int8 "
                               "(drop options.activations)")
        feeds = [dict(zip([i["name"] for i in ctx.spec[entry]["inputs"]], row)) for row in calibration_feeds(entry, ctx)]
        aconfig = opt.OptimizationConfig(global_config=opt.experimental.OpActivationLinearQuantizerConfig(
            mode="linear_symmetric"))
        mlmodel = opt.experimental.linear_quantize_activations(mlmodel, aconfig, feeds)
    return opt.linear_quantize_weights(mlmodel, wconfig)



def kept_float(mlmodel, model, cfg) -> dict:
    """{weight const: None} (coremltools' op_name_configs: not compressed) for the nn.Linear weights kept
    float: options.keep_float (regexes of module names) and, at int4, the heads (quantize.HEADS), as on
    ONNX and ExecuTorch. torch.export names a weight const p_<wrapper>_<module path, . -> _>_weight."""
    rxs = (*cfg.keep_float, *(rf"(^|\.){h}$" for h in HEADS if cfg.bits == 4))
    fqns = [n for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear) and any(re.search(rx, n) for rx in rxs)]
    if not fqns:
        return {}
    names = [op.outputs[0].name for fn in mlmodel.get_spec().mlProgram.functions.values()
             for block in fn.block_specializations.values() for op in block.operations if op.type == "const"]
    return {w: None for w in names for f in fqns if w.endswith("_" + f.replace(".", "_") + "_weight")}


def coreml_weights(path) -> dict:
    """{function: {"int8_params", "int4_params", "fp16_params", "float_params", "ops": {op type: count}}} of a saved
    .mlpackage, read from its MIL spec (works on Linux, where Core ML cannot predict): the evidence
    that a package's weights really are int8 / int4 / fp16. Counts elements of every constant tensor."""
    ct = require("coremltools", "coreml")
    from coremltools.proto import MIL_pb2

    spec = ct.utils.load_spec(str(path))
    names = {MIL_pb2.DataType.Value(n): n for n in ("INT8", "UINT8", "INT4", "UINT4", "FLOAT16", "FLOAT32")}

    def count(v, acc):
        t = v.type.tensorType
        if v.type.HasField("tensorType") and t.dimensions:
            n = int(np.prod([d.constant.size for d in t.dimensions]))
            key = {"INT8": "int8_params", "UINT8": "int8_params", "INT4": "int4_params", "UINT4": "int4_params",
                   "FLOAT16": "fp16_params",
                   "FLOAT32": "float_params"}.get(names.get(t.dataType))
            if key:
                acc[key] += n

    def walk(block, acc):
        for op in block.operations:
            acc["ops"][op.type] = acc["ops"].get(op.type, 0) + 1
            for v in op.attributes.values():        # const ops: attribute "val"
                count(v, acc)
            for arg in op.inputs.values():          # constexpr_* ops: int8 data / scales bound inline
                for b in arg.arguments:
                    if b.HasField("value"):
                        count(b.value, acc)
            for b in op.blocks:
                walk(b, acc)

    out = {}
    for fname, fn in spec.mlProgram.functions.items():
        acc = {"int8_params": 0, "int4_params": 0, "fp16_params": 0, "float_params": 0, "ops": {}}
        for block in fn.block_specializations.values():
            walk(block, acc)
        out[fname] = acc
    return out
