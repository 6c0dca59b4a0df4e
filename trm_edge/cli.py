"""`trm-edge` command line. It only parses arguments and calls the library.

Each verb is a small click command; errors derived from TRMEdgeError / PuzzleError become one line
on stderr and exit code 2 (see `main`).
"""
from __future__ import annotations

import sys

import click

from .bench.quiet import IdleLimits
from .errors import MissingExtraError, TRMEdgeError, extra_for, held_warnings
from .schema import MAX_BATCH, MAX_DEPTH, MAX_N_SUP, MAX_PUZZLES, MAX_STEPS
from .tasks.base import PuzzleError
from .train.config import TRAIN_PRESETS, RESUMABLE, TrainConfig, preset_config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trm-edge")
def cli():
    """Tiny Recursive Models: train, export, benchmark, embed."""


class Finite(click.FloatRange):
    """A float option in a range that also refuses nan and inf (click's FloatRange lets nan through)."""

    def convert(self, value, param, ctx):
        import math

        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


# every number has a range (the file formats' ranges: trm_edge.schema)
PUZZLES = click.IntRange(1, MAX_PUZZLES)
SEED = click.IntRange(0, 2**32 - 1)
MAX_STEPS_OPT = click.IntRange(1, MAX_N_SUP)
THRESHOLD = Finite(-1e6, 1e6)
THREADS = click.IntRange(1, 1024)
BATCH = click.IntRange(1, 65536)
IDLE = IdleLimits()   # bench's idle-machine defaults (defined once, in trm_edge.bench.quiet)


class LoHi(click.ParamType):
    """LO-HI, two integers 0..999 with LO <= HI (e.g. --givens 30-36) -> (lo, hi)."""
    name = "LO-HI"

    def convert(self, value, param, ctx):
        import re

        m = re.fullmatch(r"([0-9]{1,3})-([0-9]{1,3})", str(value))
        if not m or int(m[1]) > int(m[2]):
            self.fail(f"expected LO-HI, e.g. 30-36, got {value!r}", param, ctx)
        return int(m[1]), int(m[2])


def pick_device(device: str | None) -> str:
    from .runtime import pick_device as pick   # eager PyTorch's device (imports torch)

    return pick(device)


# ---- commands (one block per verb; keep each thin) -----------------------------------------

# -- train ------------------------------------------------------------------------------------
# TrainConfig settings that are flags: --name-with-dashes, default from TrainConfig (the one place)
TRAIN_FLAGS = {
    "steps": (click.IntRange(1, MAX_STEPS), "Optimizer steps."),
    "batch_size": (BATCH, "Global batch."),
    "lr": (Finite(0, 10, min_open=True), None),
    "weight_decay": (Finite(0, 10), None),
    "warmup": (click.IntRange(0, MAX_STEPS), None),
    "lr_min_ratio": (click.FloatRange(0, 1), "lr at the last step / --lr: cosine decay after the warmup (1: constant, "
                                             "the paper)."),
    "ema": (Finite(0, 1, max_open=True), "EMA decay (0 disables)."),
    "loss": (click.Choice(["stablemax", "softmax"]), None),
    "halt": (bool, "ACT halting + batch refill in training; --no-halt trains every step up to n_sup."),
    "n_train": (click.IntRange(1, 100_000_000), "Generated training puzzles."),
    "data_seed": (SEED, None),
    "seed": (SEED, "Model init + halting exploration."),
    "checkpoint_every": (click.IntRange(0, MAX_STEPS), None),
    "log_every": (click.IntRange(0, MAX_STEPS), None),
    "time_budget": (Finite(0, 1e12, min_open=True), "Seconds of training; then save and stop."),
    "val_n": (click.IntRange(0, MAX_PUZZLES), "Validation puzzles for halting calibration at the end (0: skip)."),
    "portable": (bool, "State files <= 16 MiB (bf16 EMA/moments, no ACT carry) to move a run between machines."),
}


def train_settings(f):
    default = TrainConfig()
    for name, (kind, help_) in reversed(TRAIN_FLAGS.items()):
        flag = "--" + name.replace("_", "-")
        decl, kw = ((f"{flag}/--no-{flag[2:]}",), {}) if kind is bool else ((flag,), {"type": kind})
        value = getattr(default, name)
        f = click.option(*decl, name, default=value, show_default=value is not None, help=help_, **kw)(f)
    return f


