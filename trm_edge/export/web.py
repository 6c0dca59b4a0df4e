"""The web-shaped ONNX graph (`trm-edge export --target onnx --graph web`): the same entry points,
built for runtimes that pay per op (onnxruntime-web in WebAssembly).

What changes against the plain export (trm_edge.export.portable's graph, trm_edge.export.onnx):

1. The model is traced with the sequence mixer's transpose-free form
   (trm_edge.model.SequenceMLP.forward_untransposed): no Transpose around the SwiGLU over L and no
   transposed-layout FusedMatMul (slow in wasm); eager PyTorch keeps `forward`.
2. onnxscript's optimizer folds constants without size limits (the plain graph folds at its default
   limits: SplitToSequence -> Split there too), e.g. forward_untransposed's W of every weight is
   stored as it is used; onnx_ir then keeps one copy of identical folded weights (the recursion
   calls the same layers many times, and folding alone writes one weight per call).
3. onnxruntime's offline optimizer at the EXTENDED level (SessionOptions.optimized_model_filepath):
   standard ONNX ops plus onnxruntime contrib ops (FusedMatMul, QuickGelu, ...), which the wasm
   build of onnxruntime-web runs (it is onnxruntime's CPU execution provider). The result is an
   onnxruntime graph: other ONNX consumers (onnx.reference, converters) should use the plain export.
   ALL (layout transforms for this CPU) is not used: it is not portable.

`trm-edge validate` checks the result against eager PyTorch like any artifact; `op_counts` gives the
node census the export reports (plain vs web, docs/web.md).
"""
from __future__ import annotations

import collections
import copy
import logging
from pathlib import Path

from ..errors import require

GRAPH_LEVEL = "ORT_ENABLE_EXTENDED"   # onnxruntime.GraphOptimizationLevel of the offline pass


def web_model(model):
    """A copy of `model` whose sequence mixers trace without transposes (same weights, same math)."""
    from ..model import SequenceMLP

    web = copy.deepcopy(model)
    for m in web.modules():
        if isinstance(m, SequenceMLP):
            m.forward = m.forward_untransposed
    return web


def op_counts(path: str | Path) -> dict[str, int]:
    """node op_type -> count in the main graph of an .onnx file (most frequent first)."""
    onnx = require("onnx", "onnx")
    c = collections.Counter(n.op_type for n in onnx.load(str(path), load_external_data=False).graph.node)
    return dict(c.most_common())


def web_shape(path: Path) -> None:
    """Rewrite the .onnx at `path` in place: fold constants (Split for SplitToSequence, pre-transposed
    weights), deduplicate the folded weights, then onnxruntime's offline EXTENDED optimizations."""
    ir = require("onnx_ir", "onnx")
    optimizer = require("onnxscript.optimizer", "onnx")
    ort = require("onnxruntime", "onnxruntime")
    from onnx_ir.passes.common import DeduplicateInitializersPass, RemoveUnusedNodesPass

    # init's y and z fold to constants that are graph outputs: onnx_ir warns that it keeps those as they are
    logging.getLogger("onnx_ir.passes.common.initializer_deduplication").setLevel(logging.ERROR)
    model = ir.load(str(path))
    big = 1 << 31   # fold every weight: the defaults skip tensors over 8192 elements
    optimizer.optimize_ir(model, input_size_limit=big, output_size_limit=big)
    DeduplicateInitializersPass(size_limit=big)(model)
    RemoveUnusedNodesPass()(model)
    folded = path.with_name(path.stem + ".folded.onnx")
    ir.save(model, str(folded))
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, GRAPH_LEVEL)
    opts.optimized_model_filepath = str(path)   # onnxruntime writes the optimized graph over the plain one
    ort.InferenceSession(str(folded), opts, providers=["CPUExecutionProvider"])
    folded.unlink()
