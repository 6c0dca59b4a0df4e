"""The app's runtimes read what export writes (docs/export.md#app-runtimes).

Default suite: the manifest's `min_runtime` (trm_edge.targets) is written and validated, and the
Android app's pins (gradle/libs.versions.toml) and its Kotlin check (core AppRuntimes.kt) agree with
it. system_tools: scripts/check_app_runtimes.py runs real artifacts under the pinned pip runtimes
(it installs them from pip into a cached venv; .ci/run runs the full matrix as its own step).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from trm_edge import artifact, targets
from trm_edge.errors import ArtifactError

ROOT = Path(__file__).resolve().parents[2]
ANDROID = ROOT / "android_demo"
# min_runtime key -> the AAR's version key in libs.versions.toml, and AppRuntimes.kt's constant
APP = {"executorch": ("executorch", "EXECUTORCH"), "litert": ("litert", "LITERT")}


def release(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def test_min_runtime_is_recorded_for_the_app_targets_only():
    assert targets.get("executorch").min_runtime == {"executorch": "1.4.1"}
    assert targets.get("tflite").min_runtime == {"litert": "1.4.0"}
    assert not targets.get("onnx").min_runtime and not targets.get("coreml").min_runtime


def test_manifest_writes_and_validates_min_runtime(tmp_path):
    import torch

    from test_apps import fake_artifact   # tests/apps/test_apps.py (same folder, on pytest's path)
    from trm_edge.model import TRMConfig, build_model

    torch.manual_seed(0)
    model = build_model(TRMConfig.preset("sudoku4-tiny")).eval()
    for target, suffix in (("executorch", "pte"), ("tflite", "tflite"), ("onnx", "onnx")):
        m = artifact.read(fake_artifact(tmp_path / target, model, target, suffix=suffix)).manifest
        assert m.get("min_runtime") == (targets.get(target).min_runtime or None), target
    m["min_runtime"] = {"executorch": "one.four"}
    with pytest.raises(ArtifactError, match=r"min_runtime: must map runtime names to release numbers"):
        artifact.validate_manifest(m)


def test_app_pins_and_kotlin_check_meet_min_runtime():
    pins = tomllib.loads((ANDROID / "gradle/libs.versions.toml").read_text())["versions"]
    kt = (ANDROID / "core/src/main/java/dev/trmedge/core/AppRuntimes.kt").read_text()
    for t in targets.REGISTRY:
        for runtime, need in t.min_runtime.items():
            key, const = APP[runtime]
            shipped = re.search(rf'const val {const} = "([0-9.]+)"', kt).group(1)
            assert shipped == pins[key], f"AppRuntimes.{const} {shipped} != libs.versions.toml {key} {pins[key]}"
            assert release(pins[key]) >= release(need), f"the app's {runtime} {pins[key]} is older than {need}"
    assert "AppRuntimes.check(m)" in (ANDROID / "app/src/main/java/dev/trmedge/demo/runtime/TrmSessions.kt").read_text()


@pytest.mark.system_tools   # installs pip executorch / ai-edge-litert at the app's versions (cached venvs)
def test_pinned_runtimes_run_exported_artifacts(tmp_path):
    """The fp32 .tflite under pip ai-edge-litert 1.4.0 (the app's LiteRT release line) gives the current
    runtime's outputs; the full matrix (ExecuTorch too, int8, int4) is .ci/run's own step."""
    r = subprocess.run([sys.executable, str(ROOT / "scripts/check_app_runtimes.py"), "--targets", "tflite",
                        "--precisions", "fp32", "--out", str(tmp_path / "art"), "--json", str(tmp_path / "rows.json")],
                       capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if r.returncode == 2 and "pip" in r.stderr and not os.environ.get("CI"):
        pytest.skip(f"could not install the pinned runtime: {r.stderr.strip()[-300:]}")
    assert r.returncode == 0, r.stdout + r.stderr
    (row,) = json.loads((tmp_path / "rows.json").read_text())
    assert row["ok"] and row["pinned"] == "ai-edge-litert 1.4.0" and row["min_runtime"] == {"litert": "1.4.0"}
    assert row["max_abs_diff"]["preds_differ"] == 0 and row["max_abs_diff"]["logits"] < 1e-3
