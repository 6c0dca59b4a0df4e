"""checkpoint / train_state I/O: round trip, atomic writes, clear errors, <= 16 MiB shards."""
from __future__ import annotations

import pytest
import torch

from trm_edge.checkpoint import atomic_write_dir, load_model, resolve, save_model
from trm_edge.errors import ArtifactError
from trm_edge.model import TRMConfig, build_model
from trm_edge.runtime import EagerSession
from trm_edge.train.state import MAX_SHARD_BYTES, load_train_state, save_train_state


def test_save_load_round_trip_same_outputs(tmp_path):
    torch.manual_seed(0)
    model = build_model(TRMConfig.preset("sudoku4-tiny")).eval()
    save_model(model, tmp_path / "ck", extra_json={"note.json": {"a": 1}})
    loaded, d = load_model(tmp_path / "ck")
    assert d == tmp_path / "ck" and (d / "note.json").exists()
    x = torch.randint(1, 6, (3, 16), dtype=torch.int32)
    a, b = EagerSession(model).solve(x, max_steps=2), EagerSession(loaded).solve(x, max_steps=2)
    assert (a.preds == b.preds).all() and (a.q_halt == b.q_halt).all()


def test_atomic_write_keeps_old_on_failure(tmp_path):
    target = tmp_path / "t"
    atomic_write_dir(target, lambda d: (d / "f").write_text("old"))

    def boom(d):
        (d / "f").write_text("half")
        raise KeyboardInterrupt  # a kill mid-write

    with pytest.raises(KeyboardInterrupt):
        atomic_write_dir(target, boom, owned=lambda d: {"f"})
    assert (target / "f").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t"]  # no temp dirs left behind


def test_clear_errors(tmp_path):
    with pytest.raises(ArtifactError, match="no checkpoint"):
        resolve(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="not a checkpoint"):
        load_model(tmp_path / "empty")
    with pytest.raises(ArtifactError, match="no training state"):
        load_train_state(tmp_path / "empty")


def test_bundled_default_resolves():
    d = resolve(None)
    assert (d / "config.json").exists() and (d / "model.safetensors").exists()


def test_big_train_state_is_sharded_under_16mib(tmp_path):
    big = torch.randn(5 * 2**20)  # 20 MiB fp32: split along dim 0
    t = {"big": big, "small": torch.arange(10), "rows": torch.randn(3000, 1000)}  # 12 MB: own shard
    save_train_state(tmp_path / "s", t, {"step": 7})
    files = sorted((tmp_path / "s").glob("*.safetensors"))
    assert len(files) >= 2
    assert all(f.stat().st_size <= 16 * 2**20 for f in files)
    got, meta = load_train_state(tmp_path / "s")
    assert meta["step"] == 7 and set(got) == set(t)
    assert all(torch.equal(got[k], t[k]) for k in t)
    assert MAX_SHARD_BYTES < 16 * 2**20


def test_training_data_is_what_the_checkpoint_was_trained_on(tmp_path):
    """The test split is de-duplicated against the checkpoint's own training puzzles: those of its
    training.json; none for a checkpoint without one (imported or untrained: it never saw this
    generator's puzzles, and generating 20k 9x9 of them to compare with costs minutes)."""
    import json

    from trm_edge.checkpoint import BUNDLED_DIR, training_data
    from trm_edge.data import N_TRAIN, eval_puzzles

    d = save_model(build_model(TRMConfig.preset("sudoku4-tiny")), tmp_path / "untrained")
    assert training_data(d) == (0, 0)
    assert training_data(None) == (N_TRAIN, 0)   # a source that is not known: `trm-edge train`'s defaults
    want = json.loads((BUNDLED_DIR / "sudoku6" / "training.json").read_text())["train_config"]
    assert training_data(BUNDLED_DIR / "sudoku6") == (want["n_train"], want.get("data_seed", 0))
    inputs, labels = eval_puzzles("sudoku4", 16, 0, n_train=0)   # nothing to drop: 16 distinct puzzles
    assert inputs.shape == labels.shape == (16, 16) and len({r.tobytes() for r in inputs}) == 16
