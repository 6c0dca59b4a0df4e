"""Training state on disk: safetensors (tensors) + JSON (everything else), never pickle.

A run directory holds two atomically written subdirectories:

    <out>/model/        the EMA weights + config.json (trm_edge.checkpoint.save_model): what eval,
                        solve, export and bench load
    <out>/train_state/  state.safetensors + state.json: raw weights, AdamW moments, EMA, the ACT
                        carry of every rank, RNG states, data cursors, step -- all `--resume` needs

The optimizer's state_dict is flattened to `optim.<param index>.<name>` tensors plus its
param_groups in JSON (betas become lists there and tuples again on load).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from ..checkpoint import atomic_write_dir
from ..errors import ArtifactError

STATE_VERSION = 1
STATE_DIR, STATE_JSON = "train_state", "state.json"   # <run>/train_state/state.json (this module owns the layout)


def state_dir(run: str | Path) -> Path:
    """A run directory's training state folder."""
    return Path(run) / STATE_DIR


def saved_train_config(run: str | Path) -> dict:
    """The train_config a run's state recorded ({} when the run has no state yet); no tensor is read."""
    from ..schema import read_json

    f = state_dir(run) / STATE_JSON
    saved = read_json(f, "training state").get("train_config", {}) if f.is_file() else {}
    return saved if isinstance(saved, dict) else {}


def optimizer_to_flat(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list[dict]]:
    sd = opt.state_dict()
    tensors = {}
    for idx, st in sd["state"].items():
        for name, v in st.items():
            tensors[f"optim.{idx}.{name}"] = v if torch.is_tensor(v) else torch.tensor(v)
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, groups


def optimizer_from_flat(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], groups: list[dict]) -> None:
    state: dict[int, dict] = {}
    for key, v in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in groups]
    opt.load_state_dict({"state": state, "param_groups": groups})


# Files stay <= 16 MiB so a state can be carried between machines by transfers with a per-file cap:
# a bigger state is written as state-00001.safetensors, state-00002..., tensors bigger than a shard
# split along dim 0 as "<name>#<part>" (joined again on load). Small states stay one state.safetensors.
MAX_SHARD_BYTES = 16 * 2**20 - 2**16  # headroom for the safetensors JSON header


def _shards(tensors: dict[str, torch.Tensor]) -> list[dict[str, torch.Tensor]]:
    shards, cur, size = [], {}, 0
    for k, v in tensors.items():
        nbytes = v.numel() * v.element_size()
        if nbytes > MAX_SHARD_BYTES and v.dim() > 0 and v.shape[0] > 1:
            rows = max(1, MAX_SHARD_BYTES // (nbytes // v.shape[0]))
            pieces = [(f"{k}#{i}", v[s:s + rows].contiguous()) for i, s in enumerate(range(0, v.shape[0], rows))]
        else:
            pieces = [(k, v)]
        for name, t in pieces:
            n = t.numel() * t.element_size()
            if cur and size + n > MAX_SHARD_BYTES:
                shards.append(cur)
                cur, size = {}, 0
            cur[name], size = t, size + n
    return shards + [cur]


def _join(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    parts: dict[str, list] = {}
    out = {}
    for k, v in tensors.items():
        if "#" in k:
            base, i = k.rsplit("#", 1)
            parts.setdefault(base, []).append((int(i), v))
        else:
            out[k] = v
    for base, ps in parts.items():
        out[base] = torch.cat([v for _, v in sorted(ps, key=lambda p: p[0])])
    return out


def save_train_state(path: str | Path, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    from safetensors.torch import save_file

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}

    def write(d: Path):
        shards = _shards(tensors)
        if len(shards) == 1:
            save_file(shards[0], str(d / "state.safetensors"))
        else:
            for i, shard in enumerate(shards, 1):
                save_file(shard, str(d / f"state-{i:05d}.safetensors"))
        (d / STATE_JSON).write_text(json.dumps({"version": STATE_VERSION, **meta}, indent=2) + "\n")

    atomic_write_dir(Path(path), write, owned=_owned, kind="training state")


def _owned(d: Path) -> set[str] | None:
    """The state files trm-edge wrote in d (None: d is not a training state)."""
    if not (d / STATE_JSON).is_file():
        return None
    return {STATE_JSON} | {p.name for p in d.glob("state*.safetensors")}


def load_train_state(path: str | Path) -> tuple[dict[str, torch.Tensor], dict]:
    from ..checkpoint import read_safetensors
    from ..schema import read_json, train_state

    d = Path(path)
    if state_dir(d).is_dir():  # accept the run directory too
        d = state_dir(d)
    f_t, f_j = d / "state.safetensors", d / STATE_JSON
    files = [f_t] if f_t.exists() else sorted(d.glob("state-*.safetensors"))
    if not files or not f_j.exists():
        raise ArtifactError(f"no training state to resume in {path} (needs train_state/state.safetensors + state.json)")
    meta = train_state(read_json(f_j, STATE_JSON), str(f_j), STATE_VERSION)
    try:
        tensors = _join({k: v for f in files for k, v in read_safetensors(f).items()})
    except (RuntimeError, ValueError) as e:
        raise ArtifactError(f"cannot read training state {d}: {str(e).splitlines()[0]}") from None
    return tensors, meta


def prefixed(prefix: str, sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in sd.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    p = prefix + "."
    return {k[len(p):]: v for k, v in tensors.items() if k.startswith(p)}
