"""int8 / fp16 export per target with each ecosystem's own quantizer, on a small TRAINED model.

The fixture trains a sudoku4-tiny model here (module scope, ~30-60 s on two loaded cores) until it
solves most 4x4 puzzles, so "int8 stays within X points of eager" is a statement about a model that
actually works. Every Linux-runnable int8 artifact runs through its real runtime on a fixed test set
beside eager fp32 (trm_edge.evaluate). Core ML cannot predict on Linux: its int8 package is
checked through its spec (int8 weight ops present, no large float weights left).
The bundled sudoku6 model on 1000 test puzzles (within 1 point of eager at every depth, the same
halting step on >= 95 % of puzzles) is the slow test at the bottom; the size goal (<= 0.30 x fp32) is a benchmark figure reported by
`trm-edge report quant` (docs/quantization.md), not asserted here.
"""
import sys
from dataclasses import replace

import pytest

from trm_edge.errors import TRMEdgeError
from trm_edge.export import Recipe, UnsupportedError, export, target_module

N_TEST = 200          # fixed test set: the first 200 test puzzles of the fixture's data seed
# int8 exact accuracy at full depth within 5 points of eager fp32 (10 puzzles). The fixture is barely
# trained (eager ~0.8-0.86, small margins), so which puzzles int8 flips depends on the calibration draw:
# measured ONNX int8 0.825-0.865 vs eager 0.86 over n_calib 16/64 and activation types on one machine,
# 0.77 vs 0.81 on CI's. The bundled model's slow test below holds int8 to 1 point on 1000 puzzles.
TOL_EXACT = 0.05
MIN_AGREE = 0.97      # and >= 97 % of cells predicted exactly as eager predicts them
MIN_HALT_AGREE = 0.8  # and the same halting step as eager on >= 80 % of the 200 puzzles (the bundled
                      # models' figures on 1000 puzzles are in docs/quantization.md)
# The tiny fixture model (74k params) carries ~100 KB of graph structure per artifact that int8 does
# not shrink, so its ratio is ~0.2-0.4 by target; what the fast tests pin is that the weights are
# stored int8 ONCE: the whole artifact < 0.6 x the fp32 bytes of the parameters (an artifact that
# kept the fp32 weights, or one int8 copy per call site of the recursed net, is > 1.0).
MAX_VS_FP32_PARAMS = 0.6
FAST = {"n_calib": 16}  # 16 training puzzles x n_sup depths of calibration states (default 64)
LINUX_TARGETS = ("onnx", "executorch", "tflite")


