"""`trm-edge train`, `calibrate` and `import`: make or adjust a checkpoint."""
from __future__ import annotations

import click

from ..errors import TRMEdgeError
from ..schema import MAX_N_TRAIN, MAX_OPT_STEPS, MAX_PUZZLES
from ..train.config import TrainConfig
from ._group import BATCH, DIR, PUZZLES, SEED, THREADS, Finite, checkpoint_opt, cli, flags, opt, _kv_overrides


def _given(ctx) -> set[str]:
    return {k for k in ctx.params if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}


# ---- train ----------------------------------------------------------------------------------
# TrainConfig settings that are flags: --name-with-dashes, default from TrainConfig (the one place)
TRAIN_FLAGS = {
    "steps": (click.IntRange(1, MAX_OPT_STEPS), "Optimizer steps."),
    "batch_size": (BATCH, "Global batch."),
    "lr": (Finite(0, 10, min_open=True), None),
    "weight_decay": (Finite(0, 10), None),
    "warmup": (click.IntRange(0, MAX_OPT_STEPS), None),
    "lr_min_ratio": (click.FloatRange(0, 1), "lr at the last step / --lr: cosine decay after the warmup (1: constant, "
                                             "the paper)."),
    "ema": (Finite(0, 1, max_open=True), "EMA decay (0 disables)."),
    "loss": (click.Choice(["stablemax", "softmax"]), None),
    "halt": (bool, "ACT halting + batch refill in training; --no-halt trains every step up to n_sup."),
    "n_train": (click.IntRange(1, MAX_N_TRAIN), "Generated training puzzles."),
    "data_seed": (SEED, None),
    "seed": (SEED, "Model init + halting exploration."),
    "checkpoint_every": (click.IntRange(0, MAX_OPT_STEPS), None),
    "log_every": (click.IntRange(0, MAX_OPT_STEPS), None),
    "time_budget": (Finite(0, 1e12, min_open=True), "Seconds of training; then save and stop (continue with --resume)."),
    "val_n": (click.IntRange(0, MAX_PUZZLES), "Validation puzzles for halting calibration at the end (0: skip)."),
    "init": (str, "Start from this checkpoint's weights (a folder or a bundled name, same model); fresh optimizer."),
    "portable": (bool, "Smaller state files (bf16 EMA/moments, no ACT carry) to move a run between machines."),
}


@cli.command()
@opt("--out", required=True, type=DIR, help="Run directory (model/ + train_state/).")
@opt("--preset", default="sudoku6-small",
     help="TRMConfig preset; a preset with training settings (sudoku-mlp: the paper's) sets the defaults below.")
@opt("--task", help="Task override, e.g. sudoku9-hard, or sudoku-extreme with --data (default: the preset's).")
@opt("--data", type=click.Path(exists=True),
     help="sudoku-extreme: train.csv (or its directory) or the authors' built data set directory.")
@opt("--model", "model_kv", multiple=True, metavar="KEY=VALUE", help="TRMConfig override (repeatable).")
@opt("--arc", "arc_kv", multiple=True, metavar="KEY=VALUE",
     help="ARC data option (repeatable): n_aug, n_train_puzzles, n_eval_puzzles, seed, translate.")
@flags(TRAIN_FLAGS, TrainConfig())
@opt("--resume", is_flag=True, help="Continue from <out>/train_state (same data, model, optimizer).")
@opt("--force", is_flag=True, help="Start over in an existing run directory (its other files are kept).")
@opt("--device", default="auto", help="cpu, cuda, cuda:N, mps or auto; an explicit device that is absent is an error.")
@opt("--compile", "compile_step", is_flag=True, help="torch.compile the supervision step (inductor).")
@opt("--prepare-data", is_flag=True,
     help="Only generate the training and validation puzzles into the cache ($TRM_EDGE_CACHE), then exit.")
