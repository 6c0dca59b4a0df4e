"""`trm-edge eval`, `solve` and `demo`: run a model (eager or an exported artifact) on puzzles."""
from __future__ import annotations

import sys

import click

from ..targets import DEFAULT as DEFAULT_TARGET, portable
from ._group import BATCH, PUZZLES, SEED, LoHi, checkpoint_opt, cli, json_opt, max_steps_opt, opt, threshold_opt


# ---- eval -----------------------------------------------------------------------------------
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
    from ..evaluate.run import EvalRequest, run_eval

    click.echo(run_eval(EvalRequest(**request))[1])


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
    from ..apps.demo import open_for_solve, solve_steps

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
    from ..apps.demo import run_demo

    run_demo(checkpoint, n_show=n_show, n_table=n_table, seed=seed,
             export_target=None if export_target == "none" else export_target, echo=click.echo)
