"""int8 / fp16 post-training quantization, one function per target, each with its ecosystem's own tool.

`quantize(target, obj, entry, ctx)` (below) calls these at each target's hook:

    onnx(path, entry, ctx) -> path               onnxruntime: quant_pre_process + quantize_static
                                                 (QDQ, per-channel, QInt8) | quantize_dynamic
    executorch((module, args), entry, ctx) -> ExportedProgram
                                                 XNNPACK PT2E: prepare_pt2e / calibrate / convert_pt2e
    tflite(path, None, ctx) -> path              ai_edge_quantizer on the converted .tflite, static int8
                                                 calibrated per signature | dynamic_wi8_afp32
    coreml(mlmodel, entry, ctx) -> mlmodel       linear_quantize_weights int8 (runs on Linux) | fp16 |
                                                 W8A8 activations (needs Core ML predictions: macOS)

Precisions: `int8` = int8 weights, per target the recipe in INT8_DEFAULTS (below): weight-only
(float activations and compute) on ONNX and TFLite, static (int8 activations calibrated on real
recursion states from trm_edge.export.calibrate, training puzzles only) on ExecuTorch, weight-only
on Core ML; `int8-dynamic` = int8 weights, activations quantized at run time (no calibration);
`fp16` = Core ML only.

Why weight-only is the default where the tool offers it: the state y, z is re-fed n_sup x T(n+1)
times, and any rounding of activations moves *when* the model halts. Measured on the bundled
sudoku9 model (docs/quantization.md): same halting step as eager on ~0.5 of puzzles with static
int8, ~0.9 with dynamic int8, ~0.93 with weight-only int8; exact accuracy within 1 point of eager
at every depth only with weight-only.

What gets quantized (`[options] ops`, default "linear"): only the matrix multiplies (the SwiGLU
projections of both mixers, and the heads except on TFLite). The residual adds, the RMSNorms, SiLU,
and the state sums (z + y + x, y + z) stay float: the state y, z is re-fed through the net T*(n+1)
times per step and n_sup steps per solve, so it never takes an int8 round trip outside a matmul
(`ops = "all"` quantizes every op the tool supports; docs/quantization.md has the measurements).
The `init` entry point (embedding table + fixed init vectors, a few KB) is kept float everywhere:
its output x feeds every step, so quantizing it adds a fixed error to every call for almost no size.
Size fixes per target (each measured in docs/quantization.md): ONNX drops the exporter's debug
metadata, TFLite shortens litert-torch's module-path tensor names, ExecuTorch rewrites the two ops
XNNPACK cannot delegate (`xnnpack_friendly`) so the step is ~3 partitions instead of ~50.

Recipe options (TOML `[options]`), all optional:
    ops = "linear" | "all"        which ops to quantize (above)
    n_calib = 64                  training puzzles for calibration (x n_sup depths of step samples)
    calib_method = "minmax"       ONNX only: "minmax" | "percentile" | "entropy"
    keep_float = ["regex", ...]   names kept float (mixed precision): ONNX node names, TFLite op
                                  scopes, ExecuTorch FX node / module names
    activations = "int8"          Core ML only: W8A8 (macOS) instead of weight-only int8
    weight_only = true | false    int8 only: int8 weights, float activations and compute (ONNX:
                                  onnxruntime MatMulNBits; TFLite: ai_edge_quantizer weight-only);
                                  false = static int8 activations. ExecuTorch: not offered (XNNPACK)
    gptq = false                  TFLite weight-only: ai_edge_quantizer's GPTQ rounding (calibrated)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import TRMEdgeError, require
from .common import ExportContext, UnsupportedError
from .xnnpack import NORM_MEAN, xnnpack_friendly  # the exporter's own graph rewrite


# the recipe options (module doc) and the type each value must have
OPTIONS = {"ops": str, "n_calib": int, "calib_method": str, "keep_float": list, "activations": str,
           "weight_only": bool, "gptq": bool}
CHOICES = {"ops": ("linear", "all"), "calib_method": ("minmax", "percentile", "entropy"), "activations": ("int8",)}


def check_options(options: dict, where: str = "options") -> dict:
    """Quantizer options given by name (a recipe's [options], `report quant --option K=V`): every
    name known and every value of its type, or one TRMEdgeError (before any export)."""
    for k, v in options.items():
        if k not in OPTIONS:
            raise TRMEdgeError(f"{where}: unknown quantization option {k!r}; known: {', '.join(sorted(OPTIONS))}")
        t = OPTIONS[k]
        if not isinstance(v, t) or (t is int and isinstance(v, bool)) or (t is int and not 1 <= v <= 100_000):
            raise TRMEdgeError(f"{where}: option {k} must be {'an integer in 1..100000' if t is int else t.__name__}, "
                               f"got {v!r}")
        if t is list and not all(isinstance(x, str) for x in v):
            raise TRMEdgeError(f"{where}: option {k} must be a list of strings, got {v!r}")
        if k in CHOICES and v not in CHOICES[k]:
            raise TRMEdgeError(f"{where}: option {k} must be one of {', '.join(CHOICES[k])}, got {v!r}")
    return options


@dataclass(frozen=True)
class QuantConfig:
    precision: str = "int8"            # int8 (static) | int8-dynamic | fp16
    ops: str = "linear"                # "linear": matmuls only; "all": every op the tool quantizes
    n_calib: int = 64                  # training puzzles for calibration
    calib_method: str = "minmax"       # ONNX calibrator
    keep_float: tuple = field(default_factory=tuple)   # regexes of names kept float
    activations: str | None = None     # Core ML: "int8" -> W8A8 (macOS only)
    weight_only: bool = False          # int8 weights, float activations and compute (static recipes)
    gptq: bool = False                 # TFLite weight-only: ai_edge_quantizer's GPTQ rounding (calibrated)

    @property
    def dynamic(self) -> bool:
        return self.precision == "int8-dynamic"

    @classmethod
    def from_recipe(cls, recipe) -> "QuantConfig":
        o = effective_options(recipe.target, recipe.precision, recipe.options)
        unknown = set(o) - set(OPTIONS)
        if unknown:
            raise UnsupportedError(f"unknown quantization option(s) {sorted(unknown)}; known: {sorted(OPTIONS)}")
        for k in ("weight_only", "gptq"):
            if not isinstance(o.get(k, False), bool):
                raise UnsupportedError(f"options.{k} must be true or false, got {o[k]!r}")
        if o.get("weight_only") and recipe.precision != "int8":
            raise UnsupportedError(f"options.weight_only applies to precision int8, not {recipe.precision!r}")
        if o.get("weight_only") and recipe.target == "executorch":
            # XNNPACKQuantizer annotates no weight-only pattern (it dereferences the activation spec),
            # and XNNPACK's int8 linear with float activations is its dynamic one (qd8-f32-qc8w)
            raise UnsupportedError("ExecuTorch (XNNPACK) has no weight-only int8 linear: use precision "
                                   "int8-dynamic (int8 weights, activations quantized per row at run time)")
        if o.get("gptq") and not (o.get("weight_only") and recipe.target == "tflite"):
            raise UnsupportedError("options.gptq applies to TFLite int8 with weight_only = true")
        if o.get("ops", "linear") not in ("linear", "all"):
            raise UnsupportedError(f"options.ops must be 'linear' or 'all', got {o['ops']!r}")
        o["keep_float"] = tuple(o.get("keep_float", ()))
        return cls(precision=recipe.precision, **o)


# The default int8 recipe per target: the configuration that kept exact accuracy per depth and the
# halting step closest to eager fp32 on the bundled models (docs/quantization.md, `trm-edge report
# quant`). ExecuTorch keeps static int8 (XNNPACK has no weight-only linear; int8-dynamic is the
# better of its two there and is its own precision). A recipe's own options override these.
INT8_DEFAULTS = {"onnx": {"weight_only": True}, "tflite": {"weight_only": True}}


def effective_options(target: str, precision: str, options: dict | None) -> dict:
    """A recipe's quantizer options with the target's int8 defaults filled in (recorded in the
    manifest's recipe, so an artifact says how it was quantized)."""
    base = INT8_DEFAULTS.get(target, {}) if precision == "int8" else {}
    return {**base, **(options or {})}


def supported(target: str, precision: str) -> str | None:
    """None if `precision` can be exported for `target` on this host, else why not (no export needed)."""
    if precision == "fp32":
        return None
    if precision == "fp16" and target != "coreml":
        return f"fp16 is a Core ML option (target {target} has int8 and int8-dynamic)"
    if precision == "int8-dynamic" and target == "coreml":
        return "Core ML has no dynamic activation quantization (use int8: weight-only int8)"
    if precision not in ("fp16", "int8", "int8-dynamic"):
        return f"unknown precision {precision!r}"
    return None


def quantize(target: str, obj, entry: str | None, ctx: ExportContext):
    """Apply the recipe's precision at the target's hook; fp32 returns `obj` unchanged.

    Hooks (what `obj` is): onnx -> Path of a written .onnx file (entry "init"/"step"/"forward"/"loop");
    executorch -> (nn.Module wrapper, example_args) before torch.export, returns an ExportedProgram;
    tflite -> Path of the converted .tflite (entry None: all signatures); coreml -> ct.models.MLModel
    of one function. The int8/fp16 implementations are the per-target functions below.
    """
    if ctx.recipe.precision == "fp32":
        return obj
    why = supported(target, ctx.recipe.precision)
    if why:
        raise UnsupportedError(why)
    return {"onnx": onnx, "executorch": executorch, "tflite": tflite, "coreml": coreml}[target](obj, entry, ctx)


def _int8_only(cfg: QuantConfig, target: str) -> None:
    if cfg.precision not in ("int8", "int8-dynamic"):
        raise UnsupportedError(f"precision {cfg.precision!r} is not supported for target {target!r} "
                               "(fp16 is a Core ML option; use int8 or int8-dynamic)")


def calib_config(model, n_puzzles: int):
    """CalibConfig for a model: the splits of the data its checkpoint was trained on (training.json),
    so the disjointness assertion runs against the very test split `trm-edge eval` scores."""
    from .calibrate import CalibConfig

    src = getattr(model, "source_checkpoint", None)
    seed, n_train = 0, None
    if src is not None:
        from ..checkpoint import resolve
        from ..checkpoint import training_data

        try:
            n_train, seed = training_data(resolve(src))
        except TRMEdgeError:  # an in-memory model with a stale source: default splits
            pass
    return CalibConfig(n_puzzles=n_puzzles, data_seed=seed, n_train=n_train)


def _calibration(ctx):
    """The calibration set, computed once per export (init / step / loop share it)."""
    cal = getattr(ctx, "_calibration", None)
    if cal is None:
        from .calibrate import calibration_set

        cfg = QuantConfig.from_recipe(ctx.recipe)
        cal = calibration_set(ctx.model, calib_config(ctx.model, cfg.n_calib))
        ctx._calibration = cal
    return cal


def _feeds(entry: str, ctx) -> list[list[np.ndarray]]:
    """Calibration inputs for one entry point, in its input order, batched to the artifact's batch."""
    cal, B = _calibration(ctx), ctx.recipe.batch
    names = [i["name"] for i in ctx.spec[entry]["inputs"]]
    if entry == "step":
        return [list(b) for b in cal.step_batches(B)]
    feeds = []
    for tok in cal.init_batches(B):
        row = [tok]
        if "puzzle_ids" in names:
            row.append(np.zeros(B, np.int32))
        if entry == "loop":  # max_steps, threshold: run every step (no early exit) so all depths calibrate
            row += [np.array(ctx.model.cfg.n_sup, np.int32), np.array(np.inf, np.float32)]
        feeds.append(row)
    return feeds


# ---- ONNX ------------------------------------------------------------------------------------
def _strip_debug(model) -> None:
    """Drop the exporter's per-node stack traces (metadata_props: debug text, on the bundled model
    twice the weights) and the intermediate shape annotations (value_info; ORT infers them)."""
    for node in model.graph.node:
        del node.metadata_props[:]
    del model.graph.value_info[:]


def onnx(path: Path, entry: str, ctx) -> Path:
    cfg = QuantConfig.from_recipe(ctx.recipe)
    _int8_only(cfg, "onnx")
    onnx_ = require("onnx", "onnx")
    if entry == "init":                               # kept float (module docstring), debug text dropped
        model = onnx_.load(str(path))
        _strip_debug(model)
        onnx_.save(model, str(path))
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
        exclude = [n.name for n in model.graph.node
                   if any(re.search(rx, n.name) for rx in cfg.keep_float)]
        linear_ops = ["MatMul", "Gemm"]
        if cfg.weight_only and not cfg.dynamic:
            # int8 weights (symmetric, one scale per output channel and block of 32 inputs), float
            # activations and compute: onnxruntime's MatMulNBits (com.microsoft; runs in onnxruntime
            # and onnxruntime-web). Block 32: K is padded to whole blocks, so 32 wastes least on
            # K = 36 / 64 / 81 / 256 (measured: sudoku9 step 303 KB at 32, 323 KB at 64, 383 KB at 128)
            from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

            wq = MatMulNBitsQuantizer(model, bits=8, block_size=32, is_symmetric=True,
                                      nodes_to_exclude=exclude, op_types_to_quantize=("MatMul",))
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
            feeds = iter([dict(zip(names, row)) for row in _feeds(entry, ctx)])

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
        _strip_debug(model)
        onnx_.save(model, str(path))                  # same file name as the fp32 artifact
    finally:
        for p in (pre, out, path.with_name(f"{path.stem}.pre.onnx.data")):
            p.unlink(missing_ok=True)
        for p in ctx.work_dir.glob("*-augmented*.onnx"):  # calibrator scratch files
            p.unlink(missing_ok=True)
    return path


# ---- ExecuTorch ------------------------------------------------------------------------------
def _is_norm_mean(node) -> bool:
    w = node.args[1] if len(node.args) > 1 else None
    return getattr(w, "op", None) in ("get_attr", "placeholder") and NORM_MEAN in str(getattr(w, "target", w.name))


def _module_names(node) -> list[str]:
    """Qualified names of the nn.Modules an FX node was traced in (e.g. "model.net.blocks.0.mlp")."""
    return [v[0] for v in (node.meta.get("nn_module_stack") or {}).values()]


def executorch(obj, entry: str, ctx):
    cfg = QuantConfig.from_recipe(ctx.recipe)
    _int8_only(cfg, "executorch")
    import torch

    module, args = obj
    with torch.no_grad():
        if entry == "init":
            return torch.export.export(module, args, strict=False)   # kept float
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
            for row in _feeds(entry, ctx):
                prepared(*(torch.from_numpy(np.ascontiguousarray(a)) for a in row))
        converted = pt2e.convert_pt2e(prepared)
        # convert_pt2e folds each weight into an int8 constant but leaves the fp32 parameter on the
        # module: drop what the graph no longer reads, or the .pte carries both (int8 ~0.5 x fp32)
        converted.graph.eliminate_dead_code()
        converted.delete_all_unused_submodules()
        converted.recompile()
        return torch.export.export(converted, args, strict=False)


# ---- TFLite ----------------------------------------------------------------------------------
# op scopes (output tensor names, which litert-torch takes from module paths) kept float: the heads
TFLITE_KEEP_FLOAT = (r"Linear_lm_head", r"Linear_q_head", r"_logits_output;", r"_q_halt_output;")  # scopes end in ";"

def tflite(path: Path, entry, ctx) -> Path:
    cfg = QuantConfig.from_recipe(ctx.recipe)
    _int8_only(cfg, "tflite")
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
        elif cfg.weight_only:   # int8 weights dequantized to float at load: float compute
            # GPTQ (calibrated: Hessians of each FULLY_CONNECTED's inputs over the recursion states)
            # rounds each weight column to cancel the error of the ones before it
            algo = AlgorithmName.GPTQ if cfg.gptq and op == Op.FULLY_CONNECTED else AlgorithmName.MIN_MAX_UNIFORM_QUANT
            rp.add_weight_only_config(regex=".*", operation_name=op, num_bits=8, algorithm_key=algo)
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
            data[sig] = [dict(zip(names, row)) for row in _feeds(sig, ctx)]
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


# ---- Core ML ---------------------------------------------------------------------------------
def coreml(mlmodel, entry: str, ctx):
    cfg = QuantConfig.from_recipe(ctx.recipe)
    require("coremltools", "coreml")
    if cfg.precision == "fp16":
        # trm_edge.export.coreml already converted with compute_precision=FLOAT16 (fp16 weights and
        # compute, fp32 inputs/outputs with casts at the boundary): nothing left to do here
        return mlmodel
    if cfg.precision == "int8-dynamic":
        raise UnsupportedError("Core ML has no dynamic activation quantization: use precision int8 "
                               "(int8 weights, linear_quantize_weights)")
    _int8_only(cfg, "coreml")
    if entry == "init":
        return mlmodel                                # kept float (module docstring)
    opt = require("coremltools.optimize.coreml", "coreml")
    wconfig = opt.OptimizationConfig(global_config=opt.OpLinearQuantizerConfig(
        mode="linear_symmetric", dtype="int8", granularity="per_channel"))
    if cfg.activations == "int8":
        import platform
        if platform.system() != "Darwin":
            raise TRMEdgeError("Core ML W8A8 (options.activations = 'int8') calibrates activations with "
                               "Core ML predictions, which only run on macOS; on Linux use weight-only int8 "
                               "(drop options.activations)")
        feeds = [dict(zip([i["name"] for i in ctx.spec[entry]["inputs"]], row)) for row in _feeds(entry, ctx)]
        aconfig = opt.OptimizationConfig(global_config=opt.experimental.OpActivationLinearQuantizerConfig(
            mode="linear_symmetric"))
        mlmodel = opt.experimental.linear_quantize_activations(mlmodel, aconfig, feeds)
    return opt.linear_quantize_weights(mlmodel, wconfig)



def coreml_weights(path) -> dict:
    """{function: {"int8_params", "fp16_params", "float_params", "ops": {op type: count}}} of a saved
    .mlpackage, read from its MIL spec (works on Linux, where Core ML cannot predict): the evidence
    that a package's weights really are int8 / fp16. Counts elements of every constant tensor."""
    ct = require("coremltools", "coreml")
    from coremltools.proto import MIL_pb2

    spec = ct.utils.load_spec(str(path))
    names = {MIL_pb2.DataType.Value(n): n for n in ("INT8", "UINT8", "FLOAT16", "FLOAT32")}

    def count(v, acc):
        t = v.type.tensorType
        if v.type.HasField("tensorType") and t.dimensions:
            n = int(np.prod([d.constant.size for d in t.dimensions]))
            key = {"INT8": "int8_params", "UINT8": "int8_params", "FLOAT16": "fp16_params",
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
        acc = {"int8_params": 0, "fp16_params": 0, "float_params": 0, "ops": {}}
        for block in fn.block_specializations.values():
            walk(block, acc)
        out[fname] = acc
    return out
