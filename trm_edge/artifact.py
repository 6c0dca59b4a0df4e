"""The artifact on disk, in one place: its manifest schema, the one reader and the one writer.

An artifact is a directory: `manifest.json` plus the model file(s) it names. Everything that reads
an artifact (the runtime, the bench, `validate`, the apps installer) goes through `read()`, which
validates the manifest and verifies the sha256 and size of every file before anything is loaded;
the exporters write it through `write_manifest()`. This module needs only the standard library
(no torch, no numpy), so a runtime-only install can read artifacts.

Manifest, format "trm-edge-artifact/1" (fields are only ever added under this id; a change that
removes or re-means a field bumps the number, and readers refuse formats they do not know):

    format          "trm-edge-artifact/1"
    name            "<target>-<precision>-<mode>[-d<depth>][-web]"
    target          onnx | executorch | coreml | tflite
    mode            looped (entry points init + step [+ loop]) | unrolled (entry point forward)
    precision       fp32 | fp16 | int8 | int8-dynamic | int4
    depth           unrolled: supervision steps K in the graph; looped: null
    graph           optional, onnx only: "web" = the graph shaped for onnxruntime-web (trm_edge.export.web);
                    absent or "plain" = the portable graph (trm_edge.export.portable)
    batch           static batch of every entry point (sessions feed any N in chunks of it)
    task            {"name", "vocab_size", "seq_len", "tokens": {...}, "board": [...]}  (the apps read it)
    model           {"seq_len", "vocab_size", "puzzle_emb_len", "n_puzzle_ids", "n_sup",
                     "halt_threshold", "d_model", "total_len", ..., "config": TRMConfig as a dict}
    state           {"x"|"y"|"z": {"shape": [B, L, D], "dtype": "float32"}}
    entry_points    name -> {"file", "method"?, "inputs": [{"name", "shape", "dtype"}], "outputs": [...]}
    files           relative path -> {"sha256", "bytes"}: every file of the artifact but the manifest
    source          {"checkpoint": name or path or null, "weights_sha256": sha256 of the eager weights}
    min_runtime     optional: runtime -> oldest release measured to run the artifact (trm_edge.targets
                    Target.min_runtime; the Android app refuses an artifact whose minimum it does not meet)
    recipe, trm_edge_version, tools, host, exported_at, export_seconds   (provenance)
"""
from __future__ import annotations

import hashlib
import json
import platform
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ArtifactError
from .safe_io import NAME_RE, inside
from .schema import (MAX_BATCH, MAX_DEPTH, MAX_N_SUP, TASK, Int, Num, SchemaError, Str, Type, check_fields,
                     manifest_task, read_json, task_shape, versioned)
from .targets import PRECISIONS, TARGETS   # the registry of export targets (trm_edge.targets)
from .targets import get as target_info

SCHEMA_VERSION = 1
FORMAT = f"trm-edge-artifact/{SCHEMA_VERSION}"
MANIFEST = "manifest.json"
MODES = ("looped", "unrolled")
GRAPHS = ("plain", "web")   # graph shapes (onnx): portable / for onnxruntime-web (trm_edge.export.web)
DTYPES = ("float32", "float16", "int32", "int64", "int8", "uint8", "bool")
ENTRY_POINTS = {"looped": ("init", "step"), "unrolled": ("forward",)}   # required per mode
MODEL_KEYS = ("seq_len", "vocab_size", "puzzle_emb_len", "n_puzzle_ids", "n_sup", "halt_threshold")


@dataclass
class Artifact:
    path: Path                      # directory holding manifest.json and the model file(s)
    manifest: dict = field(repr=False)

    @property
    def name(self) -> str:
        return self.manifest["name"]

    @property
    def size_bytes(self) -> int:
        return files_bytes(self.manifest)

    @property
    def seconds(self) -> float:
        return self.manifest["export_seconds"]

    @property
    def weight_ratio(self) -> float | None:
        return weight_ratio(self.manifest)


def files_bytes(manifest: dict) -> int:
    """An artifact's size: the bytes of the files its manifest lists (the manifest itself excluded)."""
    return sum(f.get("bytes", 0) for f in (manifest.get("files") or {}).values())


# bytes one weight takes at each precision: the floor an artifact's size is measured against
WEIGHT_BYTES = {"fp32": 4, "fp16": 2, "int8": 1, "int8-dynamic": 1}