def _kv_overrides(items, param_hint: str = "--model") -> dict:
    """('d_model=32', 'hidden_multiple=1') -> {'d_model': 32, 'hidden_multiple': 1} (JSON values)."""
    import json

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=param_hint)
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _same_as_saved(name: str, value, saved: dict) -> bool:
    """Whether a train option given with --resume only repeats the run's saved setting."""
    model = saved.get("model") if isinstance(saved.get("model"), dict) else {}
    if name == "task":
        return model.get("task") == value or (value == "sudoku-extreme" and bool(saved.get("data")))
    if name == "model_kv":
        return all(model.get(k) == v for k, v in _kv_overrides(value).items())
    if name == "data":
        return bool(saved.get("data"))
    if name == "arc_kv":
        arc = saved.get("arc") if isinstance(saved.get("arc"), dict) else {}
        return all(arc.get(k) == v for k, v in _kv_overrides(value, "--arc").items())
    return name in saved and saved[name] == value


@cli.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory (model/ + train_state/).")
@click.option("--preset", default="sudoku6-small", show_default=True,
              help="TRMConfig preset; a preset with training settings (sudoku-mlp: the paper's) sets the defaults below.")
@click.option("--task", default=None, help="Task override, e.g. sudoku9-hard, or sudoku-extreme with --data "
              "(default: the preset's).")
@click.option("--data", default=None, type=click.Path(exists=True),
              help="sudoku-extreme: train.csv (or its directory) or the authors' built data set directory.")
@click.option("--model", "model_kv", multiple=True, metavar="KEY=VALUE", help="TRMConfig override (repeatable).")
@click.option("--arc", "arc_kv", multiple=True, metavar="KEY=VALUE",
              help="ARC data option (repeatable): n_aug, n_train_puzzles, n_eval_puzzles, seed, translate.")
@train_settings
@click.option("--resume", is_flag=True, help="Continue from <out>/train_state (same data, model, optimizer).")
@click.option("--force", is_flag=True, help="Start over in an existing run directory (its other files are kept).")
@click.option("--device", default="auto", show_default=True,
              help="cpu, cuda, cuda:N, mps or auto; an explicit device that is absent is an error.")
@click.option("--compile", "compile_step", is_flag=True, help="torch.compile the supervision step (inductor).")
@click.option("--prepare-data", is_flag=True,
              help="Only generate the training and validation puzzles into the cache ($TRM_EDGE_CACHE), then exit.")
@click.option("--threads", default=None, type=THREADS, help="torch intra-op threads.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train(ctx, out, preset, task, data, model_kv, arc_kv, resume, force, device, compile_step, prepare_data, threads,
          quiet, **values):
    """Train a TRM with deep supervision (torchrun for DDP); checkpoints into --out."""
    import json

    import torch

    from .model import TRMConfig
    from .train.loop import prepare_train_data, train as run_train

    given = [k for k in ctx.params if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE]
    if resume:  # the run's own settings come from its state; only the stopping rules may change
        from pathlib import Path

        from .schema import read_json

        f = Path(out) / "train_state" / "state.json"
        saved = read_json(f, "training state").get("train_config", {}) if f.is_file() else {}
        saved = saved if isinstance(saved, dict) else {}
        fixed = [p.opts[-1] for p in ctx.command.params if p.name in set(given) - {
            "out", "resume", "device", "threads", "quiet", *RESUMABLE}
            and not _same_as_saved(p.name, ctx.params[p.name], saved)]
        if fixed:
            raise click.UsageError(f"--resume continues the run with its own settings; {', '.join(fixed)} cannot change "
                                   "(only --steps, --time-budget, --checkpoint-every, --log-every, --val-n)")
    if threads:
        torch.set_num_threads(threads)
    if preset in TRAIN_PRESETS:  # its settings replace the option defaults; options given explicitly still win
        values = {k: v for k, v in values.items()
                  if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE}
    if (task == "sudoku-extreme") != bool(data):
        raise click.UsageError("--task sudoku-extreme and --data PATH go together")
    if data:  # a 9x9 Sudoku model (same tokens) streaming the files (trm_edge/tasks/sudoku_extreme.py)
        values["data"], task = data, "sudoku9"
    model = _kv_overrides(model_kv) | ({"task": task} if task else {})
    if arc_kv:  # merged over the preset's ARC options (trm_edge/train/arc.py)
        values["arc"] = {**TRAIN_PRESETS.get(preset, {}).get("arc", {}), **_kv_overrides(arc_kv, "--arc")}
    try:
        cfg = preset_config(preset, model=model, **values)
        mcfg = TRMConfig.preset(cfg.preset, **cfg.model)   # checked here, before the run folder is touched
    except (ValueError, TypeError) as e:
        raise TRMEdgeError(str(e).splitlines()[0]) from None
    if arc_kv and not mcfg.task.startswith("arc"):
        raise click.UsageError(f"--arc options are for ARC tasks; this model's task is {mcfg.task}")
    try:
        if prepare_data:
            click.echo(json.dumps(prepare_train_data(cfg)))
            return
        summary = run_train(cfg, out, device=device, resume=resume, progress=not quiet, force=force,
                            compile_backend="inductor" if compile_step else None)
    except ValueError as e:
        raise TRMEdgeError(str(e)) from None
    click.echo(json.dumps(summary))


