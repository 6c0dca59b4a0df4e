"""The ONNX graph every consumer takes whole (what `trm-edge export --target onnx` writes), and one
copy of the weights per artifact.

Graphs (init, step, forward): static shapes and only operators on the lists of ORT Mobile's NNAPI
and Core ML MLProgram execution providers (onnxruntime.tools.mobile_helpers), so that
`python -m onnxruntime.tools.check_onnx_model_mobile_usability step.onnx` finds one partition
(plus the ArgMax of `preds` at the tail, which stays on the CPU). Every rewrite is exact:

    torch side (portable_model, a copy of the eager model; same weights):
      nn.Linear      -> MatMul(x, W^T) with W^T stored once (no Transpose node per call site)
      nn.Embedding   -> one-hot(ids) @ table (MLProgram has no Gather; exact: one 1.0, zeros else)
                        for tables of up to ONEHOT_MAX_ROWS rows (an ARC puzzle table keeps Gather)
      initial y, z   -> x * 0 + y_init (exact for finite x): an optimizer cannot fold it into
                        (B, L, D) constants stored in the file (quant_pre_process folds the Expand)
    graph side (portable_graph, on the exported .onnx):
      chunk's SplitToSequence + SequenceAt -> Split      (onnxscript's constant folder)
      Reciprocal(x) (torch.rsqrt)          -> Div(1, x)   (NNAPI has no Reciprocal)
      Neg(x) (RoPE's rotate_half)          -> Mul(x, -1)  (MLProgram has no Neg)
      Gather(x, constant scalar i) (y[:, 0]) -> Slice(x, i, i + 1) + Squeeze
      the exporter's per-node stack traces (metadata_props) and value_info are dropped

Weights (share_weights): loop.onnx (the in-graph loop) uses the same tensors as step.onnx and
init.onnx; each of its initializers whose bytes are already in one of those files becomes ONNX
external data pointing at them (location = that file, offset, length), so the artifact holds each
weight once while init.onnx and step.onnx stay single files (the page and ORT Mobile load them from
bytes). onnxruntime resolves the location next to loop.onnx; the manifest's sha256 of every file
pins the bytes the offsets point at.
"""
from __future__ import annotations

import copy
import types
from pathlib import Path

import torch
from torch import nn

from ..errors import require

ONEHOT_MAX_ROWS = 4096      # embedding tables up to this many rows are looked up as one-hot @ table
SHARE_MIN_BYTES = 256       # loop.onnx tensors at least this big are shared with step / init


class MatMulT(nn.Module):
    """nn.Linear as x @ W^T + b with W^T stored once, contiguous (in, out): one initializer, the
    MatMul's constant B (what the int8 quantizers expect), no Transpose node."""

    def __init__(self, lin: nn.Linear):
        super().__init__()
        self.register_buffer("wt", lin.weight.detach().t().contiguous())
        self.register_buffer("b", None if lin.bias is None else lin.bias.detach().clone())

    @property
    def weight(self):   # (out, in), as nn.Linear's (SequenceMLP.forward_untransposed reads it)
        return self.wt.t()

    def forward(self, x):
        y = torch.matmul(x, self.wt)
        return y if self.b is None else y + self.b


class OneHotEmbedding(nn.Module):
    """nn.Embedding as one-hot(ids) @ table: the one-hot row is max(0, 1 - (id - r)^2) over rows r,
    exactly 1.0 at r = id and 0.0 elsewhere (integer ids below 2^24), so the product is the row."""

    def __init__(self, emb: nn.Embedding):
        super().__init__()
        self.register_buffer("table", emb.weight.detach().clone())
        self.register_buffer("rows", torch.arange(emb.weight.shape[0], dtype=torch.float32))

    def forward(self, ids):
        d = ids.to(torch.float32).unsqueeze(-1) - self.rows
        return torch.matmul(torch.clamp(1.0 - d * d, min=0.0), self.table)


def _initial_state(self, x):
    zero = x * 0.0
    return zero + self.y_init.to(x.dtype), zero + self.z_init.to(x.dtype)


def portable_model(model):
    """A copy of `model` with the torch-side rewrites of the module doc (same weights, same math)."""
    out = copy.deepcopy(model).eval()
    out.initial_state = types.MethodType(_initial_state, out)
    for parent in list(out.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.Linear):
                setattr(parent, name, MatMulT(child))
            elif isinstance(child, nn.Embedding) and child.weight.shape[0] <= ONEHOT_MAX_ROWS:
                setattr(parent, name, OneHotEmbedding(child))
    return out


# ---- graph side --------------------------------------------------------------------------------
def fold(path: Path) -> None:
    """onnxscript's optimizer at its default size limits (SplitToSequence -> Split, shape arithmetic
    folded), leaving Expand alone (folding it writes (B, L, D) constants); then one initializer per
    distinct tensor, whatever its size."""
    ir = require("onnx_ir", "onnx")
    optimizer = require("onnxscript.optimizer", "onnx")
    from onnx_ir.passes.common import DeduplicateInitializersPass

    model = ir.load(str(path))
    optimizer.optimize_ir(model, should_fold=lambda node: False if node.op_type == "Expand" else None)
    DeduplicateInitializersPass(size_limit=1 << 31)(model)   # e.g. every attention block's RoPE tables
    ir.save(model, str(path))


