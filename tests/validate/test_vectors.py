"""Golden vectors: the contract shared by the Linux runtimes and the demo apps (trm_edge.validate.vectors).

- the Python mirror of the apps' logic (tokenize -> init -> step loop -> decode) agrees with the
  task code and with eager PyTorch;
- the committed trm_edge/golden_vectors/*.json (package data) still match the bundled model, and every Linux runtime
  (eager, onnx, executorch, tflite) reproduces them within the recorded tolerance;
- the apps' fake-step replay (what the JUnit / XCTest tests do) reproduces halting and answers.
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest

from trm_edge import package_data
from trm_edge.validate import vectors as V
from trm_edge.tasks import get_task

COMMITTED = package_data.golden_vectors()


# ---- a tiny model, and its vectors ----------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    import torch

    from trm_edge.checkpoint import save_model
    from trm_edge.model import TRMConfig, build_model

    torch.manual_seed(0)
    model = build_model(TRMConfig.preset("sudoku4-tiny"))
    with torch.no_grad():  # a random q_head so that some samples halt early and some never do
        model.q_head.weight.normal_(0, 0.2)
        model.q_head.bias.fill_(-0.5)
    return save_model(model, tmp_path_factory.mktemp("ckpt") / "tiny4")


@pytest.fixture(scope="module")
def tiny_vectors(tiny_ckpt):
    return V.generate(V.VectorsConfig(checkpoint=str(tiny_ckpt), n_puzzles=5, seed=3))


def eager_fns(ckpt):
    from trm_edge.checkpoint import load_model

    model, _ = load_model(ckpt)
    return V._eager_fns(model)


def replay_fns(vectors):
    """A fake runtime fed from the recorded logits: exactly what the apps' unit tests do."""
    cases = vectors["cases"]

    def init(tokens):
        assert np.array_equal(tokens, np.asarray([c["tokens"] for c in cases]))
        return 0

    def step(s):
        logits = np.asarray([c["steps"][s]["logits"] for c in cases], np.float32)
        q = np.asarray([c["steps"][s]["q_halt"] for c in cases], np.float32)
        return s + 1, logits, q

    return init, step


# ---- the apps' thin logic, mirrored -------------------------------------------------------------
def test_tokenizer_mirror_matches_task_parser():
    from trm_edge.artifact import task_info
    from trm_edge.model import TRMConfig

    for preset, size in (("sudoku4-tiny", 4), ("sudoku6-small", 6), ("sudoku9-small", 9)):
        task = get_task(f"sudoku{size}")
        tokens = task_info(TRMConfig.preset(preset))["tokens"]
        inputs, labels = task.generate(3, seed=size)
        for row in np.concatenate([inputs, labels]):
            text = task.to_text(row)
            assert V.encode_puzzle(text, tokens) == task.parse(text).tolist()
            assert V.decode_tokens(row, tokens) == text
        board = task.render(inputs[0])  # the layout characters of the rendered board are skipped
        assert V.encode_puzzle(board, tokens) == inputs[0].tolist()
        with pytest.raises(Exception, match="invalid character"):
            V.encode_puzzle("x" + text[1:], tokens)


def test_decode_step_is_argmax_and_softmax():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 5, 7)).astype(np.float32)
    preds, conf = V.decode_step(logits)
    e = np.exp(logits - logits.max(-1, keepdims=True))
    p = e / e.sum(-1, keepdims=True)
    assert np.array_equal(preds, logits.argmax(-1))
    assert np.allclose(conf, p.max(-1), atol=1e-6)


# ---- generation and checking --------------------------------------------------------------------
def test_generated_vectors_are_consistent(tiny_vectors):
    v = tiny_vectors
    task = get_task(v["task"])
    assert v["format"] == V.FORMAT and len(v["cases"]) == 5
    halted = {c["halted_at"] for c in v["cases"]}
    assert len(halted) > 1, "fixture should mix early and late halting"
    for c in v["cases"]:
        assert len(c["steps"]) == v["max_steps"]
        assert V.encode_puzzle(c["puzzle"], v["task_info"]["tokens"]) == c["tokens"]
        for s in c["steps"]:
            preds, conf = V.decode_step(np.asarray(s["logits"]))
            firm = np.sort(np.asarray(s["logits"]), -1)[:, -1] - np.sort(np.asarray(s["logits"]), -1)[:, -2] > 1e-4
            assert np.array_equal(preds[firm], np.asarray(s["preds"])[firm])
            assert np.allclose(conf, s["confidence"], atol=1e-4)
        first = next((s["step"] for s in c["steps"] if s["q_halt"] > v["halt_threshold"]), v["max_steps"])
        assert c["halted_at"] == first
        assert c["final_preds"] == c["steps"][first - 1]["preds"]
        assert c["final_correct"] == bool(task.verify(np.asarray([c["tokens"]]), np.asarray([c["final_preds"]]))[0])