def weight_ratio(manifest: dict) -> float | None:
    """Artifact bytes / (parameters x bytes per weight at its precision): 1.0 is one copy of the
    weights and nothing else (issue 29: <= 1.10 fp32, <= 1.30 int8). None without a parameter count."""
    params, per = (manifest.get("model") or {}).get("params"), WEIGHT_BYTES.get(manifest.get("precision"))
    if not params or not per:
        return None
    return files_bytes(manifest) / (params * per)


# ---- hashing -----------------------------------------------------------------------------------
def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def list_files(root: Path) -> dict[str, dict]:
    """Every file under root except the manifest: relative path -> {sha256, bytes}."""
    out = {}
    for p in sorted(Path(root).rglob("*")):
        if p.is_file() and p.name != MANIFEST:
            out[p.relative_to(root).as_posix()] = {"sha256": file_sha256(p), "bytes": p.stat().st_size}
    return out


def verify_files(root: Path, manifest: dict) -> None:
    """Raise ArtifactError unless every file in the manifest exists with its sha256 and size, inside
    the artifact and not through a symlink."""
    root = Path(root)
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        raise ArtifactError(f"{root}/{MANIFEST} lists no files")
    for rel, meta in files.items():
        inside(root, rel, f"{root}/{MANIFEST}: files")
        p = root / rel
        if any(q.is_symlink() for q in [p, *list(p.parents)[:len(Path(rel).parts) - 1]]):
            raise ArtifactError(f"artifact {root}: {rel} is a symlink (artifacts hold plain files only)")
        if not p.is_file():
            raise ArtifactError(f"artifact {root} is incomplete: {rel} is missing")
        if not isinstance(meta, dict) or p.stat().st_size != meta.get("bytes") or file_sha256(p) != meta.get("sha256"):
            raise ArtifactError(f"artifact {root} is tampered or corrupt: sha256 of {rel} does not "
                                "match the manifest")


# ---- reading -----------------------------------------------------------------------------------
def validate_manifest(manifest, where: str = MANIFEST) -> dict:
    """Check the fields every reader relies on (see the module doc): types, ranges and enums, names
    that stay plain, a task that matches the model; -> the manifest. Errors are ArtifactError."""
    try:
        return _validate(manifest, where)
    except SchemaError as e:
        raise ArtifactError(str(e)) from None