# -- eval / calibrate -------------------------------------------------------------------------
@cli.command("eval")
@click.option("--checkpoint", default=None, help="Checkpoint dir or bundled name (default: bundled).")
@click.option("--n", "n", default=1000, show_default=True, type=PUZZLES, help="Test puzzles.")
@click.option("--seed", default=None, type=SEED, help="Data seed (default: the checkpoint's training seed).")
@click.option("--max-steps", default=None, type=MAX_STEPS_OPT, help="Supervision steps (default: n_sup).")
@click.option("--threshold", default=None, type=THRESHOLD, help="q_halt threshold (default: the checkpoint's).")
@click.option("--batch-size", default=256, show_default=True, type=BATCH)
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False), help="Write the result JSON here.")
@click.option("--device", default="auto", show_default=True)
@click.option("--artifact", default=None, type=click.Path(exists=True),
              help="An exported artifact: run it through its runtime (no PyTorch needed) and, with PyTorch, "
                   "add drift vs eager fp32 (--checkpoint then names the eager reference, default: the manifest's source).")
@click.option("--task", default=None, help="arc1-eval / arc2-eval: ARC voting evaluation (pass@1, pass@2); "
              "sudoku-extreme: the test split of --data, per rating bucket (--n subsamples).")
@click.option("--subset", default=None, type=click.IntRange(1, 100_000), help="ARC: first N evaluation puzzles (default: all).")
@click.option("--data", default=None, type=click.Path(exists=True),
              help="The authors' built data set directory (its test/ split, any task, with puzzle ids); "
                   "with --task sudoku-extreme also test.csv (or its directory), per rating bucket.")
@click.option("--givens", default=None, metavar="LO-HI", type=LoHi(),
              help="Sudoku: test puzzles with LO..HI givens (e.g. 30-36, newspaper puzzles) instead of the "
                   "training range.")
def eval_cmd(checkpoint, n, seed, max_steps, threshold, batch_size, json_out, device, artifact, task, subset, data,
             givens):
    """Exact and cell accuracy after every supervision step, and with adaptive halting."""
    from .evaluate.run import EvalRequest, run_eval

    if task == "sudoku-extreme" and not data:
        raise click.UsageError("--task sudoku-extreme and --data PATH go together")
    if data and task not in (None, "sudoku-extreme"):
        raise click.UsageError("--data goes without --task (the authors' built data set) or with --task sudoku-extreme")
    if givens is not None and (task or data):
        raise click.UsageError("--givens picks Sudoku test puzzles of the checkpoint's own task; not with --task or --data")
    _, text = run_eval(EvalRequest(checkpoint=checkpoint, artifact=artifact, task=task, data=data, n=n, seed=seed,
                                   max_steps=max_steps, threshold=threshold, batch_size=batch_size,
                                   device=device, subset=subset, givens=givens, json_out=json_out))
    click.echo(text)


@cli.command()
@click.option("--checkpoint", default=None, help="Checkpoint dir or bundled name (default: bundled).")
@click.option("--n", "n", default=1000, show_default=True, type=PUZZLES, help="Validation puzzles.")
@click.option("--max-drop", default=0.005, show_default=True, type=click.FloatRange(0, 1),
              help="Allowed exact-accuracy loss vs full depth.")
@click.option("--device", default="auto", show_default=True)
def calibrate(checkpoint, n, max_drop, device):
    """Choose the q_halt threshold on a validation split; store it in the checkpoint's config.

    Writes only calibration.json and config.json's halt_threshold; bundled models are refused (copy one first)."""
    import json

    from .evaluate import tune_halt_threshold

    click.echo(json.dumps(tune_halt_threshold(checkpoint, n=n, max_drop=max_drop, device=pick_device(device))))


# -- solve / demo -----------------------------------------------------------------------------
@cli.command()
@click.argument("puzzle")
@click.option("--checkpoint", default=None, help="Checkpoint dir or bundled name (default: bundled).")
@click.option("--artifact", default=None, type=click.Path(exists=True, file_okay=False),
              help="An exported artifact directory: solve with its runtime (no PyTorch needed).")
