"""`trm-edge` command line. It only parses arguments and calls the library.

Each verb is a small click command; errors derived from TRMEdgeError / PuzzleError become one line
on stderr and exit code 2 (see `main`).
"""
from __future__ import annotations

import sys

import click

from .bench.host import BenchSettings
from .bench.quiet import IdleLimits
from .errors import TRMEdgeError, extra_for
from .schema import MAX_BATCH, MAX_DEPTH, MAX_N_SUP, MAX_N_TRAIN, MAX_OPT_STEPS, MAX_PUZZLES
from .targets import DEFAULT as DEFAULT_TARGET, PRECISIONS, TARGETS, portable
from .tasks.base import PuzzleError
from .train.config import TrainConfig

opt = click.option


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="trm-edge")
def cli():
    """Tiny Recursive Models: train, export, benchmark, embed."""


# ---- option types (every number has a range: the file formats' ranges, trm_edge.schema) --------
class Finite(click.FloatRange):
    """A float option in a range that also refuses nan and inf (click's FloatRange lets nan through)."""

    def convert(self, value, param, ctx):
        import math

        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


class LoHi(click.ParamType):
    """LO-HI, two integers 0..999 with LO <= HI (e.g. --givens 30-36) -> (lo, hi)."""
    name = "LO-HI"

    def convert(self, value, param, ctx):
        import re

        m = re.fullmatch(r"([0-9]{1,3})-([0-9]{1,3})", str(value))
        if not m or int(m[1]) > int(m[2]):
            self.fail(f"expected LO-HI, e.g. 30-36, got {value!r}", param, ctx)
        return int(m[1]), int(m[2])


class CommaList(click.ParamType):
    """a,b,c -> a tuple of `item` values (a click type: a Choice, an IntRange), at least one."""
    name = "LIST"

    def __init__(self, item):
        self.item = item

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        got = tuple(self.item.convert(v.strip(), param, ctx) for v in str(value).split(",") if v.strip())
        return got or self.fail(f"expected a comma-separated list, got {value!r}", param, ctx)


PUZZLES, SEED = click.IntRange(1, MAX_PUZZLES), click.IntRange(0, 2**32 - 1)
THREADS, BATCH = click.IntRange(1, 1024), click.IntRange(1, 65536)
IDLE = IdleLimits()   # bench's idle-machine defaults (defined once, in trm_edge.bench.quiet)
DIR, FILE = click.Path(file_okay=False), click.Path(dir_okay=False)
ARTIFACT_DIRS = click.argument("artifacts", nargs=-1, type=click.Path(exists=True, file_okay=False))


# ---- options several verbs share -------------------------------------------------------------
def checkpoint_opt(help="Checkpoint dir or bundled name (default: bundled)."):
    return opt("--checkpoint", help=help)


def json_opt(help="Write the result JSON here."):
    return opt("--json", "json_out", type=FILE, help=help)


def max_steps_opt(help="Supervision steps (default: n_sup)."):
    return opt("--max-steps", type=click.IntRange(1, MAX_N_SUP), help=help)


def threshold_opt(help="q_halt threshold (default: the model's)."):
    return opt("--threshold", type=Finite(-1e6, 1e6), help=help)


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
    "portable": (bool, "Smaller state files (bf16 EMA/moments, no ACT carry) to move a run between machines."),
}


def flags(table: dict, defaults):
    """Options from {field: (type, help)} rows, top to bottom: --field-name, the default from `defaults` (a
    dataclass instance: the one place); type bool: --x/--no-x."""
    def deco(f):
        for name, (kind, help_) in reversed(table.items()):
            flag = "--" + name.replace("_", "-")
            decl, kw = ((f"{flag}/--no-{flag[2:]}",), {}) if kind is bool else ((flag,), {"type": kind})
            value = getattr(defaults, name)
            value = ",".join(map(str, value)) if isinstance(value, list) else value
            f = opt(*decl, name, default=value, help=help_, **kw)(f)
        return f
    return deco


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
    from .train.config import command_config, resume_conflicts
    from .train.loop import prepare_train_data, train as run_train
    from .train.state import saved_train_config

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