def test_eager_reproduces_vectors_and_check_catches_drift(tiny_ckpt, tiny_vectors):
    init, step = eager_fns(tiny_ckpt)
    assert V.check(tiny_vectors, init, step) == []
    bad = copy.deepcopy(tiny_vectors)
    bad["cases"][1]["steps"][2]["logits"][0][3] += 0.5
    bad["cases"][2]["halted_at"] = 99
    problems = V.check(bad, init, step)
    assert any("step 3: logits" in p for p in problems)
    assert any("halted at" in p for p in problems)


def test_app_replay_reproduces_halting_and_answers(tiny_vectors):
    """The apps' unit tests, in Python: fake step from the vectors, halting on, frozen answers."""
    v = tiny_vectors
    init, step = replay_fns(v)
    tokens = np.asarray([c["tokens"] for c in v["cases"]], np.int32)
    res, conf = V.app_solve(init, step, tokens, v["max_steps"], v["halt_threshold"], halt=True)
    assert res.steps_run == max(c["halted_at"] for c in v["cases"])
    for i, c in enumerate(v["cases"]):
        assert res.halted_at[i] == c["halted_at"]
        assert res.final[i].tolist() == c["final_preds"] == res.last[i].tolist()  # frozen after halting
        assert V.decode_tokens(res.final[i], v["task_info"]["tokens"]) == c["final_text"]


def test_write_and_load_roundtrip(tmp_path, tiny_vectors):
    p = V.write(tiny_vectors, tmp_path / "v.json")
    assert V.load(p)["cases"][0]["tokens"] == tiny_vectors["cases"][0]["tokens"]
    (tmp_path / "bad.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(Exception, match="not a trm-edge-vectors/1"):
        V.load(tmp_path / "bad.json")


# ---- the committed vectors against every Linux runtime ------------------------------------------
def _bundled(vec_path: Path):
    from trm_edge.checkpoint import BUNDLED_DIR, file_sha256

    v = V.load(vec_path)
    ckpt = BUNDLED_DIR / v["checkpoint"]
    assert (ckpt / "model.safetensors").exists(), f"bundled checkpoint {v['checkpoint']} is missing from the package"
    assert file_sha256(ckpt / "model.safetensors") == v["checkpoint_sha256"], (
        f"{vec_path.name} is stale: regenerate it with `trm-edge vectors --checkpoint {v['checkpoint']}`")
    return v, ckpt


@pytest.mark.parametrize("vec_path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_committed_vectors_match_eager_session(vec_path):
    from trm_edge import runtime

    v, ckpt = _bundled(vec_path)
    assert V.check(v, *V.session_fns(runtime.load(ckpt))) == []


@pytest.mark.slow  # each export takes 1-3 minutes on the 2-core machine
@pytest.mark.parametrize("target", ["onnx", "executorch", "tflite"])
@pytest.mark.parametrize("vec_path", COMMITTED, ids=[p.stem for p in COMMITTED])
def test_committed_vectors_match_runtime(vec_path, target, tmp_path):
    """Export the bundled model (looped, fp32) and replay the vectors through trm_edge.runtime.load."""
    from trm_edge import export, runtime

    v, ckpt = _bundled(vec_path)
    why = export.target_module(target).available()
    if why:
        pytest.skip(why)
    from trm_edge.checkpoint import load_model

    model, _ = load_model(ckpt)
    art = export.export(model, export.Recipe(target=target, mode="looped", batch=len(v["cases"])), tmp_path)
    assert V.check(v, *V.session_fns(runtime.load(art.path))) == []