@click.option("--max-steps", default=None, type=MAX_STEPS_OPT, help="Supervision steps (default: n_sup).")
@click.option("--all-steps", is_flag=True, help="Keep refining after the halting step.")
@click.option("--threshold", default=None, type=THRESHOLD, help="q_halt threshold (default: the model's).")
def solve(puzzle, checkpoint, artifact, max_steps, all_steps, threshold):
    """Solve PUZZLE (a string like '1.3...' with '.' or '0' for blanks, or a file holding one)."""
    from .apps.demo import open_for_solve, solve_steps

    if artifact and checkpoint:
        raise click.UsageError("give --checkpoint or --artifact, not both")
    sess, task, tokens = open_for_solve(puzzle, artifact=artifact, checkpoint=checkpoint)
    if not artifact and sess.backend != "eager":
        click.echo(f"(no PyTorch here: the bundled {sess.manifest['name']} artifact on {sess.backend})", err=True)
    _, _, valid = solve_steps(sess, task, tokens, max_steps, all_steps, threshold, echo=click.echo)
    if not valid:
        sys.exit(1)


@cli.command()
@click.option("--checkpoint", default=None, help="Checkpoint dir or bundled name (default: bundled).")
@click.option("--puzzles", "n_show", default=2, show_default=True, type=click.IntRange(0, 100), help="Puzzles shown live.")
@click.option("--n", "n_table", default=300, show_default=True, type=PUZZLES, help="Puzzles in the table.")
@click.option("--seed", default=None, type=SEED, help="Puzzle seed (default: random).")
@click.option("--export", "export_target", default="onnx", show_default=True,
              type=click.Choice(["onnx", "executorch", "tflite", "none"]),
              help="Also export a looped artifact and run the same puzzles through its runtime.")
def demo(checkpoint, n_show, n_table, seed, export_target):
    """The bundled model solving fresh puzzles live, accuracy per depth, then an exported runtime."""
    from .apps.demo import run_demo

    run_demo(checkpoint, n_show=n_show, n_table=n_table, seed=seed,
             export_target=None if export_target == "none" else export_target, echo=click.echo)



