"""Import a checkpoint written by the authors' TRM code (SamsungSAILMontreal/TinyRecursiveModels)
or by HRM's (sapientinc/HRM, `hrm.hrm_act_v1`, TRM's predecessor: the same file layout and block).

Their `pretrain.py` saves `torch.save(model.state_dict())` of the torch.compile'd loss head as
`<run>/step_<N>`, with `all_config.yaml` beside it. Keys are `_orig_mod.model.inner.<name>` (no
`_orig_mod.` when compile was off). This module maps those tensors onto `TinyRecursiveModel`
(arch_version 2, the authors' layout) and writes a trm-edge checkpoint (model.safetensors +
config.json + import.json) that eval, solve, export, bench and calibrate accept.

    authors' name                                  trm-edge name
    H_init / L_init (y / z init, often bf16)       y_init / z_init
    embed_tokens.embedding_weight                  embed_tokens.weight
    embed_pos.embedding_weight  (learned pos)      embed_pos
    puzzle_emb.weights  (n_ids, D)                 puzzle_emb.weight
    lm_head.weight                                 lm_head.weight
    q_head.weight / bias  (1 or 2 outputs)         q_head.weight / bias (row 0, the halt logit)
    L_level.layers.i.self_attn.qkv_proj / o_proj   net.blocks.i.mixer.qkv / out
    L_level.layers.i.mlp_t.gate_up_proj / down     net.blocks.i.mixer.mlp.gate_up / down
    L_level.layers.i.mlp.gate_up_proj / down       net.blocks.i.mlp.gate_up / down
    H_level.layers.i.*  (HRM only)                 net_H.blocks.i.*  (n_layers_H = H_layers)

HRM: its carry (z_H, z_L) is trm-edge's (y, z), H_cycles is T and L_cycles is n_latent, and its
H_level is the separate answer network `net_H` (trm_edge/model.py). Its Q head has two outputs and
it halts when q_halt > q_continue: the import folds them into one halting logit q_halt - q_continue
(row 0 minus row 1 of weight and bias), which halts at > 0 exactly when HRM does. A TRM run with
no_ACT_continue: false halts by the same rule and is folded the same way; with the default
no_ACT_continue: true the continue row is dropped (the rule is q_halt > 0).
The puzzle prefix is ceil(puzzle_emb_ndim / hidden_size) positions when the arch says
puzzle_emb_len: 0 (TRM) or has no such field (HRM), as both authors' codes compute it.

The architecture comes from the `arch:` section of all_config.yaml; seq_len / vocab / number of
puzzle ids from the data set's dataset.json (`dataset=`), else from the weights (vocab and ids always;
seq_len from the sequence-MLP's width or a learned position table) or explicit arguments. A shape no
trm-edge task knows gets the generic task `generic-<seq_len>-<vocab>` (trm_edge/tasks/generic.py:
tokens in, tokens out, evaluated on the authors' built data set). Loading is
`torch.load(weights_only=True)`: tensors only, never pickled objects. Halting: the authors' rule
(q_halt > 0) until `trm-edge calibrate` picks a threshold.
"""
from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path

from . import atomic_write_dir, file_sha256, owned_files
from ..errors import TRMEdgeError
from ..schema import MAX_JSON_DEPTH, authors_arch, authors_dataset, json_depth, obj, read_json, read_text

CONFIG_FILE = "all_config.yaml"
DATASET_FILE = "dataset.json"
SUPPORTED_ARCH = "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1"
HRM_ARCH = "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1"
# (seq_len, vocab) -> trm-edge task with the same token encoding (docs/model.md#tokens)
TASKS = {(16, 6): "sudoku4", (36, 8): "sudoku6", (81, 11): "sudoku9", (64, 6): "maze8",
         (144, 6): "maze12", (900, 6): "maze30", (900, 12): "arc1"}


class AuthorsCheckpointError(TRMEdgeError):
    """The checkpoint or its config is not something this importer can map exactly."""


def _find_files(path: Path) -> tuple[Path, Path]:
    """-> (weights file, all_config.yaml) from a `step_N` file or a run directory."""
    if path.is_dir():
        steps = sorted((p for p in path.iterdir() if re.fullmatch(r"step_[0-9]+", p.name)),
                       key=lambda p: int(p.name[5:]))
        named = [path / n for n in ("checkpoint", "checkpoint.pt") if (path / n).is_file()]
        if not steps and not named:
            raise AuthorsCheckpointError(f"no step_<N> (or checkpoint) file in {path}")
        weights = steps[-1] if steps else named[0]   # `checkpoint`: HRM's published folders name it so
    elif path.is_file():
        weights = path
    else:
        raise AuthorsCheckpointError(f"no such file or directory: {path}")
    cfg = weights.parent / CONFIG_FILE
    if not cfg.is_file():
        raise AuthorsCheckpointError(f"{CONFIG_FILE} not found beside {weights} (the authors' run directory has it)")
    return weights, cfg


