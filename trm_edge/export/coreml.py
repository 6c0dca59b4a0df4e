"""Core ML via coremltools: `ct.convert(exported_program.run_decompositions({}))` per entry point.

looped   -> one multifunction `model.mlpackage` with functions `init` and `step`
            (ct.utils.MultiFunctionDescriptor + save_multifunction; iOS 18 / macOS 15); Core ML's
            converter rejects torch's while_loop, so there is no in-graph loop.
unrolled -> `model.mlpackage` with the single (default) function `main`, entry point `forward`.
Conversion and saving work on Linux; prediction needs macOS (runtime.backends.CoreMLSession says so).
`spec_summary(path)` reads functions and their input/output names and shapes without predicting.
"""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import torch

from ..errors import missing, require
from .common import ExportContext, entry_modules, example_inputs, source_of, write_artifact, write_manifest
from .quantize import quantize, supported

FILE = "model.mlpackage"


def available() -> str | None:
    return missing("coreml", "coremltools")


def supports(recipe) -> str | None:
    """Looped (multifunction init + step) and unrolled (no in-graph loop); fp16 and weight-only int8
    via trm_edge.export.quantize (no int8-dynamic)."""
    return supported("coreml", recipe.precision)


def _convert(ct, module, spec: dict, recipe):
    args = example_inputs(spec)
    with torch.no_grad():
        ep = torch.export.export(module, args, strict=False).run_decompositions({})
    dtypes = {"int32": np.int32, "float32": np.float32}
    precision = ct.precision.FLOAT16 if recipe.precision == "fp16" else ct.precision.FLOAT32
    return ct.convert(
        ep,
        inputs=[ct.TensorType(name=i["name"], shape=tuple(i["shape"]), dtype=dtypes[i["dtype"]])
                for i in spec["inputs"]],
        outputs=[ct.TensorType(name=o["name"]) for o in spec["outputs"]],
        convert_to="mlprogram",
        minimum_deployment_target=ct.target.iOS18,
        compute_precision=precision,
    )


def export(model, recipe, out_dir: Path):
    ct = require("coremltools", "coreml")
    t0 = time.perf_counter()
    spec, jobs = entry_modules(model, recipe)

    def write(tmp: Path):
        ctx = ExportContext(model, recipe, spec, tmp)
        parts = tmp / ".parts"
        parts.mkdir()
        for entry, module in jobs:
            mlmodel = quantize("coreml", _convert(ct, module, spec[entry], recipe), entry, ctx)
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
