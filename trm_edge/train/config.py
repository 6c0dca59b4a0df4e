"""What a training run is: TrainConfig (one field per setting, saved with every run) and the
training presets (TRAIN_PRESETS: the paper's settings per model preset) that set its defaults. Torch-free, so the CLI can read the defaults."""
from __future__ import annotations

from dataclasses import dataclass, field, fields

from ..data import N_TRAIN

RESUMABLE = ("steps", "time_budget", "checkpoint_every", "log_every", "val_n")   # may change on --resume
HOW_TO_RUN = ("out", "resume", "device", "threads", "quiet", "compile_step")   # how a run goes, not what it is


def resume_conflicts(saved: dict, given: dict) -> list[str]:
    """The settings in `given` (name -> value as the user gave them on --resume; "model" and "arc"
    as KEY=VALUE dicts) that would change the run's `saved` train_config: a resumed run keeps its own
    settings, only the stopping rules (RESUMABLE) may change."""
    model = saved.get("model") if isinstance(saved.get("model"), dict) else {}
    arc = saved.get("arc") if isinstance(saved.get("arc"), dict) else {}

    def repeats(name, value) -> bool:
        if name == "task":
            return model.get("task") == value or (value == "sudoku-extreme" and bool(saved.get("data")))
        if name == "model":
            return all(model.get(k) == v for k, v in value.items())
        if name == "data":
            return bool(saved.get("data"))
        if name == "arc":
            return all(arc.get(k) == v for k, v in value.items())
        return name in saved and saved[name] == value

    return [k for k, v in given.items() if k not in (*HOW_TO_RUN, *RESUMABLE) and not repeats(k, v)]


