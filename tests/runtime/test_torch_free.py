"""The runtime half runs without PyTorch.

Two checks, both in subprocesses:
- importing trm_edge.runtime (and the artifact reader, the host loop, the vectors checker, the
  CLI module) leaves no torch module in sys.modules;
- with torch made unimportable (sys.modules["torch"] = None, so `import torch` raises ImportError
  exactly as in an install without it), ONNX and TFLite artifacts exported here load, solve with the
  eager answers, and the CLI's runtime commands (solve / eval / validate --vectors / bench) run on
  them. .ci/torchfree.sh repeats the CLI part in a real venv without torch (and with tflite_runtime).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
NO_TORCH = "import sys; sys.modules['torch'] = None\n"   # `import torch` -> ImportError


def run_py(code: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=600)


def test_runtime_imports_no_torch():
    r = run_py("import sys\n"
               "import trm_edge, trm_edge.artifact, trm_edge.runtime, trm_edge.runtime.loop, trm_edge.validate.vectors, trm_edge.cli\n"
               "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[]", f"torch modules imported: {r.stdout}"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A tiny random sudoku4 model (varied halting) exported looped to ONNX and TFLite, its golden
    vectors (eager PyTorch) and its eager answers on them."""
    import torch

    from trm_edge.validate import vectors as V
    from trm_edge.checkpoint import save_model
    from trm_edge.export import Recipe, export, target_module
    from trm_edge.model import TRMConfig, build_model
    from trm_edge.runtime import EagerSession

    root = tmp_path_factory.mktemp("torchfree")
    torch.manual_seed(0)
    model = build_model(TRMConfig.preset("sudoku4-tiny")).eval()
    with torch.no_grad():  # some samples halt early, some never
        # random weights at the authors' LeCun scale make the fp32 recursion chaotic (as in
        # tests/test_export.py): halved, exported and eager agree to fp32 rounding at every step
        for p in model.net.parameters():
            p.mul_(0.5)
        model.q_head.weight.normal_(0, 0.2)
        model.q_head.bias.fill_(-0.5)
    model.source_checkpoint = str(save_model(model, root / "tiny4"))
    vec = V.write(V.generate(V.VectorsConfig(checkpoint=model.source_checkpoint, n_puzzles=6, seed=3)),
                  root / "vectors.json")
    arts = {}
    for target in ("onnx", "tflite"):
        if target_module(target).available():
            continue
        arts[target] = export(model, Recipe(target=target, mode="looped", batch=4, in_graph_loop=False), root).path
    tokens = np.asarray([c["tokens"] for c in json.loads(vec.read_text())["cases"]], np.int32)
    return arts, tokens, EagerSession(model).solve(tokens), vec


@pytest.mark.parametrize("target", ["onnx", "tflite"])
def test_session_solves_without_torch(exported, target, tmp_path):
    arts, tokens, want, _ = exported
    if target not in arts:
        pytest.skip(f"{target} exporter not installed")
    np.save(tmp_path / "tokens.npy", tokens)
    r = run_py(NO_TORCH + "import numpy as np, trm_edge.runtime as rt\n"
               "s = rt.load(sys.argv[1]); res = s.solve(np.load(sys.argv[2]))\n"
               "np.save(sys.argv[3], res.final); np.save(sys.argv[4], res.halted_at)\n"
               "assert not any(m.startswith('torch.') for m in sys.modules)\n",
               str(arts[target]), str(tmp_path / "tokens.npy"), str(tmp_path / "final.npy"), str(tmp_path / "h.npy"))
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.load(tmp_path / "final.npy"), want.final)
    assert np.array_equal(np.load(tmp_path / "h.npy"), want.halted_at)


def cli(*args: str) -> subprocess.CompletedProcess:
    return run_py(NO_TORCH + "from trm_edge.cli import main; main(sys.argv[1:])", *args, cwd=ROOT)


def test_cli_runtime_commands_without_torch(exported, tmp_path):
    arts, _, _, vec = exported
    if "onnx" not in arts:
        pytest.skip("onnx exporter not installed")
    onnx = str(arts["onnx"])
    puzzle = json.loads(vec.read_text())["cases"][0]["puzzle"]

    r = cli("solve", "--artifact", onnx, puzzle)
    assert r.returncode in (0, 1), r.stderr      # 1: the model's answer breaks a rule (still ran)
    assert "step" in r.stdout, r.stdout

    r = cli("eval", "--artifact", onnx, "--n", "40", "--seed", "3")
    assert r.returncode == 0, r.stderr
    assert "depth  exact" in r.stdout and "no drift vs eager fp32: that needs PyTorch" in r.stdout

    for art in arts.values():
        r = cli("validate", str(art), "--vectors", str(vec))
        assert r.returncode == 0, r.stderr + r.stdout
        assert "PASS" in r.stdout and "halting steps 1.0000" in r.stdout

    r = cli("bench", onnx, "--device", "host", "--in-process", "--depths", "1,2", "--runs", "2",
            "--warmup", "0", "--n-puzzles", "8", "--json", str(tmp_path / "b.json"))
    assert r.returncode == 0, r.stderr
    res = json.loads((tmp_path / "b.json").read_text())
    assert [rt["name"] for rt in res["runtimes"]] == ["onnx-fp32-looped"]   # no eager: torch is absent
    assert any("torch is not installed" in n for n in res["notes"])

    r = cli("eval")   # a checkpoint needs torch: one line naming the extra
    assert r.returncode == 2 and "pip install 'trm-edge[torch]'" in r.stderr and "Traceback" not in r.stderr


def test_solve_without_torch_uses_the_bundled_artifact(tmp_path):
    """`trm-edge solve PUZZLE` with no PyTorch runs the bundled model's ready-made fp32 artifact
    (package data, tests/test_bundled_artifacts.py) on the first installed runtime."""
    from trm_edge.validate import vectors as V

    case = V.load("sudoku6")["cases"][0]
    r = run_py(NO_TORCH + "from trm_edge.cli import main; main(sys.argv[1:])", "solve", case["puzzle"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "the bundled onnx-fp32-looped artifact on onnxruntime" in r.stderr
    assert f"solved after {case['halted_at']} step(s)" in r.stdout