@opt("--threads", type=THREADS, help="torch intra-op threads.")
@opt("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train(ctx, out, preset, task, data, model_kv, arc_kv, resume, force, device, compile_step, prepare_data, threads,
          quiet, **values):
    """Train a TRM with deep supervision (torchrun for DDP); checkpoints into --out."""
    import json
    import torch
    from ..train.config import command_config, resume_conflicts
    from ..train.loop import prepare_train_data, train as run_train
    from ..train.state import saved_train_config

    model, arc = _kv_overrides(model_kv), _kv_overrides(arc_kv, "--arc")
    if resume:  # the run's own settings come from its state; only the stopping rules may change
        given = {k.removesuffix("_kv"): {"model_kv": model, "arc_kv": arc}.get(k, ctx.params[k]) for k in _given(ctx)}
        conflicts = set(resume_conflicts(saved_train_config(out), given))
        fixed = [p.opts[-1] for p in ctx.command.params if p.name.removesuffix("_kv") in conflicts]
        if fixed:
            raise click.UsageError(f"--resume continues the run with its own settings; {', '.join(fixed)} cannot change "
                                   "(only --steps, --time-budget, --checkpoint-every, --log-every, --val-n)")
    if threads:
        torch.set_num_threads(threads)
    cfg = command_config(preset, values, _given(ctx), task=task, data=data, model=model, arc=arc)
    try:
        if prepare_data:
            click.echo(json.dumps(prepare_train_data(cfg)))
            return
        summary = run_train(cfg, out, device=device, resume=resume, progress=not quiet, force=force,
                            compile_backend="inductor" if compile_step else None)
    except ValueError as e:
        raise TRMEdgeError(str(e)) from None
    click.echo(json.dumps(summary))


# ---- calibrate ------------------------------------------------------------------------------
@cli.command()
@checkpoint_opt()
@opt("--n", "n", default=1000, type=PUZZLES, help="Validation puzzles.")
@opt("--max-drop", default=0.005, type=click.FloatRange(0, 1), help="Allowed exact-accuracy loss vs full depth.")
@opt("--device", default="auto")
def calibrate(checkpoint, n, max_drop, device):
    """Choose the q_halt threshold on a validation split; store it in the checkpoint's config.

    Writes only calibration.json and config.json's halt_threshold; bundled models are refused (copy one first)."""
    import json
    from ..evaluate import tune_halt_threshold
    from ..runtime import pick_device   # eager PyTorch's device (imports torch)

    click.echo(json.dumps(tune_halt_threshold(checkpoint, n=n, max_drop=max_drop, device=pick_device(device))))


# ---- import (the authors' checkpoints) ------------------------------------------------------
@cli.command("import")
@click.argument("path", type=click.Path(exists=True))
@opt("--out", required=True, type=DIR, help="trm-edge checkpoint directory to write.")
@opt("--dataset", type=click.Path(exists=True),
     help="The run's data set directory (its dataset.json: seq_len, vocab, puzzle ids).")
@opt("--seq-len", type=click.IntRange(1, 65536), help="Output cells, when not in --dataset / weights.")
@opt("--task", help="trm-edge task (default: from seq_len and vocab).")
@opt("--force", is_flag=True, help="Write into an existing folder that is not a checkpoint (its other files are kept).")
def import_cmd(path, out, dataset, seq_len, task, force):
    """Import the authors' TRM checkpoint (a step_N file or its run directory with all_config.yaml)."""
    from ..checkpoint.authors import import_checkpoint

    res = import_checkpoint(path, out, dataset=dataset, seq_len=seq_len, task=task, force=force)
    c = res["config"]
    click.echo(f"imported {res['source']} -> {res['out']}: task {c['task']}, {c['mixer']} mixer, pos {c['pos']}, "
               f"D={c['d_model']}, n={c['n_latent']}, T={c['T']}, N_sup={c['n_sup']}, "
               f"{c['n_puzzle_ids']} puzzle id(s)")
    for note in res["notes"]:
        click.echo(f"note: {note}")