@dataclass
class TrainConfig:
    preset: str = "sudoku6-small"   # TRMConfig preset (model size, n, T, n_sup, task)
    model: dict = field(default_factory=dict)  # TRMConfig overrides, e.g. {"d_model": 32}
    n_train: int = N_TRAIN          # generated base puzzles (augmented on the fly)
    data_seed: int = 0              # dataset seed (val/test use disjoint seed streams)
    augment: bool = True            # random symmetry per drawn sample
    steps: int = 10000              # optimizer steps (= supervision steps of the batch)
    batch_size: int = 64            # global batch (split evenly across DDP ranks)
    lr: float = 1e-3                # paper: 1e-4 at batch 768 on GPU; 1e-3 suits small CPU runs
    weight_decay: float = 0.1       # paper: 1.0 (Sudoku/Maze), 0.1 (ARC)
    betas: tuple = (0.9, 0.95)
    warmup: int = 200               # linear warmup steps, then constant (lr_min_ratio 1) or cosine decay
    lr_min_ratio: float = 1.0       # lr at the last step / lr (authors' name; 1.0 = constant, the paper)
    ema: float = 0.999              # EMA decay of the weights (0 disables)
    loss: str = "stablemax"         # "stablemax" (authors' code, float64) or "softmax"
    halt: bool = True               # ACT halting in training; False = every sample runs n_sup steps
    halt_explore: float = 0.1       # prob. of a forced random minimum of 2..n_sup steps
    halt_loss_weight: float = 0.5
    seed: int = 0                   # model init + halting exploration
    checkpoint_every: int = 1000    # steps between checkpoints (0: only at the end / on signal)
    log_every: int = 100            # steps between log lines (train_log.jsonl + tqdm.write): means over them
    time_budget: float | None = None  # seconds of this session (resume: a fresh budget); then save and stop
    val_n: int = 1000               # validation puzzles for halting calibration at the end (0: skip)
    max_acc_drop: float = 0.005     # calibration: allowed exact-accuracy loss vs full depth
    arc: dict = field(default_factory=dict)  # ARC data options (arc_train.arc_setup): n_aug, n_train_puzzles, ...
    puzzle_lr: float = 1e-2         # puzzle-id embeddings: own sign-SGD (docs/model.md#training-recipe)
    puzzle_weight_decay: float = 0.1
    data: str | None = None         # Sudoku-Extreme files (train.csv or the authors' built dir) instead of
                                    # generated puzzles (trm_edge/tasks/sudoku_extreme.py)
    init: str | None = None         # start from this checkpoint's weights (folder or bundled name; same
                                    # model config but halt_threshold); optimizer and schedule start fresh
    portable: bool = False          # state to carry between machines: EMA, AdamW moments and the saved
                                    # model in bf16, no ACT carry (paper model: ~50 MB, files <= 16 MiB)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        if set(d) - known:
            raise ValueError(f"unknown TrainConfig fields: {sorted(set(d) - known)}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(**d)


SUDOKU_PAPER_STEPS = 50_000 * 1000 // 768      # 65,104 = int(epochs * puzzles / global batch), as pretrain.py

# Training presets: TrainConfig defaults per model preset; explicit overrides (CLI flags) win, `model` dicts merge.
TRAIN_PRESETS: dict[str, dict] = {
    # The paper's Sudoku run (docs/model.md#training-recipe): AdamW lr 1e-4, wd 1.0, betas (0.9, 0.95), warmup 2000,
    # global batch 768, EMA 0.999, stablemax CE, ACT with exploration 0.1; n=6, T=3, N_sup=16 come from
    # the preset. Puzzle-id embedding: sign-SGD lr 1e-4, wd 1.0 (the authors' Sudoku/Maze commands).
    # Length: 50,000 epochs x 1000 puzzles / batch 768 = 65,104 optimizer steps.
    # Data: Sudoku-hard, 1000 puzzles augmented on the fly. `portable` keeps every state file
    # <= 16 MiB so a run can hop between machines in --time-budget chunks with --resume.
    "sudoku-mlp": dict(model={"task": "sudoku9-hard"}, n_train=1000, batch_size=768, lr=1e-4,
                       weight_decay=1.0, betas=(0.9, 0.95), warmup=2000, ema=0.999, loss="stablemax",
                       halt=True, halt_explore=0.1, steps=SUDOKU_PAPER_STEPS, checkpoint_every=500,
                       log_every=50, val_n=1000, portable=True, puzzle_lr=1e-4, puzzle_weight_decay=1.0),
}


def preset_config(preset: str, **overrides) -> TrainConfig:
    """TrainConfig for `preset`: its training preset (if any), then `overrides` on top."""
    base = TRAIN_PRESETS.get(preset, {})
    model = {**base.get("model", {}), **(overrides.pop("model", None) or {})}
    return TrainConfig.from_dict({**base, "preset": preset, **overrides, "model": model})


def command_config(preset: str, values: dict, given: set, task: str | None = None, data: str | None = None,
                   model: dict | None = None, arc: dict | None = None) -> TrainConfig:
    """The TrainConfig of `trm-edge train`: `values` (its TrainConfig flags; `given`: the names set on
    the command line), where a preset with training settings replaces the flags' defaults (flags
    given explicitly still win), else TrainConfig's defaults; `task`, `data`
    (Sudoku-Extreme files: a 9x9 Sudoku model), `model` (TRMConfig overrides), `arc` (ARC data
    options, merged over the preset's). The model config is checked here, before any run folder is
    touched; errors are TRMEdgeError (one line)."""
    from ..errors import TRMEdgeError
    from ..model import TRMConfig

    values = {k: v for k, v in values.items() if k in given} if preset in TRAIN_PRESETS else dict(values)
    if (task == "sudoku-extreme") != bool(data):
        raise TRMEdgeError("--task sudoku-extreme and --data PATH go together")
    if data:  # a 9x9 Sudoku model (same tokens) streaming the files (trm_edge/tasks/sudoku_extreme.py)
        values["data"], task = data, "sudoku9"
    if arc:  # merged over the preset's ARC options (trm_edge/train/arc.py)
        values["arc"] = {**TRAIN_PRESETS.get(preset, {}).get("arc", {}), **arc}
    try:
        cfg = preset_config(preset, model={**(model or {}), **({"task": task} if task else {})}, **values)
        mcfg = TRMConfig.preset(cfg.preset, **cfg.model)
    except (ValueError, TypeError) as e:
        raise TRMEdgeError(str(e).splitlines()[0]) from None
    if arc and not mcfg.task.startswith("arc"):
        raise TRMEdgeError(f"--arc options are for ARC tasks; this model's task is {mcfg.task}")
    return cfg
