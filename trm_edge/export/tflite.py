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

import torch
from torch import nn

from ..errors import missing, require
from .common import ExportContext, entry_modules, example_inputs, source_of, write_artifact, write_manifest
from .quantize import quantize, supported

FILE = "model.tflite"


def available() -> str | None:
    return missing("tflite", "litert_torch", "ai_edge_litert.interpreter")


def supports(recipe) -> str | None:
    """Looped (init + step signatures) and unrolled (no in-graph loop, see the module doc); int8 and
    int8-dynamic via trm_edge.export.quantize."""
    return supported("tflite", recipe.precision)


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
        path = quantize("tflite", tmp / FILE, None, ctx)
        entries = {e: {"file": path.name, "method": e, **spec[e]} for e, _ in jobs}
        return write_manifest(tmp, model, recipe, entries, source=source_of(model),
                              seconds=time.perf_counter() - t0, tools=("litert-torch", "ai-edge-litert"))

    return write_artifact(out_dir, recipe, write)