def _read_yaml(path: Path) -> dict:
    try:
        import yaml
    except ImportError:
        raise TRMEdgeError("reading all_config.yaml needs PyYAML: pip install 'trm-edge[import]'") from None
    text = read_text(path, CONFIG_FILE)   # size-bounded, UTF-8 (bytes 0xff 0xfe: one error line)
    if json_depth(text) > MAX_JSON_DEPTH:   # flow-style [[[...: bounded before the recursive composer
        raise AuthorsCheckpointError(f"{path}: nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        cfg = yaml.safe_load(text)
    except (yaml.YAMLError, RecursionError, ValueError, TypeError) as e:
        raise AuthorsCheckpointError(f"{path} is not valid YAML: {(str(e).splitlines() or [type(e).__name__])[0][:120]}") \
            from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("arch"), dict):
        raise AuthorsCheckpointError(f"{path} has no 'arch:' section")
    authors_arch(cfg["arch"], f"{path}: arch")
    return cfg


def _read_dataset(d: Path) -> dict:
    for p in (d, d / DATASET_FILE, d / "train" / DATASET_FILE, d / "test" / DATASET_FILE):
        if p.is_file():
            return authors_dataset(obj(read_json(p, DATASET_FILE), str(p)), str(p))
    raise AuthorsCheckpointError(f"no {DATASET_FILE} in {d} (nor in its train/ or test/)")


