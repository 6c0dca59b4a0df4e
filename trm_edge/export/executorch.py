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

from ..errors import missing, require
from .common import ExportContext, entry_modules, example_inputs, source_of, write_artifact, write_manifest
from .quantize import quantize, supported
from .xnnpack import xnnpack_friendly

FILE = "model.pte"


def available() -> str | None:
    return missing("executorch", "executorch.exir", "executorch.backends.xnnpack.partition.xnnpack_partitioner")


def supports(recipe) -> str | None:
    """Looped (init + step methods) and unrolled (no in-graph loop, see the module doc); int8 and
    int8-dynamic via trm_edge.export.quantize."""
    return supported("executorch", recipe.precision)


def export(model, recipe, out_dir: Path):
    exir = require("executorch.exir", "executorch")
    xnn = require("executorch.backends.xnnpack.partition.xnnpack_partitioner", "executorch")
    t0 = time.perf_counter()
    spec, jobs = entry_modules(model, recipe)

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
