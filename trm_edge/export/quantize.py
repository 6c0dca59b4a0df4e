"""int8 / int4 / fp16 post-training quantization: what every target's hook shares (the options, the
calibration set). Each target's hook is `quantize(obj, entry, ctx)` in its own module
(trm_edge/export/<target>.py), with its ecosystem's own tool; which precisions a target offers and
its default int8 options are in its registration (trm_edge/targets.py). What each precision is per
target, the options and the measurements behind the defaults: docs/quantization.md.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import targets
from ..errors import TRMEdgeError
from .common import UnsupportedError


# the recipe options (module doc) and the type each value must have
OPTIONS = {"ops": str, "n_calib": int, "calib_method": str, "keep_float": list, "activations": str,
           "weight_only": bool, "gptq": bool, "algorithm": str}
CHOICES = {"ops": ("linear", "all"), "calib_method": ("minmax", "percentile", "entropy"), "activations": ("int8", "dynamic"),
           "algorithm": ("rtn", "gptq", "hqq")}


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
    precision: str = "int8"            # int8 (static) | int8-dynamic | int4 | fp16
    ops: str = "linear"                # "linear": matmuls only; "all": every op the tool quantizes
    n_calib: int = 64                  # training puzzles for calibration
    calib_method: str = "minmax"       # ONNX calibrator
    keep_float: tuple = field(default_factory=tuple)   # regexes of names kept float
    activations: str | None = None     # Core ML: "int8" -> W8A8 (macOS only); "dynamic": int8 as int8-dynamic
    weight_only: bool = False          # int8 weights, float activations and compute (static recipes)
    gptq: bool = False                 # TFLite weight-only / int4: ai_edge_quantizer's GPTQ rounding (calibrated)
    algorithm: str = "rtn"             # ONNX int4: MatMulNBits rounding: rtn | gptq (calibrated) | hqq

    @property
    def dynamic(self) -> bool:
        """Activations quantized per row at run time: int8-dynamic, or int8 with activations = "dynamic"
        (ExecuTorch's default int8: XNNPACK qd8-f32-qc8w, int8 arithmetic and no calibration)."""
        return self.precision == "int8-dynamic" or self.activations == "dynamic"

    @property
    def bits(self) -> int:
        """Weight bits: 4 for int4 (4-bit weights, per block of 32 inputs or per channel), else 8."""
        return 4 if self.precision == "int4" else 8

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
        if o.get("activations") == "dynamic" and (recipe.precision != "int8" or recipe.target == "coreml"):
            raise UnsupportedError("options.activations = 'dynamic' applies to precision int8 of onnx, executorch, "
                                   "tflite (Core ML has no dynamic activation quantization)")
        if o.get("activations") == "dynamic" and o.get("weight_only"):
            raise UnsupportedError("options.activations = 'dynamic' quantizes activations: not with weight_only = true")
        if o.get("gptq") and not ((o.get("weight_only") or recipe.precision == "int4") and recipe.target == "tflite"):
            raise UnsupportedError("options.gptq applies to TFLite int4, and int8 with weight_only = true")
        if o.get("algorithm", "rtn") != "rtn" and not (recipe.target == "onnx" and recipe.precision == "int4"):
            raise UnsupportedError("options.algorithm applies to ONNX int4 (MatMulNBits: rtn, gptq, hqq)")
        if o.get("algorithm", "rtn") not in CHOICES["algorithm"]:
            raise UnsupportedError(f"options.algorithm must be one of {', '.join(CHOICES['algorithm'])}, got {o['algorithm']!r}")
        if o.get("ops", "linear") not in ("linear", "all"):
            raise UnsupportedError(f"options.ops must be 'linear' or 'all', got {o['ops']!r}")
        o["keep_float"] = tuple(o.get("keep_float", ()))
        return cls(precision=recipe.precision, **o)


# The answer and halting heads (module names): D x V + D weights, nothing worth saving, and they decide
# the answer and the halting step. Kept float at int4 on ONNX and ExecuTorch (TFLite keeps them float at
# every precision: tflite.TFLITE_KEEP_FLOAT). Measured on the 4x4 test fixture, ONNX int4: largest gap
# to eager over depths 11.5 pts with the heads at 4 bits, 2.5 pts kept float (docs/quantization.md).
HEADS = ("lm_head", "q_head")


# The default int8 recipe per target (its registration's `int8`): the configuration that kept exact
# accuracy per depth and the halting step closest to eager fp32 on the bundled models
# (docs/quantization.md, `trm-edge report quant`). A recipe's own options override these.
INT8_DEFAULTS = {t.name: t.int8 for t in targets.REGISTRY if t.int8}


def effective_options(target: str, precision: str, options: dict | None) -> dict:
    """A recipe's quantizer options with the target's int8 defaults filled in (recorded in the
    manifest's recipe, so an artifact says how it was quantized)."""
    base = INT8_DEFAULTS.get(target, {}) if precision == "int8" else {}
    return {**base, **(options or {})}


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

        cal = calibration_set(ctx.model, calib_config(ctx.model, ctx.recipe.quant.n_calib))
        ctx._calibration = cal
    return cal


def calibration_feeds(entry: str, ctx) -> list[list[np.ndarray]]:
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