def load_state(weights: Path) -> dict:
    """Authors' state dict -> {short name: fp32 tensor}, prefixes `_orig_mod.` / `model.inner.` removed."""
    import torch

    try:
        raw = torch.load(str(weights), map_location="cpu", weights_only=True)
    except Exception as e:  # pickle refusal, truncated file, not a torch file
        raise AuthorsCheckpointError(f"cannot read {weights} as a tensor state dict (weights_only): "
                           f"{(str(e).strip().splitlines() or [type(e).__name__])[0][:200]}") from None
    if not isinstance(raw, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in raw.items()):
        raise AuthorsCheckpointError(f"{weights} is not a state dict of tensors")
    bad = [f"{k} is {str(v.dtype).replace('torch.', '')} (not floating point)" for k, v in raw.items()
           if not v.is_floating_point()]
    bad += [f"{k} has {int((~torch.isfinite(v)).sum())} NaN/Inf value(s)" for k, v in raw.items()
            if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise AuthorsCheckpointError(f"{weights}: {'; '.join(bad[:6])}" + (f" (+{len(bad) - 6} more)" if len(bad) > 6 else ""))
    out = {}
    for k, v in raw.items():
        for prefix in ("_orig_mod.", "model.inner.", "inner."):
            k = k[len(prefix):] if k.startswith(prefix) else k
        out[k] = v.float()
    return out


def _arch_config(arch: dict, state: dict, meta: dict, task: str | None):
    """all_config.yaml arch + data facts -> TRMConfig, or one error naming what is unsupported."""
    from ..model import TRMConfig

    name = arch.get("name", SUPPORTED_ARCH)
    if name not in (SUPPORTED_ARCH, HRM_ARCH):
        raise AuthorsCheckpointError(f"unsupported arch.name {name!r} (supported: {SUPPORTED_ARCH}, {HRM_ARCH})")
    hrm = name == HRM_ARCH
    D = int(arch["hidden_size"])
    ndim = int(arch.get("puzzle_emb_ndim", 0))
    plen = 0 if hrm else int(arch.get("puzzle_emb_len", 16))   # HRM has no such field: always derived
    if plen == 0:
        plen = -(-ndim // D)   # the authors' ceil(puzzle_emb_ndim / hidden_size)
    if ndim != D:
        raise AuthorsCheckpointError(f"unsupported puzzle_emb_ndim={ndim}: only puzzle_emb_ndim == hidden_size ({D}) "
                           "maps onto trm-edge's one-vector puzzle prefix")
    if int(arch.get("num_key_value_heads", arch.get("num_heads", 1))) != int(arch.get("num_heads", 1)):
        raise AuthorsCheckpointError("unsupported num_key_value_heads != num_heads (grouped-query attention)")
    mlp_t = bool(arch.get("mlp_t", False)) and not hrm
    pos = str(arch.get("pos_encodings", "rope"))
    if pos not in ("rope", "learned", "none"):
        raise AuthorsCheckpointError(f"unsupported pos_encodings {pos!r} (rope, learned or none)")
    if mlp_t and pos == "rope":
        pos = "none"  # the authors compute RoPE tables but the MLP mixer never reads them
    vocab = int(meta.get("vocab_size") or state["embed_tokens.embedding_weight"].shape[0])
    n_ids = int(meta.get("num_puzzle_identifiers") or state["puzzle_emb.weights"].shape[0])
    seq_len = meta.get("seq_len")
    if seq_len is None and mlp_t and "L_level.layers.0.mlp_t.down_proj.weight" in state:
        seq_len = state["L_level.layers.0.mlp_t.down_proj.weight"].shape[0] - plen
    if seq_len is None and pos == "learned" and "embed_pos.embedding_weight" in state:
        seq_len = state["embed_pos.embedding_weight"].shape[0] - plen
    if seq_len is None:
        raise AuthorsCheckpointError("seq_len is not in the weights of an attention model with RoPE: give --dataset DIR "
                           "(its dataset.json) or --seq-len")
    seq_len = int(seq_len)
    from ..tasks import generic_name, get_task
    task = task or TASKS.get((seq_len, vocab)) or generic_name(seq_len, vocab)
    try:
        t = get_task(task)
    except ValueError as e:
        raise AuthorsCheckpointError(str(e)) from None
    if (t.seq_len, t.vocab_size) != (seq_len, vocab):
        raise AuthorsCheckpointError(f"task {task} has seq_len={t.seq_len}, vocab={t.vocab_size}; "
                           f"the checkpoint has seq_len={seq_len}, vocab={vocab}")
    return TRMConfig(
        task=task, vocab_size=vocab, seq_len=seq_len, d_model=D, n_layers=int(arch["L_layers"]),
        n_layers_H=int(arch["H_layers"]) if hrm else 0,
        expansion=float(arch.get("expansion", 4.0)), hidden_multiple=256,
        mixer="mlp" if mlp_t else "attention", n_heads=int(arch.get("num_heads", 8)), pos=pos,
        rope_base=float(arch.get("rope_theta", 10000.0)), n_latent=int(arch["L_cycles"]),
        T=int(arch["H_cycles"]), n_sup=int(arch.get("halt_max_steps", 16)), puzzle_emb_len=plen,
        n_puzzle_ids=n_ids, halt_threshold=0.0, norm_eps=float(arch.get("rms_norm_eps", 1e-5)),
        arch_version=2)


def _rename(name: str, hrm: bool = False) -> str | None:
    fixed = {"H_init": "y_init", "L_init": "z_init", "embed_tokens.embedding_weight": "embed_tokens.weight",
             "embed_pos.embedding_weight": "embed_pos", "puzzle_emb.weights": "puzzle_emb.weight",
             "lm_head.weight": "lm_head.weight", "q_head.weight": "q_head.weight", "q_head.bias": "q_head.bias"}
    if name in fixed:
        return fixed[name]
    m = re.fullmatch(r"([LH])_level\.layers\.([0-9]+)\.(self_attn|mlp_t|mlp)\.(\w+)\.weight", name, re.ASCII)
    if not m or (m.group(1) == "H" and not hrm):   # TRM has no H_level: an unknown tensor there
        return None
    level, i, part, lin = m.groups()
    sub = {("self_attn", "qkv_proj"): "mixer.qkv", ("self_attn", "o_proj"): "mixer.out",
           ("mlp_t", "gate_up_proj"): "mixer.mlp.gate_up", ("mlp_t", "down_proj"): "mixer.mlp.down",
           ("mlp", "gate_up_proj"): "mlp.gate_up", ("mlp", "down_proj"): "mlp.down"}.get((part, lin))
    return f"{'net_H' if level == 'H' else 'net'}.blocks.{i}.{sub}.weight" if sub else None


def _authors_name(new: str) -> str:
    """trm-edge name -> the authors' name (for error messages)."""
    fixed = {"y_init": "H_init", "z_init": "L_init", "embed_tokens.weight": "embed_tokens.embedding_weight",
             "embed_pos": "embed_pos.embedding_weight", "puzzle_emb.weight": "puzzle_emb.weights"}
    if new in fixed:
        return fixed[new]
    for a, b in (("net.blocks.", "L_level.layers."), ("net_H.blocks.", "H_level.layers."),
                 ("mixer.qkv", "self_attn.qkv_proj"), ("mixer.out", "self_attn.o_proj"), ("mixer.mlp.", "mlp_t."), ("gate_up.", "gate_up_proj."),
                 ("down.", "down_proj.")):
        new = new.replace(a, b)
    return new


def _halting_head(t, fold: bool) -> tuple:
    """A 2-output q_head tensor (halt, continue) -> the 1-output halting logit's, and a note."""
    if fold:  # halt when q_halt > q_continue  <=>  (q_halt - q_continue) > 0: the same decisions
        return (t[:1] - t[1:2]), ("q_head has 2 outputs (halt, continue): folded into one halting logit "
                                  "q_halt - q_continue (exact for the rule q_halt > q_continue)")
    return t[:1], "q_head has 2 outputs (halt, continue): kept the halt logit, dropped the continue logit"


def map_state(state: dict, cfg, fold_continue: bool = False) -> tuple[dict, list[str]]:
    """Authors' tensors -> trm-edge state dict (checked against the model's shapes) and notes.
    fold_continue: the run halts on q_halt > q_continue (HRM; TRM with no_ACT_continue: false)."""
    import torch

    from ..model import build_model

    with torch.device("meta"):  # shapes only: an ARC puzzle table can be hundreds of thousands of rows
        expected = {k: tuple(v.shape) for k, v in build_model(cfg).state_dict().items()}
    out, unknown, notes = {}, [], []
    for name, t in state.items():
        new = _rename(name, hrm=cfg.n_layers_H > 0)
        if new is None:
            unknown.append(name)
            continue
        if new.startswith("q_head.") and t.shape[0] == 2:
            t, note = _halting_head(t, fold_continue)
            if note not in notes:
                notes.append(note)
        out[new] = t.contiguous()
    if unknown:
        raise AuthorsCheckpointError(f"unknown tensors in the checkpoint: {', '.join(sorted(unknown)[:6])}"
                           + (f" (+{len(unknown) - 6} more)" if len(unknown) > 6 else ""))
    missing = sorted(set(expected) - set(out))
    if missing:
        raise AuthorsCheckpointError("missing tensors for the config in all_config.yaml: "
                           + ", ".join(_authors_name(k) for k in missing[:6]))
    bad = [f"{k} {tuple(out[k].shape)} (expected {expected[k]})" for k in expected
           if tuple(out[k].shape) != expected[k]]
    if bad:
        raise AuthorsCheckpointError(f"mis-shaped tensors for the config in all_config.yaml: {'; '.join(bad[:4])}")
    return out, notes


def import_checkpoint(path, out, dataset=None, seq_len: int | None = None, task: str | None = None,
                      force: bool = False) -> dict:
    """Authors' `step_N` file or run directory -> trm-edge checkpoint directory `out`. -> summary.
    An existing `out` is replaced only if it is a checkpoint (or with force); files in it that
    trm-edge did not write are kept."""
    from safetensors.torch import save_file

    from . import load_model
    from ..safe_io import check_dir_target

    check_dir_target(out, owned_files, force, "checkpoint")

    weights, cfg_path = _find_files(Path(path))
    run = _read_yaml(cfg_path)
    meta = _read_dataset(Path(dataset)) if dataset is not None else {}
    if seq_len is not None:
        meta = {**meta, "seq_len": seq_len}
    state = load_state(weights)
    for need in ("embed_tokens.embedding_weight", "puzzle_emb.weights"):
        if need not in state and not (need == "puzzle_emb.weights" and meta.get("num_puzzle_identifiers")):
            raise AuthorsCheckpointError(f"missing tensor {need} in {weights}")
    try:
        cfg = _arch_config(run["arch"], state, meta, task)
    except KeyError as e:
        raise AuthorsCheckpointError(f"{cfg_path}: arch has no {e.args[0]!r}") from None
    hrm = run["arch"].get("name") == HRM_ARCH
    fold = hrm or run["arch"].get("no_ACT_continue", True) is False
    tensors, notes = map_state(state, cfg, fold_continue=fold)
    if hrm:
        notes.insert(0, f"HRM: H_level ({cfg.n_layers_H} layers) is the answer network net_H, L_level "
                        f"({cfg.n_layers} layers) the latent network net; (z_H, z_L) -> (y, z), "
                        f"H_cycles -> T={cfg.T}, L_cycles -> n_latent={cfg.n_latent}")
    rule = "q_halt - q_continue > 0" if fold else "q_halt > 0"
    notes.append(f"halting threshold 0 (the authors' rule {rule}) until `trm-edge calibrate` runs")
    if cfg.task.startswith("generic-"):
        notes.append(f"no trm-edge task has seq_len={cfg.seq_len}, vocab={cfg.vocab_size}: task {cfg.task} "
                     "(tokens in, tokens out); evaluate it on the authors' data set with "
                     "`trm-edge eval --data DIR`")
    info = {"source": str(weights), "source_sha256": file_sha256(weights), "config": str(cfg_path),
            "arch": run["arch"], "dataset": meta or None, "notes": notes}

    def write(d: Path):
        save_file(tensors, str(d / "model.safetensors"))
        (d / "config.json").write_text(cfg.to_json() + "\n")
        (d / "import.json").write_text(json.dumps(info, indent=2, default=str) + "\n")

    atomic_write_dir(Path(out), write, owned=owned_files, force=force, kind="checkpoint")
    load_model(out)  # the written checkpoint loads through the same path every command uses
    return {"out": str(out), "config": asdict(cfg), "notes": notes, "source": str(weights)}