def _need(target):
    why = target_module(target).available()
    if why:
        pytest.skip(f"{target} not available: {why}")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(checkpoint dir, eager fp32 model) of a sudoku4-tiny model trained to solve puzzles."""
    from trm_edge.checkpoint import load_model
    from trm_edge.train import TrainConfig, train

    import torch

    root = tmp_path_factory.mktemp("q4")
    threads = torch.get_num_threads()
    # one thread: the same fixture model on any machine and under any -n (float sums in another order
    # train another model: with its heads at 4 bits, ONNX int4's largest gap was 3 pts on the model
    # trained on 2 threads and 11.5 on the one trained on 1)
    torch.set_num_threads(1)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("TRM_EDGE_CACHE", str(_data_cache(tmp_path_factory)))
            # ema=0: with 300 steps an EMA of 0.999 would still be mostly the random init
            train(TrainConfig(preset="sudoku4-tiny", halt=False, steps=300, ema=0.0, n_train=2000, val_n=0,
                              checkpoint_every=0, log_every=0), root / "run", device="cpu", progress=False)
    finally:
        torch.set_num_threads(threads)
    model, d = load_model(root / "run" / "model")
    return d, model


def _data_cache(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "trm-data-cache"   # generated puzzles, shared by the tests


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("TRM_EDGE_CACHE", str(_data_cache(tmp_path_factory)))


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """Exported artifacts, shared between tests: (target, precision) -> Artifact."""
    return {"dir": tmp_path_factory.mktemp("artifacts")}


def _export(trained, artifacts, target, precision, **options):
    from trm_edge.export import load_source

    key = (target, precision, tuple(sorted(options.items())))
    if key not in artifacts:
        model = load_source(str(trained[0]))
        out = artifacts["dir"] / "-".join(map(str, key[:2])) / str(len(artifacts))
        artifacts[key] = export(model, Recipe(target=target, precision=precision, mode="looped",
                                              in_graph_loop=False, options=options), out)
    return artifacts[key]


def _fp32_param_bytes(model) -> int:
    return 4 * sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("target", LINUX_TARGETS)
def test_int8_artifact_stays_near_eager(trained, artifacts, target):
    """The default int8 recipe of each target (weight-only on ONNX / TFLite, dynamically quantized
    activations on ExecuTorch): int8 weights, accuracy of fp32, the halting step of eager on most puzzles."""
    from trm_edge.evaluate import evaluate_artifact
    from trm_edge.export.quantize import INT8_DEFAULTS

    _need(target)
    q = _export(trained, artifacts, target, "int8", **FAST)
    assert q.manifest["precision"] == "int8"
    # the manifest records the recipe that was applied, defaults included
    for k in ("weight_only", "activations"):
        assert q.manifest["recipe"]["options"].get(k) == INT8_DEFAULTS.get(target, {}).get(k), k
    assert q.size_bytes < MAX_VS_FP32_PARAMS * _fp32_param_bytes(trained[1]), q.size_bytes

    res = evaluate_artifact(q.path, n=N_TEST)
    eager_full, full = res["eager"]["exact"][-1], res["exact"][-1]
    assert eager_full >= 0.6, f"the fixture model should solve puzzles (eager exact {eager_full})"
    assert abs(full - eager_full) <= TOL_EXACT, (target, full, eager_full)
    assert res["agree"][-1] >= MIN_AGREE
    assert res["halt_agree"] >= MIN_HALT_AGREE, (target, res["halt_agree"])
    # quantized for real: the state drifts from eager fp32, but stays bounded at full depth
    assert 1e-4 < res["drift"]["y"][-1] < 0.3 and 1e-4 < res["drift"]["z"][-1] < 0.3
    assert len(res["drift"]["y"]) == len(res["depths"]) == trained[1].cfg.n_sup


@pytest.mark.slow
@pytest.mark.parametrize("target", ("onnx", "tflite"))
def test_int8_static_artifact_stays_near_eager(trained, artifacts, target):
    """Static int8 (activations calibrated on training-split recursion states), the pre-weight-only
    default of ONNX and TFLite: still exported and scored on request (weight_only = false)."""
    from trm_edge.evaluate import evaluate_artifact

    _need(target)
    q = _export(trained, artifacts, target, "int8", weight_only=False, **FAST)
    assert q.manifest["recipe"]["options"]["weight_only"] is False
    res = evaluate_artifact(q.path, n=N_TEST)
    assert abs(res["exact"][-1] - res["eager"]["exact"][-1]) <= TOL_EXACT
    assert res["agree"][-1] >= MIN_AGREE


def test_weight_only_options_are_checked():
    from trm_edge.export.quantize import QuantConfig, effective_options

    assert QuantConfig.from_recipe(Recipe(target="onnx", precision="int8")).weight_only is True
    assert QuantConfig.from_recipe(Recipe(target="onnx", precision="int8", options={"weight_only": False})).weight_only is False
    assert effective_options("onnx", "int8-dynamic", None) == {}
    # ExecuTorch's int8 is XNNPACK's dynamically quantized linear (no calibration, int8 arithmetic);
    # activations = "int8" asks for the static, calibrated recipe
    assert effective_options("executorch", "int8", {}) == {"activations": "dynamic"}
    assert QuantConfig.from_recipe(Recipe(target="executorch", precision="int8")).dynamic is True
    assert QuantConfig.from_recipe(Recipe(target="executorch", precision="int8",
                                          options={"activations": "int8"})).dynamic is False
    for target, precision, options, match in [
            ("executorch", "int8", {"weight_only": True}, "int8-dynamic"),   # XNNPACK: no weight-only linear
            ("onnx", "int8-dynamic", {"weight_only": True}, "applies to precision int8"),
            ("onnx", "int8", {"weight_only": "yes"}, "true or false"),
            ("onnx", "int8", {"gptq": True}, "TFLite"),
            ("coreml", "int8", {"activations": "dynamic"}, "Core ML has no dynamic"),
            ("executorch", "int8-dynamic", {"activations": "dynamic"}, "applies to precision int8"),
            ("onnx", "int8", {"activations": "dynamic"}, "not with weight_only")]:
        with pytest.raises(UnsupportedError, match=match):
            QuantConfig.from_recipe(Recipe(target=target, precision=precision, options=options))


def test_report_quant_has_halting_agreement_and_the_goal(trained, tmp_path):
    """`trm-edge report quant` rows: halting agreement vs eager, largest gap over every depth, goal."""
    from trm_edge.bench.quant import ACC_GOAL_POINTS, HALT_AGREE_GOAL, SIZE_GOAL, QuantReportConfig, quant_report

    _need("onnx")
    rep = quant_report(str(trained[0]), tmp_path / "rep", QuantReportConfig(
        targets=("onnx",), precisions=("fp32", "int8"), n=50, options=FAST), log=lambda *_: None)
    fp32, q = rep["rows"]
    assert fp32["halt_agree"] == 1.0 and fp32["max_delta_points"] == 0.0   # fp32 ONNX is eager
    assert len(q["delta_points_per_depth"]) == trained[1].cfg.n_sup
    assert q["max_delta_points"] == max(abs(v) for v in q["delta_points_per_depth"]) >= abs(q["delta_points"])
    assert 0.0 <= q["halt_agree"] <= 1.0
    assert q["goal_met"] == (q["size_ratio"] <= SIZE_GOAL and q["max_delta_points"] <= ACC_GOAL_POINTS
                             and q["halt_agree"] >= HALT_AGREE_GOAL)
    md = (tmp_path / "rep" / "quant_report.md").read_text()
    assert "halt agree" in md and f"{q['halt_agree']:.3f}" in md


@pytest.mark.slow
@pytest.mark.parametrize("target", LINUX_TARGETS)
def test_int8_dynamic_artifact_stays_near_eager(trained, artifacts, target):
    """int8 weights, activations quantized at run time: no calibration, same tolerance."""
    from trm_edge.evaluate import evaluate_artifact

    _need(target)
    q = _export(trained, artifacts, target, "int8-dynamic")
    assert q.size_bytes < MAX_VS_FP32_PARAMS * _fp32_param_bytes(trained[1]), q.size_bytes
    res = evaluate_artifact(q.path, n=N_TEST)
    assert abs(res["exact"][-1] - res["eager"]["exact"][-1]) <= TOL_EXACT
    assert res["agree"][-1] >= MIN_AGREE


@pytest.mark.slow
@pytest.mark.parametrize("target", LINUX_TARGETS)
def test_int8_artifact_is_smaller_than_fp32_artifact(trained, artifacts, target):
    _need(target)
    fp32 = _export(trained, artifacts, target, "fp32")
    q = _export(trained, artifacts, target, "int8", **FAST)
    assert q.size_bytes <= 0.45 * fp32.size_bytes, (q.size_bytes, fp32.size_bytes)


def test_eval_artifact_has_the_checkpoint_eval_schema_plus_drift(trained, artifacts):
    from trm_edge.evaluate import evaluate_checkpoint
    from trm_edge.evaluate import evaluate_artifact

    _need("onnx")
    fp32 = _export(trained, artifacts, "onnx", "fp32")
    res = evaluate_artifact(fp32.path, n=50)
    ref = evaluate_checkpoint(str(trained[0]), n=50, device="cpu")
    for k in ("task", "n", "depths", "exact", "cell", "halt"):
        assert k in res
    assert res["depths"] == ref["depths"]
    # eager column = the checkpoint eval on the same puzzles; the fp32 artifact matches it
    assert res["eager"]["exact"] == ref["exact"] and res["eager"]["halt"] == ref["halt"]
    assert res["exact"] == ref["exact"]
    assert max(res["drift"]["y"]) < 1e-4 and max(res["drift"]["z"]) < 1e-4
    assert res["halt_agree"] == 1.0 and res["halt_answer_agree"] == 1.0   # fp32 halts where eager does


def test_export_calibration_comes_from_the_training_split_only(trained, monkeypatch):
    """The quantizer's calibration puzzles never include one of the test puzzles that eval scores."""
    import trm_edge.export.calibrate as calibrate
    from trm_edge.data import load_split
    from trm_edge.checkpoint import training_data
    from trm_edge.export import load_source
    from trm_edge.export.quantize import calib_config

    model = load_source(str(trained[0]))
    cfg = calib_config(model, 32)
    n_train, seed = training_data(trained[0])
    assert (cfg.n_train, cfg.data_seed) == (n_train, seed) == (2000, 0)
    cal = calibrate.calibration_set(model, cfg)
    test, _ = load_split(model.cfg.task, "test", 1000, seed, n_train=n_train)  # what eval scores
    calibrate.assert_disjoint(cal.tokens, test)
    # the assertion inside the quantizer bites: a split function that hands out test puzzles as
    # "training" puzzles makes the export fail instead of calibrating on them
    monkeypatch.setattr(calibrate, "_split", lambda task, which, n, *a, **k: test[:n])
    with pytest.raises(calibrate.CalibrationLeakError):
        calibrate.calibration_set(model, cfg)
    with pytest.raises(calibrate.CalibrationLeakError):   # augmented or not
        calibrate.calibration_set(model, replace(cfg, augment=False))


