"""Deep-supervision training with per-sample ACT halting (the paper's training procedure), on CPU, CUDA or MPS.

One optimizer step = one supervision step on a batch "carry": every sample in the batch has its
own (y, z) state and step count. After the step a sample halts when q_halt > 0 or at n_sup; with
probability `halt_explore` a random minimum of 2..n_sup steps is forced, redrawn at every step as
in the authors' code; halted samples are
replaced by fresh ones from the data stream, so a batch mixes samples at different supervision
steps. With `halt=False` every sample runs all n_sup steps (the CPU prototype, docs/model.md#cpu-prototype).

Loss per step: stablemax CE (float64, as in the authors' code) or softmax CE over every cell,
+ 0.5 * BCE(q_halt, puzzle fully correct). AdamW (betas 0.9/0.95) with linear warmup, then constant
(the paper) or a cosine decay to lr_min_ratio at the last step; EMA of the weights (used for eval
and for the saved model), bf16 autocast on CUDA, optional torch.compile of the step. DDP under
torchrun (gloo on CPU, NCCL on GPU; train_device.py): each rank keeps its own carry and reads its
own data shard; gradients are averaged, so a 2-rank step with half batches equals the 1-process
step on the full batch.

Host syncs: a step reads one thing back from the device, the halted mask (`nonzero`: which samples
the host stream must replace); its metrics stay on the device and are summed there, read back once
per log line. (Under DDP, the stop flag adds one all_reduce per step.)

Checkpoints (see train_state.py) every `checkpoint_every` steps, at the end, on SIGTERM/SIGINT and
when `time_budget` runs out; `resume` continues with bit-identical next steps.
"""
from __future__ import annotations

import copy
import json
import math
import os
import signal
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..checkpoint import save_model
from ..data import TrainStream, load_split
from ..model import TRMConfig, TinyRecursiveModel, build_model, count_params
from ..tasks import get_task
from .arc import arc_setup, is_arc, split_optimizers
from .config import RESUMABLE, TrainConfig
from .device import any_rank, compile_step, dist_setup, to_device
from .state import (STATE_DIR, load_train_state, optimizer_from_flat, optimizer_to_flat, prefixed, save_train_state,
                    state_dir, unprefixed)


