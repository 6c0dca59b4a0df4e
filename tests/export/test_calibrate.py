"""Calibration data: real recursion states at every depth, from training puzzles only."""
import numpy as np
import pytest
import torch

from trm_edge.data import load_split
from trm_edge.export.calibrate import CalibConfig, CalibrationLeakError, assert_disjoint, calibration_set, record_states, training_tokens
from trm_edge.model import TRMConfig, build_model


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(TRMConfig.preset("sudoku4-tiny")).eval()


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TRM_EDGE_CACHE", str(tmp_path_factory.getbasetemp() / "data-cache"))


def test_states_cover_every_depth_and_differ(model):
    cal = calibration_set(model, CalibConfig(n_puzzles=12, n_test_check=200))
    n_sup = model.cfg.n_sup
    assert sorted(np.unique(cal.depth)) == list(range(1, n_sup + 1))
    assert len(cal.depth) == len(cal.tokens) * n_sup
    L, D = model.cfg.total_len, model.cfg.d_model
    assert cal.x.shape == cal.y.shape == cal.z.shape == (len(cal.depth), L, D)
    # depth 1 feeds the fixed init vectors; later depths feed what the net produced
    y1 = cal.y[cal.depth == 1]
    assert np.allclose(y1, model.y_init.numpy()[None, None])
    assert not np.allclose(cal.y[cal.depth == n_sup], y1)
    # interleaved: the first n_sup step samples are one per depth
    assert sorted(cal.depth[:n_sup]) == list(range(1, n_sup + 1))
    # a batch prefix covers every depth, so a calibrator that stops early still sees all depths
    first = next(cal.step_batches(n_sup))
    assert all(a.shape == (n_sup, L, D) for a in first)


def test_recorded_states_match_the_eager_host_loop(model):
    tok = training_tokens(model.cfg.task, CalibConfig(n_puzzles=4, n_test_check=100))
    cal = record_states(model, tok)
    with torch.no_grad():
        t = torch.from_numpy(tok)
        x = model.embed(t)
        y, z = model.initial_state(x)
        for _ in range(2):
            y, z, _, _ = model.step(x, y, z)
    at3 = cal.depth == 3  # the input of step 3 is the output of step 2
    np.testing.assert_allclose(cal.y[at3], y.numpy(), atol=1e-6)
    np.testing.assert_allclose(cal.z[at3], z.numpy(), atol=1e-6)


def test_calibration_never_uses_test_puzzles(model):
    cfg = CalibConfig(n_puzzles=40, n_test_check=300)
    tok = training_tokens(model.cfg.task, cfg)
    test, _ = load_split(model.cfg.task, "test", cfg.n_test_check)
    assert_disjoint(tok, test)  # the assertion training_tokens already made, made again here
    test_rows = {r.tobytes() for r in test}
    assert not any(r.tobytes() in test_rows for r in tok)
    # and the check bites: a test puzzle slipped into the calibration set is refused
    with pytest.raises(CalibrationLeakError):
        assert_disjoint(np.concatenate([tok, test[:1]]), test)


def test_calibration_drops_augmented_puzzles_that_equal_a_test_puzzle(model, monkeypatch):
    """On 4x4 boards an augmented training puzzle can coincide with a test puzzle: it is dropped."""
    import trm_edge.export.calibrate as calibrate

    train, _ = load_split(model.cfg.task, "train", 10)
    fake_test = np.concatenate([train[:3], load_split(model.cfg.task, "test", 20)[0]])

    def split(task, which, n, seed=0, n_train=None):
        return train[:n] if which == "train" else fake_test

    monkeypatch.setattr(calibrate, "_split", split)
    tok = calibrate.training_tokens(model.cfg.task, CalibConfig(n_puzzles=10, augment=False))
    assert len(tok) == 7
    assert_disjoint(tok, fake_test)
