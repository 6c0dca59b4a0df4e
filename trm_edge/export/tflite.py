"""TFLite (LiteRT) via litert-torch: one `model.tflite` with named signatures.

looped   -> signatures `init` and `step` (litert_torch.signature(...).signature(...).convert());
            litert-torch has no lowering for torch's while_loop, so there is no in-graph loop.
unrolled -> signature `forward` at a fixed depth K.
Inputs are passed as keyword arguments and outputs returned as a dict, so the signature's input and
output names are the manifest's names (tokens, x, y, z, y_next, ...). Tokens are int32 (TFLite would
downcast int64 anyway). Runtime: ai_edge_litert Interpreter(...).get_signature_runner(name).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .. import targets
from ..errors import TRMEdgeError, missing, require
from .common import ExportContext, entry_modules, example_inputs, source_of, write_artifact, write_manifest
from .quantize import calibration_feeds

FILE = "model" + targets.get("tflite").suffix   # model.tflite


def available() -> str | None:
    return missing("tflite", "litert_torch", "ai_edge_litert.interpreter")


class Named(nn.Module):
    """Keyword inputs -> dict outputs, so TFLite signatures carry the manifest's tensor names."""

    def __init__(self, inner: nn.Module, spec: dict):
        super().__init__()
        self.inner = inner
        self.in_names = [i["name"] for i in spec["inputs"]]
        self.out_names = [o["name"] for o in spec["outputs"]]

    def forward(self, **kwargs):
        outs = self.inner(*(kwargs[n] for n in self.in_names))
        return dict(zip(self.out_names, outs))


def export(model, recipe, out_dir: Path):
    litert_torch = require("litert_torch", "tflite")
    t0 = time.perf_counter()
    spec, jobs = entry_modules(model, recipe)

    def write(tmp: Path):
        ctx = ExportContext(model, recipe, spec, tmp)
        conv = None
        for entry, module in jobs:
            kwargs = dict(zip((i["name"] for i in spec[entry]["inputs"]), example_inputs(spec[entry])))
            named = Named(module, spec[entry]).eval()
            conv = (litert_torch.signature if conv is None else conv.signature)(entry, named, sample_kwargs=kwargs)
        with torch.no_grad():
            conv.convert().export(str(tmp / FILE))
        path = tmp / FILE if recipe.precision == "fp32" else quantize(tmp / FILE, None, ctx)
        entries = {e: {"file": path.name, "method": e, **spec[e]} for e, _ in jobs}
        return write_manifest(tmp, model, recipe, entries, source=source_of(model),
                              seconds=time.perf_counter() - t0, tools=("litert-torch", "ai-edge-litert"))

    return write_artifact(out_dir, recipe, write)


# ---- the quantization hook (int8, int8-dynamic, int4) ------------------------------------------
# op scopes (output tensor names, which litert-torch takes from module paths) kept float: the heads
TFLITE_KEEP_FLOAT = (r"Linear_lm_head", r"Linear_q_head", r"_logits_output;", r"_q_halt_output;")  # scopes end in ";"