# -- bench ------------------------------------------------------------------------------------
@cli.command()
@click.argument("artifacts", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--all-targets", is_flag=True, help="Also export + bench every target available here.")
@click.option("--checkpoint", default=None, help="Eager reference and export source (default: bundled).")
@click.option("--preset", default=None, help="Instead: random weights of a model preset (timing only).")
@click.option("--device", default="host", show_default=True, help="Device profile (`trm-edge devices`).")
@click.option("--depths", default="1,2,4,8,16", show_default=True, help="Supervision steps (clipped to n_sup).")
@click.option("--halt/--no-halt", default=True, show_default=True, help="Also measure adaptive halting.")
@click.option("--halt-threshold", default=None, type=THRESHOLD, help="Halt when q_halt > this (default: the model's).")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(1, MAX_BATCH))
@click.option("--threads", default=None, type=THREADS, help="Intra-op threads (default: profile / runtime).")
@click.option("--runs", default=20, show_default=True, type=click.IntRange(1, 100_000), help="Timed runs per depth.")
@click.option("--warmup", default=3, show_default=True, type=click.IntRange(0, 10_000), help="Untimed runs before them.")
@click.option("--n-puzzles", default=100, show_default=True, type=PUZZLES, help="Test puzzles scored.")
@click.option("--precisions", default="fp32,int8", show_default=True, help="Precisions of the default exports.")
@click.option("--no-eager", is_flag=True, help="Skip the eager PyTorch reference.")
@click.option("--in-process", is_flag=True, help="Measure in this process (faster; peak RSS not per runtime).")
@click.option("--runner", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Android: a benchmark_model / executor_runner binary instead of the demo app.")
@click.option("--json", "json_out", default=None, help="Result JSON (default: benchmarks/results/<device>-<date>.json).")
@click.option("--plot", "plot_out", default=None, help="PNG plots (default: next to the JSON).")
@click.option("--markdown", "md_out", default=None, help="Markdown table (default: next to the JSON).")
@click.option("--force", is_flag=True, help="Overwrite existing result files this command names itself "
              "(the default JSON, the .md / .png beside --json).")
@click.option("--require-idle", default=None, type=click.IntRange(0, 86400), metavar="SECONDS",
              help="Before measuring, wait up to SECONDS for an idle machine, else stop (exit 2); 0: check once. "
                   "Default: only record the load (the `quiet` block of the result).")
@click.option("--idle-load", default=IDLE.load_per_cpu, show_default=True, type=Finite(0, 1024),
              help="Idle: 1-min load average per logical CPU at most this.")
@click.option("--idle-cpu", default=IDLE.others_cpu_pct, show_default=True, type=Finite(0, 1e6),
              help="Idle: all other processes together at most this % of one core.")
@click.option("--idle-window", default=IDLE.window_s, show_default=True, type=Finite(0.1, 600),
              help="Seconds over which other processes' CPU is measured.")
def bench(artifacts, all_targets, checkpoint, preset, device, depths, halt, halt_threshold, batch, threads, runs, warmup, n_puzzles,
          precisions, no_eager, in_process, runner, json_out, plot_out, md_out, force, require_idle, idle_load, idle_cpu,
          idle_window):
    """Latency, memory and accuracy per recursion depth, for eager PyTorch and each artifact."""
    import shlex

    from .bench.host import BenchSettings
    from .bench.report import output_paths, plot, to_markdown, write_json
    from .bench.run import BenchRequest, run_bench
    from .safe_io import write_text

    try:
        depth_list = [int(d) for d in depths.split(",") if d.strip()]
    except ValueError:
        depth_list = []
    if not depth_list or not all(1 <= d <= MAX_N_SUP for d in depth_list):
        raise click.BadParameter(f"expected comma-separated integers in 1..{MAX_N_SUP}, got {depths!r}",
                                 param_hint="--depths")
    if runner and device == "host":
        raise click.UsageError("--runner runs a binary on an Android device: give --device with an android profile")
    ctx = click.get_current_context()
    command = shlex.join(["trm-edge", *ctx.obj["argv"]]) if isinstance(ctx.obj, dict) else None   # as typed
    settings = BenchSettings(depths=depth_list, batch=batch, threads=threads, runs=runs, warmup=warmup,
                             n_puzzles=n_puzzles, halt=halt, halt_threshold=halt_threshold)
    req = BenchRequest(artifacts=list(artifacts), all_targets=all_targets, checkpoint=checkpoint, preset=preset,
                       device=device,
                       precisions=tuple(p for p in precisions.split(",") if p), eager=not no_eager,
                       isolate=not in_process, runner=runner, command=command, require_idle=require_idle,
                       idle=IdleLimits(load_per_cpu=idle_load, others_cpu_pct=idle_cpu, window_s=idle_window))
    json_path, md_path, png_path = output_paths(device, json_out, md_out, plot_out, force)   # before the work
    result = run_bench(req, settings)
    result["settings"]["requested_depths"] = depth_list
    md = to_markdown(result)
    write_json(result, json_path)
    write_text(md_path, md)
    try:
        png = plot(result, png_path)
    except MissingExtraError as e:   # the measurements are written; only the picture needs matplotlib
        png = f"no plot ({e})"
    click.echo(md)
    click.echo(f"wrote {json_path}, {md_path}, {png}", err=True)


# -- web --------------------------------------------------------------------------------------
@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="0: any free port.")
@click.option("--app-dir", default=None, type=click.Path(file_okay=False),
              help="Web project whose assets/trm/ the page shows (export --for-app web --app-dir); default: the "
                   "checkout's trm_edge/web_demo, else the bundled model's ready-made artifacts.")
def web(host, port, app_dir):
    """Serve the web page locally (cross-origin isolated, for WebAssembly threads) and print its URL.

    The page's npm runtimes are installed on first use (npm ci, pinned) into the user cache."""
    from .apps.web import default_assets, install_runtimes, make_server, page_dir, page_url

    install_runtimes()
    assets = default_assets(app_dir)
    server = make_server(host=host, port=port, mounts={"assets/trm": assets})
    click.echo(f"serving {page_dir()} with artifacts from {assets} at {page_url(server)} (Ctrl-C stops)")
    try:
        server.serve_forever()
    finally:
        server.server_close()