def test_unsupported_precisions_are_clear_errors(trained, artifacts):
    from trm_edge.targets import supported

    assert supported("onnx", "fp16") and supported("coreml", "int8-dynamic")
    assert supported("tflite", "int8") is None and supported("coreml", "fp16") is None
    _need("onnx")
    from trm_edge.export import load_source
    with pytest.raises(UnsupportedError, match="fp16"):
        export(load_source(str(trained[0])), Recipe(target="onnx", precision="fp16", in_graph_loop=False),
               artifacts["dir"] / "bad")
    with pytest.raises(UnsupportedError, match="unknown quantization option"):
        export(load_source(str(trained[0])), Recipe(target="onnx", precision="int8", in_graph_loop=False,
                                                    options={"bits": 4}), artifacts["dir"] / "bad")
    assert not (artifacts["dir"] / "bad" / "onnx-fp16-looped").exists()


def test_coreml_int8_package_has_int8_weights(trained, artifacts):
    """On Linux: a valid multifunction package whose step weights are int8 (read from the spec)."""
    from trm_edge.export.coreml import spec_summary
    from trm_edge.export.coreml import coreml_weights

    _need("coreml")
    q = _export(trained, artifacts, "coreml", "int8")
    pkg = q.path / "model.mlpackage"
    assert set(spec_summary(pkg)) == {"init", "step"}
    w = coreml_weights(pkg)
    n_net = sum(p.numel() for p in trained[1].net.parameters())
    assert w["step"]["int8_params"] == n_net          # every weight of the recursed net, stored once
    assert w["step"]["float_params"] < 0.1 * n_net    # left float: per-channel scales + the tiny heads
    assert w["step"]["ops"].get("constexpr_blockwise_shift_scale", 0) == len(list(trained[1].net.parameters()))
    weights = pkg / "Data" / "com.apple.CoreML" / "weights" / "weight.bin"
    assert weights.stat().st_size < 0.4 * _fp32_param_bytes(trained[1])
    if sys.platform != "darwin":
        from trm_edge.runtime import load
        with pytest.raises(TRMEdgeError, match="macOS"):
            load(q.path)


