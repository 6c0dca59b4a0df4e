"""`trm-edge vectors`, `export` and `validate`: golden vectors, exported artifacts, their parity."""
from __future__ import annotations

import click

from ..schema import MAX_BATCH, MAX_DEPTH, MAX_PUZZLES
from ..targets import DEFAULT as DEFAULT_TARGET, TARGETS
from ._group import ARTIFACT_DIRS, DIR, SEED, checkpoint_opt, cli, json_opt, max_steps_opt, opt


# ---- vectors / export / validate ------------------------------------------------------------
@cli.command()
@checkpoint_opt()
@opt("--n-puzzles", default=8, type=click.IntRange(1, 256), help="Puzzles recorded.")
@opt("--seed", default=5, type=SEED, help="Puzzle generator seed (5: halting at steps 1-3).")
@opt("--out", help="Output JSON (default, in the checkout only: trm_edge/golden_vectors/<checkpoint>.json).")
def vectors(checkpoint, n_puzzles, seed, out):
    """Golden test vectors (eager PyTorch) for the runtimes and the demo apps' unit tests."""
    from ..checkpoint import resolve
    from ..safe_io import check_writable
    from ..validate.vectors import VectorsConfig, default_out, generate, summary, write

    out = out or default_out(resolve(checkpoint).name)   # outside the checkout: --out, before any work
    check_writable(out)   # before the work, not after it
    v = generate(VectorsConfig(checkpoint=checkpoint, n_puzzles=n_puzzles, seed=seed))
    click.echo(summary(v, write(v, out)))


@cli.command("export")
@opt("--target", help=f"{', '.join(TARGETS)} or all (default: the recipe's, else {DEFAULT_TARGET}).")
@opt("--mode", help="looped, unrolled or all (default: the recipe's, else looped).")
@opt("--depth", type=click.IntRange(1, MAX_DEPTH), help="Unrolled: supervision steps K (default: n_sup).")
@opt("--precision", help="fp32, int8 (onnx, tflite: int8 weights, float activations; executorch: "
     "XNNPACK's dynamically quantized int8 linear), int8-dynamic, int4 (4-bit weights, every target), fp16 (coreml). What each target offers: trm_edge/targets.py.")
@opt("--batch", type=click.IntRange(1, MAX_BATCH), help="Static batch of the entry points (default 1).")
@opt("--graph", type=click.Choice(["plain", "web"]),
     help="ONNX graph shape: plain (static shapes, ops ORT Mobile's NNAPI / Core ML take; trm_edge/export/portable.py) or web (folded and optimized for onnxruntime-web, "
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
    from ..apps import app_artifacts, app_dir as project_of, install, targets_for
    from ..export import export_all, load_source, plan

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
    click.echo(f"installed {len(artifacts)} artifact(s) into {install(list(artifacts), for_app, app_dir, force=force)}")


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
    from ..bench.devices import emulate_cpus
    from ..validate import check_passed
    from ..validate.run import ValidateRequest, run_validation

    aarch64 = request["arch"] == "aarch64"
    reps, text = run_validation(ValidateRequest(**request, cpu_profiles=emulate_cpus() if aarch64 else None))
    click.echo(text)
    for rep in reps:
        check_passed(rep)
