"""Model checkpoints: a directory with `model.safetensors` + `config.json` (the TRMConfig).

Weights are safetensors only (never pickle). Writes are atomic: files go to a temporary sibling
directory that replaces the target with os.replace, so a kill never leaves a half-written checkpoint.
Bundled checkpoints live in `trm_edge/checkpoints/<name>/` (package data) and are addressed by name;
`checkpoints/<name>/artifacts/` holds their ready-made looped ONNX and TFLite exports
(scripts/bundle_artifacts.sh), so a torch-free install can run them.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from .. import package_data
from ..artifact import file_sha256  # noqa: F401  (re-exported: checkpoints are hashed the same way)
from ..errors import ArtifactError
from ..safe_io import atomic_write_dir  # noqa: F401  (re-exported: the writers import it from here)

BUNDLED_DIR = package_data.path("checkpoints")
DEFAULT_CHECKPOINT = "sudoku6"
BUNDLED_ARTIFACTS = "artifacts"   # checkpoints/<name>/artifacts/<target>-<precision>-looped/


def resolve(path_or_name: str | os.PathLike | None) -> Path:
    """A checkpoint directory from a path or a bundled name (None -> the default bundled model)."""
    name = str(path_or_name) if path_or_name is not None else DEFAULT_CHECKPOINT
    p = Path(name)
    if p.is_dir():
        return p
    if (BUNDLED_DIR / name).is_dir():
        return BUNDLED_DIR / name
    bundled = sorted(d.name for d in BUNDLED_DIR.iterdir() if (d / "config.json").exists()) if BUNDLED_DIR.is_dir() else []
    raise ArtifactError(f"no checkpoint at {name!r} (bundled: {', '.join(bundled) or 'none'})")


def bundled_artifacts(name: str = DEFAULT_CHECKPOINT) -> list[Path]:
    """The ready-made artifacts shipped with a bundled model (none for other checkpoints)."""
    d = BUNDLED_DIR / name / BUNDLED_ARTIFACTS
    return sorted(p.parent for p in d.glob("*/manifest.json")) if d.is_dir() else []


# the files a checkpoint directory may hold that trm-edge wrote (save_model, import, calibrate)
CHECKPOINT_FILES = ("model.safetensors", "config.json", "training.json", "calibration.json", "import.json")


def owned_files(d: Path) -> set[str] | None:
    """The checkpoint files trm-edge wrote in d, or None when d is not a checkpoint."""
    d = Path(d)
    if not ((d / "config.json").is_file() and (d / "model.safetensors").is_file()):
        return None
    return {n for n in CHECKPOINT_FILES if (d / n).exists()}


def is_bundled(d: Path) -> bool:
    """Whether d is (inside) a model bundled with the installed package."""
    try:
        Path(d).resolve().relative_to(BUNDLED_DIR.resolve())
        return True
    except ValueError:
        return False


def save_model(model, path: str | os.PathLike, extra_json: dict | None = None, force: bool = False) -> Path:
    """Atomically save weights + config (+ optional extra JSON files, name -> dict); files in an
    existing checkpoint folder that trm-edge did not write are kept."""
    from safetensors.torch import save_file

    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}

    def write(d: Path):
        save_file(state, str(d / "model.safetensors"))
        (d / "config.json").write_text(model.cfg.to_json() + "\n")
        for name, obj in (extra_json or {}).items():
            (d / name).write_text(json.dumps(obj, indent=2) + "\n")

    atomic_write_dir(Path(path), write, owned=owned_files, force=force, kind="checkpoint")
    return Path(path)


def load_model(path_or_name=None, device: str = "cpu"):
    """-> (TinyRecursiveModel in eval mode, checkpoint dir)."""
    from ..model import TRMConfig, build_model
    from ..schema import read_json

    d = resolve(path_or_name)
    cfg_file, weights = d / "config.json", d / "model.safetensors"
    if not cfg_file.exists() or not weights.exists():
        raise ArtifactError(f"{d} is not a checkpoint (needs config.json and model.safetensors)")
    cfg = TRMConfig.from_dict(read_json(cfg_file, "config.json"), str(cfg_file))
    try:
        model = build_model(cfg)
        missing, unexpected = model.load_state_dict(read_safetensors(weights), strict=False)
    except (ValueError, RuntimeError, OSError) as e:
        raise ArtifactError(f"cannot load checkpoint {d}: {str(e).splitlines()[0]}") from None
    missing = [k for k in missing if not k.endswith(("rope_cos", "rope_sin"))]
    if missing or unexpected:
        raise ArtifactError(f"checkpoint {d} does not match its config: missing {missing[:3]}, unexpected {unexpected[:3]}")
    return model.to(device).eval(), d


def read_safetensors(path) -> dict:
    """A safetensors file -> {name: tensor} on CPU, or one ArtifactError (truncated, not safetensors)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise ArtifactError(f"cannot read {path}: not a complete safetensors file ({str(e).splitlines()[0][:80]})") \
            from None


def training_data(d: Path | None) -> tuple[int, int]:
    """(n_train, data_seed) the checkpoint was trained on, from its training.json, so that val/test
    puzzles are de-duplicated against exactly those training puzzles. A checkpoint without one (imported
    from the authors' code, or saved untrained) was not trained on this generator's puzzles: (0, 0),
    nothing to de-duplicate against (generating 20k 9x9 training puzzles to compare with would take
    minutes and prove nothing). d None (a source that is not known): the defaults of `trm-edge train`."""
    from ..data import N_TRAIN
    from ..schema import read_json, training_info

    if d is None:
        return N_TRAIN, 0
    f = Path(d) / "training.json"
    if not f.exists():
        return 0, 0
    tc = training_info(read_json(f, "training.json"), str(f))["train_config"]
    return int(tc.get("n_train", N_TRAIN)), int(tc.get("data_seed", 0))


def weights_sha256(model) -> str:
    """sha256 over the model's state dict (sorted names, raw bytes): identifies the source weights
    whether the model came from a checkpoint directory or from memory."""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        if name.endswith(("rope_cos", "rope_sin")):   # non-persistent, recomputed at load
            continue
        h.update(name.encode())
        h.update(t.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()