def graphs(g):
    """An onnx GraphProto and every subgraph in it (a Loop's body, If branches), depth first."""
    yield g
    for n in g.node:
        for a in n.attribute:
            if a.HasField("g"):
                yield from graphs(a.g)
            for sub in a.graphs:
                yield from graphs(sub)


def strip_debug(model) -> None:
    """Drop the exporter's per-node stack traces (metadata_props: debug text, on the bundled model
    twice the weights; in loop.onnx's body 20x) and the intermediate shape annotations (value_info;
    ORT infers them), in every (sub)graph."""
    for g in graphs(model.graph):
        for node in g.node:
            del node.metadata_props[:]
        del g.value_info[:]


def portable_graph(path: Path) -> None:
    """Rewrite the .onnx at `path` in place: fold, then the exact op rewrites of the module doc."""
    onnx = require("onnx", "onnx")
    from onnx import TensorProto, helper, numpy_helper

    fold(path)
    model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    g = model.graph
    floats = {v.name for v in [*g.value_info, *g.input, *g.output]
              if v.type.tensor_type.elem_type == TensorProto.FLOAT}
    consts = {t.name: t for t in g.initializer}
    extra, nodes = [], []

    def const(name, value, dtype="float32"):
        import numpy as np
        if name not in consts:
            consts[name] = numpy_helper.from_array(np.array(value, dtype=dtype), name)
            extra.append(consts[name])
        return name

    for n in g.node:
        if n.op_type == "Reciprocal" and n.input[0] in floats:
            nodes.append(helper.make_node("Div", [const("portable_one", 1.0), n.input[0]], list(n.output), n.name))
        elif n.op_type == "Neg" and n.input[0] in floats:
            nodes.append(helper.make_node("Mul", [n.input[0], const("portable_minus_one", -1.0)], list(n.output), n.name))
        elif n.op_type == "Gather" and n.input[1] in consts and not consts[n.input[1]].dims:
            i = int(numpy_helper.to_array(consts[n.input[1]]))
            axis = next((a.i for a in n.attribute if a.name == "axis"), 0)
            if i < 0:
                nodes.append(n)
                continue
            s = n.output[0] + "_slice"
            nodes += [helper.make_node("Slice", [n.input[0], const(f"portable_i{i}", [i], "int64"),
                                                 const(f"portable_i{i + 1}", [i + 1], "int64"),
                                                 const(f"portable_i{axis}", [axis], "int64")], [s], n.name + "_slice"),
                      helper.make_node("Squeeze", [s, const(f"portable_i{axis}", [axis], "int64")],
                                       list(n.output), n.name)]
        else:
            nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(extra)
    strip_debug(model)
    onnx.save(model, str(path))


def share_weights(path: Path, sources: list[Path]) -> int:
    """Point every initializer of the .onnx at `path` (subgraphs included) whose bytes are found in
    one of `sources` (files next to it) at those bytes, as ONNX external data; -> bytes shared."""
    onnx = require("onnx", "onnx")
    from onnx.external_data_helper import set_external_data

    blobs = [(p.name, p.read_bytes()) for p in sources]
    model = onnx.load(str(path))
    shared = 0

    for g in graphs(model.graph):
        for t in g.initializer:
            raw = t.raw_data
            if len(raw) < SHARE_MIN_BYTES:
                continue
            for name, blob in blobs:
                at = blob.find(raw)
                if at >= 0:
                    set_external_data(t, location=name, offset=at, length=len(raw))
                    t.data_location = onnx.TensorProto.EXTERNAL
                    t.ClearField("raw_data")
                    shared += len(raw)
                    break
    onnx.save(model, str(path))
    return shared


# ---- onnxruntime's own check for ORT Mobile ----------------------------------------------------
MOBILE_EPS = {"NNAPI": None, "MLProgram": "coreml_supported_mlprogram_ops.md"}


def mobile_partitions(path: Path) -> dict[str, dict]:
    """What `python -m onnxruntime.tools.check_onnx_model_mobile_usability` computes for an .onnx,
    through its own functions (the BASIC-level optimization it runs first, the shape inference, the
    partitioning per EP with fixed input sizes required): EP -> {"partitions", "supported", "nodes",
    "unsupported_ops"}."""
    import tempfile

    require("onnxruntime", "onnxruntime")
    from onnxruntime.tools.mobile_helpers import usability_checker as uc
    from onnxruntime.tools.onnx_model_utils import ModelProtoWithShapeInfo, optimize_model

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        opt = Path(tmp) / Path(path).name
        optimize_model(Path(path), opt, use_external_initializers=True)
        model = ModelProtoWithShapeInfo(opt.resolve()).model_with_shape_info
        for ep, ops in MOBILE_EPS.items():
            info = (uc.check_nnapi_partitions(model, True) if ops is None else
                    uc.check_coreml_partitions(model, True, ops))
            out[ep] = {"partitions": info.num_partitions, "supported": info.num_supported_nodes,
                       "nodes": info.num_nodes, "unsupported_ops": sorted(info.unsupported_ops)}
    return out