def test_coreml_w8a8_needs_macos(trained, artifacts):
    _need("coreml")
    if sys.platform == "darwin":
        pytest.skip("W8A8 calibration runs on macOS; this checks the Linux error")
    from trm_edge.export import load_source
    with pytest.raises(TRMEdgeError, match="macOS"):
        export(load_source(str(trained[0])), Recipe(target="coreml", precision="int8",
                                                    options={"activations": "int8"}), artifacts["dir"] / "w8a8")


@pytest.mark.slow
def test_coreml_fp16_package_has_fp16_weights(trained, artifacts):
    from trm_edge.export.coreml import coreml_weights

    _need("coreml")
    q = _export(trained, artifacts, "coreml", "fp16")
    w = coreml_weights(q.path / "model.mlpackage")
    assert w["step"]["fp16_params"] >= sum(p.numel() for p in trained[1].net.parameters())
    assert w["step"]["float_params"] == 0 and w["step"]["int8_params"] == 0


# ---- the bundled model: the goal on 1000 test puzzles -------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("target,precision", [("onnx", "int8"), ("tflite", "int8"), ("executorch", "int8")])
def test_bundled_model_int8_keeps_its_answers_at_every_depth(tmp_path, target, precision):
    """Issue 25's goal on the bundled sudoku6, 1000 test puzzles, each target's best int8 recipe:
    exact within 1 point of eager fp32 at every depth and the same halting step on >= 95 % of
    puzzles (measured 2026-12-04: onnx 0.1 pt / 0.988, tflite 0.5 / 0.978, executorch 0.4 / 0.972;
    the retrained 9x9 model meets it on onnx and tflite, not on executorch (0.943): docs/quantization.md)."""
    from trm_edge.checkpoint import BUNDLED_DIR
    from trm_edge.evaluate import evaluate_artifact
    from trm_edge.export import load_source

    if not (BUNDLED_DIR / "sudoku6" / "model.safetensors").is_file():
        pytest.skip("the bundled sudoku6 checkpoint is not in this checkout")
    _need(target)
    model = load_source("sudoku6")
    fp32 = export(model, Recipe(target=target, in_graph_loop=False), tmp_path)
    q = export(model, Recipe(target=target, precision=precision, in_graph_loop=False), tmp_path)
    res = evaluate_artifact(q.path, n=1000)
    gaps = [abs(a - e) for a, e in zip(res["exact"], res["eager"]["exact"])]
    assert max(gaps) <= 0.01, gaps
    assert res["halt_agree"] >= 0.95, res["halt_agree"]
    # The 0.30 x size goal is for the 9x9 model, a benchmark figure (`trm-edge report quant`), not
    # a test. Here: the weights really are stored int8 (fp32 weights would keep the ratio near 1).
    ratio = q.size_bytes / fp32.size_bytes
    assert ratio < 0.5, f"{target} int8 is {ratio:.3f} x fp32"


