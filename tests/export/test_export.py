"""Export + runtime: every Linux runtime matches eager PyTorch after every supervision step.

A tiny random-weight sudoku4 model (a sharpened q_head so halting varies between samples) is
exported once per target x mode (module-scoped) and compared with eager on 64 real test puzzles:
logits within 1e-3 and identical predictions at every step (except cells whose eager top-2 logit
margin is below that tolerance: the documented rule of trm_edge/validate/vectors.py), y/z within 1e-3
(looped), the ONNX in-graph loop against the host loop, Core ML's package spec on Linux, and the
refusals: tampered / partial artifacts, unknown targets, bad inputs.
"""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from trm_edge.checkpoint import save_model
from trm_edge.errors import ArtifactError, TRMEdgeError
from trm_edge.export import Recipe, UnsupportedError, export, target_module
from trm_edge.data import eval_puzzles as puzzles
from trm_edge.validate import validate
from trm_edge.validate.rule import compare
from trm_edge.model import TRMConfig, build_model
from trm_edge.runtime import EagerSession, load
from trm_edge.tasks.base import PuzzleError

ATOL = 1e-3
LINUX_TARGETS = ["onnx", "executorch", "tflite"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(model, checkpoint dir) of a sudoku4-tiny model with random weights and a varied q_halt."""
    torch.manual_seed(0)
    model = build_model(TRMConfig.preset("sudoku4-tiny", halt_threshold=0.0)).eval()
    with torch.no_grad():
        # random weights at the authors' LeCun scale make the fp32 recursion chaotic (step-4 error
        # 6.5e-3 on ExecuTorch, the same growth as eager fp32 vs fp64); halved, close to torch's
        # default-init scale that these bounds were set for, errors stay at fp32 rounding
        for p in model.net.parameters():
            p.mul_(0.5)
        model.q_head.weight.normal_(0, 0.3)
        model.q_head.bias.fill_(-0.3)
    d = save_model(model, tmp_path_factory.mktemp("ckpt") / "tiny4")
    model.source_checkpoint = str(d)
    return model, d


@pytest.fixture(scope="module")
def artifacts(tiny, tmp_path_factory):
    """Export on first use, once per (target, mode): batch 8, unrolled to depth 2."""
    model, _ = tiny
    root = tmp_path_factory.mktemp("artifacts")
    cache = {}

    def get(target, mode):
        if (target, mode) not in cache:
            why = target_module(target).available()
            if why:
                pytest.skip(why)
            recipe = Recipe(target=target, mode=mode, batch=8, depth=2 if mode == "unrolled" else None)
            cache[target, mode] = export(model, recipe, root)
        return cache[target, mode]
    return get


def _check_parity(rows, art_steps, eager_logits, got_preds, want_preds, looped):
    assert len(rows) == art_steps
    for r in rows:
        assert r["logits_err"] < ATOL, r
        if looped:
            assert r["y_err"] < ATOL and r["z_err"] < ATOL, r
    for k in range(art_steps):  # exact predictions, except cells decided by less than the tolerance
        top2 = np.sort(eager_logits[k], axis=-1)[..., -2:]
        decided = (top2[..., 1] - top2[..., 0]) >= ATOL
        assert decided.mean() > 0.99
        assert np.array_equal(got_preds[k][decided], want_preds[k][decided]), f"step {k + 1}"


def _per_step(sess, tokens, steps):
    state, logits, preds = sess.init(tokens), [], []
    for _ in range(steps):
        state, out = sess.step_full(state)
        logits.append(out.logits)
        preds.append(out.preds)
    return np.stack(logits), np.stack(preds)


@pytest.mark.parametrize("mode", ["looped", "unrolled"])
@pytest.mark.parametrize("target", LINUX_TARGETS)
def test_artifact_matches_eager_at_every_step(target, mode, tiny, artifacts):
    model, _ = tiny
    art = artifacts(target, mode)
    sess, ref = load(art.path), EagerSession(model)
    assert sess.mode == mode and sess.batch == 8
    tokens, labels = puzzles(model.cfg.task, 64)
    steps = sess.max_steps
    assert steps == (model.cfg.n_sup if mode == "looped" else 2)
    rows = compare(sess, ref, tokens, labels)
    want_logits, want_preds = _per_step(ref, tokens, steps)
    _, got_preds = _per_step(sess, tokens, steps)
    _check_parity(rows, steps, want_logits, got_preds, want_preds, looped=mode == "looped")
    # the host loop with per-sample halting gives the same halting steps and answers
    got, want = sess.solve(tokens, halt=True), ref.solve(tokens, max_steps=steps, halt=True)
    assert np.array_equal(got.halted_at, want.halted_at)
    idx = np.minimum(want.halted_at, steps) - 1            # each sample's halting step (0-based)
    top2 = np.sort(want_logits[idx, np.arange(len(tokens))], axis=-1)[..., -2:]
    decided = (top2[..., 1] - top2[..., 0]) >= ATOL        # (N, S) cells not decided by a tie
    assert np.array_equal(got.final[decided], want.final[decided])
    assert 1 < len(set(want.halted_at.tolist())), "fixture should halt at different steps"


def test_onnx_in_graph_loop_matches_host_loop(tiny, artifacts):
    model, _ = tiny
    sess = load(artifacts("onnx", "looped").path)
    tokens, _ = puzzles(model.cfg.task, 13)   # not a multiple of the static batch
    host = EagerSession(model).solve(tokens, halt=True)
    res = sess.solve_in_graph(tokens, halt=True)
    assert np.array_equal(res["halted_at"], host.halted_at)
    assert np.array_equal(res["preds"], host.final)
    full = sess.solve_in_graph(tokens, halt=False)   # threshold +inf: every sample runs max_steps
    assert (full["halted_at"] == model.cfg.n_sup).all()


def test_validate_report_passes(tiny, artifacts):
    rep = validate(artifacts("tflite", "looped").path, n=16)
    assert rep["passed"] is True and len(rep["steps"]) == 4


def test_validate_tolerance_follows_the_fp32_noise_floor(tiny, artifacts, monkeypatch):
    """Beyond 1e-3 x max|logits|, an fp32 artifact passes only within 2x eager fp32's own distance
    from an fp64 run (a chaotic recursion amplifies rounding; sudoku9 needs it at steps 6-8)."""
    import trm_edge.validate.rule as val

    path = artifacts("tflite", "looped").path
    rep = validate(path, n=16)
    assert all(r["eager_fp64_err"] > 0 for r in rep["steps"])   # fp32 never equals fp64 exactly
    errs = [r["logits_err"] for r in rep["steps"]]
    monkeypatch.setitem(val.TOLERANCE, "fp32", 1e-12)             # only the floor rule can pass now
    for factor, passed in ((0.6, True), (0.4, False)):            # err = 1.7x / 2.5x the floor
        monkeypatch.setattr(val, "fp32_noise_floor", lambda *a, f=factor: [{"logits_err": f * e} for e in errs])
        assert validate(path, n=16)["passed"] is passed


def test_coreml_package_has_init_and_step_with_manifest_io(tiny, artifacts):
    from trm_edge.export.coreml import spec_summary

    art = artifacts("coreml", "looped")
    spec = spec_summary(art.path / "model.mlpackage")
    assert set(spec) == {"init", "step"}
    for entry in ("init", "step"):
        ep = art.manifest["entry_points"][entry]
        assert ep["method"] == entry
        assert spec[entry]["inputs"] == {t["name"]: t["shape"] for t in ep["inputs"]}
        assert set(spec[entry]["outputs"]) == {t["name"] for t in ep["outputs"]}
        for t in ep["outputs"]:
            assert spec[entry]["outputs"][t["name"]] in ([], t["shape"])  # Core ML may leave output shapes open


def test_coreml_unrolled_package_converts(tiny, artifacts):
    from trm_edge.export.coreml import spec_summary

    spec = spec_summary(artifacts("coreml", "unrolled").path / "model.mlpackage")
    assert spec["main"]["inputs"] == {"tokens": [8, 16]}


def test_coreml_numeric_parity(tiny, artifacts):
    if sys.platform != "darwin":
        pytest.skip("Core ML prediction needs macOS: coremltools has no predictor on Linux")
    model, _ = tiny
    sess = load(artifacts("coreml", "looped").path)
    tokens, labels = puzzles(model.cfg.task, 16)
    for r in compare(sess, EagerSession(model), tokens, labels):
        assert r["logits_err"] < ATOL, r


def test_coreml_session_refuses_off_macos(tiny, artifacts):
    if sys.platform == "darwin":
        pytest.skip("on macOS the Core ML session runs (test_coreml_numeric_parity)")
    with pytest.raises(TRMEdgeError, match="only on macOS"):
        load(artifacts("coreml", "looped").path)


# ---- refusals -------------------------------------------------------------------------------
def _copy(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return dst


def test_tampered_or_partial_artifact_is_refused(tiny, artifacts, tmp_path):
    art = artifacts("onnx", "looped")
    bad = _copy(art.path, tmp_path / "tampered")
    data = bytearray((bad / "step.onnx").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bad / "step.onnx").write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match="tampered or corrupt: sha256 of step.onnx"):
        load(bad)
    partial = _copy(art.path, tmp_path / "partial")
    (partial / "init.onnx").unlink()
    with pytest.raises(ArtifactError, match="incomplete: init.onnx is missing"):
        load(partial)
    (partial / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="not valid JSON"):
        load(partial)


def test_onnx_web_graph_has_no_sequence_ops_and_matches_eager(tiny, artifacts, tmp_path):
    """--graph web: no SplitToSequence / SequenceAt (chunk; the plain graph has none either since
    trm_edge.export.portable) and no Transpose left in the step, fewer nodes than the plain export,
    and the same parity with eager as every artifact."""
    from trm_edge.export.web import op_counts

    model, _ = tiny
    art = export(model, Recipe(target="onnx", graph="web", batch=8), tmp_path)
    assert art.name == "onnx-fp32-looped-web" and art.manifest["graph"] == "web"
    assert sorted(art.manifest["entry_points"]) == ["init", "step"]          # no loop.onnx for the page
    plain, web = (op_counts(a.path / "step.onnx") for a in (artifacts("onnx", "looped"), art))
    assert "Transpose" in plain and not {"SplitToSequence", "SequenceAt"} & set(plain), plain
    assert not {"SplitToSequence", "SequenceAt", "Transpose"} & set(web), web
    assert sum(web.values()) < sum(plain.values()), (plain, web)   # Transposes gone, fusions
    sess, ref = load(art.path), EagerSession(model)
    tokens, labels = puzzles(model.cfg.task, 64)
    rows = compare(sess, ref, tokens, labels)
    want_logits, want_preds = _per_step(ref, tokens, sess.max_steps)
    _, got_preds = _per_step(sess, tokens, sess.max_steps)
    _check_parity(rows, sess.max_steps, want_logits, got_preds, want_preds, looped=True)
    for bad, msg in ((dict(target="tflite"), "shape of the ONNX graph"), (dict(precision="int8"), "fp32 only"),
                     (dict(graph="wasm"), "unknown graph")):
        with pytest.raises(UnsupportedError, match=msg):
            Recipe(**{"target": "onnx", "graph": "web", **bad}).resolved(model.cfg)


def test_unknown_target_mode_precision(tiny):
    model, _ = tiny
    for bad, msg in ((dict(target="nope"), "unknown target"), (dict(mode="spiral"), "unknown mode"),
                     (dict(precision="int3"), "unknown precision"), (dict(depth=0, mode="unrolled"), "depth")):
        with pytest.raises(UnsupportedError, match=msg):
            Recipe(**bad).resolved(model.cfg)


def test_session_input_checks_and_chunking(tiny, artifacts):
    model, _ = tiny
    sess = load(artifacts("executorch", "looped").path)
    tokens, _ = puzzles(model.cfg.task, 13)   # 8 + 5 (padded) chunks
    got, want = sess.solve(tokens, halt=False), EagerSession(model).solve(tokens, halt=False)
    assert got.preds.shape == want.preds.shape == (model.cfg.n_sup, 13, 16)
    assert (got.preds == want.preds).mean() > 0.999
    with pytest.raises(PuzzleError, match="shape"):
        sess.init(tokens[:, :10])
    with pytest.raises(PuzzleError, match="must lie in"):
        sess.init(np.full((2, 16), 99))
    unrolled = load(artifacts("executorch", "unrolled").path)
    with pytest.raises(TRMEdgeError, match="unrolled to 2 steps"):
        unrolled.solve(tokens, max_steps=3)
    state = unrolled.init(tokens)
    for _ in range(2):
        state, _ = unrolled.step_full(state)
    with pytest.raises(TRMEdgeError, match="step 3 does not exist"):
        unrolled.step_full(state)


# ---- CLI -------------------------------------------------------------------------------------
def test_cli_export_then_validate(tiny, tmp_path):
    from click.testing import CliRunner

    from trm_edge.cli import cli

    _, ckpt = tiny
    r = CliRunner().invoke(cli, ["export", "--target", "onnx", "--mode", "unrolled", "--depth", "2",
                                 "--checkpoint", str(ckpt), "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    art = tmp_path / "onnx-fp32-unrolled-d2"
    assert (art / "manifest.json").is_file() and (art / "forward.onnx").is_file()
    r = CliRunner().invoke(cli, ["validate", str(art), "--n", "16", "--json", str(tmp_path / "v.json")])
    assert r.exit_code == 0, r.output
    assert "logits" in r.output and (tmp_path / "v.json").is_file()


@pytest.mark.parametrize("args,msg", [
    (["export", "--target", "nope", "--out", "OUT"], "unknown target 'nope'"),
    (["export", "--mode", "spiral", "--out", "OUT"], "unknown mode 'spiral'"),
])
def test_cli_bad_export_is_one_line(args, msg, tmp_path):
    args = [a.replace("OUT", str(tmp_path)) for a in args]
    p = subprocess.run([sys.executable, "-m", "trm_edge.cli", *args], capture_output=True, text=True)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and msg in p.stderr and "Traceback" not in p.stderr


# ---- the bundled model, every target and mode (slow) ------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("mode", ["looped", "unrolled"])
@pytest.mark.parametrize("target", LINUX_TARGETS + ["coreml"])
def test_bundled_model_exports_and_validates(target, mode, tmp_path):
    from trm_edge.export import load_source
    from trm_edge.validate import check_passed

    model = load_source(None)
    art = export(model, Recipe(target=target, mode=mode, batch=8), tmp_path)
    rep = validate(art.path, n=64)
    check_passed(rep)
    if target != "coreml":  # trained logits reach |90|: fp32 noise at depth is relative (validate.TOLERANCE)
        assert rep["passed"] and all(r["logits_rel_err"] < ATOL for r in rep["steps"])


# ---- ONNX: one copy of the weights, graphs ORT Mobile's EPs take whole (trm_edge.export.portable) ----
def _graph_bytes(path) -> int:
    """An .onnx file's bytes without its tensors' data (graph text: nodes, names, shapes)."""
    import onnx

    from trm_edge.export.portable import graphs

    m = onnx.load(str(path), load_external_data=False)
    for g in graphs(m.graph):
        for t in g.initializer:
            t.ClearField("raw_data")
            del t.external_data[:]
    return m.ByteSize()


@pytest.fixture(scope="module")
def onnx_int8(tiny, artifacts, tmp_path_factory):
    return export(tiny[0], Recipe(target="onnx", precision="int8", batch=8), tmp_path_factory.mktemp("int8"))


@pytest.mark.parametrize("precision,bytes_per_weight,bound", [("fp32", 4, 1.10), ("int8", 1, 1.50)])
def test_onnx_artifact_holds_one_copy_of_the_weights(precision, bytes_per_weight, bound, tiny, artifacts, onnx_int8):
    """Tensor bytes of all artifact files (each file less its graph text) / (params x bytes per
    weight): 2.0+ with loop.onnx holding its own copy. The paper's bounds (fp32 1.10, int8 1.30) on
    every byte are measured at paper size by scripts/paper_size_exports.py (docs/export.md); on this
    74K-parameter model the graph text is ~20 % of the files, and int8's MatMulNBits blocks of 32 pad
    K = L = 16 of the sequence mixer to 32, hence int8's looser bound here."""
    model, _ = tiny
    art = artifacts("onnx", "looped") if precision == "fp32" else onnx_int8
    files = art.manifest["files"]
    assert sorted(files) == ["init.onnx", "loop.onnx", "step.onnx"]
    weights = sum(p.numel() for p in model.parameters()) * bytes_per_weight
    tensors = sum(f["bytes"] - _graph_bytes(art.path / name) for name, f in files.items())
    assert tensors <= bound * weights, (tensors, weights)
    assert art.size_bytes < 2.0 * weights + 0.2e6, (art.size_bytes, weights)   # every byte, graph text included
    # loop.onnx's weights are external data into step.onnx / init.onnx, and it still runs
    import onnx

    loop = onnx.load(str(art.path / "loop.onnx"), load_external_data=False)
    ext = {e.value for t in loop.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL
           for e in t.external_data if e.key == "location"}
    assert ext == {"step.onnx", "init.onnx"} or ext == {"step.onnx"}, ext
    tokens, _ = puzzles(model.cfg.task, 8)
    res = load(art.path).solve_in_graph(tokens)
    assert res["preds"].shape == tokens.shape


@pytest.mark.parametrize("entry", ["init", "step"])
def test_onnx_graphs_go_whole_to_nnapi_and_coreml(entry, artifacts):
    """onnxruntime's own mobile checker (onnxruntime.tools.mobile_helpers, as
    check_onnx_model_mobile_usability runs it): <= 3 partitions covering >= 95 % of the nodes for
    NNAPI and Core ML MLProgram; only the ArgMax of `preds` (the graph's tail) may stay on the CPU."""
    from trm_edge.export.portable import mobile_partitions

    art = artifacts("onnx", "looped")
    for ep, c in mobile_partitions(art.path / art.manifest["entry_points"][entry]["file"]).items():
        assert c["partitions"] <= 3 and c["supported"] >= 0.95 * c["nodes"], (entry, ep, c)
        assert set(c["unsupported_ops"]) <= {"ai.onnx:ArgMax"}, (entry, ep, c)
# ---- issue 29: one copy of the weights, the ExecuTorch step inside its delegate -----------------
@pytest.mark.parametrize("target", ["executorch", "tflite"])   # onnx: its own test (issue 29, graphs sharing weights)
def test_artifact_holds_one_copy_of_the_weights(tiny, artifacts, target):
    """artifact bytes / (parameters x 4) from the manifest (the ratio each export line prints): init and
    step share one fp32 copy. On this tiny model the graph structure is a large part of the bytes, so the
    bound is < 2 (a second copy of the weights alone would reach 2); paper sizes: docs/export.md."""
    from trm_edge.artifact import weight_ratio

    model, _ = tiny
    a = artifacts(target, "looped")
    params = sum(p.numel() for p in model.parameters())
    assert a.manifest["model"]["params"] == params
    assert weight_ratio(a.manifest) == pytest.approx(a.size_bytes / (4 * params))
    assert 1.0 <= a.weight_ratio < 2.0, (target, a.weight_ratio)


def test_executorch_session_runs_on_the_threads_asked(artifacts):
    """ExecuTorch's XNNPACK threadpool is its own (one thread per core): load(threads=N) sizes it, so
    `bench --threads 1` measures one thread (torch.set_num_threads alone left it at the core count)."""
    pool = pytest.importorskip("executorch.extension.pybindings.portable_lib", reason="extra [executorch]")
    a = artifacts("executorch", "looped")
    before = pool._threadpool_get_thread_count()
    try:
        for n in (1, 2):
            sess = load(a.path, threads=n)
            assert pool._threadpool_get_thread_count() == n
            tokens, _ = puzzles(a.manifest["task"]["name"], 8)
            assert sess.solve(tokens).preds.shape[1:] == tokens.shape
    finally:
        pool._unsafe_reset_threadpool(before)


def test_executorch_attention_step_is_one_xnnpack_partition(tmp_path):
    """An attention model (the maze / ARC presets' mixer, RoPE) lowers `step` to XNNPACK without
    partition breaks: each break is another delegate blob to compile at export (maze-att int8 had 32)
    and a hop through portable kernels at run time. Counted from the .pte: at most 2 delegate calls
    (the net, then the heads after the argmax's select) and only argmax computing outside."""
    from trm_edge.export.executorch import compute_outside, outside_delegates

    why = target_module("executorch").available()
    if why:
        pytest.skip(why)
    torch.manual_seed(0)
    model = build_model(TRMConfig.preset("sudoku4-tiny", mixer="attention", pos="rope", n_heads=2)).eval()
    a = export(model, Recipe(target="executorch", mode="looped"), tmp_path)
    step = outside_delegates(a.path / "model.pte")["step"]
    assert 1 <= step.get("delegate:XnnpackBackend", 0) <= 2, step
    assert compute_outside(step) == {"aten::argmax": 1}, step
    assert step.get("aten::squeeze_copy", 0) <= 1, step   # was 3 per attention call (the q, k, v unpack)


def test_coreml_init_holds_only_the_init_parameters(tiny, artifacts):
    """The Core ML `init` function stores the embedding and the two init vectors, not their broadcast
    to (B, L, D): const elimination folded that into two blobs (3.75 MB at maze-att's 916 x 512,
    1.17x the fp32 weights); coreml._convert keeps it a run-time tile."""
    from trm_edge.export.coreml import coreml_weights

    model, _ = tiny
    a = artifacts("coreml", "looped")
    in_init = sum(t.numel() for n, t in [*model.named_parameters(), *model.named_buffers()]
                  if not n.startswith(("net.", "lm_head.", "q_head.")))
    w = coreml_weights(a.path / "model.mlpackage")["init"]
    assert w["float_params"] <= in_init, (w, in_init)
    assert w["ops"].get("tile", 0) == 2, w["ops"]


def test_executorch_step_computes_only_inside_xnnpack(artifacts):
    """Counted from the .pte itself: no compute op of `step` outside the XNNPACK delegate but the
    argmax of `preds` (the output the apps read); what remains outside is data movement."""
    from trm_edge.export.executorch import DATA_MOVEMENT, compute_outside, outside_delegates

    a = artifacts("executorch", "looped")
    ops = outside_delegates(a.path / "model.pte")
    assert set(ops) == {"init", "step"}
    assert ops["step"].get("delegate:XnnpackBackend", 0) >= 1
    assert compute_outside(ops["step"]) == {"aten::argmax": 1}, ops["step"]
    assert set(ops["step"]) - set(DATA_MOVEMENT) == {"delegate:XnnpackBackend", "aten::argmax"}
