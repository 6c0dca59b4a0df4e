"""Rating distribution and generation speed of the Sudoku-hard data (writes docs/sudoku-hard-rating.*).

    python scripts/sudoku_hard_stats.py --out docs            # the 1000/5000 splits of seed 0

Reports, for the test split (and the training split): solver backtracks (histogram), clue counts,
the fraction needing search, uniqueness of every puzzle, minimality of a sample, overlap with the
training split; and, for the raw candidate stream before the rating filter, the same rating figures
plus the generation speed (candidates/s and accepted puzzles/s, numba and pure Python).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from trm_edge.data import load_split
from trm_edge.tasks import get_task
from trm_edge.tasks import sudoku_hard as H


def rating_summary(backtracks: np.ndarray, clues: np.ndarray) -> dict:
    q = np.percentile(backtracks, [50, 90, 99]).tolist()
    return {"n": int(len(backtracks)), "needs_search": round(float((backtracks >= 1).mean()), 4),
            "backtracks_mean": round(float(backtracks.mean()), 2), "backtracks_p50_p90_p99": q,
            "backtracks_max": int(backtracks.max()),
            "backtracks_hist": {k: int(v) for k, v in _bins(backtracks).items()},
            "clues_mean": round(float(clues.mean()), 2), "clues_min": int(clues.min()), "clues_max": int(clues.max()),
            "clues_hist": {int(c): int(n) for c, n in zip(*np.unique(clues, return_counts=True))}}


def _bins(b: np.ndarray) -> dict:
    edges = [0, 1, 2, 3, 5, 10, 20, 50, 100, 10**9]
    return {(f"{lo}" if hi == lo + 1 else f"{lo}-{hi - 1}" if hi < 10**9 else f">={lo}"): ((b >= lo) & (b < hi)).sum()
            for lo, hi in zip(edges[:-1], edges[1:])}


def is_minimal(grid: np.ndarray) -> bool:
    """No clue can be removed without losing uniqueness."""
    for c in np.flatnonzero(grid):
        g = grid.copy()
        g[c] = 0
        if H.rate(g)[0][0] == 1:
            return False
    return True


def python_speed(k: int) -> float:
    """Candidates/s of the pure-Python path (a subprocess with TRM_EDGE_NO_NUMBA=1)."""
    code = ("import time; from trm_edge.tasks import sudoku_hard as H; assert not H.HAVE_NUMBA; "
            f"t=time.perf_counter(); H.candidates(123, 0, {k}); print({k}/(time.perf_counter()-t))")
    out = subprocess.run([sys.executable, "-c", code], env={**__import__("os").environ, "TRM_EDGE_NO_NUMBA": "1"},
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs")
    ap.add_argument("--n-train", type=int, default=H.TRAIN_SIZE)
    ap.add_argument("--n-test", type=int, default=H.TEST_SIZE)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n-raw", type=int, default=2000, help="raw candidates for the unfiltered stream")
    ap.add_argument("--n-minimal", type=int, default=200, help="test puzzles checked for minimality")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    task = get_task("sudoku9-hard")

    H.candidates(0, 0, 1)  # compile (or load numba's cache) before timing
    t = time.perf_counter()
    g, _, r = H.candidates(args.seed + 999, 0, args.n_raw)
    dt = time.perf_counter() - t
    speed = {"numba": H.HAVE_NUMBA, "candidates_per_s": round(args.n_raw / dt, 1),
             "accepted_per_s": round(float((r >= task.min_backtracks).sum()) / dt, 1),
             "python_candidates_per_s": round(python_speed(3), 3)}
    raw = rating_summary(r, (g > 0).sum(1))

    t = time.perf_counter()
    tr_x, _ = load_split(task, "train", args.n_train, args.seed)
    te_x, te_y = load_split(task, "test", args.n_test, args.seed, n_train=args.n_train)
    load_s = time.perf_counter() - t
    counts, te_b = H.rate(te_x.astype(np.int64) - 1)
    _, tr_b = H.rate(tr_x.astype(np.int64) - 1)
    te_grid = (te_x.astype(np.int64) - 1)
    minimal = sum(is_minimal(te_grid[k]) for k in range(min(args.n_minimal, len(te_grid))))
    overlap = len({r.tobytes() for r in te_x} & {r.tobytes() for r in tr_x})
    stats = {
        "command": "python " + " ".join(sys.argv),
        "seed": args.seed, "min_backtracks": task.min_backtracks,
        "test": {**rating_summary(te_b, (te_x > 1).sum(1)), "unique_solution": int((counts == 1).sum()),
                 "labels_verify": int(task.verify(te_x, te_y).sum()),
                 "minimal_checked": min(args.n_minimal, len(te_grid)), "minimal": int(minimal),
                 "overlap_with_train": overlap, "duplicates": int(len(te_x) - len(np.unique(te_x, axis=0)))},
        "train": rating_summary(tr_b, (tr_x > 1).sum(1)),
        "raw_candidates": raw, "speed": speed, "splits_seconds_incl_cache": round(load_s, 1),
    }
    (out / "sudoku-hard-rating.json").write_text(json.dumps(stats, indent=2) + "\n")
    print(json.dumps(stats, indent=2))

    plt = _pyplot()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4))
    hi = int(np.percentile(te_b, 99.5)) + 2
    ax[0].hist(te_b, bins=np.arange(0, hi + 1) - 0.5, color="C0", label=f"test (n={len(te_b)})")
    ax[0].hist(r, bins=np.arange(0, hi + 1) - 0.5, histtype="step", color="C1", density=False,
               label=f"raw candidates (n={len(r)})")
    ax[0].set(xlabel="solver backtracks (singles propagation, full tree)", ylabel="puzzles", yscale="log",
              title="Sudoku-hard rating")
    ax[0].legend()
    clues = (te_x > 1).sum(1)
    ax[1].bar(*np.unique(clues, return_counts=True), color="C0")
    ax[1].set(xlabel="clues", ylabel="puzzles", title="clue count (test)")
    fig.tight_layout()
    fig.savefig(out / "sudoku-hard-rating.png", dpi=90)


def _pyplot():
    from trm_edge.errors import require

    require("matplotlib", "bench").use("Agg")
    return require("matplotlib.pyplot", "bench")


if __name__ == "__main__":
    main()