# ---- int4 (issue 33): 4-bit weights per target, on the same trained fixture ---------------------
# Bounds for the barely trained 4x4 fixture (200 puzzles): int4 rounds 16x coarser than int8, so the
# bar is wider than int8's; the bundled models' figures on 1000 puzzles are in docs/quantization.md.
TOL_EXACT_INT4 = 0.10
MIN_HALT_AGREE_INT4 = 0.6


@pytest.mark.parametrize("target", LINUX_TARGETS)
def test_int4_artifact_runs_on_its_runtime_near_eager(trained, artifacts, target):
    """int4 weights (ONNX MatMulNBits bits=4, ExecuTorch torchao 8-bit dynamic activations + int4
    weights lowered to XNNPACK, TFLite ai_edge_quantizer int4 weight-only): smaller than the target's
    int8 artifact, answers near eager fp32 through the target's real runtime."""
    from trm_edge.evaluate import evaluate_artifact

    _need(target)
    q = _export(trained, artifacts, target, "int4")
    q8 = _export(trained, artifacts, target, "int8", **FAST)
    assert q.manifest["precision"] == "int4" and q.path.name == f"{target}-int4-looped"
    assert q.size_bytes < q8.size_bytes, (target, q.size_bytes, q8.size_bytes)
    res = evaluate_artifact(q.path, n=N_TEST)
    gaps = [abs(a - e) for a, e in zip(res["exact"], res["eager"]["exact"])]
    assert max(gaps) <= TOL_EXACT_INT4, (target, gaps)
    assert res["halt_agree"] >= MIN_HALT_AGREE_INT4, (target, res["halt_agree"])
    assert 1e-4 < res["drift"]["y"][-1] < 0.5      # quantized for real, and bounded


def test_int4_onnx_keeps_the_heads_float(trained, artifacts):
    """quantize.HEADS: every MatMul of the net is 4-bit MatMulNBits, the answer and halting heads
    read float weights (at 4 bits they cost the fixture 11.5 points at depth 1)."""
    _need("onnx")
    import onnx

    q = _export(trained, artifacts, "onnx", "int4")
    g = onnx.load(str(q.path / "step.onnx")).graph
    reads = lambda head: [n.op_type for n in g.node if any(f"{head}." in i for i in n.input)]  # noqa: E731
    assert reads("lm_head") == ["MatMul"] and reads("q_head") in (["MatMul"], ["Gemm"]), (reads("lm_head"), reads("q_head"))
    assert sum(n.op_type == "MatMulNBits" for n in g.node) >= 4
    assert all(a.i == 4 for n in g.node if n.op_type == "MatMulNBits" for a in n.attribute if a.name == "bits")


def test_int4_executorch_linears_are_in_the_xnnpack_delegate(trained, artifacts):
    """The int4 step's linears run in XNNPACK (qd8-f32-qb4w), not as portable / torchao ops: counted
    from the .pte (the same reader as the fp32 step's coverage test)."""
    _need("executorch")
    from trm_edge.export.executorch import compute_outside, outside_delegates

    q = _export(trained, artifacts, "executorch", "int4")
    step = outside_delegates(q.path / "model.pte")["step"]
    assert step.get("delegate:XnnpackBackend", 0) >= 1
    assert compute_outside(step) == {"aten::argmax": 1}, step