# -- devices ----------------------------------------------------------------------------------
@cli.command()
@click.option("--no-check", is_flag=True, help="List profiles without probing adb / devicectl.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def devices(no_check, as_json):
    """Device profiles (trm_edge/bench/devices.toml, or $TRM_EDGE_DEVICES) and which are reachable now."""
    import json

    from .bench.devices import load_profiles, table

    rows = table(load_profiles(), check=not no_check)
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(f"{'name':<14} {'platform':<8} {'reach':<9} {'cores':<5} {'targets':<34} status")
    for r in rows:
        mark = {True: "yes", False: "no", None: "?"}[r["reachable"]]
        click.echo(f"{r['name']:<14} {r['platform']:<8} {r['reach']:<9} {str(r['cores']):<5} {r['targets']:<34} "
                   f"{mark}: {r['status']}")


# -- vectors ----------------------------------------------------------------------------------
@cli.command()
@click.option("--checkpoint", default=None, help="Checkpoint dir or bundled name (default: bundled).")
@click.option("--n-puzzles", default=8, show_default=True, type=click.IntRange(1, 256), help="Puzzles recorded.")
@click.option("--seed", default=5, show_default=True, type=SEED, help="Puzzle generator seed (5: halting at steps 1-3).")
@click.option("--out", default=None, help="Output JSON (default, in the checkout only: trm_edge/golden_vectors/<checkpoint>.json).")
def vectors(checkpoint, n_puzzles, seed, out):
    """Golden test vectors (eager PyTorch) for the runtimes and the demo apps' unit tests."""
    from pathlib import Path

    from .checkpoint import resolve
    from .safe_io import check_writable
    from .validate.vectors import VectorsConfig, default_out, generate, write

    out = out or default_out(resolve(checkpoint).name)   # outside the checkout: --out, before any work
    check_writable(out)   # before the work, not after it
    v = generate(VectorsConfig(checkpoint=checkpoint, n_puzzles=n_puzzles, seed=seed))
    path = write(v, out)
    halted = [c["halted_at"] for c in v["cases"]]
    correct = sum(c["final_correct"] for c in v["cases"])
    click.echo(f"wrote {path}: {len(v['cases'])} puzzles x {v['max_steps']} steps, halted at {halted}, "
               f"{correct}/{len(halted)} correct at the halting step ({Path(path).stat().st_size // 1024} KiB)")


# -- export / validate ------------------------------------------------------------------------
@cli.command("export")
@click.option("--target", default=None, help="onnx, executorch, coreml, tflite or all (default: the recipe's, else onnx).")
@click.option("--mode", default=None, help="looped, unrolled or all (default: the recipe's, else looped).")
@click.option("--depth", default=None, type=click.IntRange(1, MAX_DEPTH), help="Unrolled: supervision steps K (default: n_sup).")
@click.option("--precision", default=None, help="fp32, int8 (onnx, tflite: int8 weights, float activations; executorch: static, calibrated), int8-dynamic, fp16 (coreml).")
@click.option("--batch", default=None, type=click.IntRange(1, MAX_BATCH), help="Static batch of the entry points (default 1).")
@click.option("--graph", default=None, type=click.Choice(["plain", "web"]),
              help="ONNX graph shape: plain (as torch.onnx exports it) or web (folded and optimized for "
                   "onnxruntime-web, fp32, no loop.onnx; docs/web.md). Default: the recipe's, else plain; "
                   "web for the onnx artifact of --for-app web.")
@click.option("--checkpoint", default=None, help="Checkpoint dir or bundled name (default: bundled).")
@click.option("--recipe", default=None, help="Recipe name in trm_edge/recipes/ (e.g. onnx-fp32-looped) or a TOML path.")
@click.option("--out", default=None, type=click.Path(file_okay=False), help="Artifacts go to OUT/<target>-<precision>-<mode>[-dK]/.")
@click.option("--for-app", "for_app", default=None, type=click.Choice(["android", "ios", "web"]),
              help="Also copy the looped artifacts (+ manifest, sample puzzles) into that demo app's assets; "
                   "default targets: android -> executorch + tflite, ios -> coreml, web -> onnx + tflite.")
@click.option("--puzzles", default=None, metavar="SPEC",
              help="Keep only these rows of the puzzle-embedding table (ARC: one row per augmented puzzle): "
                   "ids 3,17,42, a .json list / .npy array of ids, or a built data set directory (its test "
                   "split's ids). The artifact's puzzle_ids input is then the row number (manifest: puzzle_rows).")
@click.option("--app-dir", default=None, type=click.Path(file_okay=False),
              help="--for-app: the app's project folder (default, in the trm-edge checkout only: its demo app).")
@click.option("--force", is_flag=True, help="Write into an existing folder that is not an artifact (its other files are kept).")
@click.argument("artifacts", nargs=-1, type=click.Path(exists=True, file_okay=False))
def export_cmd(target, mode, depth, precision, batch, graph, checkpoint, recipe, out, for_app, puzzles, app_dir, force,
               artifacts):
    """Export the recursive core (looped init+step, or unrolled at depth K) with a manifest.

    With --for-app and ARTIFACT... (already exported artifact directories), nothing is exported:
    those artifacts are verified and installed into the app.
    """
    from .apps import app_dir as project_of, install, targets_for
    from .export import export_all, load_source, plan

    if app_dir and not for_app:
        raise click.UsageError("--app-dir goes with --for-app")
    if artifacts and not for_app:
        raise click.UsageError("ARTIFACT arguments are for --for-app (install already exported artifacts)")
    if not artifacts and not out:
        raise click.UsageError("Missing option '--out'.")
    app_dir = project_of(for_app, app_dir) if for_app else None   # fails before exporting when there is none
    if not artifacts:
        recipes = plan(recipe, target, mode, targets_for(for_app) if for_app else None, graph=graph,
                       default_graph="web" if for_app == "web" else None,   # the page runs the web-shaped graph
                       depth=depth, precision=precision, batch=batch)
        arts = export_all(load_source(checkpoint, puzzles=puzzles), recipes, out, force=force, log=click.echo)
        if not for_app:
            return
        artifacts = [a.path for a in arts if a.manifest["target"] in targets_for(for_app) and a.manifest["mode"] == "looped"]
    click.echo(f"installed {len(artifacts)} artifact(s) into {install(list(artifacts), for_app, app_dir, force=force)}")


@cli.command()
@click.argument("artifacts", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--n", "n", default=None, type=click.IntRange(0, MAX_PUZZLES),
              help="Test puzzles (default 64; --arch aarch64: test puzzles added to the golden vectors' "
                   "puzzles, default 0, as emulation is slow).")
@click.option("--checkpoint", default=None, help="Eager reference (default: the manifest's source checkpoint).")
@click.option("--vectors", "vectors_file", default=None, metavar="FILE|NAME",
              help="Check against golden vectors (a file, or a bundled model's name: its packaged vectors) instead of eager PyTorch (no PyTorch needed); "
                   "with --arch aarch64: the vectors file of the golden check (default: those of the same weights).")
@click.option("--arch", default="native", show_default=True, type=click.Choice(["native", "aarch64"]),
              help="aarch64: run the artifact in trm_edge's runtime on an emulated ARM64 CPU (qemu user mode): "
                   "golden vectors + per-step comparison against eager x86.")
@click.option("--cpu", "cpus", multiple=True, metavar="MODEL",
              help="--arch aarch64: the ARM CPU model(s) qemu emulates, or a device profile with emulate_cpu "
                   "(repeatable; default cortex-a76; cortex-a72, cortex-a76, neoverse-n1, raspberry-pi5, pixel8).")
@click.option("--json", "json_out", default=None, type=click.Path(dir_okay=False), help="Write the report JSON here.")
@click.option("--max-steps", default=None, type=MAX_STEPS_OPT,
              help="Compare only the first K supervision steps (default: all the artifact has).")
def validate(artifacts, n, checkpoint, vectors_file, arch, cpus, json_out, max_steps):
    """Compare an artifact with eager PyTorch (or golden vectors) after every supervision step.

    With --arch aarch64, several ARTIFACTs run in one emulated process per CPU model and a parity
    table (artifact x runtime x CPU) follows the per-artifact reports."""
    from .bench.devices import emulate_cpus
    from .validate import check_passed
    from .validate.run import run_validation

    reps, text = run_validation(list(artifacts), arch, cpus, vectors_file, n, checkpoint, max_steps, json_out,
                                cpu_profiles=emulate_cpus() if arch == "aarch64" else None)
    click.echo(text)
    for rep in reps:
        check_passed(rep)


# -- import (the authors' checkpoints) ---------------------------------------------------------
@cli.command("import")
@click.argument("path", type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(file_okay=False), help="trm-edge checkpoint directory to write.")
@click.option("--dataset", default=None, type=click.Path(exists=True),
              help="The run's data set directory (its dataset.json: seq_len, vocab, puzzle ids).")
@click.option("--seq-len", default=None, type=click.IntRange(1, 65536), help="Output cells, when not in --dataset / weights.")
@click.option("--task", default=None, help="trm-edge task (default: from seq_len and vocab).")
@click.option("--force", is_flag=True, help="Write into an existing folder that is not a checkpoint (its other files are kept).")
def import_cmd(path, out, dataset, seq_len, task, force):
    """Import the authors' TRM checkpoint (a step_N file or its run directory with all_config.yaml)."""
    from .checkpoint.authors import import_checkpoint

    res = import_checkpoint(path, out, dataset=dataset, seq_len=seq_len, task=task, force=force)
    c = res["config"]
    click.echo(f"imported {res['source']} -> {res['out']}: task {c['task']}, {c['mixer']} mixer, pos {c['pos']}, "
               f"D={c['d_model']}, n={c['n_latent']}, T={c['T']}, N_sup={c['n_sup']}, "
               f"{c['n_puzzle_ids']} puzzle id(s)")
    for note in res["notes"]:
        click.echo(f"note: {note}")


# -- report -------------------------------------------------------------------------------------
@cli.group()
def report():
    """Reports: quantization over exported artifacts, a training run's learning curve."""


@report.command("quant")
@click.option("--checkpoint", default=None, help="Checkpoint dir or bundled name (default: bundled).")
@click.option("--targets", default="onnx,executorch,tflite,coreml", show_default=True)
@click.option("--precisions", default="fp32,int8,int8-dynamic,fp16", show_default=True,
              help="Unsupported target/precision pairs are skipped (fp16: Core ML).")
@click.option("--mode", default="looped", show_default=True, type=click.Choice(["looped", "unrolled"]))
@click.option("--n", "n", default=1000, show_default=True, type=PUZZLES, help="Test puzzles.")
@click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
              help="Quantizer option (trm_edge.export.quantize), e.g. ops=all; repeatable.")
