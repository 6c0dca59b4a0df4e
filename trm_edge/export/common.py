"""What every export target shares, written once: the wrapper modules and entry points, example
inputs, the manifest's model-dependent fields (schema, hashing and writing: trm_edge.artifact),
output naming and the quantizer's context (the hooks themselves: `quantize` in each target module).

Entry points (the contract, see docs/export-internals.md):

    looped    init(tokens int32 (B, S) [, puzzle_ids int32 (B,)]) -> x, y, z      float32 (B, L, D)
              step(x, y, z) -> y_next, z_next (B, L, D), logits float32 (B, S, V),
                               preds int32 (B, S) (argmax of logits), q_halt float32 (B,)
    unrolled  forward(tokens [, puzzle_ids]) -> preds int32 (K, B, S), logits float32 (K, B, S, V),
                               q_halt float32 (K, B)      -- one row per supervision step 1..K
    loop      (ONNX only) forward(tokens [, puzzle_ids], max_steps int32 (), threshold float32 ())
                               -> preds int32 (B, S), halted_at int32 (B,), q_halt float32 (B,),
                                  logits float32 (B, S, V), steps int32 ()

S = seq_len (output cells), L = puzzle_emb_len + seq_len, D = d_model, V = vocab_size.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .. import artifact
from ..artifact import Artifact
from ..checkpoint import weights_sha256
from ..errors import TRMEdgeError


class UnsupportedError(TRMEdgeError):
    """An unknown target or a combination of target / mode / precision that is not supported."""


# ---- wrappers around TinyRecursiveModel ---------------------------------------------------------
class Init(nn.Module):
    """init(tokens[, puzzle_ids]) -> (x, y, z): embed the question, fixed initial answer / latent."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.eval()  # exporters trace inference: no dropout/BN here, but keep the flag honest

    def forward(self, tokens: torch.Tensor, puzzle_ids: torch.Tensor | None = None):
        x = self.model.embed(tokens, puzzle_ids)      # (B, L, D)
        y, z = self.model.initial_state(x)            # (B, L, D) each
        return x, y, z


def _supervision_step(model, x, y, z):
    """Same math as TinyRecursiveModel.step, without its no_grad block (exporters trace it plainly)."""
    for _ in range(model.cfg.T):
        y, z = model.recursion(x, y, z)
    logits, q_halt = model.heads(y)                   # (B, S, V), (B,)
    return y, z, logits, q_halt


class Step(nn.Module):
    """step(x, y, z) -> (y, z, logits, preds, q_halt): one supervision step (T recursions + heads)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.eval()  # exporters trace inference: no dropout/BN here, but keep the flag honest

    def forward(self, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor):
        y, z, logits, q_halt = _supervision_step(self.model, x, y, z)
        preds = logits.argmax(-1).to(torch.int32)     # (B, S)
        return y, z, logits, preds, q_halt


class Unrolled(nn.Module):
    """forward(tokens[, puzzle_ids]) -> per-step (preds, logits, q_halt) for K supervision steps."""

    def __init__(self, model, depth: int):
        super().__init__()
        self.model, self.depth = model, depth
        self.eval()

    def forward(self, tokens: torch.Tensor, puzzle_ids: torch.Tensor | None = None):
        x = self.model.embed(tokens, puzzle_ids)
        y, z = self.model.initial_state(x)
        preds, logits, qs = [], [], []
        for _ in range(self.depth):
            y, z, lg, q = _supervision_step(self.model, x, y, z)
            logits.append(lg)
            preds.append(lg.argmax(-1).to(torch.int32))
            qs.append(q)
        return torch.stack(preds), torch.stack(logits), torch.stack(qs)   # (K,B,S) (K,B,S,V) (K,B)


# ---- names, shapes, example inputs -------------------------------------------------------------
def io_spec(cfg, mode: str, batch: int, depth: int | None = None) -> dict[str, dict]:
    """Entry point -> {"inputs": [...], "outputs": [...]}, each {"name", "shape", "dtype"}."""
    B, S, L, D, V = batch, cfg.seq_len, cfg.total_len, cfg.d_model, cfg.vocab_size

    def t(name, shape, dtype="float32"):
        return {"name": name, "shape": list(shape), "dtype": dtype}

    question = [t("tokens", (B, S), "int32")]
    if cfg.puzzle_emb_len > 0:
        question.append(t("puzzle_ids", (B,), "int32"))
    state = [t(n, (B, L, D)) for n in ("x", "y", "z")]
    if mode == "looped":
        return {
            "init": {"inputs": question, "outputs": state},
            "step": {"inputs": state,
                     "outputs": [t("y_next", (B, L, D)), t("z_next", (B, L, D)), t("logits", (B, S, V)),
                                 t("preds", (B, S), "int32"), t("q_halt", (B,))]},
        }
    if mode == "unrolled":
        K = depth
        return {"forward": {"inputs": question,
                            "outputs": [t("preds", (K, B, S), "int32"), t("logits", (K, B, S, V)),
                                        t("q_halt", (K, B))]}}
    if mode == "loop":
        return {"loop": {"inputs": question + [t("max_steps", (), "int32"), t("threshold", ())],
                         "outputs": [t("preds", (B, S), "int32"), t("halted_at", (B,), "int32"),
                                     t("q_halt", (B,)), t("logits", (B, S, V)), t("steps", (), "int32")]}}
    raise UnsupportedError(f"unknown mode {mode!r}")


def entry_modules(model, recipe) -> tuple[dict, list[tuple[str, nn.Module]]]:
    """(io_spec, [(entry point, wrapper module)]) of a recipe: looped -> init + step, unrolled ->
    forward at the recipe's depth. Every exporter starts from this (ONNX adds its loop)."""
    cfg = model.cfg
    if recipe.mode == "looped":
        return io_spec(cfg, "looped", recipe.batch), [("init", Init(model)), ("step", Step(model))]
    return io_spec(cfg, "unrolled", recipe.batch, recipe.depth), [("forward", Unrolled(model, recipe.depth))]