def _validate(manifest, where: str) -> dict:
    def bad(msg):
        raise ArtifactError(f"{where}: {msg}")

    versioned(manifest, where, "format", FORMAT)
    check_fields(manifest, {"name": Str(check=_plain), "target": Str(TARGETS), "mode": Str(MODES),
                            "precision": Str(PRECISIONS), "batch": Int(1, MAX_BATCH), "task": Type(dict),
                            "model": Type(dict), "entry_points": Type(dict), "files": Type(dict),
                            "state": Type(dict), "graph": Str(GRAPHS)},
                 where, required=("name", "target", "mode", "precision", "batch", "task", "model", "entry_points",
                                  "files"), unknown=True)
    mode = manifest["mode"]
    if mode == "unrolled":
        check_fields(manifest, {"depth": Int(1, MAX_DEPTH)}, where, required=("depth",), unknown=True)
    model = check_fields(manifest["model"], {
        "seq_len": Int(1, 65536), "vocab_size": Int(2, 65536), "puzzle_emb_len": Int(0, 4096),
        "n_puzzle_ids": Int(1, 10_000_000), "n_sup": Int(1, MAX_N_SUP), "halt_threshold": Num(),
        "d_model": Int(1, 16384), "total_len": Int(1, 65536), "config": Type(dict)},
        f"{where} model", required=MODEL_KEYS, unknown=True)
    if "total_len" in model and model["total_len"] != model["puzzle_emb_len"] + model["seq_len"]:
        bad(f"model.total_len {model['total_len']} is not puzzle_emb_len + seq_len "
            f"({model['puzzle_emb_len']} + {model['seq_len']})")
    for k in ("seq_len", "vocab_size", "n_sup", "puzzle_emb_len", "n_puzzle_ids"):
        if isinstance(model.get("config"), dict) and k in model["config"] and model["config"][k] != model[k]:
            bad(f"model.config.{k} {model['config'][k]!r} is not model.{k} {model[k]!r}")
    rows = model.get("puzzle_rows")   # export --puzzles: row i of the artifact's table = puzzle id rows[i]
    if rows is not None and not (isinstance(rows, list) and len(rows) == model["n_puzzle_ids"]
                                 and all(type(r) is int and 0 <= r < 10**9 for r in rows)):
        bad(f"model.puzzle_rows: must be a list of n_puzzle_ids={model['n_puzzle_ids']} puzzle ids (ints >= 0)")
    task = check_fields(manifest["task"], {"name": TASK}, f"{where} task", required=("name",), unknown=True)
    if task_shape(task["name"])[1] != model["seq_len"]:
        bad(f"task {task['name']!r} has {task_shape(task['name'])[1]} cells, the model {model['seq_len']}")
    manifest_task(task, f"{where} task", model["seq_len"], model["vocab_size"])
    if isinstance(model.get("config"), dict) and model["config"].get("task") not in (None, task["name"]):
        bad(f"task {task['name']!r} is not the model's task {model['config']['task']!r}")
    files = manifest["files"]
    for rel in files:
        if not all(NAME_RE.fullmatch(part) and part not in (".", "..") for part in rel.split("/")):
            bad(f"files: {rel!r} is not a relative path of plain names ([A-Za-z0-9._-]+)")
    tensor = {"name": Str(), "shape": Type(list), "dtype": Str(DTYPES)}
    eps = manifest["entry_points"]
    for need in ENTRY_POINTS[mode]:
        if need not in eps:
            bad(f"a {mode} artifact needs entry point {need!r}, has {sorted(eps)}")
    for name, spec in eps.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("file"), str):
            bad(f"entry point {name!r} names no file")
        f = spec["file"]
        if f not in files and not any(k.startswith(f + "/") for k in files):  # .mlpackage is a folder
            bad(f"entry point {name!r}: file {f} is not among the manifest's files")
        for key in ("inputs", "outputs"):
            ts = spec.get(key)
            if not isinstance(ts, list):
                bad(f"entry point {name!r}: {key} must be a list of {{name, shape, dtype}}")
            for i, t in enumerate(ts):
                w = f"{where} entry point {name!r} {key}[{i}]"
                check_fields(t, tensor, w, required=("name", "shape", "dtype"), unknown=True)
                if not all(isinstance(n, int) and not isinstance(n, bool) and 0 <= n <= 2**31 for n in t["shape"]):
                    bad(f"entry point {name!r}: {key}[{i}] shape must be a list of sizes, got {t['shape']!r}")
    need = manifest.get("min_runtime")
    if need is not None and not (isinstance(need, dict) and all(
            isinstance(k, str) and isinstance(v, str) and VERSION_RE.fullmatch(v) for k, v in need.items())):
        bad(f"min_runtime: must map runtime names to release numbers like \"1.4.1\", got {need!r}")
    return manifest


VERSION_RE = re.compile(r"\d+(\.\d+){0,3}")   # a min_runtime release number (what AppRuntimes.kt compares)


def _plain(name: str) -> str | None:
    return None if NAME_RE.fullmatch(name) and name not in (".", "..") else \
        f"must be a plain name ([A-Za-z0-9._-]+), got {name!r}"


def read_manifest(root: Path) -> dict:
    """root/manifest.json, parsed and validated (files are not hashed: see `read`)."""
    m = Path(root) / MANIFEST
    if m.is_symlink():
        raise ArtifactError(f"artifact {root}: {MANIFEST} is a symlink (artifacts hold plain files only)")
    if not m.is_file():
        raise ArtifactError(f"{root} is not an artifact (no {MANIFEST})" if not m.exists() else
                            f"artifact {root}: {MANIFEST} is not a regular file")
    return validate_manifest(read_json(m, "manifest"), str(m))


def read(path, verify: bool = True) -> Artifact:
    """The one reader: an artifact directory (or its manifest.json) -> Artifact, with the manifest
    validated and, unless verify=False, the sha256 and size of every listed file checked."""
    p = Path(path)
    if p.is_file() and p.name == MANIFEST:
        p = p.parent
    manifest = read_manifest(p)
    if verify:
        verify_files(p, manifest)
    return Artifact(p, manifest)