# ---- eval / calibrate -----------------------------------------------------------------------
@cli.command("eval")
@checkpoint_opt()
@opt("--n", "n", default=1000, type=PUZZLES, help="Test puzzles.")
@opt("--seed", type=SEED, help="Data seed (default: the checkpoint's training seed).")
@max_steps_opt()
@threshold_opt("q_halt threshold (default: the checkpoint's).")
@opt("--batch-size", default=256, type=BATCH)
@json_opt()
@opt("--device", default="auto")
@opt("--artifact", type=click.Path(exists=True),
     help="An exported artifact: run it through its runtime (no PyTorch needed) and, with PyTorch, add drift vs "
          "eager fp32 (--checkpoint then names the eager reference, default: the manifest's source).")
@opt("--task", help="arc1-eval / arc2-eval: ARC voting evaluation (pass@1, pass@2); "
     "sudoku-extreme: the test split of --data, per rating bucket (--n subsamples).")
@opt("--subset", type=click.IntRange(1, 100_000), help="ARC: first N evaluation puzzles (default: all).")
@opt("--data", type=click.Path(exists=True),
     help="The authors' built data set directory (its test/ split, any task, with puzzle ids); "
          "with --task sudoku-extreme also test.csv (or its directory), per rating bucket.")
@opt("--givens", metavar="LO-HI", type=LoHi(),
     help="Sudoku: test puzzles with LO..HI givens (e.g. 30-36, newspaper puzzles) instead of the training range.")
def eval_cmd(**request):
    """Exact and cell accuracy after every supervision step, and with adaptive halting."""
    from .evaluate.run import EvalRequest, run_eval

    click.echo(run_eval(EvalRequest(**request))[1])


@cli.command()
@checkpoint_opt()
@opt("--n", "n", default=1000, type=PUZZLES, help="Validation puzzles.")
@opt("--max-drop", default=0.005, type=click.FloatRange(0, 1), help="Allowed exact-accuracy loss vs full depth.")
@opt("--device", default="auto")
def calibrate(checkpoint, n, max_drop, device):
    """Choose the q_halt threshold on a validation split; store it in the checkpoint's config.

    Writes only calibration.json and config.json's halt_threshold; bundled models are refused (copy one first)."""
    import json
    from .evaluate import tune_halt_threshold
    from .runtime import pick_device   # eager PyTorch's device (imports torch)

    click.echo(json.dumps(tune_halt_threshold(checkpoint, n=n, max_drop=max_drop, device=pick_device(device))))


# ---- solve / demo ---------------------------------------------------------------------------
@cli.command()
@click.argument("puzzle")
@checkpoint_opt()
@opt("--artifact", type=click.Path(exists=True, file_okay=False),
     help="An exported artifact directory: solve with its runtime (no PyTorch needed).")
@max_steps_opt()
@opt("--all-steps", is_flag=True, help="Keep refining after the halting step.")
@threshold_opt()
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
@checkpoint_opt()
@opt("--puzzles", "n_show", default=2, type=click.IntRange(0, 100), help="Puzzles shown live.")
@opt("--n", "n_table", default=300, type=PUZZLES, help="Puzzles in the table.")
@opt("--seed", type=SEED, help="Puzzle seed (default: random).")
@opt("--export", "export_target", default=DEFAULT_TARGET, type=click.Choice([*portable(), "none"]),
     help="Also export a looped artifact and run the same puzzles through its runtime.")
def demo(checkpoint, n_show, n_table, seed, export_target):
    """The bundled model solving fresh puzzles live, accuracy per depth, then an exported runtime."""
    from .apps.demo import run_demo

    run_demo(checkpoint, n_show=n_show, n_table=n_table, seed=seed,
             export_target=None if export_target == "none" else export_target, echo=click.echo)


# ---- bench / web / devices ------------------------------------------------------------------
BENCH_FLAGS = {   # BenchSettings fields
    "depths": (CommaList(click.IntRange(1, MAX_N_SUP)), "Supervision steps (clipped to n_sup)."),
    "halt": (bool, "Also measure adaptive halting."),
    "halt_threshold": (Finite(-1e6, 1e6), "Halt when q_halt > this (default: the model's)."),
    "batch": (click.IntRange(1, MAX_BATCH), "Puzzles per init / step call."),
    "threads": (THREADS, "Intra-op threads (default: profile / runtime)."),
    "runs": (click.IntRange(1, 100_000), "Timed runs per depth."),
    "warmup": (click.IntRange(0, 10_000), "Untimed runs before them."),
    "n_puzzles": (PUZZLES, "Test puzzles scored."),
}