def lr_factor(step: int, warmup: int, steps: int, min_ratio: float) -> float:
    """lr multiplier of optimizer step `step` (0-based): linear warmup to 1, then a half cosine from
    1 down to min_ratio at the last step (the authors' cosine_schedule_with_warmup; 1.0: constant)."""
    if step + 1 < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step + 1 - warmup) / max(1, steps - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def stablemax_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """(B, S, V), (B, S) -> (B, S). s(x) = x+1 (x>=0) or 1/(1-x), normalised; in float64."""
    x = logits.double()
    s = torch.where(x >= 0, x + 1, 1 / (1 - x.clamp(max=0)))  # clamp: no inf/NaN grads from the unused branch
    logp = torch.log(s / s.sum(-1, keepdim=True))
    return -logp.gather(-1, labels.unsqueeze(-1)).squeeze(-1)


COUNTS = ("halted", "halted_exact", "halted_steps")  # integer metrics; the rest are floats
# averaged over every step of a log window, not read at its last step: each step of a batch sits at
# another supervision step of its carry (loss falls from step 1 to n_sup), so a single step's value
# alternates with that phase; with log_every >= n_sup the mean spans whole supervision cycles
MEANS = ("loss", "lm_loss", "q_loss", "acc", "exact")


def to_host(m: dict[str, torch.Tensor]) -> dict:
    """Device metrics -> Python numbers in one device-to-host copy (float64 holds every value exactly)."""
    values = torch.stack([v.double() for v in m.values()]).tolist()
    return {k: int(v) if k in COUNTS else v for k, v in zip(m, values)}


class SupervisionStep(nn.Module):
    """embed + one supervision step as a forward(), so DDP can wrap it."""

    def __init__(self, model: TinyRecursiveModel):
        super().__init__()
        self.model = model

    def forward(self, tokens, y, z, puzzle_ids=None):
        return self.model.step(self.model.embed(tokens, puzzle_ids), y, z)


class Trainer:
    """Holds model, optimizer, EMA, data stream and the ACT carry of one rank."""

    def __init__(self, cfg: TrainConfig, device: str = "cpu", stream=None, rank: int = 0, world: int = 1,
                 compile_backend: str | None = None, warm_start: bool = True):
        self.cfg, self.device, self.rank, self.world = cfg, torch.device(device), rank, world
        if cfg.batch_size % world:
            raise ValueError(f"batch_size {cfg.batch_size} is not divisible by {world} ranks")
        self.B = cfg.batch_size // world
        try:
            self.mcfg = TRMConfig.preset(cfg.preset, **cfg.model)
        except TypeError as e:  # dataclasses.replace on an unknown field: the CLI shows one line
            raise ValueError(f"bad --model override {sorted(cfg.model)}: {e}") from None
        self.extra_json = {}
        if is_arc(self.mcfg.task):  # fixed puzzles + a puzzle-id table (arc_train.py) set n_puzzle_ids
            self.mcfg, stream, self.extra_json = arc_setup(self.mcfg, cfg.arc, cfg.data_seed, rank, world)
        self.task = get_task(self.mcfg.task)
        torch.manual_seed(cfg.seed)
        self.model = build_model(self.mcfg).to(self.device)
        if cfg.init and warm_start:   # a resumed run loads its own weights instead
            self._init_from(cfg.init)
        self.fwd: nn.Module = SupervisionStep(self.model)
        if world > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.fwd = nn.parallel.DistributedDataParallel(self.fwd, device_ids=ids)
        self.fwd = compile_step(self.fwd, compile_backend)
        # AdamW for the network; sign-SGD for the puzzle-id embedding when the model has one
        self.opt, self.opt_puzzle = split_optimizers(self.model, cfg.lr, cfg.betas, cfg.weight_decay,
                                                     cfg.puzzle_lr, cfg.puzzle_weight_decay)
        self.ema = None
        if cfg.ema > 0:
            from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
            self.ema = AveragedModel(self.model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema), use_buffers=True)
        if stream is None and cfg.data:
            from ..tasks.sudoku_extreme import train_stream
            stream = train_stream(self.task, cfg.data, seed=cfg.data_seed, rank=rank, world=world,
                                  augment=cfg.augment)
        if stream is None:
            inputs, labels = load_split(self.task, "train", cfg.n_train, cfg.data_seed)
            stream = TrainStream(self.task, inputs, labels, seed=cfg.data_seed, rank=rank, world=world,
                                 augment=cfg.augment)
        self.stream = stream
        self.explore_rng = torch.Generator().manual_seed(cfg.seed * 1000 + rank + 1)
        self.step = 0
        self.elapsed = 0.0  # training seconds over all sessions
        # ACT carry: every sample starts "halted", so the first step fills the whole batch
        S, L, D = self.mcfg.seq_len, self.mcfg.total_len, self.mcfg.d_model
        self.carry = {
            "inputs": torch.ones(self.B, S, dtype=torch.int32),
            "labels": torch.zeros(self.B, S, dtype=torch.int64),
            "y": torch.zeros(self.B, L, D), "z": torch.zeros(self.B, L, D),
            "steps": torch.zeros(self.B, dtype=torch.int64),
            "halted": torch.ones(self.B, dtype=torch.bool),
            "puzzle_ids": torch.zeros(self.B, dtype=torch.int32),
        }
        self.carry = {k: v.to(self.device) for k, v in self.carry.items()}

    def _init_from(self, checkpoint: str) -> None:
        """Warm start: the weights of `checkpoint`, whose model must be this run's (halt_threshold aside:
        it is calibrated after training); the EMA, built next, starts from them too."""
        from ..checkpoint import load_model

        init, d = load_model(checkpoint)
        theirs, ours = asdict(init.cfg), asdict(self.mcfg)
        differ = sorted(k for k in ours if k != "halt_threshold" and theirs.get(k) != ours[k])
        if differ:
            raise ValueError(f"--init {d}: its model differs from this run's in {', '.join(differ)} "
                             f"(theirs: {', '.join(f'{k}={theirs[k]}' for k in differ)})")
        self.model.load_state_dict(init.state_dict())

    # -- one optimizer step ------------------------------------------------------------------
    def _refill(self) -> None:
        c = self.carry
        idx = c["halted"].nonzero().squeeze(1)  # the step's one host sync: the host stream needs k
        k = len(idx)
        if k == 0:
            return
        batch = self.stream.take(k)  # (inputs, labels[, puzzle_ids])
        inputs, labels = batch[0], batch[1]
        if len(batch) > 2:
            c["puzzle_ids"][idx] = to_device(batch[2], torch.int32, self.device)
        c["inputs"][idx] = to_device(inputs, torch.int32, self.device)
        c["labels"][idx] = to_device(labels, torch.int64, self.device)
        c["y"][idx] = self.model.y_init.float()
        c["z"][idx] = self.model.z_init.float()
        c["steps"][idx] = 0
        c["halted"][idx] = False

    def _min_steps(self) -> torch.Tensor:
        """(B,) forced minimum steps for this step's halting decision: 2..n_sup with probability
        halt_explore, else 0; redrawn at every step for every sample (authors' ACT exploration)."""
        explore = torch.rand(self.B, generator=self.explore_rng) < self.cfg.halt_explore
        forced = torch.randint(2, self.mcfg.n_sup + 1, (self.B,), generator=self.explore_rng)
        return to_device(torch.where(explore, forced, torch.zeros_like(forced)), torch.int64, self.device)

    def train_step(self, host: bool = True) -> dict:
        """One optimizer step -> its metrics: Python numbers, or with host=False 0-dim tensors on the
        device (no host sync; the training loop sums them there and reads them once per log line)."""
        cfg, c = self.cfg, self.carry
        self._refill()
        self.model.train()
        f = lr_factor(self.step, cfg.warmup, cfg.steps, cfg.lr_min_ratio)
        for g in self.opt.param_groups:
            g["lr"] = cfg.lr * f
        for g in self.opt_puzzle.param_groups if self.opt_puzzle is not None else []:
            g["lr"] = cfg.puzzle_lr * f
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            y, z, logits, q_halt = self.fwd(c["inputs"], c["y"], c["z"], c.get("puzzle_ids"))
        labels = c["labels"]
        if cfg.loss == "stablemax":
            ce = stablemax_cross_entropy(logits, labels)
        else:
            ce = F.cross_entropy(logits.float().transpose(1, 2), labels, reduction="none")
        # label 0 (pad) is not supervised: only ARC has pad cells in its labels (outside the grid)
        valid = labels != 0                                      # (B, S)
        correct = (logits.detach().argmax(-1) == labels) | ~valid  # (B, S)
        solved = correct.all(-1)                                 # (B,)
        lm_loss = ((ce * valid).sum(-1) / valid.sum(-1).clamp(min=1)).mean()
        q_loss = F.binary_cross_entropy_with_logits(q_halt.float(), solved.float())
        loss = lm_loss + cfg.halt_loss_weight * q_loss
        self.opt.zero_grad(set_to_none=True)
        if self.opt_puzzle is not None:
            self.opt_puzzle.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        if self.opt_puzzle is not None:
            self.opt_puzzle.step()
        if self.ema is not None:
            self.ema.update_parameters(self.model)
        self.step += 1
        # advance the carry; decide halting (no gradients)
        with torch.no_grad():
            c["y"], c["z"] = y.float(), z.float()
            c["steps"] += 1
            halted = c["steps"] >= self.mcfg.n_sup
            if cfg.halt:
                halted |= (q_halt.float() > 0) & (c["steps"] >= self._min_steps())
            c["halted"] = halted
            m = {"loss": loss.detach(), "lm_loss": lm_loss.detach(), "q_loss": q_loss.detach(),
                 "acc": correct.float().mean(), "exact": solved.float().mean(), "halted": halted.sum(),
                 "halted_exact": (halted & solved).sum(), "halted_steps": (c["steps"] * halted).sum()}
        return to_host(m) if host else m

    # -- state -------------------------------------------------------------------------------
    def eval_model(self) -> TinyRecursiveModel:
        return self.ema.module if self.ema is not None else self.model

    def _rank_state(self) -> tuple[dict, dict]:
        tensors = prefixed("carry", {k: v.cpu() for k, v in self.carry.items()})
        tensors["rng.explore"] = self.explore_rng.get_state()
        return tensors, {"stream": self.stream.state()}

    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        """Everything needed to resume (collective under DDP: every rank must call it)."""
        tensors, meta = self._rank_state()
        per_rank = [(tensors, meta)]
        if self.world > 1:
            import torch.distributed as dist
            per_rank = [None] * self.world
            dist.all_gather_object(per_rank, (tensors, meta))
        out = prefixed("model", self.model.state_dict())
        if self.ema is not None:
            out.update(prefixed("ema", self.ema.state_dict()))
        flat, groups = optimizer_to_flat(self.opt)
        out.update(flat)
        out["rng.torch"] = torch.get_rng_state()
        for r, (t, _) in enumerate(per_rank):
            out.update(prefixed(f"rank{r}", t if not self.cfg.portable else
                                {k: v for k, v in t.items() if not k.startswith("carry.")}))
        if self.cfg.portable:  # weights stay fp32; their EMA and the AdamW moments go bf16
            ema_params = {f"ema.module.{n}" for n, _ in self.model.named_parameters()}
            out = {k: v.to(torch.bfloat16) if k in ema_params or k.endswith((".exp_avg", ".exp_avg_sq")) else v
                   for k, v in out.items()}
        meta = {"step": self.step, "elapsed": self.elapsed, "world": self.world,
                "train_config": asdict(self.cfg), "model_config": asdict(self.mcfg),
                "optim_groups": groups, "ranks": [m for _, m in per_rank]}
        return out, meta

    def load_state(self, tensors: dict, meta: dict) -> None:
        if meta["world"] != self.world:
            raise ValueError(f"state was saved with {meta['world']} ranks; resume with the same number")
        self.model.load_state_dict(unprefixed("model", tensors))
        if self.ema is not None:
            self.ema.load_state_dict(unprefixed("ema", tensors))
        optimizer_from_flat(self.opt, tensors, meta["optim_groups"])
        torch.set_rng_state(tensors["rng.torch"])
        mine = unprefixed(f"rank{self.rank}", tensors)
        carry = unprefixed("carry", mine)
        if carry:  # a portable state has none: the batch refills with fresh samples
            self.carry = {k: v.to(self.device) for k, v in carry.items()}
        self.explore_rng.set_state(mine["rng.explore"])
        self.stream.load_state(meta["ranks"][self.rank]["stream"])
        self.step, self.elapsed = int(meta["step"]), float(meta["elapsed"])

    def save(self, out: Path) -> None:
        """Training state first, then the EMA model (collective under DDP; rank 0 writes)."""
        tensors, meta = self.state()
        if self.rank == 0:
            save_train_state(state_dir(out), tensors, meta)
            info = {"step": self.step, "train_seconds": round(self.elapsed, 1), "train_config": asdict(self.cfg)}
            model = self.eval_model()
            if self.cfg.portable:  # bf16 weights (fp32 buffers): the paper model's file is 10 MB
                model = copy.deepcopy(model)
                for p in model.parameters():
                    p.data = p.data.to(torch.bfloat16)
            save_model(model, out / "model", extra_json={"training.json": info, **self.extra_json}, force=True)


