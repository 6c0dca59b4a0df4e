"""`trm-edge bench`, `devices` and `report`: measure artifacts on device profiles, and report on results."""
from __future__ import annotations

import click

from ..bench.host import BenchSettings
from ..bench.quiet import IdleLimits
from ..schema import MAX_BATCH, MAX_N_SUP
from ..targets import PRECISIONS, TARGETS
from ._group import (ARTIFACT_DIRS, DIR, FILE, PUZZLES, THREADS, CommaList, Finite, checkpoint_opt, cli, flags,
                     json_opt, opt, _kv_overrides)

IDLE = IdleLimits()   # bench's idle-machine defaults (defined once, in trm_edge.bench.quiet)


# ---- bench / devices ------------------------------------------------------------------------
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
@opt("--force", is_flag=True, help="Overwrite existing result files this command names itself "
     "(the default JSON, the .md / .png beside --json).")
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
          plot_out, md_out, force, require_idle, idle_load, idle_cpu, idle_window, **values):
    """Latency, memory and accuracy per recursion depth, for eager PyTorch and each artifact."""
    import shlex

    from ..bench.run import BenchOutputs, BenchRequest, run_bench

    if runner and device == "host":
        raise click.UsageError("--runner runs a binary on an Android device: give --device with an android profile")
    ctx = click.get_current_context()
    command = shlex.join(["trm-edge", *ctx.obj["argv"]]) if isinstance(ctx.obj, dict) else None   # as typed
    settings = BenchSettings(**values | {"depths": list(values["depths"])})
    req = BenchRequest(artifacts=list(artifacts), all_targets=all_targets, checkpoint=checkpoint, preset=preset,
                       device=device, precisions=precisions, eager=not no_eager, isolate=not in_process,
                       runner=runner, command=command, require_idle=require_idle,
                       idle=IdleLimits(load_per_cpu=idle_load, others_cpu_pct=idle_cpu, window_s=idle_window))
    outputs = BenchOutputs.choose(device, json_out, md_out, plot_out, force)   # checked before the work
    md, wrote = outputs.write(run_bench(req, settings))
    click.echo(md)
    click.echo(wrote, err=True)


@cli.command()
@opt("--no-check", is_flag=True, help="List profiles without probing adb / devicectl / Chromium.")
@opt("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def devices(no_check, as_json):
    """Device profiles (trm_edge/bench/devices.toml, or $TRM_EDGE_DEVICES) and which are reachable now."""
    import json
    from ..bench.devices import format_table, load_profiles, table

    rows = table(load_profiles(), check=not no_check)
    click.echo(json.dumps(rows, indent=2) if as_json else format_table(rows))


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
@opt("--force", is_flag=True, help="Overwrite an existing OUT/quant_report.{json,md}.")
def report_quant(checkpoint, targets, precisions, mode, n, options, out, force):
    """Per target x precision: size, exact accuracy per depth, halting, drift vs eager fp32."""
    from ..bench.quant import QuantReportConfig, quant_report, to_markdown

    cfg = QuantReportConfig(targets=targets, precisions=precisions, mode=mode, n=n,
                            options=_kv_overrides(options, "--option"))
    click.echo(to_markdown(quant_report(checkpoint, out, cfg, log=lambda m: click.echo(m, err=True), force=force)))


@report.command("bench-summary")
@click.argument("results", type=click.Path(exists=True))
@opt("--out", required=True, type=FILE,
     help="Markdown file; only the block between its bench-summary markers is rewritten (appended if none).")
def report_bench_summary(results, out):
    """One section per bench result JSON (a file, or every *.json of a folder): command, quiet check, table."""
    from pathlib import Path
    from ..bench.report import update_summary

    click.echo(f"wrote {update_summary(Path(results), Path(out))}")


@report.command("curve")
@click.argument("run", type=DIR)
@opt("--out", required=True, type=FILE, help="PNG to write.")
@opt("--title", default=None)
def report_curve(run, out, title):
    """A training run's learning curve: loss, and held-out exact accuracy from RUN/evals/step-N.json."""
    from ..train.curve import plot_curve

    click.echo(f"wrote {plot_curve(run, out, title)}")