def test_coreml_int4_package_has_int4_weights(trained, artifacts):
    """On Linux: export and size only (Core ML predicts on macOS). Every net weight is int4 per block
    of 32, except the token mixer's first linear (K = seq_len = 16, not a multiple of 32): int8."""
    from trm_edge.export.coreml import coreml_weights

    _need("coreml")
    q = _export(trained, artifacts, "coreml", "int4")
    q8 = _export(trained, artifacts, "coreml", "int8")
    w = coreml_weights(q.path / "model.mlpackage")["step"]
    net = trained[1].net
    n_net = sum(p.numel() for p in net.parameters())
    n_tok = sum(m.weight.numel() for m in net.modules()
                if isinstance(m, __import__("torch").nn.Linear) and m.in_features % 32)
    assert w["int4_params"] + w["int8_params"] >= n_net - n_tok and w["int8_params"] == n_tok
    assert w["int4_params"] > 0.5 * n_net and w["float_params"] < 0.1 * n_net
    assert q.size_bytes < q8.size_bytes
    if sys.platform != "darwin":
        from trm_edge.runtime import load
        with pytest.raises(TRMEdgeError, match="macOS"):   # prediction parity: macOS only
            load(q.path)


def test_coreml_keeps_float_what_it_is_told(trained, artifacts):
    """Core ML honours options.keep_float (regexes of module names) and, at int4, keeps the heads
    (quantize.HEADS) float, as ONNX and ExecuTorch do. The fixture's heads are under coremltools'
    2048-element threshold (float anyway), so the head rule is checked on the names it maps to in the
    real converted package; keep_float on the largest net linear is checked by its bytes."""
    import re
    import coremltools as ct
    import torch
    from trm_edge.export import load_source
    from trm_edge.export.coreml import coreml_weights, kept_float
    from trm_edge.export.quantize import QuantConfig

    _need("coreml")
    model = trained[1]
    name, lin = max(((n, m) for n, m in model.named_modules()
                     if isinstance(m, torch.nn.Linear) and m.in_features % 32 == 0), key=lambda x: x[1].weight.numel())
    q = _export(trained, artifacts, "coreml", "int4")
    kept = export(load_source(str(trained[0])), Recipe(target="coreml", precision="int4", mode="looped",
                  options={"keep_float": [rf"(^|\.){re.escape(name)}$"]}), artifacts["dir"] / "coreml-keep")
    w, wk = (coreml_weights(a.path / "model.mlpackage")["step"] for a in (q, kept))
    n = lin.weight.numel()
    assert w["int4_params"] - wk["int4_params"] == n, (name, w, wk)
    # float: + the weight, - its int4 scales (one per output channel and block of 32 inputs)
    assert wk["float_params"] - w["float_params"] == n - n // 32, (name, w, wk)
    step = ct.models.MLModel(str(q.path / "model.mlpackage"), function_name="step", skip_model_load=True)
    int4, int8 = (QuantConfig.from_recipe(Recipe(target="coreml", precision=p)) for p in ("int4", "int8"))
    assert set(kept_float(step, model, int4)) == {"p_model_lm_head_weight", "p_model_q_head_weight"}
    assert kept_float(step, model, int8) == {}


def test_int4_options_are_checked():
    from trm_edge.export.quantize import QuantConfig

    assert QuantConfig.from_recipe(Recipe(target="onnx", precision="int4")).bits == 4
    assert QuantConfig.from_recipe(Recipe(target="onnx", precision="int8")).bits == 8
    assert QuantConfig.from_recipe(Recipe(target="onnx", precision="int4", options={"algorithm": "hqq"})).algorithm == "hqq"
    assert QuantConfig.from_recipe(Recipe(target="tflite", precision="int4", options={"gptq": True})).gptq
    for target, precision, options, match in [
            ("tflite", "int4", {"algorithm": "hqq"}, "ONNX int4"),
            ("onnx", "int8", {"algorithm": "gptq"}, "ONNX int4"),
            ("onnx", "int4", {"algorithm": "awq"}, "one of")]:
        with pytest.raises(UnsupportedError, match=match):
            QuantConfig.from_recipe(Recipe(target=target, precision=precision, options=options))
