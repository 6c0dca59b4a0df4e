"""Export the recursive core: a registry of targets (one module each), recipes, `export()`.

    from trm_edge.export import Recipe, export
    art = export(model, Recipe(target="onnx", mode="looped"), "artifacts")   # -> artifacts/onnx-fp32-looped/

A recipe is target x precision x mode x depth x batch; recipes live as small TOML files in the
package folder `trm_edge/recipes/` (`trm-edge export --recipe onnx-fp32-looped`). A target is one
module here and one registration in trm_edge/targets.py (its precisions, runtime Session, file
suffix). Every target module (onnx, executorch, coreml, tflite) exposes the same functions:
`available() -> str | None` (None when usable, else why not), `export(model, recipe, out_dir) ->
Artifact`, its quantization hook `quantize(obj, entry, ctx)` (non-fp32 precisions), and optionally
`supports(recipe) -> str | None` (a combination it refuses beyond its registered precisions).
Heavy backends are imported inside those modules, lazily.
"""
from __future__ import annotations

import importlib
import logging
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

from .. import package_data, targets
from ..artifact import GRAPHS, MODES, PRECISIONS, TARGETS   # one list each; targets: trm_edge.targets
from ..errors import TRMEdgeError
from ..schema import MAX_BATCH, MAX_DEPTH, recipe as recipe_schema
from .common import Artifact, UnsupportedError, artifact_name

RECIPE_DIR = package_data.path("recipes")   # trm_edge/recipes/*.toml (package data)


@dataclass(frozen=True)
class Recipe:
    target: str = targets.DEFAULT  # onnx | executorch | coreml | tflite (trm_edge.targets)
    mode: str = "looped"           # looped (init + step, host loop) | unrolled (one graph, K steps)
    precision: str = "fp32"        # fp32 here; int8 / fp16 via trm_edge.export.quantize
    depth: int | None = None       # unrolled: supervision steps K (None -> the model's n_sup)
    batch: int = 1                 # static batch of every entry point (sessions chunk to it)
    in_graph_loop: bool = True     # onnx looped: also write loop.onnx (whole recursion in an ONNX Loop)
    graph: str = "plain"           # onnx: "web" = shaped for onnxruntime-web (trm_edge.export.web; no loop.onnx)
    opset: int = 18                # ONNX opset
    options: dict = field(default_factory=dict, hash=False)  # target/quantizer-specific settings
    name: str | None = None        # recipe file name, if it came from one

    def resolved(self, cfg) -> "Recipe":
        """Fill model-dependent defaults (depth), check the combination (once per export) and, for a
        non-fp32 precision, build its quantizer settings (`quant`, once: the hooks read them)."""
        r = self
        if r.mode == "unrolled" and r.depth is None:
            r = replace(r, depth=cfg.n_sup)
        if r.mode == "looped" and r.depth is not None:
            r = replace(r, depth=None)
        if r.graph == "web" and r.in_graph_loop:   # the page drives init + step; loop.onnx is not for it
            r = replace(r, in_graph_loop=False)
        if r.precision != "fp32":   # the target's default int8 recipe, written into the manifest
            from .quantize import effective_options
            r = replace(r, options=effective_options(r.target, r.precision, r.options))
        r.check()
        if r.precision != "fp32":
            from .quantize import QuantConfig
            object.__setattr__(r, "_quant", QuantConfig.from_recipe(r))   # not a field: not in the manifest
        object.__setattr__(r, "_resolved_for", cfg)   # export() of this model takes it as it is
        return r

    @property
    def quant(self):
        """The QuantConfig of a resolved non-fp32 recipe (`resolved` built it)."""
        q = getattr(self, "_quant", None)
        if q is None:
            raise TRMEdgeError(f"recipe {artifact_name(self)} is not a resolved quantized recipe (Recipe.resolved)")
        return q

    def check(self) -> None:
        if self.target not in TARGETS:
            raise UnsupportedError(f"unknown target {self.target!r}; choose from {', '.join(TARGETS)}")
        if self.mode not in MODES:
            raise UnsupportedError(f"unknown mode {self.mode!r}; choose from {', '.join(MODES)}")
        if self.precision not in PRECISIONS:
            raise UnsupportedError(f"unknown precision {self.precision!r}; choose from {', '.join(PRECISIONS)}")
        if self.graph not in GRAPHS:
            raise UnsupportedError(f"unknown graph {self.graph!r}; choose from {', '.join(GRAPHS)}")
        if self.graph != "plain" and self.target != "onnx":
            raise UnsupportedError(f"graph {self.graph!r} is a shape of the ONNX graph (onnxruntime-web), "
                                   f"not of {self.target}")
        if not 1 <= self.batch <= MAX_BATCH:
            raise UnsupportedError(f"batch must be in [1, {MAX_BATCH}], got {self.batch}")
        if self.depth is not None and not 1 <= self.depth <= MAX_DEPTH:
            raise UnsupportedError(f"depth must be in [1, {MAX_DEPTH}] (unrolled: K copies of the step in one "
                                   f"graph), got {self.depth}")
        why = targets.supported(self.target, self.precision)   # the one precision check (its registration)
        supports = getattr(target_module(self.target), "supports", None)   # what else its exporter refuses
        why = why or (supports(self) if supports else None)
        if why:
            raise UnsupportedError(f"{artifact_name(self)}: {why}")

    @classmethod
    def load(cls, name_or_path: str | Path) -> "Recipe":
        """A recipe from a TOML file: an explicit path, or NAME -> trm_edge/recipes/NAME.toml."""
        try:
            import tomllib
        except ImportError:  # Python 3.10
            import tomli as tomllib
        p = Path(name_or_path)
        if not p.is_file():
            p = RECIPE_DIR / f"{name_or_path}.toml"
        if not p.is_file():
            raise TRMEdgeError(f"no recipe {str(name_or_path)!r} (available: {', '.join(recipe_names()) or 'none'})")
        try:
            data = tomllib.loads(p.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
            raise TRMEdgeError(f"recipe {p} is not valid TOML: {e}") from None
        recipe_schema(data, f"recipe {p}", TARGETS, MODES, PRECISIONS, GRAPHS)
        data.setdefault("name", p.stem)
        return cls(**data)


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPE_DIR.glob("*.toml")) if RECIPE_DIR.is_dir() else []