@cli.command()
@ARTIFACT_DIRS
@opt("--all-targets", is_flag=True, help="Also export + bench every target available here.")
@checkpoint_opt("Eager reference and export source (default: bundled).")
@opt("--preset", help="Instead: random weights of a model preset (timing only).")
@opt("--device", default="host", help="Device profile (`trm-edge devices`).")
@flags(BENCH_FLAGS, BenchSettings())
@opt("--precisions", default="fp32,int8", type=CommaList(click.Choice(PRECISIONS)),
     help="Precisions of the default exports.")
@opt("--no-eager", is_flag=True, help="Skip the eager PyTorch reference.")
@opt("--in-process", is_flag=True, help="Measure in this process (faster; peak RSS not per runtime).")
@opt("--runner", type=click.Path(exists=True, dir_okay=False),
     help="Android: a benchmark_model / executor_runner binary instead of the demo app.")
@json_opt("Result JSON (default: benchmarks/results/<device>-<date>.json).")
@opt("--plot", "plot_out", help="PNG plots (default: next to the JSON).")
@opt("--markdown", "md_out", help="Markdown table (default: next to the JSON).")
@opt("--require-idle", type=click.IntRange(0, 86400), metavar="SECONDS",
     help="Before measuring, wait up to SECONDS for an idle machine, else stop (exit 2); 0: check once. "
          "Default: only record the load (the `quiet` block of the result).")
@opt("--idle-load", default=IDLE.load_per_cpu, type=Finite(0, 1024),
     help="Idle: 1-min load average per logical CPU at most this.")
@opt("--idle-cpu", default=IDLE.others_cpu_pct, type=Finite(0, 1e6),
     help="Idle: all other processes together at most this % of one core.")
@opt("--idle-window", default=IDLE.window_s, type=Finite(0.1, 600),
     help="Seconds over which other processes' CPU is measured.")
def bench(artifacts, all_targets, checkpoint, preset, device, precisions, no_eager, in_process, runner, json_out,
          plot_out, md_out, require_idle, idle_load, idle_cpu, idle_window, **values):
    """Latency, memory and accuracy per recursion depth, for eager PyTorch and each artifact."""
    import shlex

    from .bench.run import BenchOutputs, BenchRequest, run_bench

    if runner and device == "host":
        raise click.UsageError("--runner runs a binary on an Android device: give --device with an android profile")
    ctx = click.get_current_context()
    command = shlex.join(["trm-edge", *ctx.obj["argv"]]) if isinstance(ctx.obj, dict) else None   # as typed
    settings = BenchSettings(**values | {"depths": list(values["depths"])})
    req = BenchRequest(artifacts=list(artifacts), all_targets=all_targets, checkpoint=checkpoint, preset=preset,
                       device=device, precisions=precisions, eager=not no_eager, isolate=not in_process,
                       runner=runner, command=command, require_idle=require_idle,
                       idle=IdleLimits(load_per_cpu=idle_load, others_cpu_pct=idle_cpu, window_s=idle_window))
    outputs = BenchOutputs.choose(device, json_out, md_out, plot_out)   # checked writable before the work
    md, wrote = outputs.write(run_bench(req, settings))
    click.echo(md)
    click.echo(wrote, err=True)


@cli.command()
@opt("--host", default="127.0.0.1", help="Interface to listen on.")
@opt("--port", default=8000, type=click.IntRange(0, 65535), help="0: any free port.")
@opt("--app-dir", type=DIR,
     help="Web project whose assets/trm/ the page shows (export --for-app web --app-dir); default: the "
          "checkout's trm_edge/web_demo, else the bundled model's ready-made artifacts.")
def web(host, port, app_dir):
    """Serve the web page locally (cross-origin isolated, for WebAssembly threads) and print its URL.

    The page's npm runtimes are installed on first use (npm ci, pinned) into the user cache."""
    from .apps.web import default_assets, install_runtimes, make_server, page_dir, page_url

    install_runtimes(log=lambda m: click.echo(m, err=True))
    assets = default_assets(app_dir)
    server = make_server(host=host, port=port, mounts={"assets/trm": assets})
    click.echo(f"serving {page_dir()} with artifacts from {assets} at {page_url(server)} (Ctrl-C stops)")
    try:
        server.serve_forever()
    finally:
        server.server_close()


