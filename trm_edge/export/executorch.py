"""ExecuTorch: one `model.pte`, lowered to XNNPACK.

looped   -> methods `init` and `step` in the same program (to_edge_transform_and_lower with a dict
            of exported programs); ExecuTorch rejects torch's while_loop, so there is no in-graph loop.
unrolled -> method `forward` at a fixed depth K.
Runtime: executorch.runtime.Runtime.get().load_program(path).load_method(name).execute([...]).
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import torch

from .. import targets
from ..errors import missing, require
from .common import ExportContext, entry_modules, example_inputs, source_of, write_artifact, write_manifest
from .quantize import HEADS, calibration_feeds
from .xnnpack import NORM_MEAN, xnnpack_friendly

FILE = "model" + targets.get("executorch").suffix   # model.pte


def available() -> str | None:
    return missing("executorch", "executorch.exir", "executorch.backends.xnnpack.partition.xnnpack_partitioner")


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
                programs[entry] = quantize((module, args), entry, ctx)
        edge = exir.to_edge_transform_and_lower(programs, partitioner=[xnn.XnnpackPartitioner()])
        (tmp / FILE).write_bytes(edge.to_executorch().buffer)
        entries = {e: {"file": FILE, "method": e, **spec[e]} for e, _ in jobs}
        return write_manifest(tmp, model, recipe, entries, source=source_of(model),
                              seconds=time.perf_counter() - t0, tools=("executorch",))

    return write_artifact(out_dir, recipe, write)


# ---- what runs outside the delegate -----------------------------------------------------------
# ops outside a delegate that move or view data but compute nothing (ExecuTorch's portable kernels)
DATA_MOVEMENT = ("aten::select_copy", "aten::squeeze_copy", "aten::unsqueeze_copy", "aten::expand_copy",
                 "aten::view_copy", "aten::slice_copy", "dim_order_ops::_to_dim_order_copy")


def outside_delegates(pte: Path | bytes) -> dict[str, dict[str, int]]:
    """Per method of a .pte, the instructions that do not run in a delegate: "op::name" -> count, read
    from the program itself (ExecuTorch's own flatbuffer deserializer, executorch.exir.schema), plus
    "delegate:<backend>" -> the number of delegate calls. docs/export.md#executorch-delegate-coverage."""
    ser = require("executorch.exir._serialize._program", "executorch")
    schema = require("executorch.exir.schema", "executorch")
    data = pte if isinstance(pte, bytes) else Path(pte).read_bytes()
    out = {}
    for plan in ser.deserialize_pte_binary(data).program.execution_plan:
        ops: dict[str, int] = {}
        for chain in plan.chains:
            for ins in chain.instructions:
                a = ins.instr_args
                if isinstance(a, schema.KernelCall):
                    key = plan.operators[a.op_index].name
                elif isinstance(a, schema.DelegateCall):
                    key = f"delegate:{plan.delegates[a.delegate_index].id}"
                else:   # control flow (jumps, moves, frees): no kernel
                    continue
                ops[key] = ops.get(key, 0) + 1
        out[plan.name] = ops
    return out


def compute_outside(ops: dict[str, int]) -> dict[str, int]:
    """The compute ops among one method's outside_delegates (data movement and delegate calls dropped)."""
    return {k: v for k, v in ops.items() if not k.startswith("delegate:") and k not in DATA_MOVEMENT}


# ---- the quantization hook (int8, int8-dynamic, int4) ------------------------------------------------
def _is_norm_mean(node) -> bool:
    w = node.args[1] if len(node.args) > 1 else None
    return getattr(w, "op", None) in ("get_attr", "placeholder") and NORM_MEAN in str(getattr(w, "target", w.name))


def _module_names(node) -> list[str]:
    """Qualified names of the nn.Modules an FX node was traced in (e.g. "model.net.blocks.0.mlp")."""
    return [v[0] for v in (node.meta.get("nn_module_stack") or {}).values()]


def quantize(obj, entry: str, ctx):
    """The int8 hook: (module, example args) -> ExportedProgram, XNNPACK PT2E prepare_pt2e /
    calibrate / convert_pt2e (static, or dynamic for int8-dynamic); `init` kept float."""
    cfg = ctx.recipe.quant
    import torch

    module, args = obj
    with torch.no_grad():
        if entry == "init":
            return torch.export.export(module, args, strict=False)   # kept float
        if cfg.bits == 4:
            return _int4(module, args, cfg)
        pt2e = require("torchao.quantization.pt2e.quantize_pt2e", "executorch")
        xq = require("executorch.backends.xnnpack.quantizer.xnnpack_quantizer", "executorch")
        qconfig = xq.get_symmetric_quantization_config(is_per_channel=True, is_dynamic=cfg.dynamic)
        quantizer = xq.XNNPACKQuantizer()
        if cfg.ops == "linear":
            quantizer.set_operator_type(torch.ops.aten.linear.default, qconfig)
        else:
            quantizer.set_global(qconfig)
        # set_module_name(name, None) is refused by XNNPACKQuantizer: keep_float is a filter instead;
        # the mean-as-linear of the RMSNorms (below) stays float too
        quantizer.set_filter_function(lambda n: not _is_norm_mean(n) and not any(
            re.search(rx, name) for rx in cfg.keep_float for name in [n.name, *_module_names(n)]))
        gm = torch.export.export(module, args, strict=False).module()
        gm = torch.export.export(xnnpack_friendly(gm), args, strict=False).module()  # fresh node metadata
        prepared = pt2e.prepare_pt2e(gm, quantizer)
        if cfg.dynamic:  # no activation ranges to calibrate, but the weight observers must see the weights
            prepared(*args)
        else:
            for row in calibration_feeds(entry, ctx):
                prepared(*(torch.from_numpy(np.ascontiguousarray(a)) for a in row))
        converted = pt2e.convert_pt2e(prepared)
        # convert_pt2e folds each weight into an int8 constant but leaves the fp32 parameter on the
        # module: drop what the graph no longer reads, or the .pte carries both (int8 ~0.5 x fp32)
        converted.graph.eliminate_dead_code()
        converted.delete_all_unused_submodules()
        converted.recompile()
        return torch.export.export(converted, args, strict=False)


INT4_GROUP = 32   # inputs per 4-bit weight scale (layers whose K is not a multiple: one scale per channel)


def _int4(module, args, cfg):
    """int4: torchao Int8DynamicActivationIntxWeightConfig on a copy of the module's nn.Linear layers:
    int4 weights symmetric per group of INT4_GROUP inputs, int8 activations per token at run time
    (XNNPACK's qd8-f32-qb4w linear). A layer whose K is not a multiple of INT4_GROUP (the token
    mixer's first linear: K = seq_len) keeps int8 weights per channel (qd8-f32-qc8w): XNNPACK's
    4-bit linear needs group_size % 32 == 0, and torchao's per-channel int4 is a group of K.
    keep_float: regexes of module names left float; the heads (quantize.HEADS) stay float too."""
    import copy

    import torch
    from torchao.quantization import Int8DynamicActivationIntxWeightConfig, quantize_
    from torchao.quantization.granularity import PerAxis, PerGroup

    module = copy.deepcopy(module)   # the wrappers share the model: quantize a copy
    linear = lambda grouped: lambda m, fqn: (  # noqa: E731
        isinstance(m, torch.nn.Linear) and (m.in_features % INT4_GROUP == 0) == grouped
        and not any(re.search(rx, fqn) for rx in (*cfg.keep_float, *(rf"(^|\.){h}$" for h in HEADS))))
    for grouped, dtype, gran in ((True, torch.int4, PerGroup(INT4_GROUP)), (False, torch.int8, PerAxis(0))):
        quantize_(module, Int8DynamicActivationIntxWeightConfig(weight_dtype=dtype, weight_granularity=gran),
                  filter_fn=linear(grouped))
    gm = torch.export.export(module, args, strict=False).module()
    return torch.export.export(xnnpack_friendly(gm), args, strict=False)   # fresh node metadata