@click.option("--out", required=True, type=click.Path(file_okay=False),
              help="Writes OUT/quant_report.{json,md} and OUT/artifacts/.")
@click.option("--force", is_flag=True, help="Overwrite an existing OUT/quant_report.{json,md}.")
def report_quant(checkpoint, targets, precisions, mode, n, options, out, force):
    """Per target x precision: size, exact accuracy per depth, halting, drift vs eager fp32."""
    from .bench.quant import QuantReportConfig, quant_report

    from .artifact import PRECISIONS, TARGETS

    picked = {}
    for name, value, allowed in (("targets", targets, TARGETS), ("precisions", precisions, PRECISIONS)):
        picked[name] = tuple(v.strip() for v in value.split(",") if v.strip())
        bad = [v for v in picked[name] if v not in allowed]
        if bad or not picked[name]:
            raise click.BadParameter(f"choose from {', '.join(allowed)} (comma-separated), got {value!r}",
                                     param_hint=f"--{name}")
    cfg = QuantReportConfig(targets=picked["targets"], precisions=picked["precisions"], mode=mode, n=n,
                            options=_kv_overrides(options, "--option"))
    rep = quant_report(checkpoint, out, cfg, log=lambda m: click.echo(m, err=True), force=force)
    from .bench.quant import to_markdown
    click.echo(to_markdown(rep))