@cli.command()
@opt("--no-check", is_flag=True, help="List profiles without probing adb / devicectl / Chromium.")
@opt("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def devices(no_check, as_json):
    """Device profiles (trm_edge/bench/devices.toml, or $TRM_EDGE_DEVICES) and which are reachable now."""
    import json
    from .bench.devices import format_table, load_profiles, table

    rows = table(load_profiles(), check=not no_check)
    click.echo(json.dumps(rows, indent=2) if as_json else format_table(rows))


# ---- vectors / export / validate ------------------------------------------------------------
@cli.command()
@checkpoint_opt()
@opt("--n-puzzles", default=8, type=click.IntRange(1, 256), help="Puzzles recorded.")
@opt("--seed", default=5, type=SEED, help="Puzzle generator seed (5: halting at steps 1-3).")
@opt("--out", help="Output JSON (default, in the checkout only: trm_edge/golden_vectors/<checkpoint>.json).")
def vectors(checkpoint, n_puzzles, seed, out):
    """Golden test vectors (eager PyTorch) for the runtimes and the demo apps' unit tests."""
    from .checkpoint import resolve
    from .safe_io import check_writable
    from .validate.vectors import VectorsConfig, default_out, generate, summary, write

    out = out or default_out(resolve(checkpoint).name)   # outside the checkout: --out, before any work
    check_writable(out)   # before the work, not after it
    v = generate(VectorsConfig(checkpoint=checkpoint, n_puzzles=n_puzzles, seed=seed))
    click.echo(summary(v, write(v, out)))


@cli.command("export")
@opt("--target", help=f"{', '.join(TARGETS)} or all (default: the recipe's, else {DEFAULT_TARGET}).")
@opt("--mode", help="looped, unrolled or all (default: the recipe's, else looped).")
@opt("--depth", type=click.IntRange(1, MAX_DEPTH), help="Unrolled: supervision steps K (default: n_sup).")
@opt("--precision", help="fp32, int8 (onnx, tflite: int8 weights, float activations; executorch: "
     "static, calibrated), int8-dynamic, fp16 (coreml). What each target offers: trm_edge/targets.py.")
@opt("--batch", type=click.IntRange(1, MAX_BATCH), help="Static batch of the entry points (default 1).")
@opt("--graph", type=click.Choice(["plain", "web"]),
     help="ONNX graph shape: plain (as torch.onnx exports it) or web (folded and optimized for onnxruntime-web, "
          "fp32, no loop.onnx; docs/web.md). Default: the recipe's, else plain; web for the onnx artifact of --for-app web.")
@checkpoint_opt()
@opt("--recipe", help="Recipe name in trm_edge/recipes/ (e.g. onnx-fp32-looped) or a TOML path.")
@opt("--out", type=DIR, help="Artifacts go to OUT/<target>-<precision>-<mode>[-dK]/.")
@opt("--for-app", "for_app", type=click.Choice(["android", "ios", "web"]),
     help="Also copy the looped artifacts (+ manifest, sample puzzles) into that demo app's assets; "
          "default targets: android -> executorch + tflite, ios -> coreml, web -> onnx + tflite.")
@opt("--puzzles", metavar="SPEC",
     help="Keep only these rows of the puzzle-embedding table (ARC: one row per augmented puzzle): ids 3,17,42, a "
          ".json list / .npy array of ids, or a built data set directory (its test split's ids). The artifact's "
          "puzzle_ids input is then the row number (manifest: puzzle_rows).")
@opt("--app-dir", type=DIR,
     help="--for-app: the app's project folder (default, in the trm-edge checkout only: its demo app).")
@opt("--force", is_flag=True, help="Write into an existing folder that is not an artifact (its other files are kept).")
@ARTIFACT_DIRS
def export_cmd(target, mode, depth, precision, batch, graph, checkpoint, recipe, out, for_app, puzzles, app_dir, force,
               artifacts):
    """Export the recursive core (looped init+step, or unrolled at depth K) with a manifest.

    With --for-app and ARTIFACT... (already exported artifact directories), nothing is exported:
    those artifacts are verified and installed into the app.
    """
    from .apps import app_artifacts, app_dir as project_of, install, targets_for
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
        artifacts = app_artifacts(for_app, arts)
    click.echo(f"installed {len(artifacts)} artifact(s) into {install(list(artifacts), for_app, app_dir)}")


@cli.command()
@click.argument("artifacts", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@opt("--n", "n", type=click.IntRange(0, MAX_PUZZLES),
     help="Test puzzles (default 64; --arch aarch64: test puzzles added to the golden vectors' puzzles, default 0, "
          "as emulation is slow).")
@checkpoint_opt("Eager reference (default: the manifest's source checkpoint).")
@opt("--vectors", metavar="FILE|NAME",
     help="Check against golden vectors (a file, or a bundled model's name: its packaged vectors) instead of eager "
          "PyTorch (no PyTorch needed); with --arch aarch64: the vectors file of the golden check (default: those of "
          "the same weights).")
@opt("--arch", default="native", type=click.Choice(["native", "aarch64"]),
     help="aarch64: run the artifact in trm_edge's runtime on an emulated ARM64 CPU (qemu user mode): "
          "golden vectors + per-step comparison against eager x86.")
@opt("--cpu", "cpus", multiple=True, metavar="MODEL",
     help="--arch aarch64: the ARM CPU model(s) qemu emulates, or a device profile with emulate_cpu "
          "(repeatable; default cortex-a76; cortex-a72, cortex-a76, neoverse-n1, raspberry-pi5, pixel8).")
@json_opt("Write the report JSON here.")
@max_steps_opt("Compare only the first K supervision steps (default: all the artifact has).")
def validate(**request):
    """Compare an artifact with eager PyTorch (or golden vectors) after every supervision step.

    With --arch aarch64, several ARTIFACTs run in one emulated process per CPU model and a parity
    table (artifact x runtime x CPU) follows the per-artifact reports."""
    from .bench.devices import emulate_cpus
    from .validate import check_passed
    from .validate.run import ValidateRequest, run_validation

    aarch64 = request["arch"] == "aarch64"
    reps, text = run_validation(ValidateRequest(**request, cpu_profiles=emulate_cpus() if aarch64 else None))
    click.echo(text)
    for rep in reps:
        check_passed(rep)


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
    from .checkpoint.authors import import_checkpoint

    res = import_checkpoint(path, out, dataset=dataset, seq_len=seq_len, task=task, force=force)
    c = res["config"]
    click.echo(f"imported {res['source']} -> {res['out']}: task {c['task']}, {c['mixer']} mixer, pos {c['pos']}, "
               f"D={c['d_model']}, n={c['n_latent']}, T={c['T']}, N_sup={c['n_sup']}, "
               f"{c['n_puzzle_ids']} puzzle id(s)")
    for note in res["notes"]:
        click.echo(f"note: {note}")


# ---- report ---------------------------------------------------------------------------------
@cli.group()
def report():
    """Reports: quantization over exported artifacts, a training run's learning curve."""


@report.command("quant")
@checkpoint_opt()
@opt("--targets", default=",".join(TARGETS), type=CommaList(click.Choice(TARGETS)))
@opt("--precisions", default=",".join(PRECISIONS), type=CommaList(click.Choice(PRECISIONS)),
     help="Unsupported target/precision pairs are skipped (fp16: Core ML).")
@opt("--mode", default="looped", type=click.Choice(["looped", "unrolled"]))
@opt("--n", "n", default=1000, type=PUZZLES, help="Test puzzles.")
@opt("--option", "options", multiple=True, metavar="KEY=VALUE",
     help="Quantizer option (docs/quantization.md), e.g. ops=all; repeatable.")
@opt("--out", required=True, type=DIR, help="Writes OUT/quant_report.{json,md} and OUT/artifacts/.")
def report_quant(checkpoint, targets, precisions, mode, n, options, out):
    """Per target x precision: size, exact accuracy per depth, halting, drift vs eager fp32."""
    from .bench.quant import QuantReportConfig, quant_report, to_markdown

    cfg = QuantReportConfig(targets=targets, precisions=precisions, mode=mode, n=n,
                            options=_kv_overrides(options, "--option"))
    click.echo(to_markdown(quant_report(checkpoint, out, cfg, log=lambda m: click.echo(m, err=True))))


@report.command("bench-summary")
@click.argument("results", type=click.Path(exists=True))
@opt("--out", required=True, type=FILE,
     help="Markdown file; only the block between its bench-summary markers is rewritten (appended if none).")
def report_bench_summary(results, out):
    """One section per bench result JSON (a file, or every *.json of a folder): command, quiet check, table."""
    from pathlib import Path
    from .bench.report import update_summary

    click.echo(f"wrote {update_summary(Path(results), Path(out))}")


@report.command("curve")
@click.argument("run", type=DIR)
@opt("--out", required=True, type=FILE, help="PNG to write.")
@opt("--title", default=None)
def report_curve(run, out, title):
    """A training run's learning curve: loss, and held-out exact accuracy from RUN/evals/step-N.json."""
    from .train.curve import plot_curve

    click.echo(f"wrote {plot_curve(run, out, title)}")


def main(argv=None):
    try:
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
