"""The export targets, registered once: plain data, no torch, no runtime (docs/export.md#adding-a-target).

A target is one exporter module (`module`: export, available, supports?, quantize hook) and one
entry in REGISTRY below. Everything that lists or dispatches targets derives from it: the manifest's
enum (trm_edge.artifact.TARGETS), the runtime's sessions (trm_edge.runtime.backends.SESSIONS), the
exporter lookup and the precision check (trm_edge.export), the CLI's choices and defaults.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

PRECISIONS = ("fp32", "fp16", "int8", "int8-dynamic", "int4")   # every precision an artifact may have


@dataclass(frozen=True)
class Target:
    name: str                      # manifest "target", artifact names <target>-<precision>-<mode>
    module: str                    # its exporter (imports torch): export(model, recipe, out_dir), quantize hook
    session: str                   # "module:Class" of its runtime Session (torch-free)
    precisions: tuple[str, ...]    # what it exports; a recipe with another precision is refused up front
    suffix: str                    # the model file's suffix
    int8: dict = field(default_factory=dict, hash=False)   # its default int8 quantizer options
    refusals: dict = field(default_factory=dict, hash=False)   # precision -> why it is not offered
    runs_on: tuple[str, ...] | None = None   # sys.platform values its runtime predicts on (None: any)
    # manifest "min_runtime": runtime -> the oldest release its artifacts were measured to run on, as the
    # current pip runtime runs them (scripts/check_app_runtimes.py installs exactly these from pip and
    # compares every precision's looped artifact; the Android app refuses an artifact whose minimum is
    # newer than the runtime it ships: android_demo/core AppRuntimes). Empty: not measured, no field.
    min_runtime: dict = field(default_factory=dict, hash=False)


REGISTRY = (
    Target("onnx", "trm_edge.export.onnx", "trm_edge.runtime.backends:OnnxSession",
           ("fp32", "int8", "int8-dynamic", "int4"), ".onnx", int8={"weight_only": True}),
    Target("executorch", "trm_edge.export.executorch", "trm_edge.runtime.backends:ExecuTorchSession",
           ("fp32", "int8", "int8-dynamic", "int4"), ".pte", int8={"activations": "dynamic"},
           min_runtime={"executorch": "1.4.1"}),   # = the AAR the app pins (org.pytorch:executorch-android)
    Target("coreml", "trm_edge.export.coreml", "trm_edge.runtime.backends:CoreMLSession",
           ("fp32", "fp16", "int8", "int4"), ".mlpackage", runs_on=("darwin",),
           refusals={"int8-dynamic": "Core ML has no dynamic activation quantization (use int8: weight-only int8)"}),
    Target("tflite", "trm_edge.export.tflite", "trm_edge.runtime.backends:TFLiteSession",
           ("fp32", "int8", "int8-dynamic", "int4"), ".tflite", int8={"weight_only": True},
           min_runtime={"litert": "1.4.0"}),   # pip ai-edge-litert 1.4.0 = LiteRT v1.4.0; the app's AAR: 1.4.1
)
BY_NAME = {t.name: t for t in REGISTRY}
TARGETS = tuple(BY_NAME)            # onnx, executorch, coreml, tflite
DEFAULT = TARGETS[0]                # `trm-edge export` without --target or recipe


def get(name: str) -> Target:
    """The registered target `name`; ValueError names the choices."""
    if name not in BY_NAME:
        raise ValueError(f"unknown target {name!r}; choose from {', '.join(TARGETS)}")
    return BY_NAME[name]


def supported(target: str, precision: str) -> str | None:
    """None if `target` exports `precision`, else why not (the one precision check: no export needed)."""
    t = get(target)
    if precision in t.precisions:
        return None
    if precision not in PRECISIONS:
        return f"unknown precision {precision!r}; choose from {', '.join(PRECISIONS)}"
    others = [o.name for o in REGISTRY if precision in o.precisions]
    return t.refusals.get(precision) or (f"{precision} is not offered for target {target} (it has "
                                         f"{', '.join(t.precisions)}; {precision}: {', '.join(others)})")


def runs_here(target: str, platform: str = sys.platform) -> bool:
    """Whether the target's runtime can predict on this OS (Core ML: macOS only)."""
    runs_on = get(target).runs_on
    return runs_on is None or platform in runs_on


def portable() -> tuple[str, ...]:
    """The targets whose runtime runs on any OS (`trm-edge demo --export`)."""
    return tuple(t.name for t in REGISTRY if t.runs_on is None)