def quantize(path: Path, entry, ctx) -> Path:
    """The int8 / int4 hook on the converted .tflite (entry None: every signature): ai_edge_quantizer
    weight-only int8 or int4 per channel (GPTQ optional) | static, calibrated per signature | dynamic int8."""
    cfg = ctx.recipe.quant
    aeq = require("ai_edge_quantizer.quantizer", "tflite")
    rm = require("ai_edge_quantizer.recipe_manager", "tflite")
    qtyping = require("ai_edge_quantizer.qtyping", "tflite")
    from ai_edge_quantizer.algorithm_manager import AlgorithmName
    Op = qtyping.TFLOperationName

    ops = [Op.FULLY_CONNECTED, Op.BATCH_MATMUL] if cfg.ops == "linear" else [Op.ALL_SUPPORTED]
    rp = rm.RecipeManager()
    for op in ops:
        if cfg.dynamic:
            rp.add_dynamic_config(regex=".*", operation_name=op, num_bits=8)
        elif cfg.weight_only or cfg.bits == 4:   # int8 / int4 weights dequantized to float: float compute
            # GPTQ (calibrated: Hessians of each FULLY_CONNECTED's inputs over the recursion states)
            # rounds each weight column to cancel the error of the ones before it
            algo = AlgorithmName.GPTQ if cfg.gptq and op == Op.FULLY_CONNECTED else AlgorithmName.MIN_MAX_UNIFORM_QUANT
            rp.add_weight_only_config(regex=".*", operation_name=op, num_bits=cfg.bits, algorithm_key=algo,
                                      granularity=qtyping.QuantGranularity.CHANNELWISE)
        else:
            rp.add_static_config(regex=".*", operation_name=op, activation_num_bits=8, weight_num_bits=8)
    # float in / float out: the host loop and the apps exchange float32 state with every runtime
    for op in (Op.INPUT, Op.OUTPUT):
        rp.add_quantization_config(regex=".*", operation_name=op, algorithm_key=AlgorithmName.NO_QUANTIZE)
    # the heads stay float: their outputs (logits, and y_next that feeds them) are signature outputs;
    # quantized, logits came back int8 and XNNPACK left y_next / logits unmaterialized ("Tensor data
    # is null") -- and they are D x V + D weights, nothing to save
    for rx in (*TFLITE_KEEP_FLOAT, *cfg.keep_float):
        rp.add_quantization_config(regex=rx, operation_name=Op.ALL_SUPPORTED,
                                   algorithm_key=AlgorithmName.NO_QUANTIZE)
    quantizer = aeq.Quantizer(str(path))
    quantizer.load_quantization_recipe(rp.get_quantization_recipe())
    calibration = None
    if quantizer.need_calibration:
        from ai_edge_litert.interpreter import Interpreter

        sigs = Interpreter(str(path)).get_signature_list()    # signature -> {"inputs": [names]}
        data = {}
        for sig, io in sigs.items():
            names = [i["name"] for i in ctx.spec[sig]["inputs"]]  # the signatures carry these names
            if sorted(names) != sorted(io["inputs"]):
                raise TRMEdgeError(f"tflite signature {sig!r} inputs {io['inputs']} != manifest {names}")
            data[sig] = [dict(zip(names, row)) for row in calibration_feeds(sig, ctx)]
        calibration = quantizer.calibrate(data)
    result = quantizer.quantize(calibration)
    out = path.with_name(f"{path.stem}.int8.tflite")
    result.export_model(str(out), overwrite=True)
    _short_tensor_names(out)
    _check_float_io(out, ctx)
    out.replace(path)
    return path


def _short_tensor_names(path: Path) -> None:
    """Rename tensors to t<index>: litert-torch names each one after its full module path (~200 bytes
    x ~500 tensors = ~100 KB of debug text, as much as the int8 weights of a small model). Runtimes
    address tensors through the signature defs (their own names, kept), never by tensor name.
    (ai_edge_litert's flatbuffer_utils.strip_strings would also drop the signature defs.)"""
    fb = require("ai_edge_litert.tools.flatbuffer_utils", "tflite")
    model = fb.read_model(str(path))
    for sg in model.subgraphs:
        for i, t in enumerate(sg.tensors):
            t.name = f"t{i}"
    fb.write_model(model, str(path))


def _check_float_io(path: Path, ctx) -> None:
    """Every signature input / output keeps the manifest's dtype (the host loop exchanges float32)."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(str(path))
    want = {"float32": np.float32, "int32": np.int32}
    for sig in interp.get_signature_list():
        runner = interp.get_signature_runner(sig)
        got = {**runner.get_input_details(), **runner.get_output_details()}
        for t in ctx.spec[sig]["inputs"] + ctx.spec[sig]["outputs"]:
            if got[t["name"]]["dtype"] != want[t["dtype"]]:
                raise TRMEdgeError(f"tflite quantization changed {sig}.{t['name']} to "
                                   f"{np.dtype(got[t['name']]['dtype']).name} (manifest: {t['dtype']})")
