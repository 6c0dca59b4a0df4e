"""`trm-edge export --for-app`: artifacts copied into the demo apps (trm_edge.apps).

The artifacts here carry a real manifest (trm_edge.export.common.write_manifest over a tiny model)
but a placeholder model file: these tests check selection, verification and copying, not inference
(tests/test_vectors.py runs real artifacts, and the export tests cover the files themselves).
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from trm_edge import apps
from trm_edge.errors import TRMEdgeError


@pytest.fixture(scope="module")
def tiny_model():
    import torch

    from trm_edge.model import TRMConfig, build_model

    torch.manual_seed(0)
    return build_model(TRMConfig.preset("sudoku4-tiny")).eval()


def fake_artifact(root, model, target, mode="looped", precision="fp32", suffix="pte"):
    from trm_edge import export
    from trm_edge.export.common import artifact_name, io_spec, write_manifest

    recipe = export.Recipe(target=target, mode=mode, precision=precision, depth=2 if mode == "unrolled" else None)
    d = root / artifact_name(recipe)
    d.mkdir(parents=True)
    (d / f"model.{suffix}").write_bytes(b"placeholder model bytes for a copy test")
    spec = io_spec(model.cfg, mode, recipe.batch, recipe.depth)
    entries = {e: {"file": f"model.{suffix}", "method": e, **s} for e, s in spec.items()}
    write_manifest(d, model, recipe, entries, source=None, seconds=0.0)
    return d


def test_install_android_copies_verified_artifacts(tmp_path, tiny_model):
    pte = fake_artifact(tmp_path / "a", tiny_model, "executorch")
    tfl = fake_artifact(tmp_path / "a", tiny_model, "tflite", suffix="tflite")
    out = apps.install([tfl, pte], "android", tmp_path / "app", n_puzzles=3)
    assert out == tmp_path / "app/app/src/main/assets/trm"
    index = json.loads((out / "index.json").read_text())
    assert index["format"] == apps.INDEX_FORMAT
    assert index["default"] == "executorch-fp32-looped"  # ExecuTorch first, fp32 first
    assert [a["name"] for a in index["artifacts"]] == ["executorch-fp32-looped", "tflite-fp32-looped"]
    for a in index["artifacts"]:
        assert (out / a["name"] / "manifest.json").is_file()
    puzzles = json.loads((out / "puzzles.json").read_text())
    assert puzzles["task"] == "sudoku4" and len(puzzles["inputs"]) == 3 == len(puzzles["labels"])
    assert all(len(row) == tiny_model.cfg.seq_len for row in puzzles["inputs"])
    # a second install replaces the folder (no stale artifact is left behind)
    apps.install([pte], "android", tmp_path / "app", n_puzzles=2)
    assert not (out / "tflite-fp32-looped").exists()


def test_install_refuses_wrong_target_mode_and_tampering(tmp_path, tiny_model):
    onnx = fake_artifact(tmp_path / "a", tiny_model, "onnx", suffix="onnx")
    with pytest.raises(TRMEdgeError, match="runs executorch or tflite artifacts, not onnx"):
        apps.install([onnx], "android", tmp_path)
    unrolled = fake_artifact(tmp_path / "b", tiny_model, "executorch", mode="unrolled")
    with pytest.raises(TRMEdgeError, match="looped"):
        apps.install([unrolled], "android", tmp_path)
    pte = fake_artifact(tmp_path / "c", tiny_model, "executorch")
    (pte / "model.pte").write_bytes(b"changed")
    with pytest.raises(TRMEdgeError, match="tampered"):
        apps.install([pte], "android", tmp_path)
    with pytest.raises(TRMEdgeError, match="unknown app"):
        apps.install([pte], "windows-phone", tmp_path)
    assert not (tmp_path / "android_demo").exists()  # nothing half-installed


def test_install_ios_takes_coreml_packages(tmp_path, tiny_model):
    ml = fake_artifact(tmp_path / "a", tiny_model, "coreml", suffix="mlpackage")
    out = apps.install([ml], "ios", tmp_path, n_puzzles=2)
    assert out == tmp_path / "TRMDemo/Resources/trm"
    assert json.loads((out / "index.json").read_text())["default"] == "coreml-fp32-looped"
    pte = fake_artifact(tmp_path / "b", tiny_model, "executorch")
    with pytest.raises(TRMEdgeError, match="runs coreml artifacts"):
        apps.install([pte], "ios", tmp_path)


def test_export_cli_for_app_installs_the_apps_targets(tmp_path, tiny_model, monkeypatch):
    """`trm-edge export --for-app android`: exports the app's targets (looped) and installs them.
    The exporter is replaced by the placeholder artifacts above (real exports: tests/test_export*)."""
    from click.testing import CliRunner

    import trm_edge.export as export_pkg
    from trm_edge.cli import cli
    from trm_edge.artifact import Artifact, read_manifest

    exported = []

    def fake_export(model, recipe, out_dir, force=False):
        d = fake_artifact(tmp_path / "arts", model, recipe.target, recipe.mode,
                          suffix={"executorch": "pte", "tflite": "tflite"}[recipe.target])
        exported.append(recipe.target)
        return Artifact(d, read_manifest(d))

    monkeypatch.setattr(export_pkg, "export", fake_export)
    monkeypatch.setattr(export_pkg, "load_source", lambda checkpoint, **kw: tiny_model)
    res = CliRunner().invoke(cli, ["export", "--for-app", "android", "--app-dir", str(tmp_path / "app"),
                                   "--out", str(tmp_path / "arts")])
    assert res.exit_code == 0, res.output
    assert exported == ["executorch", "tflite"]
    index = json.loads((tmp_path / "app/app/src/main/assets/trm/index.json").read_text())
    assert [a["name"] for a in index["artifacts"]] == ["executorch-fp32-looped", "tflite-fp32-looped"]
    assert "installed 2 artifact(s)" in res.output


def test_export_cli_for_app_installs_given_artifacts_without_exporting(tmp_path, tiny_model, monkeypatch):
    """`trm-edge export --for-app android ARTIFACT...` installs existing artifacts, exports nothing;
    ARTIFACT without --for-app and a missing --out are usage errors."""
    from click.testing import CliRunner

    import trm_edge.export as export_pkg
    from trm_edge.cli import cli

    def no_export(*a, **k):
        raise AssertionError("must not export")

    monkeypatch.setattr(export_pkg, "export", no_export)
    art = fake_artifact(tmp_path / "arts", tiny_model, "tflite", suffix="tflite")
    res = CliRunner().invoke(cli, ["export", "--for-app", "android", "--app-dir", str(tmp_path / "app"), str(art)])
    assert res.exit_code == 0, res.output
    index = json.loads((tmp_path / "app/app/src/main/assets/trm/index.json").read_text())
    assert [a["name"] for a in index["artifacts"]] == ["tflite-fp32-looped"]
    assert CliRunner().invoke(cli, ["export", str(art)]).exit_code == 2
    assert CliRunner().invoke(cli, ["export", "--target", "onnx"]).exit_code == 2


# ---- the apps' layout: what .ci/apps.sh compiles and tests (it runs as its own CI step) --------


def _repo():
    from pathlib import Path

    return Path(__file__).resolve().parents[2]


def test_android_core_is_plain_kotlin_and_the_app_depends_on_it():
    """android_demo/core is compiled and tested without the Android SDK (.ci/apps.sh): no Android
    import may creep in, and the app must use it rather than a copy."""
    import re

    root = _repo() / "android_demo"
    core = sorted((root / "core/src").rglob("*.kt"))
    assert len(core) >= 8, core
    for f in core:
        text = f.read_text()
        assert not re.search(r"^import (android|androidx|kotlinx\.coroutines)\.", text, re.M), f
        assert re.search(r"^package dev\.trmedge\.core$", text, re.M), f
    assert 'include(":core")' in (root / "settings.gradle.kts").read_text()
    assert 'implementation(project(":core"))' in (root / "app/build.gradle.kts").read_text()
    app_sources = {f.name for f in (root / "app/src/main").rglob("*.kt")}
    assert not app_sources & {f.name for f in (root / "core/src/main").rglob("*.kt")}  # no duplicates
    # the adapters .ci/apps.sh type-checks against the stubs, with no Android import either
    for f in (root / "app/src/main/java/dev/trmedge/demo/runtime").glob("*.kt"):
        assert not re.search(r"^import androidx?\.", f.read_text(), re.M), f
    assert "bash .ci/apps.sh" in (_repo() / ".ci/run").read_text()


def test_ios_core_package_builds_without_apple_frameworks():
    """ios_demo/TRMCore must build with `swift test` on Linux: no Core ML / UIKit / SwiftUI, and
    CryptoKit only behind `#if canImport(CryptoKit)` with the pure-Swift SHA-256 beside it."""
    import re

    pkg = _repo() / "ios_demo/TRMCore"
    assert (pkg / "Package.swift").is_file()
    sources = sorted((pkg / "Sources/TRMCore").glob("*.swift"))
    assert len(sources) >= 5, sources
    for f in sources:
        text = f.read_text()
        assert not re.search(r"^import (CoreML|UIKit|SwiftUI)\b", text, re.M), f
        if re.search(r"^import CryptoKit", text, re.M):
            assert "#if canImport(CryptoKit)" in text and "PureSHA256" in text, f
    assert sorted((pkg / "Tests/TRMCoreTests").glob("*Tests.swift"))
    assert "package: TRMCore" in (_repo() / "ios_demo/project.yml").read_text()


def test_install_web_takes_onnx_and_tflite(tmp_path, tiny_model):
    onnx = fake_artifact(tmp_path / "a", tiny_model, "onnx", suffix="onnx")
    tfl = fake_artifact(tmp_path / "a", tiny_model, "tflite", suffix="tflite")
    out = apps.install([tfl, onnx], "web", tmp_path, n_puzzles=2)
    assert out == tmp_path / "assets/trm"
    index = json.loads((out / "index.json").read_text())
    assert [a["name"] for a in index["artifacts"]] == ["onnx-fp32-looped", "tflite-fp32-looped"]
    pte = fake_artifact(tmp_path / "b", tiny_model, "executorch")
    with pytest.raises(TRMEdgeError, match="runs onnx or tflite artifacts, not executorch"):
        apps.install([pte], "web", tmp_path)


def test_app_dir_is_required_outside_the_checkout(tmp_path, monkeypatch, tiny_model):
    """Outside the trm-edge checkout nothing is written into a guessed folder: --app-dir or one line."""
    from click.testing import CliRunner

    from trm_edge.cli import cli

    monkeypatch.chdir(tmp_path)
    art = fake_artifact(tmp_path / "arts", tiny_model, "tflite", suffix="tflite")
    with pytest.raises(TRMEdgeError, match="give --app-dir"):
        apps.install([art], "android")
    res = CliRunner().invoke(cli, ["export", "--for-app", "web", "--out", str(tmp_path / "o")])
    assert res.exit_code != 0 and "give --app-dir" in str(res.exception)
    assert not (tmp_path / "o").exists()   # refused before exporting anything
    repo = Path(apps.__file__).resolve().parents[2]
    monkeypatch.chdir(repo)   # inside the checkout the demo apps are the default
    assert apps.assets_dir("android") == repo / "android_demo/app/src/main/assets/trm"
    assert apps.assets_dir("web") == repo / "trm_edge/web_demo/assets/trm"


def test_install_twice_the_same_and_into_a_foreign_folder(tmp_path, tiny_model):
    """Issue 32: the same artifact twice is refused before anything is created (no empty assets/);
    a trm/ folder no install wrote is refused with "pass --force", and with --force (force=True) it
    is written, the user's files kept."""
    from conftest import run_main

    onnx = fake_artifact(tmp_path / "a", tiny_model, "onnx", suffix="onnx")
    with pytest.raises(TRMEdgeError, match="onnx-fp32-looped given more than once"):
        apps.install([onnx, onnx], "web", tmp_path / "p1")
    assert not (tmp_path / "p1").exists()
    foreign = tmp_path / "p2" / "assets" / "trm"
    foreign.mkdir(parents=True)
    (foreign / "keep.txt").write_text("mine")
    code, _, err = run_main(["export", "--for-app", "web", "--app-dir", str(tmp_path / "p2"), str(onnx)])
    assert code == 2 and "pass --force" in err and err.count("\n") == 1, err
    code, out, err = run_main(["export", "--for-app", "web", "--app-dir", str(tmp_path / "p2"), "--force", str(onnx)])
    assert code == 0 and "pass --force" not in out + err, err
    assert (foreign / "keep.txt").read_text() == "mine" and (foreign / "onnx-fp32-looped" / "manifest.json").is_file()
