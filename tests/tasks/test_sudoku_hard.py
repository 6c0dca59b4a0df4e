"""Sudoku-hard: the generator (uniqueness, minimality, rating) and the paper recipe at tiny size on CPU."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from trm_edge.tasks import get_task
from trm_edge.tasks import sudoku_hard as H
from trm_edge.tasks.sudoku import SudokuSolver

INKALA = "800000000003600000070090200050007000000045700000100030001000068008500010090000400"  # needs guessing
EASY = "530070000600195000098000060800060003400803001700020006060000280000419005000080079"  # singles suffice


def singles_only(grid) -> bool:
    """Independent reference: do naked + hidden singles alone fill the grid? (sets, not bitmasks)"""
    cand = [{v} if v else set(range(1, 10)) for v in grid]
    units = [list(u) for u in H.UNITS]
    changed = True
    while changed:
        changed = False
        for i in range(81):
            if len(cand[i]) == 1:
                for p in H.PEERS[i]:
                    if cand[i] & cand[p]:
                        cand[p] = cand[p] - cand[i]
                        changed = True
        for u in units:
            for d in range(1, 10):
                where = [i for i in u if d in cand[i]]
                if len(where) == 1 and len(cand[where[0]]) > 1:
                    cand[where[0]] = {d}
                    changed = True
        if any(not c for c in cand):
            return False
    return all(len(c) == 1 for c in cand)


def _grid(text):
    return np.array([int(ch) for ch in text], np.int64)


def test_rating_of_known_puzzles():
    counts, backs = H.rate(np.stack([_grid(EASY), _grid(INKALA)]))
    assert counts.tolist() == [1, 1]
    assert backs[0] == 0 and backs[1] > 0
    bad = _grid(EASY)
    bad[1] = 5  # two 5s in the first row
    assert H.rate(bad)[0][0] == 0


def test_candidates_are_unique_minimal_and_rated():
    grids, sols, ratings = H.candidates(seed=11, start=0, count=6)
    lead = SudokuSolver(9)  # an independent solver (naked singles only) checks uniqueness
    task = get_task("sudoku9-hard")
    for g, s, r in zip(grids, sols, ratings):
        n, first, _ = lead.solve(list(g), limit=2)
        assert n == 1 and first == list(s)
        assert task.verify(g + 1, s + 1)
        assert 17 <= (g > 0).sum() <= 35
        assert (r == 0) == singles_only(list(g))
        for c in np.flatnonzero(g)[:8]:  # minimal: dropping a clue breaks uniqueness
            h = g.copy()
            h[c] = 0
            assert H.rate(h)[0][0] == 2


def test_generate_filters_and_is_deterministic():
    task = get_task("sudoku9-hard")
    assert (task.name, task.vocab_size, task.seq_len) == ("sudoku9-hard", 11, 81)
    x, y = task.generate(8, seed=5)
    assert x.dtype == np.int32 and x.shape == (8, 81)
    assert (task.rating(x) >= task.min_backtracks).all()
    assert task.verify(x, y).all()
    x2, y2 = task.generate(8, seed=5)
    assert (x == x2).all() and (y == y2).all()
    g, s, r = H.generate_hard(8, seed=5, chunk=3)  # chunking never changes the stream
    assert (g + 1 == x).all() and (r >= 1).all()
    assert not (task.generate(8, seed=6)[0] == x).all(axis=1).any()
    ax, ay = task.augment(x, y, np.random.default_rng(0))
    assert task.verify(ax, ay).all() and ((ax > 1).sum(1) == (x > 1).sum(1)).all()


@pytest.mark.skipif(not H.HAVE_NUMBA, reason="numba not installed: both paths are the Python one")
def test_pure_python_fallback_gives_identical_puzzles():
    code = ("import numpy as np; from trm_edge.tasks import sudoku_hard as H; assert not H.HAVE_NUMBA; "
            "g, s, r = H.candidates(3, 7, 1); print(''.join(map(str, g[0])), ''.join(map(str, s[0])), r[0])")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "TRM_EDGE_NO_NUMBA": "1"},
                         capture_output=True, text=True, check=True, timeout=120).stdout.split()
    g, s, r = H.candidates(3, 7, 1)
    assert out == ["".join(map(str, g[0])), "".join(map(str, s[0])), str(r[0])]


# ---- the paper recipe at tiny size on CPU ------------------------------------------------------
TINY_MODEL = {"d_model": 32, "n_latent": 2, "T": 2, "n_sup": 4}
TINY = dict(n_train=32, batch_size=8, warmup=2, val_n=0, checkpoint_every=0, log_every=0)


@pytest.fixture
def one_thread(monkeypatch, tmp_path):
    torch = pytest.importorskip("torch")
    monkeypatch.setenv("TRM_EDGE_CACHE", str(tmp_path / "cache"))
    n = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add contention
    yield
    torch.set_num_threads(n)


def test_recipe_has_the_paper_hyperparameters():
    from trm_edge.model import TRMConfig
    from trm_edge.train import preset_config

    cfg = preset_config("sudoku-mlp", batch_size=8, model={"d_model": 32})
    assert (cfg.lr, cfg.weight_decay, cfg.betas, cfg.warmup, cfg.ema) == (1e-4, 1.0, (0.9, 0.95), 2000, 0.999)
    assert (cfg.halt, cfg.halt_explore, cfg.loss, cfg.n_train, cfg.portable) == (True, 0.1, "stablemax", 1000, True)
    assert cfg.batch_size == 8 and cfg.model == {"task": "sudoku9-hard", "d_model": 32}
    assert preset_config("sudoku-mlp").batch_size == 768
    m = TRMConfig.preset("sudoku-mlp")
    assert (m.n_latent, m.T, m.n_sup, m.d_model, m.mixer) == (6, 3, 16, 512, "mlp")


def test_recipe_resume_across_two_budgeted_runs_is_identical(one_thread, tmp_path, monkeypatch):
    """4 steps in one run == 1 step (time budget hit) + resume for 3, bit for bit; sharded state files."""
    from trm_edge.train import state as train_state
    from trm_edge.train import preset_config, train

    kw = dict(model=TINY_MODEL, steps=4, portable=False, **TINY)
    full = train(preset_config("sudoku-mlp", **kw), tmp_path / "full", device="cpu", progress=False)
    monkeypatch.setattr(train_state, "MAX_SHARD_BYTES", 64 * 1024)  # force many shards and split tensors
    first = train(preset_config("sudoku-mlp", time_budget=1e-9, **kw), tmp_path / "cut", device="cpu", progress=False)
    assert first["stopped_by"] == "time budget" and first["step"] == 1
    shards = sorted((tmp_path / "cut" / "train_state").glob("state-*.safetensors"))
    assert len(shards) > 3 and all(f.stat().st_size <= 64 * 1024 + 4096 for f in shards)
    second = train(preset_config("sudoku-mlp", time_budget=1e9, **kw), tmp_path / "cut", device="cpu",
                   resume=True, progress=False)
    assert second["step"] == full["step"] == 4 and second["loss"] == full["loss"]
    a, _ = train_state.load_train_state(tmp_path / "full")
    b, _ = train_state.load_train_state(tmp_path / "cut")
    torch = pytest.importorskip("torch")
    for k in a:
        if k.startswith(("model.", "ema.", "optim.")):
            assert torch.equal(a[k], b[k]), k


def test_recipe_cli_portable_chunks(one_thread, tmp_path):
    """`trm-edge train --preset sudoku-mlp --task sudoku9-hard` in two chunks with a portable state."""
    import json

    from click.testing import CliRunner
    from trm_edge.train import state as train_state
    from trm_edge.checkpoint import load_model
    from trm_edge.cli import cli

    out = tmp_path / "run"
    args = ["train", "--out", str(out), "--preset", "sudoku-mlp", "--task", "sudoku9-hard", "--device", "cpu",
            "--quiet", "--steps", "3", "--batch-size", "8", "--n-train", "32", "--warmup", "2", "--val-n", "0",
            *[f"--model={k}={v}" for k, v in TINY_MODEL.items()]]
    r1 = CliRunner().invoke(cli, args + ["--time-budget", "1e-9"])
    assert r1.exit_code == 0, r1.output
    assert json.loads(r1.output.strip().splitlines()[-1])["step"] == 1
    r2 = CliRunner().invoke(cli, args + ["--time-budget", "1e9", "--resume"])
    assert r2.exit_code == 0, r2.output
    assert json.loads(r2.output.strip().splitlines()[-1])["step"] == 3
    tensors, meta = train_state.load_train_state(out)
    cfg = meta["train_config"]
    assert (cfg["lr"], cfg["weight_decay"], cfg["batch_size"], cfg["portable"]) == (1e-4, 1.0, 8, True)
    assert meta["model_config"]["task"] == "sudoku9-hard"
    assert not any(".carry." in k for k in tensors)
    assert any(k.endswith(".exp_avg_sq") for k in tensors)
    torch = pytest.importorskip("torch")
    assert all(v.dtype == torch.bfloat16 for k, v in tensors.items() if k.endswith((".exp_avg", ".exp_avg_sq")))
    assert tensors["model.lm_head.weight"].dtype == torch.float32
    for f in out.rglob("*.safetensors"):
        assert f.stat().st_size <= 16 * 2**20
    model, _ = load_model(out / "model")
    assert model.cfg.task == "sudoku9-hard" and next(model.parameters()).dtype == torch.float32