def target_module(target: str):
    """A registered target's exporter module (trm_edge.targets: its `module`)."""
    if target not in TARGETS:
        raise UnsupportedError(f"unknown target {target!r}; choose from {', '.join(TARGETS)}")
    return importlib.import_module(targets.get(target).module)


def load_source(checkpoint=None, puzzles: str | None = None):
    """Load a checkpoint (path or bundled name; None -> the bundled default) for export, recording
    where it came from (bundled models by name, so manifests stay machine-independent).
    puzzles: keep only those rows of the puzzle-embedding table (trm_edge/export/puzzles.py)."""
    from ..checkpoint import BUNDLED_DIR, load_model
    from ..model import keep_puzzle_rows

    model, d = load_model(checkpoint)
    d = Path(d).resolve()
    model.source_checkpoint = d.name if d.parent == BUNDLED_DIR.resolve() else str(d)
    if puzzles is not None:
        from .puzzles import puzzle_ids_from
        try:
            model = keep_puzzle_rows(model, puzzle_ids_from(puzzles))
        except ValueError as e:
            raise TRMEdgeError(f"--puzzles: {e}") from None
    return model


def plan(recipe: str | None = None, target: str | None = None, mode: str | None = None,
         default_targets: tuple[str, ...] | None = None, graph: str | None = None,
         default_graph: str | None = None, **over) -> list[Recipe]:
    """The recipes of one `trm-edge export`: a recipe (name or TOML; else the defaults) with `target`
    and `mode` on top (each may be "all"), `default_targets` when neither names a target (--for-app),
    `over` (depth, precision, batch: None keeps the recipe's), and the ONNX graph shape: `graph`, else
    `default_graph` (--for-app web: "web") for an fp32 export that names no recipe."""
    base = Recipe.load(recipe) if recipe else Recipe()
    targets = list(TARGETS) if target == "all" else [target or base.target]
    if default_targets and not target and not recipe:
        targets = list(default_targets)
    modes = list(MODES) if mode == "all" else [mode or base.mode]
    over = {k: v for k, v in over.items() if v is not None}
    if over.get("depth") is not None and "unrolled" not in modes:
        raise TRMEdgeError("--depth goes with --mode unrolled (a looped artifact runs any number of steps)")
    recipes = [replace(base, target=t, mode=m, **over) for t in targets for m in modes]
    if graph is None and default_graph and not recipe and over.get("precision", "fp32") == "fp32":
        graph = default_graph
    if graph is not None:   # an ONNX graph shape: the other targets keep theirs
        if graph != "plain" and "onnx" not in targets:
            raise TRMEdgeError(f"--graph {graph} shapes the ONNX graph; the targets are {', '.join(targets)}")
        recipes = [replace(r, graph=graph) if r.target == "onnx" else r for r in recipes]
    return recipes


def export_all(model, recipes: list[Recipe], out_dir: str | Path, force: bool = False, log=None) -> list[Artifact]:
    """Every recipe's artifact into out_dir; all combinations are checked before the first export."""
    recipes = [r.resolved(model.cfg) for r in recipes]
    t0, arts = time.perf_counter(), []
    for r in recipes:
        arts.append(export(model, r, out_dir, force=force))
        if log:
            a = arts[-1]
            r = a.weight_ratio
            log(f"{a.name:<28} {a.size_bytes / 1024:8.0f} KiB  {'' if r is None else f'{r:.2f}x weights':>13}  "
                f"{a.seconds:6.1f} s  {a.path}")
    if log and len(recipes) > 1:
        log(f"total {time.perf_counter() - t0:.1f} s for {len(recipes)} artifacts")
    return arts


def export(model, recipe: Recipe, out_dir: str | Path, force: bool = False) -> Artifact:
    """Export `model` as described by `recipe` into out_dir/<target>-<precision>-<mode>[-dK]/.
    An existing folder there is replaced only if it is an artifact (its manifest lists the files
    it owns) or with force; files in it that trm-edge did not write are kept. A recipe that
    `Recipe.resolved` already resolved for this model (export_all) is not resolved again."""
    from ..artifact import owned_files
    from ..safe_io import check_dir_target

    if getattr(recipe, "_resolved_for", None) != model.cfg:
        recipe = recipe.resolved(model.cfg)
    mod = target_module(recipe.target)
    why = mod.available()
    if why:
        raise UnsupportedError(f"target {recipe.target} is not available here: {why}")
    check_dir_target(Path(out_dir) / artifact_name(recipe), owned_files, force, "trm-edge artifact")
    model = model.eval().cpu()
    # torch 2.13's exporters log chatter a user cannot act on: a pytree deprecation (FutureWarning)
    # and, for ONNX, one line per torchvision op it skips registering (torchvision is not a dependency).
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*LeafSpec.*", category=FutureWarning)
        return mod.export(model, recipe, Path(out_dir))


__all__ = ["Artifact", "Recipe", "TARGETS", "MODES", "PRECISIONS", "GRAPHS", "UnsupportedError", "export", "export_all",
           "plan",
           "recipe_names", "target_module", "artifact_name", "load_source"]
