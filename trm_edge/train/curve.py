"""`trm-edge report curve RUN`: a training run's learning curve as one small PNG.

Reads what a run directory already holds: `train_log.jsonl` (loss and training-batch cell accuracy
every --log-every steps) and, when present, `evals/step-N.json` (`trm-edge eval --json` results of the
checkpoint saved at step N, e.g. written between --time-budget chunks by scripts/train_sudoku9.sh).
Left panel: training loss; right panel: held-out exact accuracy at depth 1 and at full depth.
"""
from __future__ import annotations

import io
import re
from pathlib import Path

from ..errors import TRMEdgeError, require
from ..safe_io import check_writable, write_bytes
from ..schema import (MAX_JSON_BYTES, MAX_PUZZLES, Int, Opt, SchemaError, Type, check_fields, loads, log_line, read_json,
                      read_text)


def read_run(run: str | Path) -> tuple[list[dict], list[dict]]:
    """(train log lines, evals sorted by step) of a run directory."""
    run = Path(run)
    log = run / "train_log.jsonl"
    if not log.is_file():
        raise TRMEdgeError(f"{run} has no train_log.jsonl (is it a `trm-edge train --out` directory?)")
    text = read_text(log, "training log", max_bytes=MAX_JSON_BYTES)
    lines = []
    for i, s in enumerate(text.splitlines(), 1):
        if s.strip():
            lines.append(log_line(loads(s, f"{log} line {i}"), f"{log} line {i}"))
    if not lines:
        raise SchemaError(f"{log} has no log lines (train with --log-every > 0)")
    evals = []
    for f in sorted((run / "evals").glob("step-*.json")):
        m = re.fullmatch(r"step-([0-9]+)\.json", f.name)
        if m:
            e = check_fields(read_json(f, "eval result"), {"exact": Type(list), "n": Int(1, MAX_PUZZLES),
                                                           "givens": Opt(Type(list))},
                             str(f), required=("exact", "n"), unknown=True)
            if not e["exact"] or not all(isinstance(x, (int, float)) for x in e["exact"]):
                raise SchemaError(f"{f}: field 'exact' must be a non-empty list of numbers")
            if e.get("givens") is not None and len(e["givens"]) != 2:
                raise SchemaError(f"{f}: field 'givens' must be [LO, HI]")
            evals.append({**e, "step": int(m.group(1))})
    return lines, sorted(evals, key=lambda e: e["step"])


def plot_curve(run: str | Path, out: str | Path, title: str | None = None) -> Path:
    plt = require("matplotlib.pyplot", "bench")
    check_writable(out)
    lines, evals = read_run(run)
    fig, (ax_l, ax_e) = plt.subplots(1, 2, figsize=(8, 3), dpi=100)
    steps = [d["step"] for d in lines]
    ax_l.plot(steps, [d["loss"] for d in lines], lw=1)
    ax_l.set(xlabel="optimizer step", ylabel="training loss", yscale="log")
    ax_l.grid(alpha=0.3)
    if evals:
        split = evals[-1].get("givens")
        label = f"{split[0]}-{split[1]} givens" if split else "test split"
        es = [e["step"] for e in evals]
        ax_e.plot(es, [e["exact"][0] for e in evals], "o-", ms=3, label="depth 1")
        ax_e.plot(es, [e["exact"][-1] for e in evals], "o-", ms=3, label=f"depth {len(evals[-1]['exact'])}")
        ax_e.set(xlabel="optimizer step", ylabel=f"exact ({evals[-1]['n']} puzzles, {label})", ylim=(0, 1))
        ax_e.legend(loc="lower right")
    else:
        ax_e.plot(steps, [d["acc"] for d in lines], lw=1)
        ax_e.set(xlabel="optimizer step", ylabel="training-batch cell accuracy", ylim=(0, 1))
    ax_e.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return write_bytes(out, buf.getvalue())
