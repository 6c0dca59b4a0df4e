"""ARM64 parity: the bundled model's looped artifacts on emulated ARM cores (trm_edge.validate.arm64).

The artifacts are exported here from the golden vectors' checkpoint (trm_edge/golden_vectors/*.json), then
run in trm_edge's runtime (Session + host loop, no torch) by the aarch64 builds of onnxruntime and
ai-edge-litert under qemu user mode, on two pinned CPU models: cortex-a72 (Raspberry Pi 4 class,
NEON without dot-product) and neoverse-n1 (Armv8.2 with dot-product, the A76 family of phone big
cores). Each must give the vectors' final answers and halting steps; fp32 also passes the vectors'
tolerance and validate's per-step bar against eager x86. Needs qemu-user-static and apt (CI:
.ci/arm.sh); ExecuTorch on aarch64 is opt-in: `pytest -m arm_slow`.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from trm_edge.validate import arm64
from trm_edge.validate import vectors as V

VECTORS = [V.resolve("sudoku6")]   # the 6x6 model: fast under emulation
CPUS = ("cortex-a72", "neoverse-n1")
RECIPES = [(t, p) for t in ("onnx", "tflite") for p in ("fp32", "int8", "int8-dynamic")]


@pytest.fixture(scope="module")
def arm_env():
    if not shutil.which(arm64.QEMU) or not shutil.which("apt-get"):
        if os.environ.get("CI"):
            pytest.fail("CI must run .ci/arm.sh first (qemu-user-static, the aarch64 rootfs and wheels)")
        pytest.skip("needs qemu-user-static and apt-get (Debian/Ubuntu); see .ci/arm.sh")
    return arm64.setup(log=lambda *a: None)


@pytest.fixture(scope="module")
def vectors():
    assert VECTORS[0].is_file(), "trm_edge/golden_vectors/sudoku6.json is missing (trm-edge vectors --checkpoint sudoku6)"
    return VECTORS[0], V.load(VECTORS[0])


@pytest.fixture(scope="module")
def artifacts(vectors, tmp_path_factory):
    """The six looped artifacts of the vectors' checkpoint, static batch = the vectors' puzzles."""
    from trm_edge.checkpoint import load_model
    from trm_edge.export import Recipe, export, target_module

    _, v = vectors
    model, _ = load_model(v["checkpoint"])
    out = tmp_path_factory.mktemp("arm-artifacts")
    arts = {}
    for target, precision in RECIPES:
        why = target_module(target).available()
        if why:
            pytest.skip(f"{target} not available: {why}")
        # loop.onnx once (fp32): the int8 recipes would calibrate / quantize it a second time
        r = Recipe(target=target, precision=precision, mode="looped", batch=len(v["cases"]),
                   in_graph_loop=(target, precision) == ("onnx", "fp32"))
        arts[(target, precision)] = export(model, r, out).path
    return arts


@pytest.fixture(scope="module")
def reports(arm_env, artifacts, vectors):
    """cpu -> (target, precision) -> report: one emulated run per CPU model for all six artifacts."""
    from trm_edge.validate.arm import validate_arm

    from concurrent.futures import ThreadPoolExecutor

    keys = list(artifacts)

    def run(cpu):   # the emulated processes are single-threaded: one per core, side by side
        return dict(zip(keys, validate_arm([artifacts[k] for k in keys], cpu, vectors=[vectors[0]],
                                           env_dir=arm_env)))

    with ThreadPoolExecutor(len(CPUS)) as pool:
        return dict(zip(CPUS, pool.map(run, CPUS)))


@pytest.mark.system_tools   # qemu-user-static + the aarch64 rootfs (.ci/arm.sh)
@pytest.mark.parametrize("cpu", CPUS)
@pytest.mark.parametrize("target,precision", RECIPES)
def test_golden_answers_and_halting_on_arm(reports, vectors, cpu, target, precision):
    from trm_edge.validate.arm import format_arm_report

    rep = reports[cpu][(target, precision)]
    assert rep["arch"] == "aarch64" and rep["cpu"] == cpu
    (g,) = rep["golden"]
    n = len(vectors[1]["cases"])
    # ARM must answer as x86 does; fp32 must also give the golden (eager fp32) answers, while int8
    # may legitimately differ from fp32 on a puzzle (on x86 too: quantization, not the ISA)
    assert (g["x86_answers_agree"], g["x86_halting_agree"]) == (n, n), format_arm_report(rep)
    if precision == "fp32":
        assert (g["answers"], g["halting"]) == (n, n), format_arm_report(rep)
        assert g["contract_problems"] == [], format_arm_report(rep)
        assert g["q_halt_err"] <= vectors[1]["tolerance"]["q_atol"]
    if "loop_answers" in g:
        assert (g["loop_answers"], g["loop_halting"]) == (n, n)
    assert rep["passed"], format_arm_report(rep)


@pytest.mark.system_tools   # qemu-user-static + the aarch64 rootfs (.ci/arm.sh)
def test_parity_table_lists_every_artifact_and_cpu(reports):
    from trm_edge.validate.arm import parity_table

    table = parity_table([r for cpu in CPUS for r in reports[cpu].values()])
    print("\n" + table)   # pytest -s shows the README's table
    lines = table.splitlines()[2:]
    assert len(lines) == len(CPUS) * len(RECIPES)
    assert all(line.split("|")[-2].strip() == "PASS" for line in lines), table


@pytest.mark.system_tools   # qemu-user-static + the aarch64 rootfs (.ci/arm.sh)
def test_cli_fails_when_answers_differ_on_arm(arm_env, artifacts, vectors, tmp_path):
    """A vectors file whose recorded answer and halting step are wrong (as if ARM disagreed):
    the CLI prints the mismatch and exits 2, on a third core model (cortex-a76, Raspberry Pi 5)."""
    path, v = vectors
    bad = json.loads(path.read_text())
    case = bad["cases"][0]
    cell = next(i for i, t in enumerate(case["tokens"]) if t == bad["task_info"]["tokens"]["blank"])
    case["final_preds"][cell] = 2 + (case["final_preds"][cell] - 2 + 1) % len(bad["task_info"]["tokens"]["symbols"])
    bad["cases"][1]["halted_at"] = bad["cases"][1]["halted_at"] % bad["max_steps"] + 1
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(bad))
    art = artifacts[("onnx", "fp32")]
    r = subprocess.run([sys.executable, "-m", "trm_edge.cli", "validate", str(art), "--arch", "aarch64",
                        "--cpu", "cortex-a76", "--vectors", str(tampered)], capture_output=True, text=True,
                       env=dict(os.environ, TRM_EDGE_ARM64_CACHE=str(arm_env.parent)))
    print(r.stdout, r.stderr)
    assert r.returncode == 2, r.stdout + r.stderr
    n = len(v["cases"])
    assert f"answers {n - 1}/{n}, halting {n - 1}/{n}" in r.stdout
    assert "FAIL" in r.stdout and "error: validation failed" in r.stderr


@pytest.mark.system_tools   # qemu-user-static + the aarch64 rootfs (.ci/arm.sh)
def test_classic_tflite_runtime_on_arm(arm_env, artifacts, vectors):
    """tflite-runtime 2.14 (Raspberry Pi installs): fp32 gives the golden answers on ARM; int8
    artifacts are refused by the loader with what to install (2.14 segfaults / computes wrong)."""
    from trm_edge.errors import TRMEdgeError
    from trm_edge.validate.arm import validate_arm

    (rep,) = validate_arm([artifacts[("tflite", "fp32")]], "cortex-a72", vectors=[vectors[0]], env_dir=arm_env,
                          site="tflite-runtime")
    assert rep["backend"] == "tflite-runtime" and rep["passed"]
    with pytest.raises(TRMEdgeError, match="pip install ai-edge-litert"):
        validate_arm([artifacts[("tflite", "int8-dynamic")]], "cortex-a72", vectors=[vectors[0]], env_dir=arm_env,
                     site="tflite-runtime")


@pytest.mark.system_tools   # qemu-user-static + the aarch64 rootfs (.ci/arm.sh)
@pytest.mark.arm_slow
def test_executorch_on_arm(arm_env, vectors, tmp_path):
    """ExecuTorch's runtime imports torch, whose aarch64 wheel on PyPI is a CUDA build (~2.6 GB with
    its nvidia-* dependencies): opt-in, `pytest -m arm_slow`."""
    from trm_edge.checkpoint import load_model
    from trm_edge.errors import TRMEdgeError
    from trm_edge.export import Recipe, export, target_module
    from trm_edge.validate.arm import format_arm_report, validate_arm

    why = target_module("executorch").available()
    if why:
        pytest.skip(f"executorch not available: {why}")
    try:
        arm64.extra_site(arm_env, "executorch")
    except TRMEdgeError as e:   # the registry must serve torch's aarch64 dependencies
        pytest.skip(f"torch / executorch aarch64 wheels could not be installed: {str(e)[-300:]}")
    path, v = vectors
    model, _ = load_model(v["checkpoint"])
    art = export(model, Recipe(target="executorch", mode="looped", batch=len(v["cases"])), tmp_path).path
    (rep,) = validate_arm([art], "cortex-a72", vectors=[path], env_dir=arm_env, site="executorch")
    print(format_arm_report(rep))
    assert rep["backend"] == "executorch" and rep["passed"], format_arm_report(rep)


def test_unknown_cpu_models_are_clear_errors(tmp_path):
    from trm_edge.errors import TRMEdgeError
    from trm_edge.validate.arm import validate_arm

    with pytest.raises(TRMEdgeError, match="unknown ARM CPU model 'max'"):
        validate_arm([tmp_path], "max")   # refused before anything is read
    with pytest.raises(TRMEdgeError, match="unknown ARM CPU model"):
        arm64.cpu_root(tmp_path, "cortex-a9")
    from trm_edge.bench.devices import emulate_cpus
    assert arm64.emulated_cpu("raspberry-pi5", emulate_cpus()) == "cortex-a76"   # trm_edge/bench/devices.toml emulate_cpu
    with pytest.raises(TRMEdgeError, match="device profile with emulate_cpu"):
        arm64.emulated_cpu("macbook-m2", emulate_cpus())