# ---- the loop ------------------------------------------------------------------------------
RUN_FILES = ("model", STATE_DIR, "train_log.jsonl", "summary.json")   # what a run directory holds


def train(cfg: TrainConfig, out: str | Path, device: str | None = None, resume: bool = False,
          progress: bool = True, compile_backend: str | None = None, force: bool = False) -> dict:
    """Train (or resume) into run directory `out`; returns the final metrics summary.
    compile_backend: torch.compile the supervision step with this backend ("inductor"; None: eager).
    An existing run is only continued (resume) or started over (force), never silently replaced."""
    from tqdm import tqdm

    from ..safe_io import OutputError

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{out} exists and is not a folder")
    if not resume and not force and any((out / n).exists() for n in RUN_FILES):
        raise OutputError(f"run exists: {out}: pass --resume to continue or --force to start over")
    rank, world, device = dist_setup(device)
    if resume:
        tensors, meta = load_train_state(out)
        cfg = TrainConfig.from_dict({**meta["train_config"], **_overridable(cfg)})
    trainer = Trainer(cfg, device, rank=rank, world=world, compile_backend=compile_backend, warm_start=not resume)
    if resume:
        trainer.load_state(tensors, meta)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signal.Signals(signum).name
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    bar = tqdm(total=cfg.steps, initial=trainer.step, disable=not progress or rank != 0,
               desc=f"train {trainer.mcfg.task} ({count_params(trainer.model) / 1e3:.0f}k params)")
    sums = COUNTS + MEANS
    window = {"t": time.perf_counter(), "samples": 0, "steps": 0, **{k: 0 for k in sums}}  # sums: device tensors
    logf = open(out / "train_log.jsonl", "a" if resume else "w") if rank == 0 else None
    m, reason = {}, "steps"
    session_start = trainer.elapsed  # --time-budget is per session: a resumed run gets its own budget
    try:
        while trainer.step < cfg.steps:
            t0 = time.perf_counter()
            m = trainer.train_step(host=False)
            trainer.elapsed += time.perf_counter() - t0
            window["samples"] += trainer.B * world
            window["steps"] += 1
            for k in sums:
                window[k] = window[k] + m[k]
            bar.update(1)
            if cfg.log_every and trainer.step % cfg.log_every == 0 and rank == 0:
                w = to_host({k: window[k] for k in sums})  # the one read-back per log line
                w.update({k: w[k] / window["steps"] for k in MEANS})
                dt = time.perf_counter() - window["t"]
                bar.set_postfix(loss=f"{w['loss']:.3f}", acc=f"{w['acc']:.3f}", exact=f"{w['exact']:.3f}")
                h = max(1, w["halted"])
                line = {"step": trainer.step, **{k: round(w[k], 4) for k in ("loss", "lm_loss", "q_loss", "acc", "exact")},
                        "halted_exact": round(w["halted_exact"] / h, 4),
                        "halted_mean_steps": round(w["halted_steps"] / h, 2),
                        "window_steps": window["steps"], "samples_per_s": round(window["samples"] / dt, 1),
                        "elapsed_s": round(trainer.elapsed, 1)}
                if trainer.device.type == "cuda":  # peak GPU memory of this process so far
                    line["gpu_mem_gib"] = round(torch.cuda.max_memory_allocated(trainer.device) / 2**30, 2)
                logf.write(json.dumps(line) + "\n")
                logf.flush()
                bar.write(" ".join(f"{k}={v}" for k, v in line.items()))
                window.update(t=time.perf_counter(), samples=0, steps=0, **{k: 0 for k in sums})
            over = cfg.time_budget is not None and trainer.elapsed - session_start >= cfg.time_budget
            if any_rank(stop["signal"] is not None or over, world, trainer.device):
                reason = stop["signal"] or "time budget"
                break
            if cfg.checkpoint_every and trainer.step % cfg.checkpoint_every == 0 and trainer.step < cfg.steps:
                trainer.save(out)
        trainer.save(out)
        m = to_host(m) if m else m
    finally:
        bar.close()
        for s, h in old.items():
            signal.signal(s, h)
        if logf:
            logf.close()
    summary = {"step": trainer.step, "stopped_by": reason, "train_seconds": round(trainer.elapsed, 1),
               "params": count_params(trainer.model), **{k: m.get(k) for k in ("loss", "acc", "exact")}}
    # generated validation puzzles: not for ARC, nor for a model trained on Sudoku-Extreme files (another
    # distribution; run `trm-edge calibrate` if that is what you want)
    if rank == 0 and trainer.step >= cfg.steps and cfg.val_n > 0 and not is_arc(trainer.mcfg.task) and not cfg.data:
        from ..evaluate import tune_halt_threshold
        summary["calibration"] = tune_halt_threshold(out / "model", n=cfg.val_n, seed=cfg.data_seed,
                                                      n_train=cfg.n_train, max_drop=cfg.max_acc_drop,
                                                      device=device)
    if rank == 0:
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def prepare_train_data(cfg: TrainConfig, workers: int | None = None) -> dict:
    """Generate (or find) the run's training puzzles and the validation puzzles its end-of-run
    calibration reads, in the cache ($TRM_EDGE_CACHE). Carry that folder to a machine without numba
    (or without minutes to spare) and its run starts training at once."""
    from ..data import cache_dir

    try:
        task_name = TRMConfig.preset(cfg.preset, **cfg.model).task
    except TypeError as e:
        raise ValueError(f"bad --model override {sorted(cfg.model)}: {e}") from None
    if is_arc(task_name) or cfg.data:
        raise ValueError("--prepare-data generates puzzles; ARC and --data runs read their own files")
    task, workers, t0 = get_task(task_name), workers or min(8, os.cpu_count() or 1), time.perf_counter()
    out = {"cache": str(cache_dir()), "task": task.name,
           "train": len(load_split(task, "train", cfg.n_train, cfg.data_seed, workers=workers)[0])}
    if cfg.val_n > 0:
        out["val"] = len(load_split(task, "val", cfg.val_n, cfg.data_seed, n_train=cfg.n_train, workers=workers)[0])
    return out | {"seconds": round(time.perf_counter() - t0, 1)}


def _overridable(cfg: TrainConfig) -> dict:
    """On resume only the stopping rules may change (same data, model and optimizer)."""
    default = TrainConfig()
    return {k: getattr(cfg, k) for k in RESUMABLE if getattr(cfg, k) != getattr(default, k)}