@report.command("bench-summary")
@click.argument("results", type=click.Path(exists=True))
@click.option("--out", required=True, type=click.Path(dir_okay=False),
              help="Markdown file; only the block between its bench-summary markers is rewritten (appended if none).")
def report_bench_summary(results, out):
    """One section per bench result JSON (a file, or every *.json of a folder): command, quiet check, table."""
    from pathlib import Path

    from .bench.report import update_summary

    click.echo(f"wrote {update_summary(Path(results), Path(out))}")


@report.command("curve")
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="PNG to write.")
@click.option("--title", default=None)
def report_curve(run, out, title):
    """A training run's learning curve: loss, and held-out exact accuracy from RUN/evals/step-N.json."""
    from .train.curve import plot_curve

    click.echo(f"wrote {plot_curve(run, out, title)}")


def main(argv=None):
    try:
        with held_warnings(drop_on=(click.ClickException, TRMEdgeError, PuzzleError)):   # an error is one line
            cli.main(args=argv, standalone_mode=False, obj={"argv": list(sys.argv[1:] if argv is None else argv)})
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:   # usage errors too: one line, exit 2
        ctx = getattr(e, "ctx", None)
        hint = f" (see: {ctx.command_path} --help)" if ctx is not None else ""
        click.echo(f"error: {' '.join(e.format_message().split())}{hint}", err=True)
        sys.exit(2)
    except (TRMEdgeError, PuzzleError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except OSError as e:   # the environment (a full disk, a file that vanished): one line, not a traceback
        where = f" {e.filename}" if getattr(e, "filename", None) else ""
        click.echo(f"error: cannot access{where}: {e.strerror or e}", err=True)
        sys.exit(2)
    except ModuleNotFoundError as e:   # a heavy dependency imported outside errors.require
        name = (e.name or "").split(".")[0]
        extra = extra_for(name)
        if extra is None:
            raise
        click.echo(f"error: this command needs {name}; install it with: pip install 'trm-edge[{extra}]'", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