def example_inputs(spec: dict) -> tuple[torch.Tensor, ...]:
    """Tensors matching an entry point's inputs (values are irrelevant to the exported graph)."""
    out = []
    for i in spec["inputs"]:
        if i["dtype"] == "int32":
            out.append(torch.ones(i["shape"], dtype=torch.int32))
        else:
            out.append(torch.randn(i["shape"], dtype=torch.float32))
    return tuple(out)


def artifact_name(recipe) -> str:
    """<target>-<precision>-<mode>[-d<depth>][-web] (the bench names runtimes the same way)."""
    name = f"{recipe.target}-{recipe.precision}-{recipe.mode}"
    name += f"-d{recipe.depth}" if recipe.mode == "unrolled" and recipe.depth else ""
    return name + ("-web" if getattr(recipe, "graph", "plain") == "web" else "")


# ---- quantization hook -------------------------------------------------------------------------
@dataclass
class ExportContext:
    """Everything a quantizer may need at its target's hook (see docs/export-internals.md)."""
    model: Any                      # TinyRecursiveModel (eval, fp32)
    recipe: Any                     # Recipe
    spec: dict                      # io_spec(...) of the artifact being written
    work_dir: Path                  # the artifact's (temporary) directory


# ---- the manifest (schema, reader and writer: trm_edge.artifact) ---------------------------------
def write_manifest(root: Path, model, recipe, entry_points: dict, *, source: str | None,
                   seconds: float, tools: tuple[str, ...] = (), extra: dict | None = None) -> dict:
    """Write root/manifest.json; `entry_points`: name -> {"file", "method"?, "inputs", "outputs"}."""
    cfg = model.cfg
    block = artifact.model_block(cfg, params=sum(p.numel() for p in model.parameters()),
                                 puzzle_rows=getattr(model, "puzzle_rows", None))
    return artifact.write_manifest(
        root, name=artifact_name(recipe), target=recipe.target, mode=recipe.mode, precision=recipe.precision,
        depth=recipe.depth, batch=recipe.batch, task=artifact.task_info(cfg), model=block,
        entry_points=entry_points, source={"checkpoint": source, "weights_sha256": weights_sha256(model)},
        recipe=asdict(recipe), seconds=seconds, tools=tools, extra=extra)


def write_artifact(out_dir: Path, recipe, write_fn) -> Artifact:
    """Atomically create out_dir/<artifact_name>: write_fn(tmp_dir) writes files + manifest and
    returns the manifest. A failed export leaves no partial artifact behind. Files the previous
    artifact's manifest listed are replaced; any other file there is kept (trm_edge.export.export
    refused a foreign folder before the work, unless forced)."""
    from ..safe_io import atomic_write_dir

    target = Path(out_dir) / artifact_name(recipe)
    box: dict = {}

    def write(tmp: Path):
        box["manifest"] = write_fn(tmp)

    atomic_write_dir(target, write, owned=artifact.owned_files, force=True)
    return Artifact(target, box["manifest"])


def source_of(model) -> str | None:
    """The checkpoint a model was loaded from, if the loader recorded it."""
    src = getattr(model, "source_checkpoint", None)
    return os.fspath(src) if src is not None else None