def owned_files(root: Path) -> set[str] | None:
    """The paths a previous export wrote in root (its manifest and the files it lists), or None
    when root holds no readable manifest (not an artifact: trm_edge.safe_io.atomic_write_dir)."""
    m = Path(root) / MANIFEST
    try:
        files = None if m.is_symlink() else read_json(m, "manifest").get("files")
    except (ArtifactError, AttributeError):
        return None
    return {MANIFEST, *files} if isinstance(files, dict) else None


def is_artifact(path) -> bool:
    p = Path(path)
    return (p / MANIFEST).is_file() or (p.is_file() and p.name == MANIFEST)


# ---- writing -----------------------------------------------------------------------------------
def tool_versions(*modules: str) -> dict[str, str]:
    from importlib import metadata
    out = {}
    for m in ("torch",) + modules:
        try:
            out[m] = metadata.version(m)
        except metadata.PackageNotFoundError:
            pass
    return out


# ---- task description for the manifest ---------------------------------------------------------
def task_info(cfg) -> dict:
    """Token encoding and board shape of the model's task (read by the demo apps)."""
    info: dict[str, Any] = {"name": cfg.task, "vocab_size": cfg.vocab_size, "seq_len": cfg.seq_len}
    try:
        from .tasks import get_task
        task = get_task(cfg.task)
    except (ValueError, ImportError):
        task = None
    if task is not None and hasattr(task, "size") and cfg.task.startswith("sudoku"):
        n = task.size
        info["tokens"] = {"pad": 0, "blank": 1,
                          "symbols": {str(d): d + 1 for d in range(1, n + 1)},
                          "rule": "token 0 pad, 1 blank, digit d -> d + 1"}
        info["board"] = [n, n]
        info["box"] = [task.box_rows, task.box_cols]
    else:
        info["tokens"] = {"pad": 0}
    if "board" not in info:
        side = int(round(cfg.seq_len ** 0.5))
        info["board"] = [side, side] if side * side == cfg.seq_len else [cfg.seq_len]
    return info


def model_block(cfg, params: int | None = None, puzzle_rows=None) -> dict:
    """The manifest's "model" block of a TRMConfig: what every exporter writes and what the eager
    session reports as its own manifest (`params`: the weight count, `puzzle_rows`: the kept rows of
    a puzzle-embedding table, see trm_edge.model.keep_puzzle_rows)."""
    block = {"d_model": cfg.d_model, "total_len": cfg.total_len, "seq_len": cfg.seq_len,
             "vocab_size": cfg.vocab_size, "puzzle_emb_len": cfg.puzzle_emb_len, "n_puzzle_ids": cfg.n_puzzle_ids,
             "n_latent": cfg.n_latent, "T": cfg.T, "n_sup": cfg.n_sup, "halt_threshold": cfg.halt_threshold,
             "mixer": cfg.mixer, "pos": cfg.pos, "n_layers": cfg.n_layers, "config": asdict(cfg)}
    if params is not None:
        block["params"] = params
    if puzzle_rows is not None:
        block["puzzle_rows"] = list(puzzle_rows)
    return block


def write_manifest(root: Path, *, name: str, target: str, mode: str, precision: str, depth: int | None,
                   batch: int, task: dict, model: dict, entry_points: dict, source: dict, recipe: dict,
                   seconds: float, tools: tuple[str, ...] = (), extra: dict | None = None) -> dict:
    """Write root/manifest.json over the files already in root (hashed here) and return it.
    The exporters call this through trm_edge.export.common.write_manifest (which fills the model
    and source blocks from the eager model); the result is validated like any manifest read back."""
    root = Path(root)
    B, L, D = batch, model.get("total_len"), model.get("d_model")
    manifest = {
        "format": FORMAT,
        "name": name,
        "target": target,
        "mode": mode,
        "precision": precision,
        "depth": depth if mode == "unrolled" else None,
        "batch": B,
        "task": task,
        "model": model,
        "state": {n: {"shape": [B, L, D], "dtype": "float32"} for n in ("x", "y", "z")},
        "entry_points": entry_points,
        "files": list_files(root),
        **({"min_runtime": dict(need)} if (need := target_info(target).min_runtime) else {}),
        "source": source,
        "recipe": recipe,
        "trm_edge_version": __version__,
        "tools": tool_versions(*tools),
        "host": f"{platform.system()} {platform.machine()}",
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "export_seconds": round(seconds, 2),
    }
    if extra:
        manifest.update(extra)
    validate_manifest(manifest, f"{root}/{MANIFEST} (being written)")
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest
