"""What `trm-edge solve` and `trm-edge demo` print: a board refining step by step, and the
accuracy-per-depth table on fresh puzzles."""
from __future__ import annotations

import importlib.util
import re
import time
from pathlib import Path

import numpy as np

from ..errors import TRMEdgeError
from ..runtime.loop import halt_probability
from ..tasks.base import PuzzleError


def read_puzzle(puzzle: str) -> str:
    """PUZZLE as given: a file's text if it names a file, else the string itself."""
    from ..schema import SchemaError, read_bytes

    p = Path(puzzle)
    try:
        exists = len(puzzle) < 4096 and "\x00" not in puzzle and p.exists()
    except (OSError, ValueError):
        exists = False
    if exists and p.is_dir():
        raise TRMEdgeError(f"puzzle {puzzle} is a folder, not a puzzle file")
    if exists and not p.is_file():   # /dev/zero, a fifo: never read (it might not end)
        raise TRMEdgeError(f"puzzle {puzzle} is not a regular file (a device, pipe or socket), not a puzzle file")
    if exists:
        try:
            return read_bytes(p, "puzzle file", max_bytes=1 << 20).decode("utf-8")
        except SchemaError as e:
            raise TRMEdgeError(f"puzzle file: {e}") from None
        except UnicodeDecodeError:
            raise TRMEdgeError(f"puzzle file {puzzle} is not a text file") from None
    return puzzle


def looks_like_path(puzzle: str) -> bool:
    """A string no puzzle text looks like: a folder separator, or a short name with an extension."""
    return "/" in puzzle or "\\" in puzzle or bool(re.fullmatch(r"[\w.-]{1,200}\.[a-z][a-z0-9]{0,5}", puzzle))


def open_for_solve(puzzle: str, artifact=None, checkpoint=None):
    """(session, task, tokens) for `trm-edge solve`: the task comes from the artifact's manifest or
    the checkpoint's config.json, so bad input fails before a runtime (or torch) is loaded."""
    from .. import artifact as artifact_mod
    from ..checkpoint import resolve
    from ..runtime import load
    from ..tasks import get_task

    if artifact:
        source, task_name = artifact, artifact_mod.read_manifest(Path(artifact))["task"]["name"]
    else:
        from ..schema import TASK, check_fields, read_json

        source = resolve(checkpoint)
        f = source / "config.json"
        task_name = check_fields(read_json(f, "config.json"), {"task": TASK}, str(f), required=("task",),
                                 unknown=True)["task"]
    task = get_task(task_name)
    text = read_puzzle(puzzle)
    try:
        tokens = task.parse(text)
    except PuzzleError:
        if text is puzzle and looks_like_path(puzzle):
            raise TRMEdgeError(f"no such puzzle file: {puzzle}") from None
        raise
    if not artifact and importlib.util.find_spec("torch") is None:
        return _bundled_session(source), task, tokens
    return load(source), task, tokens


def _bundled_session(source: Path):
    """Without PyTorch: the bundled model's ready-made fp32 artifact whose runtime is installed."""
    from ..checkpoint import BUNDLED_DIR, bundled_artifacts
    from ..errors import MissingExtraError
    from ..runtime import load

    bundled = source.resolve() == (BUNDLED_DIR / source.name).resolve()
    for art in [a for a in bundled_artifacts(source.name) if bundled and "-fp32-" in a.name]:
        try:
            return load(art)
        except MissingExtraError:
            continue
    return load(source)   # the one-line error naming the torch extra


def solve_steps(sess, task, tokens: np.ndarray, max_steps: int | None = None, all_steps: bool = False,
                threshold: float | None = None, echo=print) -> tuple[np.ndarray, int, bool]:
    """Solve one puzzle with a runtime Session (eager or an artifact), echoing the board after each
    supervision step with the halting confidence sigmoid(q_halt). Stops at the halting step unless
    `all_steps`. -> (answer, steps, valid)."""
    steps = max_steps or sess.max_steps
    thr = sess.halt_threshold if threshold is None else threshold
    r = sess.solve(tokens[None], max_steps=steps, halt=False, threshold=thr)
    last = int(r.halted_at[0]) if not all_steps else r.steps_run
    echo(f"puzzle ({int((tokens >= 2).sum())} givens):")
    echo(task.render(tokens))
    prev = tokens
    for s in range(last):
        pred = r.preds[s, 0]
        changed = int((pred != prev).sum()) if s else int((pred != tokens).sum())
        halt = " -> halt" if s + 1 == int(r.halted_at[0]) and r.q_halt[s, 0] > thr else ""
        echo(f"\nstep {s + 1}/{steps}: halting confidence {halt_probability(float(r.q_halt[s, 0])):.3f}"
             f" (threshold {halt_probability(thr):.3f}), {changed} cells changed{halt}")
        echo(task.render(pred))
        prev = pred
    answer = r.preds[last - 1, 0]
    valid = bool(task.verify(tokens[None], answer[None])[0])
    echo(f"\n{'solved' if valid else 'NOT solved'} after {last} step(s)")
    return answer, last, valid


def _median_step_ms(session, inputs: np.ndarray, n_sup: int) -> float:
    """Median wall time of one `step` call at batch 1, over every step of each puzzle's solve."""
    times = []
    for tok in inputs:
        state = session.init(tok[None])
        for _ in range(n_sup):
            t0 = time.perf_counter()
            state, _, _ = session.step(state)
            times.append(time.perf_counter() - t0)
    return 1e3 * float(np.median(times))


def export_section(model, ckpt_dir, task, inputs: np.ndarray, target: str = "onnx", n_timed: int = 20,
                   echo=print) -> dict | None:
    """Export the model's looped fp32 artifact for `target` (cached, the bench's cache), solve the
    same puzzles through its runtime with adaptive halting and compare with eager PyTorch:
    agreement of the halting answers, accuracy, and median latency per supervision step at batch 1."""
    from ..export.cache import cached_exports
    from ..runtime import EagerSession, load

    notes: list[str] = []
    paths = cached_exports(model, ckpt_dir, [target], ("fp32",), 1, notes, progress=False)
    if not paths:
        echo(f"\n(no exported runtime shown: {notes[0] if notes else target + ' unavailable'})")
        return None
    art, eager = load(paths[0]), EagerSession(model, source=str(ckpt_dir))
    got, want = art.solve(inputs, halt=True), eager.solve(inputs, halt=True)
    n_sup = model.cfg.n_sup
    timed = inputs[:n_timed]
    _median_step_ms(art, timed[:2], n_sup)  # warm-up
    art_ms, eager_ms = _median_step_ms(art, timed, n_sup), _median_step_ms(eager, timed, n_sup)
    res = {"artifact": paths[0].name, "path": str(paths[0]),
           "agree": float((got.final == want.final).all(-1).mean()),
           "exact": float(task.verify(inputs, got.final).mean()), "mean_steps": float(got.halted_at.mean()),
           "step_ms": art_ms, "eager_step_ms": eager_ms}
    echo(f"\nexported runtime: {res['artifact']} ({res['path']})")
    echo(f"  same halting answers as eager PyTorch on {res['agree']:.1%} of {len(inputs)} puzzles; "
         f"exact {res['exact']:.3f} at {res['mean_steps']:.2f} mean steps")
    echo(f"  one supervision step at batch 1 (median over {len(timed)} puzzles x {n_sup} steps): "
         f"{art_ms:.2f} ms vs eager {eager_ms:.2f} ms ({eager_ms / art_ms:.1f}x)")
    return res


def run_demo(checkpoint=None, n_show: int = 2, n_table: int = 300, seed: int | None = None,
             device: str = "cpu", export_target: str | None = "onnx", echo=print) -> dict:
    """Bundled model: solve a few fresh puzzles live, the accuracy-per-depth table, then the same
    puzzles through an exported runtime (`export_target`, None to skip)."""
    from ..checkpoint import load_model
    from ..evaluate import evaluate_session, format_table
    from ..model import count_params
    from ..runtime import EagerSession
    from ..tasks import get_task

    t0 = time.perf_counter()
    model, d = load_model(checkpoint, device)
    task = get_task(model.cfg.task)
    seed = int(np.random.SeedSequence().entropy % (2**31)) if seed is None else seed
    echo(f"model {d.name}: {model.cfg.task}, {count_params(model):,} params, D={model.cfg.d_model}, "
         f"n={model.cfg.n_latent}, T={model.cfg.T}, up to {model.cfg.n_sup} supervision steps")
    echo(f"fresh puzzles from seed {seed} (not in the training set with overwhelming probability)\n")
    inputs, labels = task.generate(n_show + n_table, seed)
    eager = EagerSession(model, source=str(d), device=device)
    for i in range(n_show):
        echo(f"=== puzzle {i + 1}/{n_show} ===")
        solve_steps(eager, task, inputs[i], echo=echo)
        echo("")
    res = evaluate_session(eager, inputs[n_show:], labels[n_show:], model.cfg.n_sup,
                          model.cfg.halt_threshold, model.cfg.task)
    echo("accuracy per depth (supervision steps) on fresh puzzles:")
    echo(format_table(res))
    if export_target:
        res["export"] = export_section(model, d, task, inputs[n_show:], export_target, echo=echo)
    echo(f"\ndemo took {time.perf_counter() - t0:.1f} s")
    return res
