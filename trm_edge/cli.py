"""`trm-edge` command line. It only parses arguments and calls the library.

Each verb is a small click command; errors derived from TRMEdgeError / PuzzleError become one line
on stderr and exit code 2 (see `main`).
"""
from __future__ import annotations

import sys

import click

from .errors import TRMEdgeError
from .tasks.base import PuzzleError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trm-edge")
def cli():
    """Tiny Recursive Models: train, export, benchmark, embed."""


def pick_device(device: str | None) -> str:
    """--device autodetect: cuda, then mps, then cpu."""
    import torch

    if device and device != "auto":
        return device
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


# ---- commands (one block per verb; keep each thin) -----------------------------------------


# -- bench ------------------------------------------------------------------------------------
@cli.command()
@click.argument("artifacts", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--all-targets", is_flag=True, help="Also export + bench every target available here.")
@click.option("--checkpoint", default=None, help="Eager reference and export source (default: bundled).")
@click.option("--device", default="host", show_default=True, help="Profile from benchmarks/devices.toml.")
@click.option("--depths", default="1,2,4,8,16", show_default=True, help="Supervision steps (clipped to n_sup).")
@click.option("--halt/--no-halt", default=True, show_default=True, help="Also measure adaptive halting.")
@click.option("--batch", default=1, show_default=True, type=click.IntRange(1))
@click.option("--threads", default=None, type=click.IntRange(1), help="Intra-op threads (default: profile / runtime).")
@click.option("--runs", default=20, show_default=True, type=click.IntRange(1), help="Timed runs per depth.")
@click.option("--warmup", default=3, show_default=True, type=click.IntRange(0), help="Untimed runs before them.")
@click.option("--n-puzzles", default=100, show_default=True, type=click.IntRange(1), help="Test puzzles scored.")
@click.option("--precisions", default="fp32,int8", show_default=True, help="Precisions of the default exports.")
@click.option("--no-eager", is_flag=True, help="Skip the eager PyTorch reference.")
@click.option("--in-process", is_flag=True, help="Measure in this process (faster; peak RSS not per runtime).")
@click.option("--runner", default=None, type=click.Path(exists=True, dir_okay=False),
              help="Android: a benchmark_model / executor_runner binary instead of the demo app.")
@click.option("--json", "json_out", default=None, help="Result JSON (default: benchmarks/results/<device>-<date>.json).")
@click.option("--plot", "plot_out", default=None, help="PNG plots (default: next to the JSON).")
@click.option("--markdown", "md_out", default=None, help="Markdown table (default: next to the JSON).")
def bench(artifacts, all_targets, checkpoint, device, depths, halt, batch, threads, runs, warmup, n_puzzles,
          precisions, no_eager, in_process, runner, json_out, plot_out, md_out):
    """Latency, memory and accuracy per recursion depth, for eager PyTorch and each artifact."""
    import shlex
    import time
    from pathlib import Path

    from .bench.host import BenchSettings
    from .bench.report import plot, to_markdown, write_json
    from .bench.run import BenchRequest, run_bench

    try:
        depth_list = [int(d) for d in depths.split(",") if d.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {depths!r}", param_hint="--depths")
    ctx = click.get_current_context()
    command = "trm-edge bench " + " ".join(
        [shlex.quote(a) for a in artifacts]
        + [f"--{k.replace('_', '-')} {shlex.quote(str(v))}" for k, v in ctx.params.items()
           if k not in ("artifacts", "halt", "json_out", "plot_out", "md_out") and v not in (None, False)
           and not isinstance(v, bool)]
        + [f"--{k.replace('_', '-')}" for k, v in ctx.params.items() if v is True and k != "halt"]
        + ["--halt" if halt else "--no-halt"])
    settings = BenchSettings(depths=depth_list, batch=batch, threads=threads, runs=runs, warmup=warmup,
                             n_puzzles=n_puzzles, halt=halt)
    req = BenchRequest(artifacts=list(artifacts), all_targets=all_targets, checkpoint=checkpoint, device=device,
                       precisions=tuple(p for p in precisions.split(",") if p), eager=not no_eager,
                       isolate=not in_process, runner=runner, command=command)
    result = run_bench(req, settings)
    result["settings"]["requested_depths"] = depth_list
    stem = Path("benchmarks/results") / f"{device}-{time.strftime('%Y-%m-%d')}"
    json_path = Path(json_out) if json_out else stem.with_suffix(".json")
    md = to_markdown(result)
    write_json(result, json_path)
    Path(md_out or json_path.with_suffix(".md")).write_text(md)
    png = plot(result, plot_out or json_path.with_suffix(".png"))
    click.echo(md)
    click.echo(f"wrote {json_path}, {md_out or json_path.with_suffix('.md')}, {png}", err=True)


# -- devices ----------------------------------------------------------------------------------
@cli.command()
@click.option("--no-check", is_flag=True, help="List profiles without probing adb / devicectl.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def devices(no_check, as_json):
    """Device profiles (benchmarks/devices.toml) and which are reachable now."""
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
@click.option("--n-puzzles", default=6, show_default=True, type=click.IntRange(1), help="Puzzles recorded.")
@click.option("--seed", default=1234, show_default=True, help="Puzzle generator seed.")
@click.option("--out", default=None, help="Output JSON (default: tests/vectors/<checkpoint>.json).")
def vectors(checkpoint, n_puzzles, seed, out):
    """Golden test vectors (eager PyTorch) for the runtimes and the demo apps' unit tests."""
    from pathlib import Path

    from .vectors import DEFAULT_DIR, VectorsConfig, generate, write

    v = generate(VectorsConfig(checkpoint=checkpoint, n_puzzles=n_puzzles, seed=seed))
    path = write(v, out or DEFAULT_DIR / f"{v['checkpoint']}.json")
    halted = [c["halted_at"] for c in v["cases"]]
    correct = sum(c["final_correct"] for c in v["cases"])
    click.echo(f"wrote {path}: {len(v['cases'])} puzzles x {v['max_steps']} steps, halted at {halted}, "
               f"{correct}/{len(halted)} correct at the halting step ({Path(path).stat().st_size // 1024} KiB)")


def main(argv=None):
    try:
        cli.main(args=argv, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except (TRMEdgeError, PuzzleError) as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
